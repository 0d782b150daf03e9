package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// tickWorkMs is tick work in milliseconds: the whole tick and each phase.
type tickWorkMs struct {
	quantiles
	Drain   quantiles `json:"drain"`
	Step    quantiles `json:"step"`
	Encode  quantiles `json:"encode"`
	Handoff quantiles `json:"handoff"`
}

// floorResult is what the socket floor measured for the run it calibrates.
type floorResult struct {
	Clients          int     `json:"clients"`
	FrameBytes       int     `json:"frame_bytes"`
	InputBytes       int     `json:"input_bytes"`
	Writers          string  `json:"writers"` // "per-connection" (as ticksync) or "loop"
	CPUUtilPct       float64 `json:"cpu_util_pct"`
	RSSMB            float64 `json:"rss_mb"`
	WriteBurstP99Ms  float64 `json:"write_burst_p99_ms"`
	WriteBurstMaxMs  float64 `json:"write_burst_max_ms"`
	FramesPerSPerCli float64 `json:"frames_per_s_per_client"`
	LoadgenCPUPct    float64 `json:"loadgen_cpu_util_pct"`
	Holds            bool    `json:"holds"`
}

// capStep is one step of scenario R: the count tried and whether it stayed in budget.
type capStep struct {
	Players      int     `json:"players"`
	Rooms        int     `json:"rooms,omitempty"`
	TickP99Ms    float64 `json:"tick_work_p99_ms,omitempty"`
	BurstP99Ms   float64 `json:"write_burst_p99_ms,omitempty"`
	MissedTicks  int     `json:"missed_ticks"`
	ServerCPUPct float64 `json:"server_cpu_util_pct"`
	LoadgenCPU   float64 `json:"loadgen_cpu_util_pct"`
	OtherCPU     float64 `json:"other_cpu_util_pct,omitempty"` // every other process on the machine
	Saturated    bool    `json:"loadgen_saturated"`
	OK           bool    `json:"ok"`
	Why          string  `json:"why,omitempty"`
}

// result is one run, one JSON object (one JSONL line). The field names are shared with the
// peers (bench/peers/…); fields after client_decode_ms_per_patch are ticksync's additions.
type result struct {
	Server    string  `json:"server"`
	Version   string  `json:"version"`
	Scenario  string  `json:"scenario"`
	Entities  int     `json:"entities"`
	Clients   int     `json:"clients"`
	Hz        int     `json:"hz"`
	DurationS float64 `json:"duration_s"`
	WarmupS   float64 `json:"warmup_s"`
	Date      string  `json:"date"`
	Machine   string  `json:"machine"`
	Recording bool    `json:"recording"`

	PatchesPerSPerClient float64 `json:"patches_per_s_per_client"`
	BytesPerSPerClient   float64 `json:"bytes_per_s_per_client"`
	BytesPerPatchMean    float64 `json:"bytes_per_patch_mean"`
	FullStateBytesOnJoin int     `json:"full_state_bytes_on_join"`

	RTTMs        quantiles `json:"rtt_ms"`
	ServerHoldMs quantiles `json:"server_hold_ms"`
	TickWaitMs   quantiles `json:"tick_wait_ms"`
	// HoldBeyondWaitMs is each input's server hold minus its wait for the tick: the tick's
	// work and the hand-off to the socket (docs/benchmark.md's target: p99 ≤ 1 ms).
	HoldBeyondWaitMs quantiles  `json:"server_hold_beyond_wait_ms"`
	TickWorkMs       tickWorkMs `json:"tick_work_ms"`
	// FrameWritesMs is, per tick, the start of its hand-off to the last of its frames written
	// to a socket by the connections' writers: the server-side burst the floor's
	// write_burst_p99_ms calibrates. An input's hold to the socket is at most its hold
	// beyond the wait plus this.
	FrameWritesMs  quantiles `json:"frame_writes_ms"`
	TickIntervalMs quantiles `json:"tick_interval_ms"`
	MissedTicks    int       `json:"missed_ticks"`

	ServerCPUUtilPct float64 `json:"server_cpu_util_pct"`
	ServerCPUVsFloor float64 `json:"server_cpu_vs_floor"`
	ServerRSSMB      float64 `json:"server_rss_mb"`
	ServerRSSPeakMB  float64 `json:"server_rss_peak_mb"`
	GoHeapMB         float64 `json:"go_heap_mb"`
	GCCycles         int     `json:"gc_cycles"`
	GCPauseP99Ms     float64 `json:"gc_pause_p99_ms"`
	AllocsPerTick    float64 `json:"allocs_per_tick"`

	LoadgenCPUUtilPct      float64 `json:"loadgen_cpu_util_pct"`
	LoadgenSaturated       bool    `json:"loadgen_saturated"`
	ClientDecodeMsPerPatch float64 `json:"client_decode_ms_per_patch"`

	// Additions.
	Rooms             int                 `json:"rooms"`
	PlayersPerRoom    int                 `json:"players_per_room"`
	InputHz           float64             `json:"input_hz"`
	Target            string              `json:"target,omitempty"`
	ServerCmd         string              `json:"server_cmd,omitempty"`
	ClientMode        string              `json:"client_mode"`
	DecodingClients   int                 `json:"decoding_clients"`
	Ticks             int                 `json:"ticks"`
	TicksPerS         float64             `json:"ticks_per_s"`
	Patches           int64               `json:"patches"`
	InputsSent        int64               `json:"inputs_sent"`
	HoldSamples       int                 `json:"hold_samples"`
	LoadgenProcs      int                 `json:"loadgen_procs"`
	LoadgenMaxProcPct float64             `json:"loadgen_max_proc_cpu_pct"`
	LoadgenLagP99Ms   float64             `json:"loadgen_lag_p99_ms"`
	AllocsPerTickP50  float64             `json:"allocs_per_tick_p50"`     // the median tick's (others' allocations during a tick inflate the mean)
	AllocsPerTickProc float64             `json:"allocs_per_tick_process"` // all the process's allocations in the window per tick
	BoundedByLoadgen  bool                `json:"bounded_by_loadgen"`
	Disconnects       int                 `json:"disconnects"`
	LoadAvg           float64             `json:"loadavg_1m"`           // the machine's 1-minute load average at the end
	OtherCPUUtilPct   *float64            `json:"other_cpu_util_pct"`   // CPU of every other process in the window (null: unknown)
	FullStateMaxBytes int                 `json:"full_state_bytes_max"` // the largest join's full state (the last joiner's)
	FullStates        int                 `json:"full_states"`          // joins whose full state was measured
	RTTSamples        int                 `json:"rtt_samples"`
	Floor             *floorResult        `json:"floor,omitempty"`
	PlayersHeld       int                 `json:"players_held,omitempty"`
	FloorPlayersHeld  int                 `json:"floor_players_held,omitempty"`
	Steps             []capStep           `json:"steps,omitempty"`
	FloorSteps        []capStep           `json:"floor_steps,omitempty"`
	Hostile           []hostileKindResult `json:"hostile,omitempty"` // -hostile: each kind's connections and the close codes they got
	Soak              *soakResult         `json:"soak,omitempty"`
	Notes             []string            `json:"notes,omitempty"`
	Plot              string              `json:"plot,omitempty"`

	// ViewHashChecks is the view hashes the decoding clients checked in the window;
	// ViewHashMismatches those that differed since they joined (each also ends its client's
	// connection, and any fails the run).
	ViewHashChecks     int64 `json:"view_hash_checks"`
	ViewHashMismatches int64 `json:"view_hash_mismatches"`
	World              int   `json:"world,omitempty"` // arena's world side in units (0: the game's default)
	View               int   `json:"view,omitempty"`  // the side each player sees (0: no views)

	// With -record: the server's recordings, verified after the run as `ticksync replay
	// verify` does (re-simulated, every tick's hash compared).
	Recordings         int      `json:"recordings,omitempty"`
	RecordingsVerified int      `json:"recordings_verified,omitempty"`
	RecordingErrors    []string `json:"recording_errors,omitempty"`

	plot *plotData // the distributions behind the SVG
}

// failure is why a run that produced r failed (nil: it did not): a view hash mismatch means a
// client's state was wrong, whatever the figures say. The result is written first, so the line
// shows what happened.
func (r *result) failure() error {
	if r.ViewHashMismatches > 0 {
		return fmt.Errorf("bench: %d view hash mismatches (see the notes)", r.ViewHashMismatches)
	}
	if r.Recordings > r.RecordingsVerified {
		return fmt.Errorf("bench: %d of %d recordings do not verify (see the notes)", r.Recordings-r.RecordingsVerified, r.Recordings)
	}
	return nil
}

// appendJSONL appends r as one line to path, creating the file and its directory.
func appendJSONL(path string, r *result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench: results dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("bench: open results: %w", err)
	}
	_, werr := f.Write(append(b, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("bench: append results: %w", werr)
	}
	return nil
}

// writeMarkdown writes r as a two-column markdown table.
func writeMarkdown(w io.Writer, r *result) {
	q := func(x quantiles) string { return fmt.Sprintf("%.2f / %.2f / %.2f / %.2f", x.P50, x.P90, x.P99, x.Max) }
	rows := [][2]string{
		{"scenario", fmt.Sprintf("%s: %d entities, %d clients (%d rooms × %d), %d Hz, %gs (+%gs warm-up)%s",
			r.Scenario, r.Entities, r.Clients, r.Rooms, r.PlayersPerRoom, r.Hz, r.DurationS, r.WarmupS, viewNote(r))},
		{"server", fmt.Sprintf("%s %s, recording %v", r.Server, r.Version, r.Recording)},
		{"machine", r.Machine},
		{"patches/s per client", fmt.Sprintf("%.2f", r.PatchesPerSPerClient)},
		{"bytes/s per client", fmt.Sprintf("%.0f (%.1f KB/s)", r.BytesPerSPerClient, r.BytesPerSPerClient/1000)},
		{"bytes per patch (mean)", fmt.Sprintf("%.0f", r.BytesPerPatchMean)},
		{"full state on join (B)", fmt.Sprint(r.FullStateBytesOnJoin)},
		{"RTT ms p50/p90/p99/max", q(r.RTTMs)},
		{"server hold ms p50/p90/p99/max", q(r.ServerHoldMs)},
		{"wait for next tick ms p50/p99", fmt.Sprintf("%.2f / %.2f", r.TickWaitMs.P50, r.TickWaitMs.P99)},
		{"server hold beyond the wait ms p50/p99/max", fmt.Sprintf("%.3f / %.3f / %.3f", r.HoldBeyondWaitMs.P50, r.HoldBeyondWaitMs.P99, r.HoldBeyondWaitMs.Max)},
		{"tick work ms mean/p50/p99/max", fmt.Sprintf("%.3f / %.3f / %.3f / %.3f", r.TickWorkMs.Mean, r.TickWorkMs.P50, r.TickWorkMs.P99, r.TickWorkMs.Max)},
		{"frame writes after hand-off ms p50/p99/max", fmt.Sprintf("%.3f / %.3f / %.3f", r.FrameWritesMs.P50, r.FrameWritesMs.P99, r.FrameWritesMs.Max)},
		{"  drain / step / encode / hand-off p99 ms", fmt.Sprintf("%.3f / %.3f / %.3f / %.3f", r.TickWorkMs.Drain.P99, r.TickWorkMs.Step.P99, r.TickWorkMs.Encode.P99, r.TickWorkMs.Handoff.P99)},
		{"tick interval ms p99/max", fmt.Sprintf("%.2f / %.2f", r.TickIntervalMs.P99, r.TickIntervalMs.Max)},
		{"missed ticks", fmt.Sprint(r.MissedTicks)},
		{"server CPU % of a core", fmt.Sprintf("%.1f", r.ServerCPUUtilPct)},
		{"server CPU / floor", fmt.Sprintf("%.2f", r.ServerCPUVsFloor)},
		{"server RSS MB (peak)", fmt.Sprintf("%.1f (%.1f)", r.ServerRSSMB, r.ServerRSSPeakMB)},
		{"Go heap MB, GC cycles, GC pause p99 ms", fmt.Sprintf("%.1f, %d, %.3f", r.GoHeapMB, r.GCCycles, r.GCPauseP99Ms)},
		{"allocs per tick: mean, p50 (during ticks) / whole process", fmt.Sprintf("%.1f, %.0f / %.1f", r.AllocsPerTick, r.AllocsPerTickP50, r.AllocsPerTickProc)},
		{"client decode ms per patch (Go)", fmt.Sprintf("%.4f", r.ClientDecodeMsPerPatch)},
		{"view hashes checked / mismatched", fmt.Sprintf("%d / %d (%d decoding clients)", r.ViewHashChecks, r.ViewHashMismatches, r.DecodingClients)},
		{"load generator CPU % (max per process)", fmt.Sprintf("%.1f (%.1f, %d procs)%s", r.LoadgenCPUUtilPct, r.LoadgenMaxProcPct, r.LoadgenProcs, satNote(r.LoadgenSaturated))},
	}
	if r.Recordings > 0 {
		rows = append(rows, [2]string{"recordings verified", fmt.Sprintf("%d / %d", r.RecordingsVerified, r.Recordings)})
	}
	if r.Soak != nil { // clean against soak: the soak's own rows
		rows = writeSoakMarkdown(rows[:3], r)
	} else {
		for _, h := range r.Hostile {
			rows = append(rows, [2]string{"hostile " + h.Kind, hostileRow(h)})
		}
	}
	if r.Server == "floor" { // a bare TCP server: no game, no WebSocket, no stats to show
		rows = slices.DeleteFunc(rows, func(row [2]string) bool { return !floorRows[row[0]] })
	}
	if r.Floor != nil {
		rows = append(rows, [2]string{"floor: CPU %, burst p99 ms", fmt.Sprintf("%.1f, %.2f (%d conns, %d B frames)",
			r.Floor.CPUUtilPct, r.Floor.WriteBurstP99Ms, r.Floor.Clients, r.Floor.FrameBytes)})
	}
	if r.Scenario == "R" {
		rows = append(rows, [2]string{"players held (floor)", fmt.Sprintf("%d (%d)", r.PlayersHeld, r.FloorPlayersHeld)})
	}
	fmt.Fprintln(w, "| metric | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n> %s\n", n)
	}
}

// floorRows are the rows a floor-only run has values for.
var floorRows = map[string]bool{
	"scenario": true, "server": true, "machine": true, "patches/s per client": true,
	"bytes/s per client": true, "bytes per patch (mean)": true, "server CPU % of a core": true,
	"server RSS MB (peak)": true, "load generator CPU % (max per process)": true,
}

// viewNote describes a run's world and view for the scenario row ("" without views).
func viewNote(r *result) string {
	if r.View == 0 {
		return ""
	}
	world := r.World
	if world == 0 {
		world = 1000 // arena's default
	}
	return fmt.Sprintf(", each sees %d × %d of a %d × %d world", r.View, r.View, world, world)
}

func satNote(sat bool) string {
	if sat {
		return " **saturated: the run measures the load generator, not the server**"
	}
	return ""
}

// version returns the binary's module version or VCS revision.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return rev + dirty
	}
	if v == "" {
		v = "devel"
	}
	return v
}

// loadAvg returns the 1-minute load average (0 if unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// machine describes the host: "<nproc> cores, <cpu model>".
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores, %s", runtime.NumCPU(), model)
}

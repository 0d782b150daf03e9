package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
)

// latestByScenario reads a JSONL results file and returns each scenario's newest run with
// recording as given (the peer records nothing, so the comparison takes our runs without it;
// a newer "-record" run measures recording's cost, not the headline).
func latestByScenario(path string, recording bool) (map[string]*result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: compare: %w", err)
	}
	defer f.Close()
	out := map[string]*result{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("bench: compare: %s line %d: %w", path, n, err)
		}
		if r.Recording != recording {
			continue
		}
		if old, ok := out[r.Scenario]; !ok || r.Date >= old.Date {
			out[r.Scenario] = &r
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: compare: %s: %w", path, err)
	}
	return out, nil
}

// compareRow is one line of the comparison: a metric of both runs.
type compareRow struct {
	name   string
	get    func(*result) float64
	target string // docs/benchmark.md's target, as a ratio to the peer where it has one
	ours   bool   // ticksync's own metric: the peer does not report it
	count  bool   // a count: no ratio
}

var compareRows = []compareRow{
	{"bytes per patch", func(r *result) float64 { return r.BytesPerPatchMean }, "≤ 0.1", false, false},
	{"KB/s per client", func(r *result) float64 { return r.BytesPerSPerClient / 1000 }, "", false, false},
	{"full state on join, B", func(r *result) float64 { return float64(r.FullStateBytesOnJoin) }, "", false, false},
	{"RTT p50 ms", func(r *result) float64 { return r.RTTMs.P50 }, "", false, false},
	{"RTT p99 ms", func(r *result) float64 { return r.RTTMs.P99 }, "", false, false},
	{"server hold p50 ms", func(r *result) float64 { return r.ServerHoldMs.P50 }, "", false, false},
	{"server hold p99 ms", func(r *result) float64 { return r.ServerHoldMs.P99 }, "", false, false},
	{"server CPU % of a core", func(r *result) float64 { return r.ServerCPUUtilPct }, "≈ 0.4 (≤ 1.3 × floor)", false, false},
	{"server RSS MB", func(r *result) float64 { return r.ServerRSSMB }, "≤ 0.25", false, false},
	{"tick work mean ms", func(r *result) float64 { return r.TickWorkMs.Mean }, "", false, false},
	{"tick work p99 ms", func(r *result) float64 { return r.TickWorkMs.P99 }, "≤ 1 ms", false, false},
	{"server hold beyond the wait p99 ms", func(r *result) float64 { return r.HoldBeyondWaitMs.P99 }, "≤ 1 ms", true, false},
	{"frame writes after hand-off p99 ms", func(r *result) float64 { return r.FrameWritesMs.P99 }, "", true, false},
	{"missed ticks", func(r *result) float64 { return float64(r.MissedTicks) }, "0", false, true},
	{"client decode ms per patch", func(r *result) float64 { return r.ClientDecodeMsPerPatch }, "", false, false},
}

// scenarioTargets are docs/benchmark.md's targets that differ by scenario, by row name.
var scenarioTargets = map[string]map[string]string{
	"D": {
		"server CPU % of a core":             "≤ 0.33",
		"tick work p99 ms":                   "≤ 4 ms and ≤ 0.05",
		"server hold beyond the wait p99 ms": "",
	},
}

// targetIn returns row's target in scenario s.
func (row compareRow) targetIn(s string) string {
	if t, ok := scenarioTargets[s][row.name]; ok {
		return t
	}
	return row.target
}

// writeComparison prints, for each scenario both files have, ours against the peer's newest
// run with the ratio.
func writeComparison(w io.Writer, oursPath, peerPath string) error {
	ours, err := latestByScenario(oursPath, false)
	if err != nil {
		return err
	}
	peer, err := latestByScenario(peerPath, false)
	if err != nil {
		return err
	}
	var names []string
	for s := range ours {
		if peer[s] != nil {
			names = append(names, s)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("bench: compare: no scenario in both %s and %s", oursPath, peerPath)
	}
	slices.Sort(names)
	for _, s := range names {
		a, b := ours[s], peer[s]
		fmt.Fprintf(w, "\n### scenario %s: %s %s (%s) vs %s %s (%s)\n\n", s, a.Server, a.Version, a.Date, b.Server, b.Version, b.Date)
		fmt.Fprintf(w, "| metric | %s | %s | ratio | target |\n|---|---|---|---|---|\n", a.Server, b.Server)
		for _, row := range compareRows {
			x, y := row.get(a), row.get(b)
			theirs, ratio := num(y), "–"
			switch {
			case row.ours:
				theirs = "–"
			case y != 0 && !row.count:
				ratio = fmt.Sprintf("%.3g", x/y)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.name, num(x), theirs, ratio, row.targetIn(s))
		}
		if a.ServerCPUVsFloor > 0 {
			fmt.Fprintf(w, "\n%s server CPU is %.2f × the floor measured in the same run", a.Server, a.ServerCPUVsFloor)
			if a.Floor != nil {
				fmt.Fprintf(w, " (floor: %.1f%% of a core, write burst p99 %.2f ms)", a.Floor.CPUUtilPct, a.Floor.WriteBurstP99Ms)
			}
			fmt.Fprintln(w, ".")
		}
		if a.Clients != b.Clients || a.Entities != b.Entities || a.World != b.World {
			fmt.Fprintf(w, "\n> different sizes: %s %d clients, %d NPCs, world %d vs %s %d clients, %d NPCs, world %d\n",
				a.Server, a.Clients, a.Entities, a.World, b.Server, b.Clients, b.Entities, b.World)
		}
		if a.Machine != b.Machine {
			fmt.Fprintf(w, "\n> different machines: %q vs %q\n", a.Machine, b.Machine)
		}
	}
	return nil
}

// num formats a figure: whole numbers from 1000 up, four significant digits below.
func num(v float64) string {
	if v >= 1000 || v <= -1000 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

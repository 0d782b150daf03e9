package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// soakResult is the soak scenario's own part of the result (JSON "soak").
type soakResult struct {
	Players         int       `json:"players"`                  // honest players in both runs
	RPlayersHeld    int       `json:"r_players_held,omitempty"` // the R search's count (0: -soak-players given)
	RSteps          []capStep `json:"r_steps,omitempty"`
	HostilePct      float64   `json:"hostile_pct"`
	HostilePerKind  int       `json:"hostile_per_kind"`
	HostileRooms    int       `json:"hostile_rooms"`
	SampleEveryS    float64   `json:"sample_every_s"`
	Clean           soakPhase `json:"clean"`
	Soak            soakPhase `json:"soak"`
	RTTP99SoakClean float64   `json:"rtt_p99_soak_vs_clean"` // honest RTT p99, soak / clean
	// RSS at the end of the soak's warm-up (the first sample at or after rss_warmup_s into the
	// hostile window) against the smallest and largest sample after it.
	RSSWarmupS    float64 `json:"rss_warmup_s"`
	RSSAtWarmupMB float64 `json:"rss_at_warmup_end_mb"`
	RSSMinAfterMB float64 `json:"rss_min_after_mb"`
	RSSMaxAfterMB float64 `json:"rss_max_after_mb"`
	RSSFlat       bool    `json:"rss_flat"` // every sample after within ±10 % of the warm-up end
	// Crashes counts server processes that exited by themselves (clean run and soak).
	Crashes           int            `json:"crashes"`
	HonestDisconnects int            `json:"honest_disconnects"` // soak run; the clean run's are in clean.disconnects
	ServerCloses      map[string]int `json:"server_closes"`      // ticksync_closes_total by code over the soak window
	Recordings        int            `json:"recordings"`
	RecordingsOK      int            `json:"recordings_verified"`
	RecordingErrors   []string       `json:"recording_errors,omitempty"`
	Samples           []soakSample   `json:"samples"`       // the soak, one per -sample-every
	CleanSamples      []soakSample   `json:"clean_samples"` // the clean run

	hostile []hostileKindResult // the result's "hostile"
}

// soakPhase is one run's honest figures (the clean run or the soak).
type soakPhase struct {
	DurationS           float64   `json:"duration_s"`
	RTTMs               quantiles `json:"rtt_ms"` // honest clients, from a log histogram (±0.5 %)
	FramesPerSPerClient float64   `json:"frames_per_s_per_client"`
	TickWorkMs          quantiles `json:"tick_work_ms"` // the honest rooms' ticks
	MissedTicks         int       `json:"missed_ticks"`
	Disconnects         int       `json:"disconnects"` // honest clients that lost their connection
	ServerCPUUtilPct    float64   `json:"server_cpu_util_pct"`
	RSSEndMB            float64   `json:"rss_end_mb"`
	SaturatedWindows    int       `json:"loadgen_saturated_windows"`
	Windows             int       `json:"windows"`
}

// soakSample is one sampling window.
type soakSample struct {
	TS                  float64 `json:"t_s"` // window end, seconds after the run's window opened
	RSSMB               float64 `json:"rss_mb"`
	Goroutines          int     `json:"goroutines"`
	FDs                 int     `json:"fds"`
	Connections         int     `json:"connections"` // ticksync_connections
	HostileOpen         int     `json:"hostile_open"`
	FramesPerSPerClient float64 `json:"frames_per_s_per_client"`
	RTTP99Ms            float64 `json:"rtt_p99_ms"`
	TickWorkP99Ms       float64 `json:"tick_work_p99_ms"`
	MissedTicks         int     `json:"missed_ticks"`
	Disconnects         int     `json:"honest_disconnects"` // cumulative
}

// runSoak is the soak scenario: R's load (rooms of PlayersPerRoom at the tick rate) at 80 % of
// the count an R search finds now (or -soak-players), first clean for -clean-duration, then
// from fresh processes with the hostile mix for -duration, recording on; every recording of
// the soak is verified as `ticksync replay verify` does.
func (r *rig) runSoak(ctx context.Context) (*result, error) {
	if r.o.target != "" {
		return nil, errors.New("bench: soak starts its own server (crashes, RSS and recordings need it): drop -target")
	}
	r.o.sc.Recording = true
	sc := r.o.sc
	ppr := sc.PlayersPerRoom
	sr := &soakResult{HostilePct: r.o.hostilePct, SampleEveryS: r.o.sampleEvery.Seconds(), ServerCloses: map[string]int{}}
	defer r.close()
	players := r.o.soakPlayers
	if players == 0 {
		held, steps, _, _, err := r.searchServer(ctx)
		r.close()
		if err != nil {
			return nil, fmt.Errorf("bench: soak: R search: %w", err)
		}
		if held == 0 {
			return nil, errors.New("bench: soak: the R search held no room")
		}
		sr.RPlayersHeld, sr.RSteps = held, steps
		players = max(ppr, held*80/100/ppr*ppr) // whole rooms
		fmt.Fprintf(r.stderr, "ticksync bench: soak: R held %d players; soaking at %d\n", held, players)
	}
	sr.Players = players
	rooms := (players + ppr - 1) / ppr
	sr.HostilePerKind = hostileCount(players, r.o.hostilePct)
	if sr.HostilePerKind > 0 {
		sr.HostileRooms = (hostileSeats(sr.HostilePerKind) + ppr - 1) / ppr
	}

	cleanDur := r.o.cleanDur
	if cleanDur == 0 {
		cleanDur = min(sc.Duration, 5*time.Minute)
	}
	clean, cleanSamples, crashed, err := r.soakRun(ctx, rooms, players, cleanDur, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: soak: clean run: %w", err)
	}
	if crashed {
		sr.Crashes++
	}
	sr.Clean, sr.CleanSamples = clean, cleanSamples
	r.close()

	soak, samples, crashed, err := r.soakRun(ctx, rooms, players, sc.Duration, sr.HostileRooms, sr)
	if err != nil {
		return nil, fmt.Errorf("bench: soak: %w", err)
	}
	if crashed {
		sr.Crashes++
	}
	sr.Soak, sr.Samples = soak, samples
	sr.HonestDisconnects = soak.Disconnects
	if clean.RTTMs.P99 > 0 {
		sr.RTTP99SoakClean = round3(soak.RTTMs.P99 / clean.RTTMs.P99)
	}
	sr.rssFlat(sc.Duration)

	// Recordings end when the server stops (SIGTERM: each room closes its file); then verify.
	r.closeClients()
	if r.srv != nil {
		r.srv.stop()
		if code := r.srv.cmd.ProcessState.ExitCode(); code != 0 && !crashed {
			r.note("the soak's server exited %d on SIGTERM: %s", code, r.srv.lastLines())
		}
		r.srv = nil
	}
	sr.Recordings, sr.RecordingsOK, sr.RecordingErrors = verifyRecordings(r.recDir)
	if sr.Recordings == 0 {
		r.note("no recordings found in the server's -record-dir: nothing verified")
	}

	res := r.newResult()
	res.Scenario, res.Clients, res.Rooms, res.DurationS = "soak", players, rooms, sc.Duration.Seconds()
	res.RTTMs, res.RTTSamples = soak.RTTMs, soak.RTTMs.N
	res.PatchesPerSPerClient = soak.FramesPerSPerClient
	res.TickWorkMs = tickWorkMs{quantiles: soak.TickWorkMs}
	res.MissedTicks = soak.MissedTicks
	res.ServerCPUUtilPct = soak.ServerCPUUtilPct
	res.ServerRSSMB, res.ServerRSSPeakMB = soak.RSSEndMB, sr.RSSMaxAfterMB
	res.Disconnects = soak.Disconnects
	res.ServerCmd = r.serverCmd
	res.Soak = sr
	res.Hostile = sr.hostile
	res.plot = &plotData{}
	return res, nil
}

// soakRun starts a server, joins players in rooms, warms up, starts the hostile mix (with
// hostileRooms > 0), and samples windows of -sample-every for d. It leaves the server running
// (the caller stops it). crashed says the server exited by itself.
func (r *rig) soakRun(ctx context.Context, rooms, players int, d time.Duration, hostileRooms int, sr *soakResult) (phase soakPhase, samples []soakSample, crashed bool, err error) {
	sc := r.o.sc
	r.mu.Lock()
	r.rooms, r.perProc, r.player, r.coll = nil, nil, 0, newStatsCollector()
	r.mu.Unlock()
	r.extraRooms = hostileRooms
	if err := r.start(ctx, rooms, sc.PlayersPerRoom); err != nil {
		return phase, nil, false, err
	}
	procs := r.procsFor(players)
	per := (players + procs - 1) / procs
	label := "clean"
	if hostileRooms > 0 {
		label = "soak"
	}
	r.prog.phase(fmt.Sprintf("%s: joining %d clients", label, players), 0)
	for i := range rooms {
		id, err := r.addRoom(ctx, sc.Entities)
		if err != nil {
			return phase, nil, false, err
		}
		n := players / rooms
		if i < players%rooms {
			n++
		}
		if err := r.addPlayers(ctx, id, n, per, procs, ""); err != nil {
			return phase, nil, false, err
		}
	}
	r.prog.end()
	if err := r.warm(ctx, sc.Warmup); err != nil {
		return phase, nil, false, err
	}
	pid := r.srv.pid()
	murl := r.httpURL + "/metrics"
	m0, _ := scrapeMetrics(ctx, murl)
	var mix *hostileMix
	if hostileRooms > 0 && sr != nil {
		// The loops stop by themselves a minute after the window (they are stopped at its end).
		mix, err = r.startHostileMix(ctx, sr.HostilePerKind, hostileRooms, d+time.Minute)
		if err != nil {
			return phase, nil, false, err
		}
		defer func() {
			if mix != nil {
				sr.hostile = mix.stop()
			}
		}()
	}
	var rtt, work logHist
	var frames, clientSecs, cpu, wall float64
	start := time.Now()
	r.stepping = true
	defer func() { r.stepping = false }()
	for elapsed := time.Duration(0); elapsed < d; elapsed = time.Since(start) {
		w := max(min(r.o.sampleEvery, d-elapsed), time.Second)
		m, err := r.window(ctx, fmt.Sprintf("%s %s/%s", label, elapsed.Truncate(time.Second), d), w, pid, murl, nil)
		if err != nil {
			if r.srv.exited() {
				r.note("%s: the server exited: %s", label, r.srv.lastLines())
				crashed = true
				break
			}
			return phase, samples, false, err
		}
		r.coll.wait(len(r.rooms), 3*time.Second)
		s := soakSample{TS: round1(time.Since(start).Seconds()), RSSMB: round1(m.rss), Disconnects: m.lgDisconnects}
		if mix != nil {
			s.HostileOpen = int(mix.open.Load())
		}
		if m.m1 != nil {
			s.Goroutines, s.Connections = int(m.m1["go_goroutines"]), int(m.m1["ticksync_connections"])
		}
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			s.FDs = len(fds)
		}
		var f, c int64
		var wr []float64
		for _, rep := range m.reports {
			f += rep.Frames
			c += int64(rep.Clients)
			for _, us := range rep.RTTUs {
				rtt.add(float64(us))
				wr = append(wr, float64(us))
			}
		}
		s.RTTP99Ms = summarize(wr).P99
		if c > 0 {
			s.FramesPerSPerClient = round3(float64(f) / float64(c) / m.wall.Seconds())
			frames += float64(f)
			clientSecs += float64(c) * m.wall.Seconds()
		}
		ts := r.coll.summary(sc.Hz)
		for _, us := range ts.totalUs {
			work.add(us)
		}
		s.TickWorkP99Ms = ts.work.P99
		s.MissedTicks = ts.late
		if m.m0 != nil && m.m1 != nil {
			s.MissedTicks += int(m.m1["ticksync_skipped_ticks_total"] - m.m0["ticksync_skipped_ticks_total"])
		}
		phase.MissedTicks += s.MissedTicks
		phase.Disconnects = max(phase.Disconnects, m.lgDisconnects)
		if m.lgSaturated {
			phase.SaturatedWindows++
		}
		phase.Windows++
		phase.RSSEndMB = s.RSSMB
		cpu += m.cpu.Seconds()
		wall += m.wall.Seconds()
		samples = append(samples, s)
		if m.lgDisconnects > 0 && phase.Disconnects == m.lgDisconnects && len(m.lgErrors) > 0 {
			r.note("%s: %d honest clients lost their connection: %s", label, m.lgDisconnects, strings.Join(m.lgErrors[:min(len(m.lgErrors), 3)], "; "))
		}
		fmt.Fprintf(r.stderr, "ticksync bench: %s t=%.0fs: RSS %.1f MB, %d goroutines, %d fds, %d conns (%d hostile), %.2f frames/s per client, RTT p99 %.2f ms, tick p99 %.3f ms, %d disconnects\n",
			label, s.TS, s.RSSMB, s.Goroutines, s.FDs, s.Connections, s.HostileOpen, s.FramesPerSPerClient, s.RTTP99Ms, s.TickWorkP99Ms, s.Disconnects)
		if r.srv.exited() {
			r.note("%s: the server exited: %s", label, r.srv.lastLines())
			crashed = true
			break
		}
	}
	if mix != nil {
		sr.hostile = mix.stop()
		mix = nil
	}
	if sr != nil && !crashed {
		if m1, err := scrapeMetrics(ctx, murl); err == nil && m0 != nil {
			for k, v := range m1 {
				if code, ok := strings.CutPrefix(k, `ticksync_closes_total{code="`); ok {
					if n := int(v - m0[k]); n > 0 {
						sr.ServerCloses[strings.TrimSuffix(code, `"}`)] = n
					}
				}
			}
		}
	}
	phase.DurationS = round1(wall)
	phase.RTTMs = rtt.quantiles()
	phase.TickWorkMs = work.quantiles()
	if clientSecs > 0 {
		phase.FramesPerSPerClient = round3(frames / clientSecs)
	}
	if wall > 0 {
		phase.ServerCPUUtilPct = round1(100 * cpu / wall)
	}
	if phase.SaturatedWindows > 0 {
		r.note("%s: the load generator was saturated in %d of %d windows", label, phase.SaturatedWindows, phase.Windows)
	}
	return phase, samples, crashed, nil
}

// hostileFirstPlayer is the first hostile player id, clear of the honest ones (1, 2, …).
const hostileFirstPlayer = 1 << 24

// startHostileMix creates the hostile rooms and starts perKind loops of each hostile kind for d.
func (r *rig) startHostileMix(ctx context.Context, perKind, rooms int, d time.Duration) (*hostileMix, error) {
	ids := make([]string, rooms)
	for i := range ids {
		id, err := r.createRoom(ctx, r.o.sc.Entities)
		if err != nil {
			if r.secret != nil {
				return nil, fmt.Errorf("bench: hostile room: %w", err)
			}
			id = fmt.Sprintf("hostile-%d-%d", time.Now().UnixNano()%1e6, i)
		}
		ids[i] = id
	}
	fmt.Fprintf(r.stderr, "ticksync bench: hostile mix: %d of each of %s in %d rooms, from 127.0.0.2 up, for %v\n",
		perKind, strings.Join(hostileKinds, ", "), rooms, d)
	return startHostile(ctx, hostileConfig{
		WS: r.wsURL, Secret: r.secret, Rooms: ids, PerKind: perKind, InputHz: r.o.sc.InputHz,
		MaxMsgBytes: maxMsgBytes(r.o.serverArgs), Duration: d, FirstPlayer: hostileFirstPlayer,
	}), nil
}

// rssFlat fills the RSS figures: the sample at the warm-up's end against those after it.
func (sr *soakResult) rssFlat(d time.Duration) {
	warm := min(max(d/10, 10*time.Second), 3*time.Minute)
	sr.RSSWarmupS = warm.Seconds()
	base := -1
	for i, s := range sr.Samples {
		if s.TS >= warm.Seconds() {
			base = i
			break
		}
	}
	if base < 0 || base == len(sr.Samples)-1 || sr.Samples[base].RSSMB == 0 {
		return
	}
	b := sr.Samples[base].RSSMB
	sr.RSSAtWarmupMB, sr.RSSMinAfterMB, sr.RSSMaxAfterMB = b, math.Inf(1), 0
	for _, s := range sr.Samples[base+1:] {
		sr.RSSMinAfterMB = min(sr.RSSMinAfterMB, s.RSSMB)
		sr.RSSMaxAfterMB = max(sr.RSSMaxAfterMB, s.RSSMB)
	}
	sr.RSSFlat = sr.RSSMaxAfterMB <= 1.1*b && sr.RSSMinAfterMB >= 0.9*b
}

// verifyRecordings re-simulates every recording under dir with replay.Verify, as `ticksync
// replay verify` does, with the games the bench's server runs (arena), and returns how many
// there were, how many verified, and why the others did not.
func verifyRecordings(dir string) (n, ok int, errs []string) {
	if dir == "" {
		return 0, 0, nil
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		n++
		if err := verifyFile(path, lookupGame); err != nil {
			if len(errs) < 10 {
				errs = append(errs, fmt.Sprintf("%s: %v", filepath.Base(path), err))
			}
			return nil
		}
		ok++
		return nil
	})
	return n, ok, errs
}

// lookupGame finds the games of the bench's rooms.
func lookupGame(name string) (sim.Factory, bool) {
	if name == arena.Name {
		return arena.New, true
	}
	return nil, false
}

func verifyFile(path string, lookup func(string) (sim.Factory, bool)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	rd, err := replay.Open(f, fi.Size())
	if err != nil {
		return err
	}
	return replay.Verify(rd, lookup, nil)
}

// logHist is a histogram of microsecond samples in buckets 0.5 % wide: quantiles of a
// 30-minute soak's millions of samples without keeping them.
type logHist struct {
	counts   []int64
	n        int64
	sum, max float64
}

const histStep = 0.004987541511038968 // ln(1.005)

func (h *logHist) add(us float64) {
	i := 0
	if us > 1 {
		i = int(math.Log(us) / histStep)
	}
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]int64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	h.n++
	h.sum += us
	h.max = max(h.max, us)
}

// quantile returns the p-th percentile's bucket (its upper edge, capped at the max), in µs.
func (h *logHist) quantile(p float64) float64 {
	rank := int64(math.Ceil(p / 100 * float64(h.n)))
	var c int64
	for i, k := range h.counts {
		c += k
		if c >= rank && k > 0 {
			return min(math.Exp(float64(i+1)*histStep), h.max)
		}
	}
	return h.max
}

func (h *logHist) quantiles() quantiles {
	if h.n == 0 {
		return quantiles{}
	}
	return quantiles{
		Mean: round3(h.sum / float64(h.n) / 1000), P50: round3(h.quantile(50) / 1000),
		P90: round3(h.quantile(90) / 1000), P99: round3(h.quantile(99) / 1000),
		Max: round3(h.max / 1000), N: int(h.n),
	}
}

// writeSoakMarkdown is the soak's table: clean against soak, then the hostile kinds.
func writeSoakMarkdown(rows [][2]string, r *result) [][2]string {
	s := r.Soak
	c, k := s.Clean, s.Soak
	vs := func(a, b string) string { return a + " → " + b }
	players := fmt.Sprint(s.Players)
	if s.RPlayersHeld > 0 {
		players = fmt.Sprintf("%d (80%% of the %d R held in this sitting)", s.Players, s.RPlayersHeld)
	}
	flat := "no"
	if s.RSSFlat {
		flat = "yes"
	}
	rows = append(rows,
		[2]string{"honest players", players},
		[2]string{"hostile", fmt.Sprintf("%g%%: %d of each kind, %d rooms of their own, from 127.0.0.2 up", s.HostilePct, s.HostilePerKind, s.HostileRooms)},
		[2]string{"window clean → soak (s)", vs(fmt.Sprintf("%.0f", c.DurationS), fmt.Sprintf("%.0f", k.DurationS))},
		[2]string{"honest RTT p99 ms clean → soak", fmt.Sprintf("%.2f → %.2f (×%.3f)", c.RTTMs.P99, k.RTTMs.P99, s.RTTP99SoakClean)},
		[2]string{"honest RTT p50 ms clean → soak", fmt.Sprintf("%.2f → %.2f", c.RTTMs.P50, k.RTTMs.P50)},
		[2]string{"honest frames/s per client clean → soak", fmt.Sprintf("%.2f → %.2f", c.FramesPerSPerClient, k.FramesPerSPerClient)},
		[2]string{"tick work p99 ms clean → soak", fmt.Sprintf("%.3f → %.3f", c.TickWorkMs.P99, k.TickWorkMs.P99)},
		[2]string{"missed ticks clean → soak", fmt.Sprintf("%d → %d", c.MissedTicks, k.MissedTicks)},
		[2]string{"server CPU % clean → soak", fmt.Sprintf("%.1f → %.1f", c.ServerCPUUtilPct, k.ServerCPUUtilPct)},
		[2]string{"RSS MB at warm-up end → min / max after", fmt.Sprintf("%.1f at %.0fs → %.1f / %.1f (flat within ±10%%: %s)", s.RSSAtWarmupMB, s.RSSWarmupS, s.RSSMinAfterMB, s.RSSMaxAfterMB, flat)},
		[2]string{"goroutines, fds first → max → last", seriesSpan(s.Samples)},
		[2]string{"crashes", fmt.Sprint(s.Crashes)},
		[2]string{"honest disconnects clean, soak", fmt.Sprintf("%d, %d", c.Disconnects, s.HonestDisconnects)},
	)
	for _, h := range r.Hostile {
		rows = append(rows, [2]string{"hostile " + h.Kind, hostileRow(h)})
	}
	rows = append(rows,
		[2]string{"server closes by code (soak)", sortedCodes(s.ServerCloses)},
		[2]string{"recordings verified", fmt.Sprintf("%d / %d", s.RecordingsOK, s.Recordings)},
	)
	return rows
}

// seriesSpan is "goroutines a → b → c, fds x → y → z" over the samples.
func seriesSpan(ss []soakSample) string {
	if len(ss) == 0 {
		return "no samples"
	}
	var gMax, fMax int
	for _, s := range ss {
		gMax, fMax = max(gMax, s.Goroutines), max(fMax, s.FDs)
	}
	f, l := ss[0], ss[len(ss)-1]
	return "goroutines " + strconv.Itoa(f.Goroutines) + " → " + strconv.Itoa(gMax) + " → " + strconv.Itoa(l.Goroutines) +
		", fds " + strconv.Itoa(f.FDs) + " → " + strconv.Itoa(fMax) + " → " + strconv.Itoa(l.FDs)
}

package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
)

// latestByScenario reads a JSONL results file and returns each scenario's newest run.
func latestByScenario(path string) (map[string]*result, error) {
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
	target string // BENCHMARK.md's target, as a ratio to the peer where it has one
}

var compareRows = []compareRow{
	{"bytes per patch", func(r *result) float64 { return r.BytesPerPatchMean }, "≤ 0.1"},
	{"KB/s per client", func(r *result) float64 { return r.BytesPerSPerClient / 1000 }, ""},
	{"full state on join, B", func(r *result) float64 { return float64(r.FullStateBytesOnJoin) }, ""},
	{"RTT p50 ms", func(r *result) float64 { return r.RTTMs.P50 }, ""},
	{"RTT p99 ms", func(r *result) float64 { return r.RTTMs.P99 }, ""},
	{"server hold p50 ms", func(r *result) float64 { return r.ServerHoldMs.P50 }, ""},
	{"server hold p99 ms", func(r *result) float64 { return r.ServerHoldMs.P99 }, ""},
	{"server CPU % of a core", func(r *result) float64 { return r.ServerCPUUtilPct }, "≈ 0.4 (≤ 1.3 × floor)"},
	{"server RSS MB", func(r *result) float64 { return r.ServerRSSMB }, "≤ 0.25"},
	{"tick work mean ms", func(r *result) float64 { return r.TickWorkMs.Mean }, ""},
	{"tick work p99 ms", func(r *result) float64 { return r.TickWorkMs.P99 }, "≤ 1 ms"},
	{"client decode ms per patch", func(r *result) float64 { return r.ClientDecodeMsPerPatch }, ""},
}

// writeComparison prints, for each scenario both files have, ours against the peer's newest
// run with the ratio.
func writeComparison(w io.Writer, oursPath, peerPath string) error {
	ours, err := latestByScenario(oursPath)
	if err != nil {
		return err
	}
	peer, err := latestByScenario(peerPath)
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
			ratio := "–"
			if y != 0 {
				ratio = fmt.Sprintf("%.3g", x/y)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.name, num(x), num(y), ratio, row.target)
		}
		if a.ServerCPUVsFloor > 0 {
			fmt.Fprintf(w, "\n%s server CPU is %.2f × the floor measured in the same run.\n", a.Server, a.ServerCPUVsFloor)
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

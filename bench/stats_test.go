package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/proto"
)

func TestPercentile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name string
		p    float64
		want float64
	}{
		{"p50", 50, 5},
		{"p90", 90, 9},
		{"p99", 99, 10},
		{"p100", 100, 10},
		{"tiny", 0.001, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, percentile(sorted, tc.p))
		})
	}
	assert.Equal(t, 0.0, percentile(nil, 50))
}

func TestSummarize(t *testing.T) {
	us := make([]float64, 1000)
	for i := range us {
		us[len(us)-1-i] = float64(i+1) * 1000 // 1..1000 ms, unsorted
	}
	q := summarize(us)
	assert.Equal(t, quantiles{Mean: 500.5, P50: 500, P90: 900, P99: 990, Max: 1000, N: 1000}, q)
	assert.Equal(t, 1e6, us[0], "summarize must not reorder its input")
	assert.Equal(t, quantiles{}, summarize(nil))
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.25
process_resident_memory_bytes 1.2345678e+07
go_gc_duration_seconds{quantile="0.5"} 4.1e-05
go_gc_duration_seconds{quantile="1"} 0.000312
go_gc_duration_seconds_count 17
ticksync_closes_total{code="1000"} 3
ticksync_closes_total{code="1006"} 2
weird{label="a b"} 7 1700000000000
`
	m, err := parseMetrics(strings.NewReader(text))
	require.NoError(t, err)
	assert.Equal(t, 1.25, m["process_cpu_seconds_total"])
	assert.Equal(t, 12345678.0, m["process_resident_memory_bytes"])
	assert.Equal(t, 0.000312, m[`go_gc_duration_seconds{quantile="1"}`])
	assert.Equal(t, 17.0, m["go_gc_duration_seconds_count"])
	assert.Equal(t, 7.0, m[`weird{label="a b"}`])
	sum, ok := m.sum("ticksync_closes_total")
	assert.True(t, ok)
	assert.Equal(t, 5.0, sum)
}

func TestGCTraceLine(t *testing.T) {
	line := "gc 12 @3.456s 1%: 0.021+1.2+0.034 ms clock, 0.042+0.30/0.88/0+0.068 ms cpu, 7->8->3 MB, 8 MB goal, 0 MB stacks, 0 MB globals, 2 P"
	m := gcRE.FindStringSubmatch(line)
	require.NotNil(t, m)
	assert.Equal(t, "0.021", m[1])
	assert.Equal(t, "0.034", m[2])
	assert.Equal(t, "3", m[5])
	assert.Nil(t, gcRE.FindStringSubmatch("time=… level=INFO msg=\"room created\""))
}

func TestAddrLine(t *testing.T) {
	m := addrRE.FindStringSubmatch("ticksync serving on http://127.0.0.1:43121 (auth token)")
	require.NotNil(t, m)
	assert.Equal(t, "127.0.0.1", m[1])
	assert.Equal(t, "43121", m[2])
}

// frameHeader must read what proto.Marshal writes, for every mix of present fields.
func TestFrameHeader(t *testing.T) {
	tests := []struct {
		name string
		f    *pb.Frame
		full bool
	}{
		{"delta", &pb.Frame{Tick: 77, BaselineTick: 76, LastInputSeq: 1234, UpdateIds: []uint32{1, 2}, UpdateValues: []int32{-5, 9}}, false},
		{"snapshot", &pb.Frame{Tick: 3, LastInputSeq: 0, SpawnIds: []uint32{1, 1, 1}}, true},
		{"no seq", &pb.Frame{Tick: 1 << 30, BaselineTick: 5}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := proto.Marshal(tc.f)
			require.NoError(t, err)
			tick, seq, full := frameHeader(b)
			assert.Equal(t, tc.f.GetTick(), tick)
			assert.Equal(t, tc.f.GetLastInputSeq(), seq)
			assert.Equal(t, tc.full, full)
		})
	}
}

func TestCollectorSummary(t *testing.T) {
	c := newStatsCollector()
	t0 := time.Unix(1_700_000_000, 0)
	mk := func(tick uint32, startMs int64, lateUs uint32) *pb.TickWork {
		return &pb.TickWork{Tick: tick, DrainNs: 10_000, StepNs: 100_000, EncodeNs: 200_000, HandoffNs: 20_000,
			Allocs: 2, LateUs: lateUs, StartUnixUs: t0.UnixMicro() + startMs*1000}
	}
	c.add(0, &pb.Stats{Ticks: []*pb.TickWork{mk(1, -50, 0)}}) // before the window: dropped
	c.open(t0)
	c.add(0, &pb.Stats{Ticks: []*pb.TickWork{mk(2, 0, 0), mk(3, 50, 0), mk(4, 102, 2000)},
		Holds: []*pb.InputHold{{WaitUs: 20_000, HoldUs: 21_000}}})
	c.add(1, &pb.Stats{Ticks: []*pb.TickWork{mk(9, 10, 0), mk(10, 160, 60_000)}}) // a late tick
	c.close(t0.Add(200 * time.Millisecond))
	c.add(0, &pb.Stats{Ticks: []*pb.TickWork{mk(5, 250, 0)}}) // after: dropped
	s := c.summary(20)
	assert.Equal(t, 5, s.ticks)
	assert.Equal(t, 1, s.late)
	assert.Equal(t, 0.33, s.work.P50)
	assert.Equal(t, 0.01, s.work.Drain.Max)
	assert.Equal(t, 2.0, s.allocsMean)
	assert.Equal(t, 2.0, s.allocsP50)
	assert.ElementsMatch(t, []float64{50_000, 52_000, 150_000}, s.intervalUs)
	assert.Equal(t, []float64{21_000}, s.holdUs)
	assert.Equal(t, []float64{20_000}, s.waitUs)
	assert.Equal(t, []float64{1_000}, s.beyondUs)
}

func TestScenarioResolve(t *testing.T) {
	tests := []struct {
		name string
		in   scenario
		want scenario
		err  bool
	}{
		{"B", scenario{Name: "B"}, scenario{Name: "B", Entities: 1000, Clients: 200, Hz: 20, Rooms: 1, PlayersPerRoom: 200, Duration: 20 * time.Second, Warmup: 3 * time.Second, InputHz: 20}, false},
		{"b60 lower case", scenario{Name: "b60"}, scenario{Name: "B60", Entities: 1000, Clients: 200, Hz: 60, Rooms: 1, PlayersPerRoom: 200, Duration: 20 * time.Second, Warmup: 3 * time.Second, InputHz: 20}, false},
		{"A tiny", scenario{Name: "A", Entities: 50, Clients: 5, Duration: 3 * time.Second, Warmup: time.Second}, scenario{Name: "A", Entities: 50, Clients: 5, Hz: 20, Rooms: 1, PlayersPerRoom: 5, Duration: 3 * time.Second, Warmup: time.Second, InputHz: 20}, false},
		{"rooms by players", scenario{Name: "B", Clients: 100, PlayersPerRoom: 10}, scenario{Name: "B", Entities: 1000, Clients: 100, Hz: 20, Rooms: 10, PlayersPerRoom: 10, Duration: 20 * time.Second, Warmup: 3 * time.Second, InputHz: 20}, false},
		{"unknown", scenario{Name: "Z"}, scenario{}, true},
		{"too fast", scenario{Name: "A", Hz: 5000}, scenario{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.resolve()
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	sc := scenario{Name: "x", Clients: 25, Rooms: 3}
	assert.Equal(t, 25, sc.roomPlayers(0)+sc.roomPlayers(1)+sc.roomPlayers(2))
}

// sampleResult is a filled-in result for the output tests.
func sampleResult() *result {
	r := &result{Server: "ticksync", Version: "v", Scenario: "B", Entities: 1000, Clients: 200, Hz: 20,
		DurationS: 20, WarmupS: 3, Date: "2026-01-01T00:00:00Z", Machine: "2 cores, X", Rooms: 1, PlayersPerRoom: 200,
		RTTMs: quantiles{P50: 30, P99: 60}, Floor: &floorResult{Clients: 200, CPUUtilPct: 10}}
	r.plot = &plotData{
		tickUs: []float64{300, 320, 900}, phaseUs: [4][]float64{{10, 11, 12}, {100, 110, 120}, {180, 190, 700}, {10, 9, 8}},
		rttUs: []float64{25_000, 30_000, 61_000}, holdUs: []float64{20_000, 26_000}, waitUs: []float64{19_000, 24_000},
		beyondUs: []float64{1_000, 2_000},
	}
	return r
}

// TestResultJSONFields checks the JSON keeps every field name the peers share.
func TestResultJSONFields(t *testing.T) {
	b, err := json.Marshal(sampleResult())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range sharedFields {
		assert.Contains(t, m, k)
	}
	for k, sub := range sharedNested {
		obj, ok := m[k].(map[string]any)
		require.True(t, ok, k)
		for _, s := range sub {
			assert.Contains(t, obj, s, "%s.%s", k, s)
		}
	}
	tw := m["tick_work_ms"].(map[string]any)
	for _, phase := range []string{"drain", "step", "encode", "handoff"} {
		assert.Contains(t, tw[phase], "p99", phase)
	}
}

// sharedFields are the JSON keys ticksync and the peers both write.
var sharedFields = []string{"server", "version", "scenario", "entities", "clients", "hz", "duration_s", "warmup_s",
	"date", "machine", "recording", "patches_per_s_per_client", "bytes_per_s_per_client", "bytes_per_patch_mean",
	"full_state_bytes_on_join", "rtt_ms", "server_hold_ms", "tick_wait_ms", "tick_work_ms", "tick_interval_ms",
	"missed_ticks", "server_cpu_util_pct", "server_cpu_vs_floor", "server_rss_mb", "server_rss_peak_mb", "go_heap_mb",
	"gc_cycles", "gc_pause_p99_ms", "allocs_per_tick", "loadgen_cpu_util_pct", "loadgen_saturated",
	"client_decode_ms_per_patch"}

var sharedNested = map[string][]string{
	"rtt_ms":           {"p50", "p90", "p99", "max"},
	"server_hold_ms":   {"p50", "p90", "p99", "max"},
	"tick_wait_ms":     {"p50", "p99"},
	"tick_work_ms":     {"mean", "p50", "p99", "max", "drain", "step", "encode", "handoff"},
	"tick_interval_ms": {"p99", "max"},
}

// TestMarkdownFloor: a floor-only run shows what a bare TCP server has, not empty game rows.
func TestMarkdownFloor(t *testing.T) {
	r := sampleResult()
	r.Server, r.Scenario = "floor", "floor"
	r.Floor = &floorResult{Clients: 200, FrameBytes: 2000, CPUUtilPct: 9.5, WriteBurstP99Ms: 2.5}
	var b bytes.Buffer
	writeMarkdown(&b, r)
	out := b.String()
	assert.Contains(t, out, "| server CPU % of a core |")
	assert.Contains(t, out, "| floor: CPU %, burst p99 ms | 9.5, 2.50 (200 conns, 2000 B frames) |")
	assert.NotContains(t, out, "RTT")
	assert.NotContains(t, out, "tick work")
}

func TestMarkdown(t *testing.T) {
	var b bytes.Buffer
	writeMarkdown(&b, sampleResult())
	out := b.String()
	assert.True(t, strings.HasPrefix(out, "| metric | value |\n|---|---|\n"))
	assert.Contains(t, out, "| RTT ms p50/p90/p99/max | 30.00 / 0.00 / 60.00 / 0.00 |")
	assert.Contains(t, out, "floor: CPU %")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.True(t, strings.HasPrefix(line, "|") && strings.HasSuffix(line, "|"), line)
	}
}

func TestPlotIsWellFormedSVG(t *testing.T) {
	svg := renderPlot(sampleResult())
	dec := xml.NewDecoder(bytes.NewReader(svg))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	assert.Equal(t, 9, lines, "5 tick work curves and 4 latency curves")
	assert.Contains(t, string(svg), "server hold")

	empty := sampleResult()
	empty.plot = &plotData{}
	_, err := xml.NewDecoder(bytes.NewReader(renderPlot(empty))).Token()
	assert.NoError(t, err)
}

func TestPctX(t *testing.T) {
	assert.Equal(t, 0.0, pctX(0))
	assert.InDelta(t, 0.25, pctX(90), 1e-9)
	assert.InDelta(t, 0.5, pctX(99), 1e-9)
	assert.Equal(t, 1.0, pctX(100))
	assert.Equal(t, 5.0, niceCeil(3.2))
	assert.Equal(t, 0.2, niceCeil(0.17))
}

func TestComparison(t *testing.T) {
	dir := t.TempDir()
	ours, peer := dir+"/ours.jsonl", dir+"/peer.jsonl"
	a := sampleResult()
	a.BytesPerPatchMean, a.ServerCPUUtilPct = 1500, 15
	old := sampleResult()
	old.Date, old.BytesPerPatchMean = "2025-01-01T00:00:00Z", 99999 // older: not compared
	require.NoError(t, appendJSONL(ours, a))
	require.NoError(t, appendJSONL(ours, old))
	rec := sampleResult()
	rec.Date, rec.Recording, rec.BytesPerPatchMean = "2099-01-01T00:00:00Z", true, 77777 // newer, but recording: not the headline
	require.NoError(t, appendJSONL(ours, rec))
	b := sampleResult()
	b.Server, b.BytesPerPatchMean, b.ServerCPUUtilPct = "colyseus", 21474, 30
	require.NoError(t, appendJSONL(peer, b))
	var out bytes.Buffer
	require.NoError(t, writeComparison(&out, ours, peer))
	assert.Contains(t, out.String(), "| bytes per patch | 1500 | 21474 | 0.0699 | ≤ 0.1 |")
	assert.Contains(t, out.String(), "| server CPU % of a core | 15 | 30 | 0.5 |")
	assert.NotContains(t, out.String(), "77777")
	assert.NotContains(t, out.String(), "different sizes")

	// Scenario D has its own targets, and runs of different sizes are flagged.
	d, pd := sampleResult(), sampleResult()
	d.Scenario, pd.Scenario, pd.Server, pd.Clients = "D", "D", "colyseus", d.Clients/2
	require.NoError(t, appendJSONL(dir+"/d.jsonl", d))
	require.NoError(t, appendJSONL(dir+"/pd.jsonl", pd))
	out.Reset()
	require.NoError(t, writeComparison(&out, dir+"/d.jsonl", dir+"/pd.jsonl"))
	assert.Contains(t, out.String(), "≤ 4 ms and ≤ 0.05 |")
	assert.Contains(t, out.String(), "| server CPU % of a core |")
	assert.Contains(t, out.String(), "≤ 0.33 |")
	assert.Contains(t, out.String(), "> different sizes:")

	other := sampleResult()
	other.Scenario = "C"
	require.NoError(t, appendJSONL(dir+"/c.jsonl", other))
	assert.Error(t, writeComparison(&out, ours, dir+"/c.jsonl"), "no common scenario")
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// runFloor measures the socket floor for n clients with frames of frameBytes at the
// scenario's rates, in processes of its own.
func (r *rig) runFloor(ctx context.Context, n, frameBytes int, d, warm time.Duration) (*floorResult, error) {
	f, err := r.newFloor(ctx, frameBytes)
	if err != nil {
		return nil, err
	}
	defer f.close()
	if err := f.grow(ctx, n); err != nil {
		return nil, err
	}
	if err := f.rig.warm(ctx, warm); err != nil {
		return nil, err
	}
	fl, _, err := f.measure(ctx, d)
	return fl, err
}

// floorRig is the floor's processes: its TCP server and its load generators.
type floorRig struct {
	rig        *rig
	srv        *child
	addr       string
	frameBytes int
	conns      int
}

func (r *rig) newFloor(ctx context.Context, frameBytes int) (*floorRig, error) {
	frameBytes = max(frameBytes, 1)
	fr := &rig{o: r.o, exe: r.exe, stderr: r.stderr, prog: r.prog, coll: newStatsCollector(), parent: r}
	args := []string{"bench", "-floor-server", "-floor-addr", "127.0.0.1:0", "-hz", fmt.Sprint(r.o.sc.Hz), "-frame-bytes", fmt.Sprint(frameBytes)}
	if r.o.floorLoop {
		args = append(args, "-floor-loop")
	}
	r.prog.end()
	fmt.Fprintf(r.stderr, "ticksync bench: floor server: %s %s\n", r.exe, strings.Join(args, " "))
	c, err := startChild("floor server", r.exe, args, nil, r.stderr)
	if err != nil {
		return nil, err
	}
	line, err := c.await(ctx, evReady, 10*time.Second)
	if err != nil {
		c.stop()
		return nil, err
	}
	var e envelope
	_ = json.Unmarshal(line, &e)
	return &floorRig{rig: fr, srv: c, addr: e.Addr, frameBytes: frameBytes}, nil
}

// grow adds n connections.
func (f *floorRig) grow(ctx context.Context, n int) error {
	o := f.rig.o
	per := o.perProc
	procs := 1 << 30
	if o.sc.Name != "R" {
		procs = f.rig.procsFor(n)
		per = (n + procs - 1) / procs
	}
	f.conns += n
	return f.rig.addPlayers(ctx, "floor", n, per, procs, f.addr)
}

// measure runs one floor window.
func (f *floorRig) measure(ctx context.Context, d time.Duration) (*floorResult, *measured, error) {
	m, err := f.rig.window(ctx, fmt.Sprintf("floor (%d conns)", f.conns), d, f.srv.pid(), "", []*child{f.srv})
	if err != nil {
		return nil, nil, err
	}
	var fr floorReport
	if len(m.extra) == 1 {
		_ = json.Unmarshal(m.extra[0], &fr)
	}
	burst := summarize(toFloats(fr.BurstUs))
	var frames int64
	for _, rep := range m.reports {
		frames += rep.Frames
	}
	wall := m.wall.Seconds()
	fl := &floorResult{
		Clients: fr.Conns, FrameBytes: f.frameBytes, InputBytes: f.rig.o.inputBytes, Writers: "per-connection",
		CPUUtilPct: round1(100 * m.cpu.Seconds() / wall), RSSMB: round1(m.rss),
		WriteBurstP99Ms: burst.P99, WriteBurstMaxMs: burst.Max, LoadgenCPUPct: round1(m.lgCPU),
	}
	if fr.Conns > 0 {
		fl.FramesPerSPerCli = round3(float64(frames) / float64(fr.Conns) / wall)
	}
	if f.rig.o.floorLoop {
		fl.Writers = "loop"
	}
	interval := 1000 / float64(f.rig.o.sc.Hz)
	fl.Holds = burst.P99 <= interval/4 && fl.CPUUtilPct < 100 && fr.Missed == 0
	if m.lgSaturated && f.rig.o.sc.Name != "R" {
		f.rig.note("floor: its load generator was saturated (%.0f%% of a core, send lag p99 %.2f ms): the floor may read low",
			m.lgMax, m.lgLagP99Us/1000)
	}
	if m.lgDisconnects > 0 {
		f.rig.note("floor: %d connections lost: %s", m.lgDisconnects, strings.Join(m.lgErrors[:min(len(m.lgErrors), 3)], "; "))
	}
	return fl, m, nil
}

func (f *floorRig) close() {
	f.rig.close()
	f.srv.stop()
}

// runFloorScenario is `-scenario floor`: the floor alone, with -clients, -hz and -frame-bytes.
func (r *rig) runFloorScenario(ctx context.Context) (*result, error) {
	sc := r.o.sc
	f, err := r.newFloor(ctx, r.o.frameBytes)
	if err != nil {
		return nil, err
	}
	defer f.close()
	if err := f.grow(ctx, sc.Clients); err != nil {
		return nil, err
	}
	if err := f.rig.warm(ctx, sc.Warmup); err != nil {
		return nil, err
	}
	fl, m, err := f.measure(ctx, sc.Duration)
	if err != nil {
		return nil, err
	}
	res := r.newResult()
	res.Server = "floor"
	res.Entities = 0
	res.Floor = fl
	res.ServerCPUUtilPct = fl.CPUUtilPct
	res.ServerCPUVsFloor = 1
	res.ServerRSSMB = fl.RSSMB
	res.ServerRSSPeakMB = round1(m.rssPeak)
	res.PatchesPerSPerClient = fl.FramesPerSPerCli
	res.BytesPerPatchMean = float64(fl.FrameBytes)
	res.BytesPerSPerClient = round1(fl.FramesPerSPerCli * float64(fl.FrameBytes))
	res.LoadgenProcs = len(m.reports)
	res.LoadgenCPUUtilPct = round1(m.lgCPU)
	res.LoadgenMaxProcPct = round1(m.lgMax)
	res.LoadgenSaturated, res.BoundedByLoadgen = m.lgSaturated, m.lgSaturated
	res.LoadgenLagP99Ms = round3(m.lgLagP99Us / 1000)
	res.ClientMode = "tcp"
	return res, nil
}

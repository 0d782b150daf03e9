package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// runScenario runs one fixed-size scenario (A, B, B60, B128, C or flags), then the floor.
func (r *rig) runScenario(ctx context.Context) (*result, error) {
	sc := r.o.sc
	perKind := hostileCount(sc.Clients, r.o.hostilePct)
	if perKind > 0 {
		r.extraRooms = (hostileSeats(perKind) + sc.PlayersPerRoom - 1) / sc.PlayersPerRoom
	}
	if err := r.start(ctx, sc.Rooms, sc.PlayersPerRoom); err != nil {
		return nil, err
	}
	defer r.close()
	procs := r.procsFor(sc.Clients)
	per := (sc.Clients + procs - 1) / procs
	r.prog.phase(fmt.Sprintf("joining %d clients", sc.Clients), 0)
	for i := range sc.Rooms {
		id, err := r.addRoom(ctx, sc.Entities)
		if err != nil {
			return nil, err
		}
		if err := r.addPlayers(ctx, id, sc.roomPlayers(i), per, procs, ""); err != nil {
			return nil, err
		}
	}
	r.prog.end()
	if err := r.warm(ctx, sc.Warmup); err != nil {
		return nil, err
	}
	var mix *hostileMix
	if perKind > 0 {
		var err error
		if mix, err = r.startHostileMix(ctx, perKind, r.extraRooms, sc.Duration+time.Minute); err != nil {
			return nil, err
		}
		defer mix.stop()
	}
	m, err := r.measureServer(ctx, "measuring "+sc.Name, sc.Duration, sc.Rooms)
	if err != nil {
		return nil, err
	}
	res := r.newResult()
	r.fill(res, m)
	if mix != nil {
		res.Hostile = mix.stop()
	}
	if sc.Recording {
		r.verifyRecordings(res)
	}
	r.close() // the floor runs on a quiet machine
	if r.o.floor {
		fd := r.o.floorDur
		if fd == 0 {
			fd = sc.Duration
		}
		fl, err := r.runFloor(ctx, sc.Clients, int(math.Round(res.BytesPerPatchMean)), fd, min(sc.Warmup, 2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("bench: floor: %w", err)
		}
		res.Floor = fl
		if fl.CPUUtilPct > 0 {
			res.ServerCPUVsFloor = round3(res.ServerCPUUtilPct / fl.CPUUtilPct)
		}
	}
	return res, nil
}

// measureServer runs a window against the ticksync server and waits for the rooms' last
// stats.
func (r *rig) measureServer(ctx context.Context, label string, d time.Duration, rooms int) (*measured, error) {
	pid := 0
	if r.srv != nil {
		pid = r.srv.pid()
	}
	m, err := r.window(ctx, label, d, pid, r.httpURL+"/metrics", nil)
	if err != nil {
		if r.srv != nil && r.srv.exited() {
			return nil, fmt.Errorf("%w (server exited: %s)", err, r.srv.lastLines())
		}
		return nil, err
	}
	if r.secret != nil {
		r.coll.wait(rooms, 3*time.Second)
	}
	return m, nil
}

// fill computes the result's measurements from a window.
func (r *rig) fill(res *result, m *measured) {
	wall := m.wall.Seconds()
	var clients, frames, bytes, decoded, decodeNs, inputs int64
	var rtt []uint32
	var fullSum float64
	for _, rep := range m.reports {
		clients += int64(rep.Clients)
		frames += rep.Frames
		bytes += rep.Bytes
		decoded += rep.Decoded
		decodeNs += rep.DecodeNs
		inputs += rep.InputsSent
		rtt = append(rtt, rep.RTTUs...)
		res.FullStateMaxBytes = max(res.FullStateMaxBytes, rep.FullStateMaxBytes)
		res.FullStates += rep.FullStates
		fullSum += rep.FullStateMeanBytes * float64(rep.FullStates)
		res.DecodingClients += rep.Decoders
		res.ViewHashChecks += rep.HashChecks
		res.ViewHashMismatches += rep.HashMismatches
	}
	if clients > 0 && wall > 0 {
		res.PatchesPerSPerClient = round3(float64(frames) / float64(clients) / wall)
		res.BytesPerSPerClient = round1(float64(bytes) / float64(clients) / wall)
	}
	if frames > 0 {
		res.BytesPerPatchMean = round1(float64(bytes) / float64(frames))
	}
	if decoded > 0 {
		res.ClientDecodeMsPerPatch = math.Round(float64(decodeNs)/float64(decoded)/1e6*1e4) / 1e4
	}
	if res.FullStates > 0 { // the mean over joins, as the peers report it
		res.FullStateBytesOnJoin = int(math.Round(fullSum / float64(res.FullStates)))
	}
	if m.otherCPU >= 0 {
		o := round1(m.otherCPU)
		res.OtherCPUUtilPct = &o
		if o > 10 && !r.stepping {
			r.note("other processes used %.0f%% of a core during the window: figures are noisy", o)
		}
	}
	rttUs := toFloats(rtt)
	res.RTTMs = summarize(rttUs)
	res.RTTSamples = len(rttUs)
	res.Patches, res.InputsSent = frames, inputs

	ts := r.coll.summary(res.Hz)
	res.TickWorkMs = ts.work
	res.ServerHoldMs = summarize(ts.holdUs)
	res.TickWaitMs = summarize(ts.waitUs)
	res.HoldBeyondWaitMs = summarize(ts.beyondUs)
	res.FrameWritesMs = summarize(ts.writesUs)
	res.TickIntervalMs = ts.interval
	res.Ticks = ts.ticks
	res.HoldSamples = len(ts.holdUs)
	if rooms := max(len(r.rooms), 1); wall > 0 {
		res.TicksPerS = round3(float64(ts.ticks) / float64(rooms) / wall)
	}
	res.AllocsPerTick = round1(ts.allocsMean)
	res.AllocsPerTickP50 = ts.allocsP50
	res.MissedTicks = ts.late
	if m.m0 != nil && m.m1 != nil {
		skipped := m.m1["ticksync_skipped_ticks_total"] - m.m0["ticksync_skipped_ticks_total"]
		res.MissedTicks += int(skipped)
		if mallocs := m.m1["go_memstats_mallocs_total"] - m.m0["go_memstats_mallocs_total"]; ts.ticks > 0 && mallocs > 0 {
			res.AllocsPerTickProc = round1(mallocs / float64(ts.ticks))
		}
	}

	if wall > 0 {
		res.ServerCPUUtilPct = round1(100 * m.cpu.Seconds() / wall)
	}
	res.ServerRSSMB, res.ServerRSSPeakMB = round1(m.rss), round1(m.rssPeak)
	if m.m1 != nil {
		res.GoHeapMB = round1(m.m1["go_memstats_heap_inuse_bytes"] / (1 << 20))
	}
	if r.srv != nil {
		gcs := r.srv.gcBetween(m.start, m.end)
		res.GCCycles = len(gcs)
		pauses := make([]float64, len(gcs))
		for i, g := range gcs {
			pauses[i] = usOf(g.pause)
		}
		res.GCPauseP99Ms = summarize(pauses).P99
		if res.GoHeapMB == 0 && len(gcs) > 0 {
			res.GoHeapMB = gcs[len(gcs)-1].heap
		}
	} else if m.m0 != nil && m.m1 != nil {
		res.GCCycles = int(m.m1["go_gc_duration_seconds_count"] - m.m0["go_gc_duration_seconds_count"])
		res.GCPauseP99Ms = round3(m.m1[`go_gc_duration_seconds{quantile="1"}`] * 1000) // the max of recent pauses
	}

	res.LoadgenProcs = len(m.reports)
	res.LoadgenCPUUtilPct = round1(m.lgCPU)
	res.LoadgenMaxProcPct = round1(m.lgMax)
	res.LoadgenLagP99Ms = round3(m.lgLagP99Us / 1000)
	res.LoadgenSaturated = m.lgSaturated
	res.BoundedByLoadgen = m.lgSaturated
	res.Disconnects = m.lgDisconnects
	if m.lgSaturated && !r.stepping {
		r.note("bounded by the load generator: %.0f%% of a core in its busiest process, send lag p99 %.2f ms; the run measures it, not the server",
			m.lgMax, m.lgLagP99Us/1000)
	}
	if res.ViewHashMismatches > 0 {
		r.note("%d view hash mismatches: a decoding client's mirror differed from what the server says it sees", res.ViewHashMismatches)
	}
	if m.lgDisconnects > 0 {
		r.note("%d load clients lost their connection: %s", m.lgDisconnects, strings.Join(m.lgErrors[:min(len(m.lgErrors), 3)], "; "))
	}
	if r.secret == nil {
		r.note("no stats messages (anonymous target): tick work, server hold and tick intervals are empty")
	}
	res.plot = &plotData{
		tickUs: ts.totalUs, phaseUs: [4][]float64{ts.drainUs, ts.stepUs, ts.encUs, ts.handUs},
		rttUs: rttUs, holdUs: ts.holdUs, waitUs: ts.waitUs, beyondUs: ts.beyondUs, writesUs: ts.writesUs,
	}
}

// verifyRecordings stops the clients and the server (each room closes its file) and verifies
// every recording the run made, as `ticksync replay verify` does.
func (r *rig) verifyRecordings(res *result) {
	r.closeClients()
	if r.srv != nil {
		r.srv.stop()
		r.srv = nil
	}
	res.Recordings, res.RecordingsVerified, res.RecordingErrors = verifyRecordings(r.recDir)
	switch {
	case res.Recordings == 0:
		r.note("no recordings found in the server's -record-dir: nothing verified")
	case res.RecordingsVerified < res.Recordings:
		r.note("%d of %d recordings do not verify: %s", res.Recordings-res.RecordingsVerified, res.Recordings, strings.Join(res.RecordingErrors, "; "))
	}
}

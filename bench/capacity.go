package bench

import (
	"context"
	"fmt"
	"math"
	"time"
)

// probe is what the capacity search needs of a system under test (the ticksync server or the
// floor): fresh processes, more players, one measured step.
type probe struct {
	reset   func(ctx context.Context) error
	grow    func(ctx context.Context, players int) error
	measure func(ctx context.Context, players int) (capStep, *result, error)
}

// search grows the system unit players at a time, coarse units per step, until a step breaks
// the budget or max is reached. When a coarse step broke, it starts again from fresh processes
// at the last good count and steps one unit at a time up to the count that broke. It returns
// the last count that held, every step, and the result of the last good step (or of the first
// step when none held).
func search(ctx context.Context, p probe, unit, coarse, limit int) (held int, steps []capStep, good *result, err error) {
	players, bad := 0, -1
	if err := p.reset(ctx); err != nil {
		return 0, nil, nil, err
	}
	try := func(n int) (bool, error) {
		if err := p.grow(ctx, n); err != nil {
			return false, err
		}
		players += n
		st, res, err := p.measure(ctx, players)
		if err != nil {
			return false, err
		}
		steps = append(steps, st)
		if !st.OK {
			if good == nil {
				good = res
			}
			return false, nil
		}
		held, good = players, res
		return true, nil
	}
	for players < limit {
		ok, err := try(min(coarse*unit, limit-players))
		if err != nil {
			return 0, steps, nil, err
		}
		if !ok {
			bad = players
			break
		}
	}
	if bad < 0 || bad-held <= unit {
		return held, steps, good, nil
	}
	// Refine: fresh processes at the last good count, then one unit at a time.
	if err := p.reset(ctx); err != nil {
		return 0, steps, nil, err
	}
	players = 0
	if held > 0 {
		if err := p.grow(ctx, held); err != nil {
			return 0, steps, nil, err
		}
		players = held
	}
	for players+unit < bad {
		ok, err := try(unit)
		if err != nil {
			return 0, steps, nil, err
		}
		if !ok {
			break
		}
	}
	return held, steps, good, nil
}

// runCapacity is scenario R: add rooms of PlayersPerRoom players until the budget breaks
// (tick work p99 over a quarter of the interval, a missed tick, a lost client or a saturated
// load generator); report the last count that held, and the floor's count found the same way
// beside it. It steps -step-rooms rooms at a time, then refines one room at a time.
func (r *rig) runCapacity(ctx context.Context) (*result, error) {
	sc := r.o.sc
	ppr := sc.PlayersPerRoom
	warm := min(sc.Warmup, 2*time.Second)
	defer r.close()
	held, steps, good, patch, err := r.searchServer(ctx)
	if err != nil {
		return nil, err
	}
	r.close()
	if good == nil {
		return nil, fmt.Errorf("bench: R: -r-max-players %d leaves nothing to measure", r.o.maxPlayers)
	}
	// The result's measurements are those of the last count that held.
	res := good
	res.Scenario, res.Steps, res.PlayersHeld = "R", steps, held
	res.DurationS = r.o.stepDur.Seconds()
	res.BoundedByLoadgen = steps[len(steps)-1].Saturated
	if res.BoundedByLoadgen {
		r.note("R is bounded by the load generator at %d players: the server's capacity is not measured", steps[len(steps)-1].Players)
	}
	if r.o.floor {
		fheld, fsteps, err := r.floorCapacity(ctx, int(math.Round(max(patch, 1))), ppr, warm)
		if err != nil {
			return nil, fmt.Errorf("bench: floor: %w", err)
		}
		res.FloorPlayersHeld, res.FloorSteps = fheld, fsteps
		// CPU against the floor at the largest count both held.
		for _, fs := range fsteps {
			for _, st := range steps {
				if st.OK && fs.OK && st.Players == fs.Players && fs.ServerCPUPct > 0 {
					res.ServerCPUVsFloor = round3(st.ServerCPUPct / fs.ServerCPUPct)
					res.Floor = &floorResult{Clients: fs.Players, FrameBytes: int(math.Round(max(patch, 1))), CPUUtilPct: fs.ServerCPUPct,
						WriteBurstP99Ms: fs.BurstP99Ms, LoadgenCPUPct: fs.LoadgenCPU, Holds: fs.OK, Writers: "per-connection"}
					if r.o.floorLoop {
						res.Floor.Writers = "loop"
					}
				}
			}
		}
		if res.Floor != nil && res.Floor.Clients != res.Clients {
			r.note("server_cpu_vs_floor compares the server and the floor at %d players, the largest count both held", res.Floor.Clients)
		}
	}
	return res, nil
}

// searchServer is scenario R's search against the ticksync server (rooms of PlayersPerRoom
// players, -step-rooms at a time, then one room at a time): the last count that held, every
// step, the last good step's result and the mean patch size of the last step measured.
func (r *rig) searchServer(ctx context.Context) (held int, steps []capStep, good *result, patch float64, err error) {
	sc := r.o.sc
	ppr := sc.PlayersPerRoom
	maxRooms := (r.o.maxPlayers + ppr - 1) / ppr
	budget := 1000 / float64(sc.Hz) / 4 // ms
	warm := min(sc.Warmup, 2*time.Second)
	held, steps, good, err = search(ctx, probe{
		reset: func(ctx context.Context) error {
			r.close()
			r.mu.Lock()
			r.rooms, r.perProc, r.player, r.coll = nil, nil, 0, newStatsCollector()
			r.mu.Unlock()
			return r.start(ctx, maxRooms, ppr)
		},
		grow: func(ctx context.Context, n int) error {
			rooms := (n + ppr - 1) / ppr
			r.prog.phase(fmt.Sprintf("joining %d rooms", rooms), 0)
			defer r.prog.end()
			for range rooms {
				id, err := r.addRoom(ctx, sc.Entities)
				if err != nil {
					return err
				}
				if err := r.addPlayers(ctx, id, ppr, r.o.perProc, 1<<30, ""); err != nil {
					return err
				}
			}
			return nil
		},
		measure: func(ctx context.Context, players int) (capStep, *result, error) {
			if err := r.warm(ctx, warm); err != nil {
				return capStep{}, nil, err
			}
			m, err := r.measureServer(ctx, fmt.Sprintf("R: %d players", players), r.o.stepDur, len(r.rooms))
			if err != nil {
				return capStep{}, nil, err
			}
			cur := r.newResult()
			cur.Clients, cur.Rooms, cur.DurationS = players, len(r.rooms), r.o.stepDur.Seconds()
			r.stepping = true
			r.fill(cur, m)
			r.stepping = false
			// BurstP99Ms (the frames' writes after hand-off) is reported beside the floor's
			// write burst, not budgeted: docs/benchmark.md's budget for the server is tick work.
			st := capStep{Players: players, Rooms: len(r.rooms), TickP99Ms: cur.TickWorkMs.P99, BurstP99Ms: cur.FrameWritesMs.P99, MissedTicks: cur.MissedTicks,
				ServerCPUPct: cur.ServerCPUUtilPct, LoadgenCPU: cur.LoadgenCPUUtilPct, Saturated: cur.LoadgenSaturated}
			if cur.OtherCPUUtilPct != nil {
				st.OtherCPU = *cur.OtherCPUUtilPct
			}
			switch {
			case cur.LoadgenSaturated:
				st.Why = fmt.Sprintf("load generator saturated: %.0f%% of a core in a process, send lag p99 %.1f ms", cur.LoadgenMaxProcPct, cur.LoadgenLagP99Ms)
			case cur.TickWorkMs.P99 > budget:
				st.Why = fmt.Sprintf("tick p99 %.2f ms > %.2f ms", cur.TickWorkMs.P99, budget)
			case cur.MissedTicks > 0:
				st.Why = fmt.Sprintf("%d missed ticks", cur.MissedTicks)
			case cur.Disconnects > 0:
				st.Why = fmt.Sprintf("%d clients lost", cur.Disconnects)
			default:
				st.OK = true
			}
			patch = cur.BytesPerPatchMean
			fmt.Fprintf(r.stderr, "ticksync bench: R: %d players: tick p99 %.3f ms, frame writes p99 %.2f ms, server CPU %.1f%%, load generator %.1f%%, others %.0f%% %s\n",
				players, st.TickP99Ms, st.BurstP99Ms, st.ServerCPUPct, st.LoadgenCPU, st.OtherCPU, okWhy(st))
			return st, cur, nil
		},
	}, ppr, r.o.stepRooms, r.o.maxPlayers)
	return held, steps, good, patch, err
}

// floorCapacity grows the floor the same way until its write burst p99 exceeds a quarter of
// the interval or it uses a whole core, and returns the last count that held.
func (r *rig) floorCapacity(ctx context.Context, frameBytes, unit int, warm time.Duration) (int, []capStep, error) {
	var f *floorRig
	defer func() {
		if f != nil {
			f.close()
		}
	}()
	held, steps, _, err := search(ctx, probe{
		reset: func(ctx context.Context) error {
			if f != nil {
				f.close()
				f = nil
			}
			nf, err := r.newFloor(ctx, frameBytes)
			f = nf
			return err
		},
		grow: func(ctx context.Context, n int) error { return f.grow(ctx, n) },
		measure: func(ctx context.Context, players int) (capStep, *result, error) {
			if err := f.rig.warm(ctx, warm); err != nil {
				return capStep{}, nil, err
			}
			fl, m, err := f.measure(ctx, r.o.stepDur)
			if err != nil {
				return capStep{}, nil, err
			}
			st := capStep{Players: f.conns, BurstP99Ms: fl.WriteBurstP99Ms, ServerCPUPct: fl.CPUUtilPct,
				LoadgenCPU: fl.LoadgenCPUPct, Saturated: m.lgSaturated, OK: fl.Holds && !m.lgSaturated}
			switch {
			case m.lgSaturated:
				st.Why = "load generator saturated"
			case !fl.Holds:
				st.Why = fmt.Sprintf("burst p99 %.2f ms, CPU %.0f%%", fl.WriteBurstP99Ms, fl.CPUUtilPct)
			}
			fmt.Fprintf(r.stderr, "ticksync bench: floor: %d conns: burst p99 %.3f ms, CPU %.1f%% %s\n", f.conns, fl.WriteBurstP99Ms, fl.CPUUtilPct, okWhy(st))
			return st, &result{}, nil
		},
	}, unit, r.o.stepRooms, r.o.maxPlayers)
	return held, steps, err
}

func okWhy(s capStep) string {
	if s.OK {
		return "(ok)"
	}
	return "(" + s.Why + ")"
}

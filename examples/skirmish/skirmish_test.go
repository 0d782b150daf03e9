package skirmish

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// rig drives a skirmish World by hand, the way a room would: AcceptJoin for each join, then
// one Step with the tick's inputs.
type rig struct {
	t      testing.TB
	g      *Game
	w      *sim.World
	inputs []sim.Input
	seq    map[uint32]uint32
	events []stamped // every event so far, with its tick
}

type stamped struct {
	tick uint32
	sim.Event
}

func newRig(t testing.TB, config string, seed uint32) *rig {
	t.Helper()
	gg, err := New(0, []byte(config))
	require.NoError(t, err)
	g := gg.(*Game)
	w := sim.NewWorld(g.Schema(), seed)
	require.NoError(t, g.Init(w))
	return &rig{t: t, g: g, w: w, seq: map[uint32]uint32{}}
}

// join asks the filter, with the joins already queued for the next step as Pending (as the
// engine does), and, if it accepts, queues the join for the next step.
func (r *rig) join(player uint32, meta string) error {
	var m []byte
	if meta != "" {
		m = []byte(meta)
	}
	var pending []sim.JoinRequest
	for _, in := range r.inputs {
		if in.Kind == sim.InputJoin {
			pending = append(pending, sim.JoinRequest{Player: in.Player, Meta: in.Meta})
		}
	}
	if err := r.g.AcceptJoin(r.w, sim.JoinRequest{Player: player, Meta: m, Pending: pending}); err != nil {
		return err
	}
	r.inputs = append(r.inputs, sim.Input{Player: player, Kind: sim.InputJoin, Meta: m})
	return nil
}

func (r *rig) leave(player uint32) {
	r.inputs = append(r.inputs, sim.Input{Player: player, Kind: sim.InputLeave})
}

// move queues a move: stick, aim, fire, and the tick the player was seeing.
func (r *rig) move(player uint32, mx, my, ax, ay int32, fire bool, renderTick uint32, subtick uint16) {
	f := int32(0)
	if fire {
		f = 1
	}
	r.seq[player]++
	r.inputs = append(r.inputs, sim.Input{Player: player, Kind: sim.InputMove, Seq: r.seq[player],
		Values: []int32{mx, my, ax, ay, f}, RenderTick: renderTick, Subtick: subtick})
}

// step runs one tick with the queued inputs and returns its events.
func (r *rig) step() []sim.Event {
	r.w.Step(r.g, r.inputs)
	r.inputs = r.inputs[:0]
	evs := r.w.Events()
	for _, ev := range evs {
		r.events = append(r.events, stamped{r.w.Tick(), ev})
	}
	return evs
}

func (r *rig) steps(n int) {
	for range n {
		r.step()
	}
}

func (r *rig) player(id uint32) sim.Entity {
	r.t.Helper()
	e, ok := r.g.findPlayer(r.w, id)
	require.True(r.t, ok, "player %d not in the world", id)
	return e
}

func (r *rig) at(id uint32) (int32, int32) {
	e := r.player(id)
	return r.w.Get(e, r.g.pX), r.w.Get(e, r.g.pY)
}

// place puts a player at (x, y), standing still; the next step's state has it there.
func (r *rig) place(id uint32, x, y int32) {
	e := r.player(id)
	r.w.Set(e, r.g.pX, x)
	r.w.Set(e, r.g.pY, y)
	r.w.Set(e, r.g.pVX, 0)
	r.w.Set(e, r.g.pVY, 0)
}

func (r *rig) phase() int32 { return r.w.Get(r.g.matchEntity(r.w), r.g.mPhase) }

func kinds(evs []sim.Event) []uint32 {
	var out []uint32
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name, config string
		want         Config // zero: an error
		err          string
	}{
		{name: "empty is the defaults", config: "", want: DefaultConfig()},
		{name: "blank is the defaults", config: " \n", want: DefaultConfig()},
		{name: "partial keeps the other defaults", config: `{"score_to_win":3}`,
			want: Config{ScoreToWin: 3, CountdownTicks: 90, MinPlayers: 2, MaxPlayers: 8, RespawnTicks: 60}},
		{name: "all keys", config: `{"score_to_win":10,"countdown_ticks":0,"min_players":1,"max_players":16,"respawn_ticks":900}`,
			want: Config{ScoreToWin: 10, CountdownTicks: 0, MinPlayers: 1, MaxPlayers: 16, RespawnTicks: 900}},
		{name: "score 0", config: `{"score_to_win":0}`, err: "score_to_win 0 out of range 1..100"},
		{name: "score 101", config: `{"score_to_win":101}`, err: "score_to_win 101 out of range"},
		{name: "negative countdown", config: `{"countdown_ticks":-1}`, err: "countdown_ticks -1 out of range 0..1800"},
		{name: "countdown too long", config: `{"countdown_ticks":1801}`, err: "countdown_ticks 1801"},
		{name: "min above max", config: `{"min_players":5,"max_players":4}`, err: "min_players 5 out of range 1..max_players (4)"},
		{name: "min 0", config: `{"min_players":0}`, err: "min_players 0"},
		{name: "max 1", config: `{"max_players":1,"min_players":1}`, err: "max_players 1 out of range 2..16"},
		{name: "max 17", config: `{"max_players":17}`, err: "max_players 17"},
		{name: "respawn 0", config: `{"respawn_ticks":0}`, err: "respawn_ticks 0 out of range 1..900"},
		{name: "unknown key", config: `{"score_to_wn":3}`, err: `unknown field "score_to_wn"`},
		{name: "wrong type", config: `{"score_to_win":"5"}`, err: "cannot unmarshal string"},
		{name: "not JSON", config: `five`, err: "skirmish: config:"},
		{name: "trailing data", config: `{} {}`, err: "data after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(60, []byte(tt.config))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Nil(t, g)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, g.(*Game).Config())
			// The server's rate does not matter: skirmish keeps its own.
			assert.Equal(t, uint32(TickRate), g.(sim.TickRater).TickRate())
			assert.Equal(t, HistoryTicks, sim.HistoryDepth(g))
		})
	}
}

func TestAcceptJoin(t *testing.T) {
	t.Run("bad team", func(t *testing.T) {
		r := newRig(t, "", 1)
		err := r.join(1, `{"name":"ann","team":"green"}`)
		require.Error(t, err)
		assert.Equal(t, "team must be red or blue", err.Error())
		assert.Empty(t, r.inputs, "a refused join is not an input")
	})
	t.Run("room full counts joins not yet stepped", func(t *testing.T) {
		r := newRig(t, `{"max_players":3}`, 1)
		require.NoError(t, r.join(1, ""))
		r.step()
		require.NoError(t, r.join(2, ""))
		require.NoError(t, r.join(3, "")) // same tick: the world holds one player yet
		err := r.join(4, "")
		require.Error(t, err)
		assert.Equal(t, "room is full (3 players)", err.Error())
		r.step()
		assert.Len(t, r.w.Entities(r.g.player), 3)
		assert.EqualError(t, r.join(4, ""), "room is full (3 players)")
		r.leave(2)
		r.step()
		assert.NoError(t, r.join(4, ""), "a leave frees a seat")
	})
	t.Run("team full", func(t *testing.T) {
		r := newRig(t, `{"max_players":4}`, 1)
		require.NoError(t, r.join(1, `{"team":"red"}`))
		require.NoError(t, r.join(2, `{"team":"red"}`))
		assert.EqualError(t, r.join(3, `{"team":"red"}`), "team red is full")
		r.step()
		assert.EqualError(t, r.join(3, `{"team":"red"}`), "team red is full")
		assert.NoError(t, r.join(3, `{"team":"blue"}`))
		assert.NoError(t, r.join(4, `{}`), "no team asked: the smaller one")
	})
	t.Run("team full counts same-tick joins that ask for no team", func(t *testing.T) {
		r := newRig(t, `{"max_players":4}`, 1)
		require.NoError(t, r.join(1, `{"team":"red"}`))
		r.step()
		// Same tick: a join asking for no team goes to blue (the smaller team), so one more
		// fills blue and a third would overfill it, though the room has a seat left.
		require.NoError(t, r.join(2, `{}`))
		require.NoError(t, r.join(3, `{"team":"blue"}`))
		assert.EqualError(t, r.join(4, `{"team":"blue"}`), "team blue is full")
		r.step()
		assert.Equal(t, 1, r.g.teamSize(r.w, TeamRed))
		assert.Equal(t, 2, r.g.teamSize(r.w, TeamBlue))
		assert.NoError(t, r.join(4, `{"team":"red"}`))
	})
	t.Run("a same-tick tie may go either way", func(t *testing.T) {
		// Two seats: the first join asks for no team and Step breaks the 0-0 tie with the PRNG,
		// so neither team can be promised to a second join of the same tick.
		r := newRig(t, `{"max_players":2}`, 1)
		require.NoError(t, r.join(1, `{}`))
		assert.EqualError(t, r.join(2, `{"team":"red"}`), "team red is full")
		assert.EqualError(t, r.join(2, `{"team":"blue"}`), "team blue is full")
		require.NoError(t, r.join(2, `{}`), "no team asked: the other one")
		r.step()
		assert.Equal(t, 1, r.g.teamSize(r.w, TeamRed))
		assert.Equal(t, 1, r.g.teamSize(r.w, TeamBlue))
	})
	t.Run("unreadable metadata is accepted", func(t *testing.T) {
		r := newRig(t, "", 1)
		assert.NoError(t, r.join(1, `{not json`))
		assert.NoError(t, r.join(2, `["red"]`))
		assert.NoError(t, r.join(3, `{"team":""}`))
	})
	t.Run("match over", func(t *testing.T) {
		r := newRig(t, `{"score_to_win":1,"countdown_ticks":0}`, 1)
		require.NoError(t, r.join(1, `{"team":"red"}`))
		require.NoError(t, r.join(2, `{"team":"blue"}`))
		r.step()
		r.place(1, 1000, 2000)
		r.place(2, 2000, 2000)
		r.step()
		for range 3 {
			r.move(1, 0, 0, 1000, 0, true, 0, 0)
			r.steps(ReloadTicks)
		}
		require.NotNil(t, r.w.Result())
		assert.EqualError(t, r.join(3, ""), "match is over")
	})
}

func TestJoinMetadata(t *testing.T) {
	r := newRig(t, `{"max_players":6}`, 7)
	require.NoError(t, r.join(1, `{"name":"ann","team":"blue"}`))
	require.NoError(t, r.join(2, `{"name":"  bob\u0007 "}`))
	require.NoError(t, r.join(3, `{"name":"an extremely long name for a tag"}`))
	require.NoError(t, r.join(4, `not json`))
	r.step()
	name := func(id uint32) string { return string(r.w.GetBytes(r.player(id), r.g.pName)) }
	team := func(id uint32) int32 { return r.w.Get(r.player(id), r.g.pTeam) }
	assert.Equal(t, "ann", name(1))
	assert.Equal(t, int32(TeamBlue), team(1))
	assert.Equal(t, "bob", name(2), "control characters and spaces trimmed")
	assert.Equal(t, int32(TeamRed), team(2), "the smaller team")
	assert.Equal(t, "an extremely long name f", name(3))
	assert.Len(t, name(3), MaxName)
	assert.Equal(t, "player 4", name(4))
	assert.Equal(t, 2, r.g.teamSize(r.w, TeamRed))
	assert.Equal(t, 2, r.g.teamSize(r.w, TeamBlue))
	for id := uint32(1); id <= 4; id++ {
		x, _ := r.at(id)
		if team(id) == TeamRed {
			assert.Less(t, x, int32(Width/2))
		} else {
			assert.Greater(t, x, int32(Width/2))
		}
	}
}

func TestCountdownThenPlaying(t *testing.T) {
	r := newRig(t, `{"countdown_ticks":60,"min_players":2}`, 3)
	require.NoError(t, r.join(1, ""))
	assert.Empty(t, r.step())
	assert.Equal(t, int32(PhaseLobby), r.phase(), "one player is not enough")
	require.NoError(t, r.join(2, ""))
	evs := r.step()
	require.Equal(t, []uint32{EventCountdown}, kinds(evs))
	assert.Equal(t, []int32{2, 60}, evs[0].Values)
	assert.Nil(t, evs[0].To, "to everyone")
	assert.Equal(t, int32(PhaseCountdown), r.phase())

	// No shots count during the countdown.
	r.move(1, 0, 0, 1000, 0, true, 0, 0)
	r.steps(29)
	evs = r.step()
	require.Equal(t, []uint32{EventCountdown}, kinds(evs))
	assert.Equal(t, []int32{1, 30}, evs[0].Values)

	// A leave cancels it; a new join starts it again.
	r.leave(2)
	evs = r.step()
	require.Equal(t, []uint32{EventCountdown}, kinds(evs))
	assert.Equal(t, []int32{-1, 0}, evs[0].Values)
	assert.Equal(t, int32(PhaseLobby), r.phase())
	require.NoError(t, r.join(3, ""))
	r.step()
	assert.Equal(t, int32(PhaseCountdown), r.phase())
	r.steps(59)
	assert.Equal(t, int32(PhaseCountdown), r.phase())
	assert.Equal(t, int32(1), r.w.Get(r.g.matchEntity(r.w), r.g.mCountdown))
	evs = r.step()
	require.Equal(t, []uint32{EventCountdown}, kinds(evs))
	assert.Equal(t, []int32{0, 0}, evs[0].Values)
	assert.Equal(t, int32(PhasePlaying), r.phase())
	for _, id := range []uint32{1, 3} {
		assert.Equal(t, int32(r.w.Tick()), r.w.Get(r.player(id), r.g.pSpawned), "everyone respawns at the start")
	}
	var hits int
	for _, ev := range r.events {
		if ev.Kind == EventHit {
			hits++
		}
	}
	assert.Zero(t, hits)
}

// lagRig starts a match with red 1 at (10, 20) and blue 2 at (40, 20), then moves blue up
// (-y) for 8 ticks. It returns the rig and the tick after which blue still stood at (40, 20).
func lagRig(t *testing.T) (*rig, uint32) {
	r := newRig(t, `{"countdown_ticks":0}`, 11)
	require.NoError(t, r.join(1, `{"name":"red","team":"red"}`))
	require.NoError(t, r.join(2, `{"name":"blue","team":"blue"}`))
	r.step()
	require.Equal(t, int32(PhasePlaying), r.phase())
	r.place(1, 10*Scale, 20*Scale)
	r.place(2, 40*Scale, 20*Scale)
	r.step()
	seen := r.w.Tick()
	for range 8 {
		r.move(2, 0, -MaxStick, 0, 0, false, 0, 0)
		r.step()
	}
	x, y := r.at(2)
	require.Equal(t, [2]int32{40 * Scale, 20*Scale - 8*27}, [2]int32{x, y}, "blue has moved 2.16 units, well off its old spot")
	return r, seen
}

// TestLagCompensation is the point of the Historian: red aims where it SAW blue, at render
// tick `seen`; blue has moved on since. The shot hits because the game checks it against the
// past state; the same aim with the present as render tick misses.
func TestLagCompensation(t *testing.T) {
	aimAtOld := [2]int32{1000, 0} // from (10, 20) straight at (40, 20)

	t.Run("hits where the shooter saw the victim", func(t *testing.T) {
		r, seen := lagRig(t)
		r.move(1, 0, 0, aimAtOld[0], aimAtOld[1], true, seen, 0)
		evs := r.step()
		require.Equal(t, []uint32{EventHit, EventHurt}, kinds(evs))
		assert.Equal(t, []int32{1, 2, Damage, FullHP - Damage}, evs[0].Values)
		assert.Nil(t, evs[0].To)
		assert.Equal(t, []int32{1, Damage, 10 * Scale, 20 * Scale}, evs[1].Values)
		assert.Equal(t, []uint32{2}, evs[1].To, "only the victim is told it was hit")
		assert.Equal(t, int32(FullHP-Damage), r.w.Get(r.player(2), r.g.pHP), "the damage lands on the player now")
	})
	t.Run("misses without lag compensation", func(t *testing.T) {
		for _, rt := range []struct {
			name string
			tick func(now uint32) uint32
		}{
			{"render tick is the last one", func(now uint32) uint32 { return now }},
			{"render tick not given", func(uint32) uint32 { return 0 }},
			{"render tick after the victim moved", func(now uint32) uint32 { return now - 3 }},
		} {
			t.Run(rt.name, func(t *testing.T) {
				r, _ := lagRig(t)
				r.move(1, 0, 0, aimAtOld[0], aimAtOld[1], true, rt.tick(r.w.Tick()), 0)
				assert.Empty(t, r.step())
				assert.Equal(t, int32(FullHP), r.w.Get(r.player(2), r.g.pHP))
				assert.Len(t, r.w.Entities(r.g.shot), 1, "the shot was fired (a tracer flies)")
			})
		}
	})
	t.Run("aiming at the present misses what the shooter saw", func(t *testing.T) {
		r, seen := lagRig(t)
		_, y := r.at(2)
		// (30 units, -2.16 units) as a direction within ±1000: (1000, -72).
		require.Equal(t, int32(-216), y-20*Scale)
		r.move(1, 0, 0, 1000, -72, true, seen, 0)
		assert.Empty(t, r.step())

		r, _ = lagRig(t) // the same aim at the present, seen as the present, hits
		r.move(1, 0, 0, 1000, -72, true, r.w.Tick(), 0)
		assert.Equal(t, []uint32{EventHit, EventHurt}, kinds(r.step()))
	})
	t.Run("subtick interpolates towards the next tick", func(t *testing.T) {
		// Blue stood at y 19.73 after seen+1 and 19.46 after seen+2. Aim 0.69 above it at
		// seen+1 (y 19.04, direction (30, -0.96) as (1000, -32)): beyond its radius there,
		// within it halfway to seen+2.
		for _, tt := range []struct {
			subtick uint16
			hit     bool
		}{{0, false}, {1 << 15, true}, {65535, true}} {
			r, seen := lagRig(t)
			r.move(1, 0, 0, 1000, -32, true, seen+1, tt.subtick)
			if tt.hit {
				assert.Equal(t, []uint32{EventHit, EventHurt}, kinds(r.step()), "subtick %d", tt.subtick)
			} else {
				assert.Empty(t, r.step(), "subtick %d", tt.subtick)
			}
		}
	})
	t.Run("a later life is not hit by an old view", func(t *testing.T) {
		r, seen := lagRig(t)
		e := r.player(2)
		r.w.Set(e, r.g.pSpawned, int32(seen+1)) // as if blue had died and respawned since
		r.move(1, 0, 0, aimAtOld[0], aimAtOld[1], true, seen, 0)
		assert.Empty(t, r.step())
	})
	t.Run("history is bounded", func(t *testing.T) {
		r, seen := lagRig(t)
		r.steps(HistoryTicks) // seen is no longer kept: the shot is checked against the present
		require.Nil(t, r.w.Past(seen))
		r.move(1, 0, 0, aimAtOld[0], aimAtOld[1], true, seen, 0)
		assert.Empty(t, r.step())
	})
}

// TestMatch plays a scripted match to its end: red 1 shoots blue 2 and 3 until red has 2 kills.
func TestMatch(t *testing.T) {
	r := newRig(t, `{"score_to_win":2,"countdown_ticks":30,"respawn_ticks":10}`, 5)
	require.NoError(t, r.join(1, `{"name":"ann","team":"red"}`))
	require.NoError(t, r.join(2, `{"name":"bob","team":"blue"}`))
	require.NoError(t, r.join(3, `{"name":"cy","team":"blue"}`))
	r.steps(31)
	require.Equal(t, int32(PhasePlaying), r.phase())
	start := len(r.events)

	// shoot aims red at a blue player from where they both stand now (present render tick).
	shoot := func(victim uint32) {
		sx, sy := r.at(1)
		vx, vy := r.at(victim)
		dx, dy := int64(vx-sx), int64(vy-sy)
		l := max(isqrt(dx*dx+dy*dy), 1)
		r.move(1, 0, 0, int32(dx*MaxAim/l), int32(dy*MaxAim/l), true, r.w.Tick(), 0)
		r.steps(ReloadTicks)
	}
	r.place(1, 20*Scale, 5*Scale)
	r.place(2, 30*Scale, 10*Scale)
	r.place(3, 30*Scale, 35*Scale)
	r.step()
	for range 3 {
		shoot(2)
	}
	require.Equal(t, int32(0), r.w.Get(r.player(2), r.g.pAlive))
	shoot(2) // a dead player is no target
	m := r.g.matchEntity(r.w)
	assert.Equal(t, [2]int32{1, 0}, [2]int32{r.w.Get(m, r.g.mRed), r.w.Get(m, r.g.mBlue)})
	for range 3 {
		shoot(3)
	}
	require.NotNil(t, r.w.Result())

	got := r.events[start:]
	want := []struct {
		kind   uint32
		values []int32
		to     []uint32
	}{
		{EventHit, []int32{1, 2, Damage, 66}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{2}},
		{EventHit, []int32{1, 2, Damage, 32}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{2}},
		{EventHit, []int32{1, 2, Damage, 0}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{2}},
		{EventKill, []int32{1, 2, TeamRed, 1, 0}, nil},
		{EventHit, []int32{1, 3, Damage, 66}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{3}},
		{EventHit, []int32{1, 3, Damage, 32}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{3}},
		{EventHit, []int32{1, 3, Damage, 0}, nil},
		{EventHurt, []int32{1, Damage, 2000, 500}, []uint32{3}},
		{EventKill, []int32{1, 3, TeamRed, 2, 0}, nil},
	}
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.kind, got[i].Kind, "event %d", i)
		assert.Equal(t, w.values, got[i].Values, "event %d", i)
		assert.Equal(t, w.to, got[i].To, "event %d", i)
	}
	for i := 1; i < len(got); i++ {
		assert.LessOrEqual(t, got[i-1].tick, got[i].tick, "events in tick order")
	}

	res := r.w.Result()
	assert.Equal(t, got[len(got)-1].tick, res.Tick, "ended at the winning kill")
	assert.Equal(t, []uint32{1}, res.Winners)
	assert.Equal(t, "red wins 2-0", res.Summary)
	assert.JSONEq(t, `{"red":2,"blue":0}`, string(res.Data))
	assert.Equal(t, int32(PhaseOver), r.phase())
	assert.Equal(t, int32(TeamRed), r.w.Get(m, r.g.mWinner))
	assert.Equal(t, int32(2), r.w.Get(r.player(1), r.g.pKills))
	assert.Equal(t, int32(1), r.w.Get(r.player(3), r.g.pDeaths))
	assert.Equal(t, int32(1), r.w.Get(r.player(2), r.g.pDeaths))
	assert.Equal(t, int32(1), r.w.Get(r.player(2), r.g.pAlive), "bob respawned after 10 ticks")
}

// TestBlueWinsSummary checks the summary puts the winner's score first.
func TestBlueWinsSummary(t *testing.T) {
	r := newRig(t, `{"score_to_win":1,"countdown_ticks":0}`, 9)
	require.NoError(t, r.join(1, `{"team":"red"}`))
	require.NoError(t, r.join(2, `{"team":"blue"}`))
	require.NoError(t, r.join(4, `{"team":"blue"}`))
	r.step()
	r.place(1, 1000, 2000)
	r.place(2, 2000, 2000)
	r.place(4, 5000, 100)
	r.step()
	for range 3 {
		r.move(2, 0, 0, -1000, 0, true, 0, 0)
		r.steps(ReloadTicks)
	}
	res := r.w.Result()
	require.NotNil(t, res)
	assert.Equal(t, "blue wins 1-0", res.Summary)
	assert.Equal(t, []uint32{2, 4}, res.Winners)
	assert.JSONEq(t, `{"red":0,"blue":1}`, string(res.Data))
}

// randomMatch plays n ticks of seeded random joins, leaves and moves (shots included) and
// returns the hash after every tick and every event. restoreAt > 0 reloads the world from
// a keyframe (Save, PastStates) after that tick, as a replay seeking there does.
func randomMatch(t *testing.T, seed uint32, n int, restoreAt uint32) ([]uint64, []stamped) {
	r := newRig(t, `{"countdown_ticks":15,"score_to_win":4,"max_players":6,"respawn_ticks":20}`, seed)
	src := sim.NewRand(seed ^ 0x9e3779b9)
	in := map[uint32]bool{}
	var hashes []uint64
	for range n {
		if src.Mod(12) == 0 {
			p := 1 + src.Mod(8)
			meta := [...]string{"", `{"team":"red"}`, `{"team":"blue","name":"b"}`, `junk`}[src.Mod(4)]
			if !in[p] && r.join(p, meta) == nil {
				in[p] = true
			}
		}
		if src.Mod(60) == 0 {
			p := 1 + src.Mod(8)
			r.leave(p)
			delete(in, p)
		}
		for p := uint32(1); p <= 8; p++ { // ascending: map order never matters
			if !in[p] || src.Mod(2) == 0 {
				continue
			}
			e, ok := r.g.findPlayer(r.w, p)
			if !ok { // refused by the game, or not stepped yet
				r.move(p, 100, 0, 0, 0, true, 0, 0)
				continue
			}
			// A bot: drift towards the middle, aim roughly at some player (maybe a friend).
			x, y := r.w.Get(e, r.g.pX), r.w.Get(e, r.g.pY)
			mx := int32(src.Mod(201)) - 100 + (Width/2-x)/60
			my := int32(src.Mod(201)) - 100 + (Height/2-y)/60
			q := 1 + src.Mod(8)
			ax, ay := int32(src.Mod(2001))-1000, int32(src.Mod(2001))-1000
			if t, ok := r.g.findPlayer(r.w, q); ok && q != p {
				ax = (r.w.Get(t, r.g.pX)-x)/4 + int32(src.Mod(41)) - 20
				ay = (r.w.Get(t, r.g.pY)-y)/4 + int32(src.Mod(41)) - 20
			}
			rt := r.w.Tick() - min(r.w.Tick(), src.Mod(HistoryTicks+4))
			r.move(p, mx, my, ax, ay, src.Mod(3) == 0, rt, uint16(src.Uint32()))
		}
		r.step()
		hashes = append(hashes, r.w.Hash())
		if r.w.Result() != nil {
			break
		}
		if r.w.Tick() == restoreAt {
			var past []*sim.State
			for _, st := range r.w.PastStates() {
				cp := sim.NewState(r.g.Schema())
				cp.CopyFrom(st)
				past = append(past, cp)
			}
			gg, err := New(0, []byte(`{"countdown_ticks":15,"score_to_win":4,"max_players":6,"respawn_ticks":20}`))
			require.NoError(t, err)
			w, err := sim.LoadWorld(gg.Schema(), r.w.Save())
			require.NoError(t, err)
			require.NoError(t, w.RestoreHistory(gg, past))
			require.NoError(t, gg.Load(w))
			r.g, r.w = gg.(*Game), w
		}
	}
	return hashes, r.events
}

func TestDeterminism(t *testing.T) {
	const ticks = 3000
	a, evA := randomMatch(t, 42, ticks, 0)
	b, evB := randomMatch(t, 42, ticks, 0)
	c, evC := randomMatch(t, 42, ticks, 200)
	require.Equal(t, -1, firstDiff(a, b), "same seed and inputs, same hashes: first tick apart")
	require.Equal(t, evA, evB)
	require.Equal(t, -1, firstDiff(a, c), "a world restored from a keyframe steps on identically: first tick apart")
	require.Equal(t, evA, evC)
	// The random match is a real one: shots hit, someone scored, and it ended.
	var hits, kills int
	for _, ev := range evA {
		switch ev.Kind {
		case EventHit:
			hits++
		case EventKill:
			kills++
		}
	}
	assert.Less(t, len(a), ticks, "the match ended")
	assert.Greater(t, hits, 10)
	assert.GreaterOrEqual(t, kills, 4)
	d, _ := randomMatch(t, 43, ticks, 0)
	assert.NotEqual(t, -1, firstDiff(a, d), "another seed, another match")
}

// firstDiff returns the index of the first hash where a and b differ (a length counts), or -1.
func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func TestLoadRejectsBadWorld(t *testing.T) {
	r := newRig(t, "", 1)
	require.NoError(t, r.join(1, ""))
	require.NoError(t, r.join(2, ""))
	r.step()
	r.w.Set(r.player(2), r.g.pOwner, 1)
	assert.ErrorContains(t, r.g.Load(r.w), "player 1 owns two entities")
	r.w.Spawn(r.g.match)
	assert.ErrorContains(t, r.g.Load(r.w), "2 match entities")
}

func TestIsqrt(t *testing.T) {
	for n := int64(0); n < 100_000; n++ {
		s := isqrt(n)
		require.True(t, s*s <= n && (s+1)*(s+1) > n, "isqrt(%d) = %d", n, s)
	}
	for _, n := range []int64{1 << 40, 1<<62 - 1, 2_000_000} {
		s := isqrt(n)
		require.True(t, s*s <= n && (s+1)*(s+1) > n, "isqrt(%d) = %d", n, s)
	}
}

// TestStepDoesNotAllocate holds a tick of moves (no shots, no events) to the hot path's rule.
func TestStepDoesNotAllocate(t *testing.T) {
	r := newRig(t, `{"countdown_ticks":0,"max_players":16}`, 2)
	for id := uint32(1); id <= 16; id++ {
		require.NoError(t, r.join(id, ""))
	}
	r.step()
	inputs := make([]sim.Input, 16)
	for i := range inputs {
		inputs[i] = sim.Input{Player: uint32(i + 1), Kind: sim.InputMove, Values: []int32{int32(i*13%201) - 100, 50, 10, 10, 0}}
	}
	for range HistoryTicks + 1 { // warm up the scratch slices and the World's ring of past states
		r.w.Step(r.g, inputs)
	}
	allocs := testing.AllocsPerRun(100, func() { r.w.Step(r.g, inputs) })
	assert.Zero(t, allocs)
}

package skirmish

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/ticksync/ticksync/sim"
)

// Step applies this tick's inputs in order (joins, leaves, moves; a move may fire), advances
// the phase, then moves players and tracers and runs the timers.
func (g *Game) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	m := g.matchEntity(w)
	for i := range inputs {
		in := &inputs[i]
		switch in.Kind {
		case sim.InputJoin:
			g.join(w, tick, in)
		case sim.InputLeave:
			if e, ok := g.findPlayer(w, in.Player); ok {
				w.Despawn(e)
			}
		case sim.InputMove:
			e, ok := g.findPlayer(w, in.Player)
			if !ok || len(in.Values) < g.schema.NumInputs() || w.Get(e, g.pAlive) == 0 {
				continue
			}
			g.steer(w, e, in.Values)
			// Shots count only in a match under way (not one a shot earlier this tick ended).
			if in.Values[g.inFire.Index()] != 0 && w.Get(e, g.pReload) == 0 && w.Get(m, g.mPhase) == PhasePlaying {
				g.fire(w, tick, e, in)
			}
		}
	}
	g.phase(w, tick, m)
	g.move(w, tick)
}

// join adds a player on the team its metadata asks for (else the smaller one), named by its
// metadata (else "player N"). A join the JoinFilter would refuse, which only a hand-made
// input list can carry, gets the smaller team, or no entity when the room is full or over.
func (g *Game) join(w *sim.World, tick uint32, in *sim.Input) {
	if _, ok := g.findPlayer(w, in.Player); ok || in.Player == 0 || in.Player > maxPlayerID {
		return
	}
	if len(w.Entities(g.player)) >= g.cfg.MaxPlayers || w.Get(g.matchEntity(w), g.mPhase) == PhaseOver {
		return
	}
	team, name, _ := parseMeta(in.Meta)
	if team == 0 {
		red, blue := g.teamSize(w, TeamRed), g.teamSize(w, TeamBlue)
		switch {
		case red < blue:
			team = TeamRed
		case blue < red:
			team = TeamBlue
		default:
			team = TeamRed + int(w.Rand().Mod(2))
		}
	}
	if name == "" {
		name = "player " + strconv.FormatUint(uint64(in.Player), 10)
	}
	e := w.Spawn(g.player)
	w.Set(e, g.pOwner, int32(in.Player))
	w.Set(e, g.pTeam, int32(team))
	w.SetBytes(e, g.pName, []byte(name))
	g.spawn(w, tick, e)
}

// spawn puts a player, alive and whole, at a random point on its team's side.
func (g *Game) spawn(w *sim.World, tick uint32, e sim.Entity) {
	x := int32(spawnMargin)
	if w.Get(e, g.pTeam) == TeamBlue {
		x = Width - spawnMargin
	}
	w.Set(e, g.pX, x)
	w.Set(e, g.pY, spawnMargin+int32(w.Rand().Mod(Height-2*spawnMargin+1)))
	w.Set(e, g.pVX, 0)
	w.Set(e, g.pVY, 0)
	w.Set(e, g.pHP, FullHP)
	w.Set(e, g.pAlive, 1)
	w.Set(e, g.pRespawn, 0)
	w.Set(e, g.pReload, 0)
	w.Set(e, g.pSpawned, int32(tick))
	w.Set(e, g.pAimX, 0)
	w.Set(e, g.pAimY, 0)
	if w.Get(e, g.pTeam) == TeamRed {
		w.Set(e, g.pAimX, MaxAim)
	} else {
		w.Set(e, g.pAimX, -MaxAim)
	}
}

// steer sets a player's velocity from the stick (a diagonal is no faster) and its aim.
func (g *Game) steer(w *sim.World, e sim.Entity, v []int32) {
	mx := clamp(v[g.inMX.Index()], MaxStick)
	my := clamp(v[g.inMY.Index()], MaxStick)
	if l2 := int64(mx)*int64(mx) + int64(my)*int64(my); l2 > MaxStick*MaxStick {
		l := isqrt(l2)
		mx, my = int32(int64(mx)*MaxStick/l), int32(int64(my)*MaxStick/l)
	}
	w.Set(e, g.pVX, mx*Speed/MaxStick)
	w.Set(e, g.pVY, my*Speed/MaxStick)
	ax, ay := clamp(v[g.inAimX.Index()], MaxAim), clamp(v[g.inAimY.Index()], MaxAim)
	if ax != 0 || ay != 0 {
		w.Set(e, g.pAimX, ax)
		w.Set(e, g.pAimY, ay)
	}
}

// view is where one tick's players stood as a shooter saw them: a past state, or the World
// itself when no past state is kept for that tick.
type view struct {
	st *sim.State
	w  *sim.World
}

// pos returns player e's position in v if it is the same player (owner id), alive there;
// a reused entity id or a dead body is no target.
func (g *Game) pos(v view, e sim.Entity, owner int32) (x, y int32, ok bool) {
	if v.st == nil {
		return v.w.Get(e, g.pX), v.w.Get(e, g.pY), v.w.Get(e, g.pAlive) == 1
	}
	if c, live := v.st.ClassOf(e); !live || c != g.player || v.st.Value(e, g.pOwner) != owner || v.st.Value(e, g.pAlive) != 1 {
		return 0, 0, false
	}
	return v.st.Value(e, g.pX), v.st.Value(e, g.pY), true
}

// fire shoots from player e along its input's aim. The hit is decided against the world the
// shooter saw (lag compensation): the state after in.RenderTick, moved towards the next tick
// by in.Subtick, not the world as it is now. The engine clamps RenderTick to the kept ticks;
// a client that gives none (0) shoots at the present.
func (g *Game) fire(w *sim.World, tick uint32, e sim.Entity, in *sim.Input) {
	dx := int64(clamp(in.Values[g.inAimX.Index()], MaxAim))
	dy := int64(clamp(in.Values[g.inAimY.Index()], MaxAim))
	if dx == 0 && dy == 0 {
		return
	}
	w.Set(e, g.pReload, ReloadTicks)
	rt := in.RenderTick
	if rt == 0 || rt >= tick {
		rt = tick - 1
	}
	seen := view{st: w.Past(rt), w: w}
	next := view{w: w}
	if in.Subtick != 0 && rt+1 < tick {
		next.st = w.Past(rt + 1)
	}
	ox, oy := int64(w.Get(e, g.pX)), int64(w.Get(e, g.pY))
	team := w.Get(e, g.pTeam)
	d2 := dx*dx + dy*dy
	var victim sim.Entity
	var best int64 // victim's distance along the ray, times |d|
	players := w.Entities(g.player)
	owners, teams, alive, spawned := w.Column(g.pOwner), w.Column(g.pTeam), w.Column(g.pAlive), w.Column(g.pSpawned)
	for i, v := range players {
		// A target must be an enemy alive now, in the same life the shooter saw.
		if v == e || teams[i] == team || alive[i] == 0 || uint32(spawned[i]) > rt {
			continue
		}
		x, y, ok := g.pos(seen, v, owners[i])
		if !ok {
			continue
		}
		if next.st != nil {
			if nx, ny, ok := g.pos(next, v, owners[i]); ok {
				x += int32(int64(nx-x) * int64(in.Subtick) / 65536)
				y += int32(int64(ny-y) * int64(in.Subtick) / 65536)
			}
		}
		vx, vy := int64(x)-ox, int64(y)-oy
		along := vx*dx + vy*dy // |v|·|d|·cos
		across := vx*dy - vy*dx
		if along < 0 || across*across > Radius*Radius*d2 || along*along > (ShotRange+Radius)*(ShotRange+Radius)*d2 {
			continue
		}
		if victim == 0 || along < best || along == best && v < victim { // ties by id, not row
			victim, best = v, along
		}
	}
	dlen := isqrt(d2)
	reach := int64(ShotRange)
	if victim != 0 {
		reach = best / dlen
	}
	g.tracer(w, e, team, ox, oy, dx, dy, dlen, reach)
	if victim != 0 {
		g.hit(w, tick, e, victim, int32(ox), int32(oy))
	}
}

// tracer spawns the visible shot: it flies from the muzzle for as long as it takes to reach
// the hit point (or the end of the range). It decides nothing.
func (g *Game) tracer(w *sim.World, e sim.Entity, team int32, ox, oy, dx, dy, dlen, reach int64) {
	t := w.Spawn(g.shot)
	w.Set(t, g.sShooter, w.Get(e, g.pOwner))
	w.Set(t, g.sTeam, team)
	w.Set(t, g.sX, int32(ox))
	w.Set(t, g.sY, int32(oy))
	w.Set(t, g.sVX, int32(dx*TracerSpeed/dlen))
	w.Set(t, g.sVY, int32(dy*TracerSpeed/dlen))
	perTick := int64(TracerSpeed / TickRate)
	w.Set(t, g.sTTL, int32(max((reach+perTick-1)/perTick, 1)))
}

// hit applies a shot's damage; a kill scores for the shooter's team and may end the match.
func (g *Game) hit(w *sim.World, tick uint32, shooter, victim sim.Entity, ox, oy int32) {
	sid, vid := w.Get(shooter, g.pOwner), w.Get(victim, g.pOwner)
	hp := max(w.Get(victim, g.pHP)-Damage, 0)
	w.Set(victim, g.pHP, hp)
	g.emit(w, EventHit, nil, sid, vid, Damage, hp)
	g.to[0] = uint32(vid)
	g.emit(w, EventHurt, g.to[:], sid, Damage, ox, oy)
	if hp > 0 {
		return
	}
	w.Set(victim, g.pAlive, 0)
	w.Set(victim, g.pVX, 0)
	w.Set(victim, g.pVY, 0)
	w.Set(victim, g.pRespawn, int32(g.cfg.RespawnTicks))
	w.Set(victim, g.pDeaths, w.Get(victim, g.pDeaths)+1)
	w.Set(shooter, g.pKills, w.Get(shooter, g.pKills)+1)
	m := g.matchEntity(w)
	team := w.Get(shooter, g.pTeam)
	score := g.mRed
	if team == TeamBlue {
		score = g.mBlue
	}
	w.Set(m, score, w.Get(m, score)+1)
	red, blue := w.Get(m, g.mRed), w.Get(m, g.mBlue)
	g.emit(w, EventKill, nil, sid, vid, team, red, blue)
	if w.Get(m, score) >= int32(g.cfg.ScoreToWin) {
		g.end(w, m, team, red, blue)
	}
}

// end ends the match won by team: its players now in the room are the winners.
func (g *Game) end(w *sim.World, m sim.Entity, team, red, blue int32) {
	w.Set(m, g.mPhase, PhaseOver)
	w.Set(m, g.mWinner, team)
	g.winrs = g.winrs[:0]
	teams := w.Column(g.pTeam)
	for i, own := range w.Column(g.pOwner) {
		if teams[i] == team {
			g.winrs = append(g.winrs, uint32(own))
		}
	}
	slices.Sort(g.winrs)
	win, lose := red, blue
	if team == TeamBlue {
		win, lose = blue, red
	}
	w.End(sim.Result{
		Winners: g.winrs,
		Summary: fmt.Sprintf("%s wins %d-%d", teamNames[team], win, lose),
		Data:    fmt.Appendf(nil, `{"red":%d,"blue":%d}`, red, blue),
	})
}

// phase runs the lobby and the countdown.
func (g *Game) phase(w *sim.World, tick uint32, m sim.Entity) {
	n := len(w.Entities(g.player))
	switch w.Get(m, g.mPhase) {
	case PhaseLobby:
		if n < g.cfg.MinPlayers {
			return
		}
		if g.cfg.CountdownTicks == 0 {
			g.start(w, tick, m)
			return
		}
		left := int32(g.cfg.CountdownTicks)
		w.Set(m, g.mPhase, PhaseCountdown)
		w.Set(m, g.mCountdown, left)
		g.emit(w, EventCountdown, nil, (left+TickRate-1)/TickRate, left)
	case PhaseCountdown:
		if n < g.cfg.MinPlayers {
			w.Set(m, g.mPhase, PhaseLobby)
			w.Set(m, g.mCountdown, 0)
			g.emit(w, EventCountdown, nil, -1, 0)
			return
		}
		left := w.Get(m, g.mCountdown) - 1
		w.Set(m, g.mCountdown, left)
		switch {
		case left <= 0:
			g.start(w, tick, m)
		case left%TickRate == 0:
			g.emit(w, EventCountdown, nil, left/TickRate, left)
		}
	}
}

// start begins play: scores and players start afresh at their spawns.
func (g *Game) start(w *sim.World, tick uint32, m sim.Entity) {
	w.Set(m, g.mPhase, PhasePlaying)
	w.Set(m, g.mCountdown, 0)
	w.Set(m, g.mRed, 0)
	w.Set(m, g.mBlue, 0)
	g.due = append(g.due[:0], w.Entities(g.player)...)
	slices.Sort(g.due) // spawn draws from the PRNG: in id order, not row order
	for _, e := range g.due {
		w.Set(e, g.pKills, 0)
		w.Set(e, g.pDeaths, 0)
		g.spawn(w, tick, e)
	}
	g.emit(w, EventCountdown, nil, 0, 0)
}

// move advances living players and tracers, expires tracers and runs reload and respawn.
func (g *Game) move(w *sim.World, tick uint32) {
	xs, ys, vxs, vys := w.Column(g.pX), w.Column(g.pY), w.Column(g.pVX), w.Column(g.pVY)
	alive, reload, respawn := w.Column(g.pAlive), w.Column(g.pReload), w.Column(g.pRespawn)
	g.due = g.due[:0]
	for i, e := range w.Entities(g.player) {
		if reload[i] > 0 {
			reload[i]--
		}
		if alive[i] == 1 {
			xs[i] = min(max(xs[i]+vxs[i]/TickRate, 0), Width)
			ys[i] = min(max(ys[i]+vys[i]/TickRate, 0), Height)
			continue
		}
		if respawn[i]--; respawn[i] <= 0 {
			g.due = append(g.due, e)
		}
	}
	slices.Sort(g.due) // spawn draws from the PRNG: in id order, not row order
	for _, e := range g.due {
		g.spawn(w, tick, e)
	}
	g.dead = g.dead[:0]
	xs, ys, vxs, vys = w.Column(g.sX), w.Column(g.sY), w.Column(g.sVX), w.Column(g.sVY)
	ttl := w.Column(g.sTTL)
	for i, e := range w.Entities(g.shot) {
		xs[i] += vxs[i] / TickRate
		ys[i] += vys[i] / TickRate
		if ttl[i]--; ttl[i] <= 0 {
			g.dead = append(g.dead, e)
		}
	}
	slices.Sort(g.dead) // despawn order is the order ids are reused in
	for _, e := range g.dead {
		w.Despawn(e)
	}
}

// emit sends an event of kind with values to (nil: everyone).
func (g *Game) emit(w *sim.World, kind uint32, to []uint32, values ...int32) {
	n := copy(g.ev[:], values)
	w.Emit(sim.Event{Kind: kind, Values: g.ev[:n], To: to})
}

func clamp(v, limit int32) int32 { return min(max(v, -limit), limit) }

// isqrt returns floor(sqrt(n)) for n ≥ 0, by Newton's method on integers.
func isqrt(n int64) int64 {
	if n < 2 {
		return n
	}
	x := n
	y := (x + 1) / 2
	for y < x {
		x = y
		y = (x + n/x) / 2
	}
	return x
}

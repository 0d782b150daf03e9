package skirmish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ticksync/ticksync/sim"
)

// Name is the name skirmish registers under.
const Name = "skirmish"

// TickRate is skirmish's own tick rate in Hz (sim.TickRater).
const TickRate = 30

// HistoryTicks is how many past ticks a shot may be checked against (sim.Historian): half a
// second at TickRate, enough for a shooter 500 ms behind; older render ticks are clamped to it.
const HistoryTicks = 16

// Units: positions in 1/100 world unit, velocities in 1/100 unit per second.
const (
	Scale       = 100           // fixed-point scale of positions and velocities
	Width       = 60 * Scale    // the field is [0, Width] × [0, Height]
	Height      = 40 * Scale    //
	Radius      = 60            // a player's hit circle (0.6 units)
	Speed       = 27 * TickRate // full-stick speed: 27/100 unit a tick, 8.1 units/s
	ShotRange   = 40 * Scale    // hitscan reach (to the edge of a target's circle)
	TracerSpeed = 200 * TickRate
	FullHP      = 100
	Damage      = 34 // three hits kill
	ReloadTicks = 6  // a shot every 0.2 s
	MaxStick    = 100
	MaxAim      = 1000 // aim components are clamped to ±MaxAim: 1/1000 rad resolution
	MaxName     = 24   // bytes of a player's name
	spawnMargin = 5 * Scale
	maxPlayerID = 1<<31 - 1 // player ids fit the int fields
)

// Phases of a match (the match entity's phase field).
const (
	PhaseLobby     = 0
	PhaseCountdown = 1
	PhasePlaying   = 2
	PhaseOver      = 3
)

// Teams (the player entity's team field, the match entity's winner field).
const (
	TeamRed  = 1
	TeamBlue = 2
)

var teamNames = [3]string{"", "red", "blue"}

// Event kinds and their Values.
const (
	// EventCountdown, to everyone: [seconds_left, ticks_left]. Emitted when the countdown
	// starts, at every whole second, with [0, 0] when play starts and [-1, 0] when it is
	// cancelled because players left.
	EventCountdown = 1
	// EventHit, to everyone: [shooter, victim, damage, victim_hp] (player ids).
	EventHit = 2
	// EventKill, to everyone: [shooter, victim, shooter_team, red_score, blue_score].
	EventKill = 3
	// EventHurt, to the victim only: [shooter, damage, shooter_x, shooter_y] (to show where
	// the shot came from).
	EventHurt = 4
)

// Config is a room's config (JSON). Keys left out keep their defaults; unknown keys and
// out-of-range values are errors.
type Config struct {
	ScoreToWin     int `json:"score_to_win"`    // kills a team needs to win: 1..100, default 5
	CountdownTicks int `json:"countdown_ticks"` // lobby countdown: 0 (none)..1800, default 90 (3 s)
	MinPlayers     int `json:"min_players"`     // players that start the countdown: 1..max_players, default 2
	MaxPlayers     int `json:"max_players"`     // room size: 2..16, default 8
	RespawnTicks   int `json:"respawn_ticks"`   // dead time: 1..900, default 60 (2 s)
}

// DefaultConfig returns the config of a room that gives none.
func DefaultConfig() Config {
	return Config{ScoreToWin: 5, CountdownTicks: 3 * TickRate, MinPlayers: 2, MaxPlayers: 8, RespawnTicks: 2 * TickRate}
}

func (c *Config) validate() error {
	switch {
	case c.ScoreToWin < 1 || c.ScoreToWin > 100:
		return fmt.Errorf("score_to_win %d out of range 1..100", c.ScoreToWin)
	case c.CountdownTicks < 0 || c.CountdownTicks > 60*TickRate:
		return fmt.Errorf("countdown_ticks %d out of range 0..%d", c.CountdownTicks, 60*TickRate)
	case c.MaxPlayers < 2 || c.MaxPlayers > 16:
		return fmt.Errorf("max_players %d out of range 2..16", c.MaxPlayers)
	case c.MinPlayers < 1 || c.MinPlayers > c.MaxPlayers:
		return fmt.Errorf("min_players %d out of range 1..max_players (%d)", c.MinPlayers, c.MaxPlayers)
	case c.RespawnTicks < 1 || c.RespawnTicks > 30*TickRate:
		return fmt.Errorf("respawn_ticks %d out of range 1..%d", c.RespawnTicks, 30*TickRate)
	}
	return nil
}

// ParseConfig reads a room's config: empty means DefaultConfig.
func ParseConfig(config []byte) (Config, error) {
	cfg := DefaultConfig()
	if len(bytes.TrimSpace(config)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(config))
		dec.DisallowUnknownFields() // a typo in a key is an error, not a silent default
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("skirmish: config: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return Config{}, errors.New("skirmish: config: data after the JSON object")
		}
	}
	if err := cfg.validate(); err != nil {
		return Config{}, fmt.Errorf("skirmish: config: %w", err)
	}
	return cfg, nil
}

// Game is the skirmish game. Make one with New.
type Game struct {
	cfg    Config
	schema *sim.Schema

	match                                   sim.Class
	mPhase, mCountdown, mRed, mBlue, mGoal  sim.Field
	mWinner                                 sim.Field
	player                                  sim.Class
	pOwner, pTeam, pX, pY, pVX, pVY         sim.Field
	pAimX, pAimY, pHP, pAlive, pRespawn     sim.Field
	pReload, pKills, pDeaths, pSpawned      sim.Field
	pName                                   sim.BytesField
	shot                                    sim.Class
	sShooter, sTeam, sX, sY, sVX, sVY, sTTL sim.Field
	inMX, inMY, inAimX, inAimY, inFire      sim.InputField

	ev [5]int32  // scratch for event values (Emit copies them)
	to [1]uint32 // scratch for an event's recipient
	// Rows of a class are in spawn order with swap-removal, but a World loaded from a keyframe
	// lays them out by id: whatever depends on order (PRNG draws, despawns, ties) goes by id.
	due   []sim.Entity // scratch: players to (re)spawn, by id
	dead  []sim.Entity // scratch: tracers to despawn, by id
	winrs []uint32     // scratch: winners
}

// New makes a skirmish game from a JSON Config (empty: defaults). It always ticks at TickRate,
// whatever tickRate the server would give rooms without a rate of their own, so tickRate is
// not used.
func New(tickRate uint32, config []byte) (sim.Game, error) {
	cfg, err := ParseConfig(config)
	if err != nil {
		return nil, err
	}
	g := &Game{cfg: cfg}
	b := sim.NewSchemaBuilder()
	m := b.Class("match")
	g.mPhase = m.Int("phase", sim.Range(PhaseLobby, PhaseOver))
	g.mCountdown = m.Int("countdown", sim.Range(0, 60*TickRate))
	g.mRed = m.Int("red_score")
	g.mBlue = m.Int("blue_score")
	g.mGoal = m.Int("score_to_win")
	g.mWinner = m.Int("winner", sim.Range(0, TeamBlue))
	g.match = m.Handle()

	p := b.Class("player")
	g.pOwner = p.Int("player", sim.Owner())
	g.pTeam = p.Int("team", sim.Range(TeamRed, TeamBlue))
	g.pX = p.Fixed("x", Scale, sim.Interpolate(), sim.PredictFrom("vx", 1, TickRate), sim.Range(0, Width))
	g.pY = p.Fixed("y", Scale, sim.Interpolate(), sim.PredictFrom("vy", 1, TickRate), sim.Range(0, Height))
	g.pVX = p.Fixed("vx", Scale, sim.Range(-Speed, Speed))
	g.pVY = p.Fixed("vy", Scale, sim.Range(-Speed, Speed))
	g.pAimX = p.Int("aim_x", sim.Range(-MaxAim, MaxAim))
	g.pAimY = p.Int("aim_y", sim.Range(-MaxAim, MaxAim))
	g.pHP = p.Int("hp", sim.Range(0, FullHP))
	g.pAlive = p.Bool("alive")
	g.pRespawn = p.Int("respawn") // ticks until respawn while dead
	g.pReload = p.Int("reload", sim.Range(0, ReloadTicks))
	g.pKills = p.Int("kills")
	g.pDeaths = p.Int("deaths")
	g.pSpawned = p.Int("spawned") // tick of the last (re)spawn: older render ticks saw another life
	g.pName = p.Bytes("name", MaxName)
	g.player = p.Handle()

	s := b.Class("shot")
	g.sShooter = s.Int("shooter")
	g.sTeam = s.Int("team", sim.Range(TeamRed, TeamBlue))
	g.sX = s.Fixed("x", Scale, sim.Interpolate(), sim.PredictFrom("vx", 1, TickRate))
	g.sY = s.Fixed("y", Scale, sim.Interpolate(), sim.PredictFrom("vy", 1, TickRate))
	g.sVX = s.Fixed("vx", Scale)
	g.sVY = s.Fixed("vy", Scale)
	g.sTTL = s.Int("ttl") // ticks left in flight
	g.shot = s.Handle()

	g.inMX = b.InputInt("move_x", sim.Range(-MaxStick, MaxStick))
	g.inMY = b.InputInt("move_y", sim.Range(-MaxStick, MaxStick))
	g.inAimX = b.InputInt("aim_x", sim.Range(-MaxAim, MaxAim))
	g.inAimY = b.InputInt("aim_y", sim.Range(-MaxAim, MaxAim))
	g.inFire = b.InputBool("fire")
	sc, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("skirmish: %w", err)
	}
	g.schema = sc
	return g, nil
}

// Config returns the game's validated config.
func (g *Game) Config() Config { return g.cfg }

// Schema returns skirmish's schema.
func (g *Game) Schema() *sim.Schema { return g.schema }

// TickRate returns TickRate (sim.TickRater).
func (g *Game) TickRate() uint32 { return TickRate }

// History returns HistoryTicks (sim.Historian).
func (g *Game) History() int { return HistoryTicks }

// Init spawns the match entity, in the lobby.
func (g *Game) Init(w *sim.World) error {
	m := w.Spawn(g.match)
	w.Set(m, g.mGoal, int32(g.cfg.ScoreToWin))
	return nil
}

// Load checks a restored world; skirmish derives nothing from it (players are found by
// scanning their owner column, a handful of rows).
func (g *Game) Load(w *sim.World) error {
	if n := len(w.Entities(g.match)); n != 1 {
		return fmt.Errorf("skirmish: load: %d match entities, want 1", n)
	}
	owners := w.Column(g.pOwner)
	for i, id := range owners {
		for _, other := range owners[:i] {
			if other == id {
				return fmt.Errorf("skirmish: load: player %d owns two entities", id)
			}
		}
	}
	return nil
}

// Meta is the join metadata skirmish reads: JSON such as {"name":"ann","team":"red"}.
type Meta struct {
	Name string `json:"name"`
	Team string `json:"team"` // "red", "blue" or empty (the smaller team)
}

// errBadTeam is the reason a join asking for an unknown team is refused.
var errBadTeam = errors.New("team must be red or blue")

// parseMeta returns the team asked for (0: any) and the name (empty: none) from join
// metadata. Unreadable JSON counts as no metadata; only a readable, unknown team is an error.
func parseMeta(meta []byte) (team int, name string, err error) {
	var m Meta
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return 0, "", nil
	}
	switch m.Team {
	case "":
	case "red":
		team = TeamRed
	case "blue":
		team = TeamBlue
	default:
		return 0, "", errBadTeam
	}
	return team, cleanName(m.Name), nil
}

// cleanName keeps printable runes of name, at most MaxName bytes of them, trimmed.
func cleanName(name string) string {
	out := make([]byte, 0, MaxName)
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			continue
		}
		if len(out)+len(string(r)) > MaxName {
			break
		}
		out = append(out, string(r)...)
	}
	return string(bytes.TrimSpace(out))
}

// Seats is the room size, config max_players (sim.Seater): quick play fills a room up to it.
func (g *Game) Seats() int { return g.cfg.MaxPlayers }

// AcceptJoin refuses a join when the match is over, the room is full, the metadata asks for
// an unknown team, or the team asked for already has half the room (sim.JoinFilter). The
// joins accepted earlier in the tick (j.Pending) are not in the World yet but count against
// both limits, so that several joins in one tick cannot overfill the room or a team.
func (g *Game) AcceptJoin(w *sim.World, j sim.JoinRequest) error {
	m := g.matchEntity(w)
	if w.Result() != nil || w.Get(m, g.mPhase) == PhaseOver {
		return errors.New("match is over")
	}
	if len(w.Entities(g.player))+len(j.Pending) >= g.cfg.MaxPlayers {
		return fmt.Errorf("room is full (%d players)", g.cfg.MaxPlayers)
	}
	team, _, err := parseMeta(j.Meta)
	if err != nil {
		return err
	}
	if team != 0 && g.mostOnTeam(w, team, j.Pending) >= (g.cfg.MaxPlayers+1)/2 {
		return fmt.Errorf("team %s is full", teamNames[team])
	}
	return nil
}

// mostOnTeam returns the most players team can have once the pending joins are stepped, by
// the rules Step's join applies: a join asking for a team gets it, one asking for none gets
// the smaller team. Step breaks a tie with the World's PRNG, which AcceptJoin must not draw
// from, so a tie is counted as going to team: that gives the most team can end up with after
// every later pending join too, so the limit holds whichever way the ties fall.
func (g *Game) mostOnTeam(w *sim.World, team int, pending []sim.JoinRequest) int {
	mine, other := g.teamSize(w, team), g.teamSize(w, TeamRed+TeamBlue-team)
	for _, p := range pending {
		t, _, _ := parseMeta(p.Meta) // accepted, so readable or ignored
		switch {
		case t == team:
			mine++
		case t != 0:
			other++
		case mine <= other:
			mine++
		default:
			other++
		}
	}
	return mine
}

func (g *Game) matchEntity(w *sim.World) sim.Entity { return w.Entities(g.match)[0] }

// findPlayer returns the entity of player id (a scan: a room holds at most 16).
func (g *Game) findPlayer(w *sim.World, id uint32) (sim.Entity, bool) {
	for i, own := range w.Column(g.pOwner) {
		if uint32(own) == id {
			return w.Entities(g.player)[i], true
		}
	}
	return 0, false
}

func (g *Game) teamSize(w *sim.World, team int) int {
	n := 0
	for _, t := range w.Column(g.pTeam) {
		if int(t) == team {
			n++
		}
	}
	return n
}

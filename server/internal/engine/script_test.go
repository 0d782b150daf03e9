package engine

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/*.txt")

// TestScripts runs the seat, resume, baseline and input rules as scripts in testdata/, with
// no socket: each command's output is compared with the text under it (go test -rewrite
// regenerates the expectations; read the diff before committing it).
//
// Commands:
//
//	config k=v...                ring, max-players, grace, max-lag, inputs-per-tick, inbox,
//	                             hash-every, seats-per-addr (makes the engine at time 0)
//	join C [player=N] [spectator] [resume=C2] [session=S] [last=T] [addr=A]
//	leave C | drop C | kick C    events for client C (kick: C's seat's player)
//	input C seq=N [v=X]          push into C's seat's inbox
//	ack C [tick=N]               C's writer took tick N (default: C's newest frame)
//	tick [n=N] [wait=D]          wait D (default: one tick, 50ms), then Tick, N times
//	seats                        the engine's seats and clients
//	charges | release            seats charged per address (release: after ReleaseSeats)
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

// game is the scripts' game: one entity per player, whose x adds up the player's inputs.
type game struct {
	s       *sim.Schema
	cls     sim.Class
	own, x  sim.Field
	byOwner map[uint32]sim.Entity
}

func newGame() *game {
	b := sim.NewSchemaBuilder()
	c := b.Class("p")
	g := &game{own: c.Int("owner", sim.Owner()), x: c.Int("x"), byOwner: map[uint32]sim.Entity{}}
	g.cls = c.Handle()
	b.InputInt("v", sim.Range(-1000, 1000))
	s, err := b.Build()
	if err != nil {
		panic(err)
	}
	g.s = s
	return g
}

func (g *game) Schema() *sim.Schema     { return g.s }
func (g *game) Init(*sim.World) error   { return nil }
func (g *game) Load(w *sim.World) error { return nil }
func (g *game) Step(w *sim.World, _ uint32, in []sim.Input) {
	for _, i := range in {
		switch i.Kind {
		case sim.InputJoin:
			e := w.Spawn(g.cls)
			w.Set(e, g.own, int32(i.Player))
			g.byOwner[i.Player] = e
		case sim.InputLeave:
			w.Despawn(g.byOwner[i.Player])
			delete(g.byOwner, i.Player)
		case sim.InputMove:
			e := g.byOwner[i.Player]
			w.Set(e, g.x, w.Get(e, g.x)+i.Values[0])
		}
	}
}

// addrSeats is the scripts' SeatLimiter: at most max seats per address.
type addrSeats struct {
	max  int
	held map[string]int
}

func (a *addrSeats) Acquire(addr string) bool {
	if a.held[addr] >= a.max {
		return false
	}
	a.held[addr]++
	return true
}

func (a *addrSeats) Release(addr string) { a.held[addr]-- }

type script struct {
	t        *testing.T
	e        *Engine
	now      time.Time
	clients  map[string]*Client
	names    map[*Client]string
	sessions map[string]string // client → the session its welcome carried
	players  map[string]uint32 // client → its player
	last     map[string]uint32 // client → tick of its newest frame
	drawn    int
}

func runScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s := &script{t: t, now: time.Unix(1_000_000, 0), clients: map[string]*Client{}, names: map[*Client]string{},
		sessions: map[string]string{}, players: map[string]uint32{}, last: map[string]uint32{}}
	var out strings.Builder
	blocks := strings.Split(string(data), "\n\n")
	for _, block := range blocks {
		block = strings.Trim(block, "\n")
		if block == "" {
			continue
		}
		cmd, want, _ := strings.Cut(block, "\n----\n")
		if strings.HasSuffix(cmd, "\n----") {
			cmd = strings.TrimSuffix(cmd, "\n----")
		}
		var got strings.Builder
		for _, line := range strings.Split(cmd, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			s.run(line, &got)
		}
		out.WriteString(cmd + "\n----\n" + got.String() + "\n")
		if !*rewrite {
			require.Equal(t, strings.TrimRight(want, "\n"), strings.TrimRight(got.String(), "\n"), "%s:\n%s", path, cmd)
		}
	}
	if *rewrite {
		require.NoError(t, os.WriteFile(path, []byte(out.String()), 0o644))
	}
}

func (s *script) run(line string, out *strings.Builder) {
	t := s.t
	f := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	num := func(k string, def int) int {
		v, ok := args[k]
		if !ok {
			return def
		}
		n, err := strconv.Atoi(v)
		require.NoError(t, err, line)
		return n
	}
	client := func() *Client {
		require.NotEmpty(t, pos, line)
		c := s.clients[pos[0]]
		if c == nil {
			c = NewClient(pos[0])
			s.clients[pos[0]], s.names[c] = c, pos[0]
		}
		return c
	}
	switch f[0] {
	case "config":
		grace, err := time.ParseDuration(cmp(args["grace"], "20s"))
		require.NoError(t, err)
		cfg := Config{Ring: num("ring", 8), MaxPlayers: num("max-players", 4), ReconnectGrace: grace,
			MaxLag: uint32(num("max-lag", 100)), InputsPerTick: num("inputs-per-tick", 2), Inbox: num("inbox", 4),
			HashEvery: num("hash-every", 0)}
		if n := num("seats-per-addr", 0); n > 0 {
			cfg.Seats = &addrSeats{max: n, held: map[string]int{}}
		}
		g := newGame()
		w := sim.NewWorld(g.s, 7)
		e, err := New(cfg, g, w)
		require.NoError(t, err)
		s.e = e
	case "join":
		c := client()
		s.drawn++
		j := JoinReq{Player: uint32(num("player", 0)), Spectator: slicesHas(pos, "spectator"),
			NewSession: fmt.Sprintf("s%d", s.drawn), LastTick: uint32(num("last", 0)), Addr: args["addr"]}
		if from, ok := args["resume"]; ok {
			j.Resume, j.Player, j.Session = true, s.players[from], s.sessions[from]
		}
		if sess, ok := args["session"]; ok {
			j.Resume, j.Session = true, sess
		}
		s.e.Join(c, j)
	case "leave":
		s.e.Leave(client())
	case "drop":
		s.e.Drop(client())
	case "kick":
		c := client()
		s.e.Kick(s.players[s.names[c]], ErrTestKick)
	case "input":
		c := client()
		require.NotNil(t, c.seat, "%s has no seat", pos[0])
		drop, err := c.seat.Inbox().Push(uint32(num("seq", 0)), []int32{int32(num("v", 0))}, s.now)
		switch {
		case err != nil:
			fmt.Fprintf(out, "error: %v\n", err)
		case drop == DropStale:
			out.WriteString("dropped: stale\n")
		case drop == DropFull:
			out.WriteString("dropped: inbox full\n")
		}
	case "ack":
		c := client()
		c.Ack(uint32(num("tick", int(s.last[pos[0]]))))
	case "tick":
		wait, err := time.ParseDuration(cmp(args["wait"], "50ms"))
		require.NoError(t, err)
		for range num("n", 1) {
			s.now = s.now.Add(wait)
			s.print(s.e.Tick(s.now, nil), out)
			s.e.Advance()
		}
	case "release":
		s.e.ReleaseSeats()
		s.printCharges(out)
	case "charges":
		s.printCharges(out)
	case "seats":
		var lines []string
		for _, st := range s.e.order {
			who := "held"
			if st.client != nil {
				who = s.names[st.client]
			}
			lines = append(lines, fmt.Sprintf("seat %d: %s last-applied=%d pending=%d", st.player, who, st.lastApplied, st.in.Pending()))
		}
		fmt.Fprintf(out, "players=%d spectators=%d clients=%d empty=%v\n", s.e.Players(), s.e.Spectators(), s.e.Clients(), s.e.Empty())
		for _, l := range lines {
			out.WriteString(l + "\n")
		}
	default:
		t.Fatalf("unknown command %q", line)
	}
}

// printCharges prints the seats charged to each address (config seats-per-addr).
func (s *script) printCharges(out *strings.Builder) {
	a, ok := s.e.cfg.Seats.(*addrSeats)
	require.True(s.t, ok, "no seats-per-addr in config")
	var addrs []string
	for addr := range a.held {
		addrs = append(addrs, addr)
	}
	sort.Strings(addrs)
	for _, addr := range addrs {
		fmt.Fprintf(out, "%s: %d\n", addr, a.held[addr])
	}
}

// ErrTestKick is the scripts' kick reason.
var ErrTestKick = fmt.Errorf("kicked")

func (s *script) print(r *Ready, out *strings.Builder) {
	fmt.Fprintf(out, "tick %d\n", r.Tick)
	var lines []string
	for _, w := range r.Welcomes {
		name := s.names[w.Client]
		s.sessions[name], s.players[name] = w.Session, w.Player
		lines = append(lines, fmt.Sprintf("  welcome %s player=%d tick=%d resumed=%v baseline=%d", name, w.Player, w.Tick, w.Resumed, w.Baseline))
	}
	for _, c := range r.Closes {
		lines = append(lines, fmt.Sprintf("  close %s: %v", s.names[c.Client], c.Err))
	}
	var frames []string
	for _, f := range r.Frames {
		name := s.names[f.Client]
		s.last[name] = f.Tick
		kind := "delta"
		if f.Baseline == 0 {
			kind = "snapshot"
		}
		frames = append(frames, fmt.Sprintf("  frame %s base=%d seq=%d %s", name, f.Baseline, f.LastSeq, kind))
	}
	sort.Strings(frames)
	lines = append(lines, frames...)
	if len(r.Joined) > 0 {
		lines = append(lines, fmt.Sprintf("  joined %v", r.Joined))
	}
	if len(r.Left) > 0 {
		lines = append(lines, fmt.Sprintf("  left %v", r.Left))
	}
	if len(r.Resumes) > 0 {
		lines = append(lines, fmt.Sprintf("  resumed %v", r.Resumes))
	}
	var in []string
	for _, i := range r.Inputs {
		switch i.Kind {
		case sim.InputJoin:
			in = append(in, fmt.Sprintf("join:%d", i.Player))
		case sim.InputLeave:
			in = append(in, fmt.Sprintf("leave:%d", i.Player))
		case sim.InputMove:
			in = append(in, fmt.Sprintf("move:%d#%d=%d", i.Player, i.Seq, i.Values[0]))
		}
	}
	if len(in) > 0 {
		lines = append(lines, "  inputs "+strings.Join(in, " "))
	}
	for _, l := range lines {
		out.WriteString(l + "\n")
	}
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func slicesHas(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

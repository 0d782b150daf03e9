package skirmish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/cli"
	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/examples/skirmish"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// program is the skirmish binary's cli.Program, as cmd/skirmish builds it (but for its page,
// which the commands run here do not serve).
func program(t *testing.T) cli.Program {
	games := server.NewRegistry()
	require.NoError(t, games.Register(skirmish.Name, skirmish.New))
	return cli.Program{Name: "skirmish", Games: games}
}

// TestMatchRecordingVerifiesAndReplays plays a short skirmish match on a real server, the room
// on its own clock, with two bots that aim at the enemy they see (their render tick makes the
// shot a hit wherever the enemy went since); then the binary's own commands verify and
// describe the recording, and a replay session lists and plays the same events and result
// the players got.
func TestMatchRecordingVerifiesAndReplays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prog := program(t)
	dir := t.TempDir()
	newRec, err := server.NewFileRecorder(server.FileRecorderOptions{Dir: dir, NoSync: true})
	require.NoError(t, err)
	s, err := server.New(server.Config{Games: prog.Games, NewRecorder: newRec, RequireRecording: true,
		Replays: server.ReplayDir(dir), MatchOverGrace: 300 * time.Millisecond})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	url := "ws://" + ln.Addr().String() + "/ws"

	// The match.
	const room = "m1"
	dial := func(meta string) *client.Client {
		c, err := client.Dial(ctx, url, client.Options{Room: room, Game: skirmish.Name, CreateIfMissing: true,
			Config: []byte(`{"score_to_win":2,"countdown_ticks":10}`), Meta: meta})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	players := []*client.Client{dial(`{"name":"ann","team":"red"}`), dial(`{"name":"bob","team":"blue"}`)}
	var wg sync.WaitGroup
	errs := make([]error, len(players))
	for i, c := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = playBot(ctx, c)
		}()
	}
	wg.Wait()
	var result *pb.MatchResult
	for i, c := range players {
		var ce *client.CloseError
		require.ErrorAs(t, errs[i], &ce, "player %d", c.PlayerID())
		assert.Equal(t, uint16(4002), ce.Code)
		assert.Equal(t, "match over", ce.Reason)
		r, err := c.WaitResult(ctx)
		require.NoError(t, err, "the result came before the close")
		if result == nil {
			result = r
		}
		assert.True(t, proto.Equal(result, r), "both got the same result: %v, %v", result, r)
		assert.NotEmpty(t, c.Events())
	}
	require.Len(t, result.GetWinners(), 1, "one player a team")
	winner := "red"
	if result.GetWinners()[0] == players[1].PlayerID() {
		winner = "blue"
	}
	assert.True(t, strings.HasPrefix(result.GetSummary(), winner+" wins 2-"), "summary %q", result.GetSummary())
	kills := 0
	for _, ev := range players[0].Events() {
		if ev.GetKind() == skirmish.EventKill {
			kills++
		}
	}
	assert.GreaterOrEqual(t, kills, 2, "the winners' two kills, at least")
	t.Logf("%s at tick %d, %d events to ann, %d to bob", result.GetSummary(), result.GetTick(),
		len(players[0].Events()), len(players[1].Events()))

	// The room closed its recorder before its connections: the file is complete.
	files, err := filepath.Glob(filepath.Join(dir, "*"+server.ReplayExt))
	require.NoError(t, err)
	require.Len(t, files, 1)
	file := files[0]
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := prog.Run(ctx, args, func(string) string { return "" }, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run("replay", "verify", file)
	require.Equal(t, 0, code, "replay verify: %s%s", out, errOut)
	code, out, errOut = run("replay", "info", "-json", file)
	require.Equal(t, 0, code, "replay info: %s%s", out, errOut)
	var info struct {
		Game     string `json:"game"`
		Room     string `json:"room"`
		Complete bool   `json:"complete"`
		Events   int    `json:"events"`
		Result   *struct {
			Tick    uint32   `json:"tick"`
			Winners []uint32 `json:"winners"`
			Summary string   `json:"summary"`
			Data    string   `json:"data"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &info), out)
	assert.Equal(t, skirmish.Name, info.Game)
	assert.Equal(t, room, info.Room)
	assert.True(t, info.Complete)
	require.NotNil(t, info.Result, out)
	assert.Equal(t, result.GetSummary(), info.Result.Summary)
	assert.Equal(t, result.GetTick(), info.Result.Tick)
	assert.Equal(t, result.GetWinners(), info.Result.Winners)
	assert.Equal(t, string(result.GetData()), info.Result.Data)

	// The replay: its first status lists every event, whoever it was for, and the result;
	// playing, the frames carry the same events in order.
	name := strings.TrimSuffix(filepath.Base(file), server.ReplayExt)
	v, st := watchReplay(ctx, t, url, server.ReplayRoomPrefix+name)
	require.NotEmpty(t, st.GetMarks(), "the joins and leaves")
	require.NotEmpty(t, st.GetEvents())
	assert.Equal(t, info.Events, len(st.GetEvents()), "replay info counts the events the status lists")
	assert.True(t, proto.Equal(result, st.GetResult()), "status result %v, the players' %v", st.GetResult(), result)
	for _, c := range players {
		// A player got the events to everyone and those to it (frames carry no recipients).
		var want []string
		for _, ev := range st.GetEvents() {
			if len(ev.GetTo()) == 0 || slices.Contains(ev.GetTo(), c.PlayerID()) {
				want = append(want, eventString(ev))
			}
		}
		assert.Equal(t, want, eventStrings(c.Events()), "player %d's events are the recording's", c.PlayerID())
	}
	require.NoError(t, v.Send(&pb.ClientMessage{Kind: &pb.ClientMessage_ReplayControl{ReplayControl: &pb.ReplayControl{
		Action: pb.ReplayAction_REPLAY_ACTION_SPEED, SpeedPct: 400}}}))
	require.NoError(t, v.WaitEvents(ctx, len(st.GetEvents())), "playing delivers every event")
	assert.Equal(t, eventStrings(st.GetEvents()), eventStrings(v.Events()))
}

// playBot plays for c until the connection ends and returns why it ended. After each frame
// it steers towards the nearest living enemy it sees until it is well within range, aims
// at it and holds fire, marking the input with the tick it saw (the game checks the shot
// against the enemy where it was then). With no enemy alive it walks to the middle of the
// field, to be in range of the enemy's respawn.
func playBot(ctx context.Context, c *client.Client) error {
	sc := c.Schema()
	field := func(name string) sim.Field {
		f, err := c.Field("player", name)
		if err != nil {
			panic(err) // the schema is skirmish's: a test bug
		}
		return f
	}
	player, err := c.Class("player")
	if err != nil {
		return err
	}
	owner, team, fx, fy, alive := field("player"), field("team"), field("x"), field("y"), field("alive")
	slot := map[string]int{}
	for i, in := range sc.Input() {
		slot[in.Name] = i
	}
	values := make([]int32, sc.NumInputs())
	me := c.PlayerID()
	var seen uint32
	for {
		if err := c.WaitTick(ctx, seen+1); err != nil {
			return err
		}
		send := false
		c.WithState(func(st *sim.State) {
			seen = st.Tick()
			var self sim.Entity
			for _, e := range client.Entities(st, player) {
				if uint32(st.Value(e, owner)) == me {
					self = e
				}
			}
			if self == 0 || st.Value(self, alive) == 0 {
				return // dead: the game ignores a dead player's moves
			}
			x, y := int64(st.Value(self, fx)), int64(st.Value(self, fy))
			var dx, dy, best int64
			found := false
			for _, e := range client.Entities(st, player) {
				if st.Value(e, team) == st.Value(self, team) || st.Value(e, alive) == 0 {
					continue
				}
				ex, ey := int64(st.Value(e, fx))-x, int64(st.Value(e, fy))-y
				if d := ex*ex + ey*ey; !found || d < best {
					dx, dy, best, found = ex, ey, d, true
				}
			}
			clear(values)
			send = true
			if !found { // no enemy to shoot: to the middle
				values[slot["move_x"]] = int32(max(min((skirmish.Width/2-x)/10, skirmish.MaxStick), -skirmish.MaxStick))
				values[slot["move_y"]] = int32(max(min((skirmish.Height/2-y)/10, skirmish.MaxStick), -skirmish.MaxStick))
				return
			}
			const near = 30 * skirmish.Scale // close enough: well inside ShotRange
			n := max(abs(dx), abs(dy), 1)
			if best > near*near {
				values[slot["move_x"]] = int32(dx * skirmish.MaxStick / n)
				values[slot["move_y"]] = int32(dy * skirmish.MaxStick / n)
			}
			values[slot["aim_x"]] = int32(dx * skirmish.MaxAim / n)
			values[slot["aim_y"]] = int32(dy * skirmish.MaxAim / n)
			if best < (skirmish.ShotRange-skirmish.Scale)*(skirmish.ShotRange-skirmish.Scale) {
				values[slot["fire"]] = 1
			}
		})
		if send {
			if _, err := c.SendInputAt(seen, 0, values...); err != nil {
				return c.Err() // the connection ended under us: say how
			}
		}
	}
}

func abs(v int64) int64 { return max(v, -v) }

// watchReplay joins a replay session and returns it with its first status, the one that
// carries the recording's marks, events and result. The client keeps only the last status and
// the session sends one every second while it plays: a test starved that long after the
// welcome sees a later one, so it joins a new session, which starts with its own first status.
func watchReplay(ctx context.Context, t *testing.T, url, room string) (*client.Client, *pb.ReplayStatus) {
	t.Helper()
	for {
		c, err := client.Dial(ctx, url, client.Options{Room: room})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		for {
			if st := c.ReplayStatus(); st != nil {
				if len(st.GetMarks()) > 0 { // the first one: a recording has joins
					return c, st
				}
				break
			}
			// A status wakes frame waiters but cannot be read from their predicate (it runs
			// under the lock ReplayStatus takes); the session plays, so frames keep coming.
			require.NoError(t, c.WaitTick(ctx, c.Tick()+1))
		}
		t.Log("missed the replay's first status: joining again")
		_ = c.Close()
	}
}

func eventString(ev *pb.GameEvent) string {
	return fmt.Sprintf("tick %d kind %d %v", ev.GetTick(), ev.GetKind(), ev.GetValues())
}

func eventStrings(evs []*pb.GameEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = eventString(ev)
	}
	return out
}

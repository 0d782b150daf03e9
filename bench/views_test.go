package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// TestScenarioViews: CV and D resolve to the plan's shapes and room configs, with every client
// decoding unless -decode says otherwise; -world and -view override them.
func TestScenarioViews(t *testing.T) {
	cv, err := scenario{Name: "cv"}.resolve()
	require.NoError(t, err)
	assert.Equal(t, scenario{Name: "CV", Entities: 5000, Clients: 100, Hz: 20, Rooms: 1, PlayersPerRoom: 100,
		Duration: 20 * time.Second, Warmup: 3 * time.Second, InputHz: 20, View: 250, DecodeAll: true}, cv)
	assert.Equal(t, map[string]int{"npcs": 5000, "view": 250}, cv.roomConfig(cv.Entities))

	d, err := scenario{Name: "D"}.resolve()
	require.NoError(t, err)
	assert.Equal(t, scenario{Name: "D", Entities: 20000, Clients: 500, Hz: 20, Rooms: 1, PlayersPerRoom: 500,
		Duration: 20 * time.Second, Warmup: 3 * time.Second, InputHz: 20, World: 4000, View: 400, DecodeAll: true}, d)
	assert.Equal(t, map[string]int{"npcs": 20000, "world": 4000, "view": 400}, d.roomConfig(d.Entities))

	c, err := scenario{Name: "C"}.resolve()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"npcs": 5000}, c.roomConfig(c.Entities), "no views: the config of before")
	assert.False(t, c.DecodeAll)

	small, err := scenario{Name: "D", Entities: 300, Clients: 4, World: 2000, View: 100}.resolve()
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"npcs": 300, "world": 2000, "view": 100}, small.roomConfig(small.Entities))

	_, err = scenario{Name: "CV", View: -1}.resolve()
	assert.Error(t, err)
	_, err = scenario{Name: "D", World: -5}.resolve()
	assert.Error(t, err)
	assert.Contains(t, scenarioNames, "C, CV, D, R")
}

// TestFlagsViews: in D and CV every load client decodes unless -decode is given; elsewhere
// the default stays 10; -world and -view reach the scenario.
func TestFlagsViews(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		decode int
	}{
		{[]string{"-scenario", "D"}, -1},
		{[]string{"-scenario", "cv"}, -1},
		{[]string{"-scenario", "D", "-decode", "3"}, 3},
		{[]string{"-scenario", "C"}, 10},
	} {
		o, err := parseFlags(tc.args, io.Discard)
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.decode, o.decode, "%q", tc.args)
	}
	o, err := parseFlags([]string{"-scenario", "B", "-world", "2000", "-view", "300"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 2000, o.sc.World)
	assert.Equal(t, 300, o.sc.View)
	_, err = parseFlags([]string{"-scenario", "CV", "-view", "-3"}, io.Discard)
	assert.Error(t, err)
}

// TestResultViewFields: the two view hash counts are always in the JSON line, world and view
// when set; the markdown shows them; a mismatch fails the run.
func TestResultViewFields(t *testing.T) {
	r := sampleResult()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, 0.0, m["view_hash_checks"])
	assert.Equal(t, 0.0, m["view_hash_mismatches"])
	assert.NotContains(t, m, "view")
	assert.NotContains(t, m, "world")
	require.NoError(t, r.failure())

	r.Scenario, r.World, r.View, r.DecodingClients = "D", 4000, 400, 500
	r.ViewHashChecks, r.ViewHashMismatches = 10000, 2
	b, err = json.Marshal(r)
	require.NoError(t, err)
	m = nil
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, 10000.0, m["view_hash_checks"])
	assert.Equal(t, 2.0, m["view_hash_mismatches"])
	assert.Equal(t, 4000.0, m["world"])
	assert.Equal(t, 400.0, m["view"])
	err = r.failure()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 view hash mismatches")

	var md bytes.Buffer
	writeMarkdown(&md, r)
	assert.Contains(t, md.String(), "| view hashes checked / mismatched | 10000 / 2 (500 decoding clients) |")
	assert.Contains(t, md.String(), "20s (+3s warm-up), each sees 400 × 400 of a 4000 × 4000 world |")
}

// TestFillSumsViewHashes: the result sums the load generators' checks and mismatches, and a
// mismatch leaves a note.
func TestFillSumsViewHashes(t *testing.T) {
	r := &rig{o: &options{sc: scenario{Hz: 20}}, stderr: io.Discard, coll: newStatsCollector()}
	res := &result{}
	r.fill(res, &measured{wall: time.Second, otherCPU: -1, reports: []loadReport{
		{Clients: 250, Decoders: 250, HashChecks: 2500},
		{Clients: 250, Decoders: 250, HashChecks: 2400, HashMismatches: 1},
	}})
	assert.Equal(t, int64(4900), res.ViewHashChecks)
	assert.Equal(t, int64(1), res.ViewHashMismatches)
	assert.Equal(t, 500, res.DecodingClients)
	assert.Contains(t, strings.Join(r.notes, "\n"), "1 view hash mismatches")
}

// TestAdminFollow: with views the admin connection follows its room's first player; without,
// it sees the whole world.
func TestAdminFollow(t *testing.T) {
	r := &rig{o: &options{sc: scenario{View: 400}}, player: 500}
	assert.Equal(t, uint32(501), r.adminFollow())
	r.o.sc.View = 0
	assert.Zero(t, r.adminFollow())
}

// countSession is a session whose counters the test sets.
type countSession struct {
	mu sync.Mutex
	k  counters
}

func (s *countSession) SendInput(...int32) (uint32, error) { return 0, nil }
func (s *countSession) Close()                             {}
func (s *countSession) Counters() counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.k
}

// TestLoadReportHashes: checks count in the window, mismatches since the join (one in the
// warm-up still shows).
func TestLoadReportHashes(t *testing.T) {
	s := &countSession{k: counters{HashChecks: 7, HashMismatches: 1}}
	lg := &loadgen{clients: []*loadClient{{sess: s, decoder: true}}}
	lg.start()
	s.mu.Lock()
	s.k.HashChecks = 12
	s.mu.Unlock()
	rep := lg.report()
	assert.Equal(t, int64(5), rep.HashChecks)
	assert.Equal(t, int64(1), rep.HashMismatches)
	assert.Equal(t, 1, rep.Decoders)
}

// viewServer welcomes a join with a one-class schema, sends a snapshot with its right hash,
// then a delta whose hash is wrong in room "bad" (right elsewhere). It keeps the joins.
type viewServer struct {
	gws.BuiltinEventHandler
	schema *sim.Schema
	mu     sync.Mutex
	joins  []*pb.Join
}

func (v *viewServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	var msg pb.ClientMessage
	if proto.Unmarshal(m.Bytes(), &msg) != nil || msg.GetJoin() == nil {
		return
	}
	j := msg.GetJoin()
	v.mu.Lock()
	v.joins = append(v.joins, j)
	v.mu.Unlock()
	st, in := v.schema.Proto()
	send := func(m *pb.ServerMessage) {
		b, _ := proto.Marshal(m)
		_ = c.WriteMessage(gws.OpcodeBinary, b)
	}
	send(&pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: &pb.Welcome{PlayerId: 1, Room: j.GetRoom(), TickRate: 20, State: st, Input: in, HashEvery: 1}}})
	mirror := sim.NewMirror(v.schema)
	for _, f := range []*pb.Frame{
		{Tick: 1, SpawnIds: []uint32{1}, SpawnClasses: []uint32{0}, SpawnValues: []int32{5}},
		{Tick: 2, BaselineTick: 1, UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{6}},
	} {
		if err := mirror.Apply(f); err != nil {
			panic(err)
		}
		h := mirror.State().Hash()
		if f.Tick == 2 && j.GetRoom() == "bad" {
			h ^= 1
		}
		f.ViewHash = &h
		send(&pb.ServerMessage{Kind: &pb.ServerMessage_Frame{Frame: f}})
	}
}

// TestSessionsCheckViewHashes: both load clients (client-go and the raw fallback) ask for
// views, count every view hash they check when decoding (none when counting only), and count
// a mismatch, which ends the session.
func TestSessionsCheckViewHashes(t *testing.T) {
	b := sim.NewSchemaBuilder()
	b.Class("dot").Int("x")
	schema, err := b.Build()
	require.NoError(t, err)
	vs := &viewServer{schema: schema}
	up := gws.NewUpgrader(vs, &gws.ServerOption{SubProtocols: []string{subprotocol}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := up.Upgrade(w, r); err == nil {
			go c.ReadLoop()
		}
	}))
	defer srv.Close()
	url := "ws://" + strings.TrimPrefix(srv.URL, "http://")

	for name, dial := range map[string]dialFunc{"go": dialGo, "raw": dialRaw} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			closed := make(chan error, 1)
			open := func(room string, decode bool) session {
				s, err := dial(ctx, dialConfig{URL: url, Room: room, Decode: decode, Follow: 3,
					OnClose: func(err error) { closed <- err }})
				require.NoError(t, err)
				t.Cleanup(s.Close)
				vs.mu.Lock()
				assert.True(t, vs.joins[len(vs.joins)-1].GetViews(), "the join asks for views")
				assert.Equal(t, uint32(3), vs.joins[len(vs.joins)-1].GetFollow())
				vs.mu.Unlock()
				return s
			}
			frames := func(s session, n uint64) func() bool {
				return func() bool { return s.Counters().Frames >= n }
			}

			// A session counts a frame when it arrives and its hash check after applying it,
			// so wait for both rather than reading the checks the moment the frames arrive.
			good := open("good", true)
			require.Eventually(t, func() bool {
				k := good.Counters()
				return k.Frames >= 2 && k.HashChecks >= 2
			}, 5*time.Second, time.Millisecond)
			k := good.Counters()
			assert.Equal(t, uint64(2), k.Frames)
			assert.Equal(t, uint64(2), k.HashChecks)
			assert.Zero(t, k.HashMismatches)

			counting := open("good", false)
			require.Eventually(t, frames(counting, 2), 5*time.Second, time.Millisecond)
			assert.Zero(t, counting.Counters().HashChecks, "a count-only session checks nothing")

			bad := open("bad", true)
			select {
			case err := <-closed:
				assert.Error(t, err)
				assert.False(t, errors.Is(err, context.DeadlineExceeded))
			case <-ctx.Done():
				t.Fatal("a mismatch did not end the session")
			}
			k = bad.Counters()
			assert.Equal(t, uint64(2), k.HashChecks)
			assert.Equal(t, uint64(1), k.HashMismatches)
		})
	}
}

// TestResultRecordings: a -record run's verified recordings are in the JSON and the table,
// and one that does not verify fails the run.
func TestResultRecordings(t *testing.T) {
	r := sampleResult()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "recordings")
	r.Recording, r.Recordings, r.RecordingsVerified = true, 1, 1
	require.NoError(t, r.failure())
	var md bytes.Buffer
	writeMarkdown(&md, r)
	assert.Contains(t, md.String(), "| recordings verified | 1 / 1 |")
	r.Recordings, r.RecordingErrors = 2, []string{"room-x.tsr: tick 40: hash differs"}
	err = r.failure()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 of 2 recordings do not verify")
}

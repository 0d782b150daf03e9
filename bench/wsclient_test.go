package bench

import (
	"context"
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
	"google.golang.org/protobuf/proto"
)

// echoServer is a minimal ticksync stand-in: it welcomes a join, then answers each input with
// a frame whose last_input_seq is that input's seq, and sends one Stats message.
type echoServer struct {
	gws.BuiltinEventHandler
	tick uint32
}

func (e *echoServer) send(c *gws.Conn, m *pb.ServerMessage) {
	b, _ := proto.Marshal(m)
	_ = c.WriteMessage(gws.OpcodeBinary, b)
}

func (e *echoServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	var msg pb.ClientMessage
	if proto.Unmarshal(m.Bytes(), &msg) != nil {
		return
	}
	switch k := msg.GetKind().(type) {
	case *pb.ClientMessage_Join:
		e.send(c, &pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: &pb.Welcome{PlayerId: 1, Room: k.Join.GetRoom(), TickRate: 20}}})
		e.send(c, &pb.ServerMessage{Kind: &pb.ServerMessage_Stats{Stats: &pb.Stats{Ticks: []*pb.TickWork{{Tick: 1, StepNs: 5}}}}})
	case *pb.ClientMessage_Input:
		e.tick++
		e.send(c, &pb.ServerMessage{Kind: &pb.ServerMessage_Frame{Frame: &pb.Frame{
			Tick: e.tick, BaselineTick: e.tick - 1, LastInputSeq: k.Input.GetSeq(), UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{int32(k.Input.GetSeq())},
		}}})
	}
}

func TestRawSession(t *testing.T) {
	up := gws.NewUpgrader(&echoServer{}, &gws.ServerOption{SubProtocols: []string{subprotocol}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	}))
	defer srv.Close()

	var mu sync.Mutex
	applied := map[uint32]time.Duration{}
	stats := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := dialRaw(ctx, dialConfig{
		URL: "ws://" + strings.TrimPrefix(srv.URL, "http://"), Room: "r1",
		OnApplied: func(seq uint32, rtt time.Duration) { mu.Lock(); applied[seq] = rtt; mu.Unlock() },
		OnStats:   func(*pb.Stats) { mu.Lock(); stats++; mu.Unlock() },
	})
	require.NoError(t, err)
	defer s.Close()
	for want := uint32(1); want <= 3; want++ {
		seq, err := s.SendInput(100, -100)
		require.NoError(t, err)
		assert.Equal(t, want, seq)
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(applied) == 3 }, 5*time.Second, 5*time.Millisecond)
	mu.Lock()
	for seq, rtt := range applied {
		assert.Greater(t, rtt, time.Duration(0), "seq %d", seq)
	}
	assert.Equal(t, 1, stats)
	mu.Unlock()
	k := s.Counters()
	assert.Equal(t, uint64(3), k.Frames)
	assert.Equal(t, uint64(5), k.Messages, "welcome, stats, 3 frames")
	assert.Greater(t, k.FirstFrameBytes, uint64(0))
	assert.Greater(t, k.Bytes, k.FirstFrameBytes)
}

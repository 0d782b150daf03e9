package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
	client "github.com/ticksync/ticksync/client-go"
)

// TestServeAgonesDrains: serve -agones against a fake sidecar found through
// AGONES_SDK_HTTP_PORT: Ready once listening, a join-created room in the List; a cancel (as
// SIGTERM does) drains: /healthz 503 "draining" while the player stays, then, once it leaves,
// the shutdown, the List emptied, SDK Shutdown and exit 0.
func TestServeAgonesDrains(t *testing.T) {
	sc := agonestest.NewSidecar(t, agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: "gs-1"},
		Status: agones.Status{
			Lists:    map[string]agones.ListStatus{"rooms": {Capacity: 10}},
			Counters: map[string]agones.CounterStatus{"players": {Capacity: 100}},
		},
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer wcancel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-log-level", "warn", "-record-dir", t.TempDir(),
			"-agones", "-agones-health", "50ms", "-drain-grace", "1m", "-max-rooms", "8"},
			env(map[string]string{"AGONES_SDK_HTTP_PORT": sc.Port()}), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, stderr.String())
	go io.Copy(io.Discard, pr)
	addr := strings.TrimPrefix(strings.Fields(line)[3], "http://")
	require.NoError(t, sc.WaitState(wctx, agones.StateReady))
	assert.Equal(t, int64(8), sc.GameServer().Status.Lists["rooms"].Capacity, "-max-rooms is the List's capacity")

	c, err := client.Dial(wctx, "ws://"+addr+"/ws", client.Options{Room: "c1", CreateIfMissing: true})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, sc.WaitFor(wctx, func(gs agones.GameServer) bool {
		return slices.Contains(gs.Status.Lists["rooms"].Values, "c1")
	}))

	cancel() // SIGTERM
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && string(b) == "draining\n"
	}, 10*time.Second, 5*time.Millisecond, "/healthz says draining while the player stays")
	select {
	case c := <-code:
		t.Fatalf("serve exited (%d) with a player in and a minute of grace left: %s", c, stderr.String())
	default:
	}
	require.NoError(t, c.Leave())
	select {
	case c := <-code:
		assert.Equal(t, 0, c, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop once the last player left")
	}
	gs := sc.GameServer()
	assert.Equal(t, agones.StateShutdown, gs.Status.State)
	assert.Empty(t, gs.Status.Lists["rooms"].Values)
}

func TestServeAgonesFlags(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"serve", "-h"}, env(nil), &out, &errb))
	for _, f := range []string{"-agones", "-agones-sdk", "-agones-list", "-agones-counter", "-agones-game",
		"-agones-join-deadline", "-agones-idle", "-agones-idle-action", "-agones-health", "-drain-grace"} {
		assert.Regexp(t, `(?m)^  `+f+`( |$)`, errb.String(), f)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-agones", "-agones-idle-action", "sleep"}, `idle action "sleep"`},
		{[]string{"-agones", "-agones-game", "chess"}, `-agones-game "chess"`},
	} {
		errb.Reset()
		assert.Equal(t, 2, run(context.Background(), append([]string{"serve"}, tc.args...), env(nil), &out, &errb))
		assert.Contains(t, errb.String(), tc.want)
	}
}

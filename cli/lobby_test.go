package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/lobby"
)

// TestLobbyStartsAnswersStops runs `lobby -allocator-url` against a fake fleet of one server
// (fleet "duel", list "matches": the flags reach the allocation), creates a room through it,
// then cancels (as SIGTERM does) and expects a clean exit.
func TestLobbyStartsAnswersStops(t *testing.T) {
	gs := agonestest.NewSidecar(t, agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: "duel-1", Namespace: "games", Labels: map[string]string{lobby.FleetLabel: "duel"}},
		Status: agones.Status{State: agones.StateReady, Address: "192.0.2.7", Ports: []agones.Port{{Name: "game", Port: 7350}},
			Lists: map[string]agones.ListStatus{"matches": {Capacity: 4}}},
	})
	fake := agonestest.NewAllocator(t, "games", gs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"lobby", "-addr", "127.0.0.1:0", "-allocator-url", fake.URL(), "-namespace", "games",
			"-fleet", "duel", "-list", "matches", "-port-name", "game", "-public-scheme", "wss", "-token-ttl", "2m", "-log-level", "warn"},
			env(map[string]string{auth.EnvSecret: secret}), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err, stderr.String())
	require.True(t, strings.HasPrefix(line, "ticksync lobby serving on http://127.0.0.1:"), line)
	assert.Contains(t, line, "(fleet duel, namespace games)")
	base := strings.Fields(line)[4]
	go io.Copy(io.Discard, pr)

	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	res, err = http.Post(base+"/v1/rooms", "application/json", strings.NewReader(`{"config":{"mode":"duel"}}`))
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(body))
	var room lobby.Room
	require.NoError(t, json.Unmarshal(body, &room))
	assert.Equal(t, "wss://192.0.2.7:7350/ws", room.URL)
	cl, err := auth.Verify([]byte(secret), room.Token, time.Now())
	require.NoError(t, err)
	assert.Equal(t, room.Room, cl.Room)
	assert.InDelta(t, time.Now().Add(2*time.Minute).Unix(), cl.Expiry, 2)
	got := gs.GameServer()
	assert.Equal(t, []string{room.Room}, got.Status.Lists["matches"].Values)
	assert.Equal(t, `{"mode":"duel"}`, got.ObjectMeta.Annotations[lobby.ConfigAnnotationPrefix+room.Room])

	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("lobby did not stop")
	}
}

func TestLobbyRefusals(t *testing.T) {
	withSecret := map[string]string{auth.EnvSecret: secret}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"needs a secret", []string{"-allocator-url", "http://127.0.0.1:1"}, nil, "needs the game servers' secret"},
		{"weak secret", []string{"-allocator-url", "http://127.0.0.1:1"}, map[string]string{auth.EnvSecret: "short"}, "too short"},
		{"bad scheme", []string{"-allocator-url", "http://127.0.0.1:1", "-public-scheme", "https"}, withSecret, "want ws or wss"},
		{"bad log level", []string{"-allocator-url", "http://127.0.0.1:1", "-log-level", "loud"}, withSecret, "log-level"},
		{"arguments", []string{"-allocator-url", "http://127.0.0.1:1", "extra"}, withSecret, "unexpected arguments"},
	}
	if _, err := os.Stat(lobby.ServiceAccountDir); os.IsNotExist(err) {
		cases = append(cases, struct {
			name string
			args []string
			env  map[string]string
			want string
		}{"outside a cluster", nil, withSecret, "pass -allocator-url"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			c := run(context.Background(), append([]string{"lobby", "-addr", "127.0.0.1:0"}, tc.args...), env(tc.env), &out, &errb)
			assert.Equal(t, 2, c)
			assert.Contains(t, errb.String(), "ticksync lobby: ")
			assert.Contains(t, errb.String(), tc.want)
			assert.Empty(t, out.String(), "nothing served")
		})
	}
}

func TestLobbyHelpExplainsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"lobby", "-h"}, env(nil), &out, &errb))
	for _, f := range []string{"-addr", "-allocator-url", "-namespace", "-fleet", "-list", "-port-name", "-public-scheme",
		"-auth-secret-file", "-token-ttl", "-log-level", "-log-format"} {
		assert.Contains(t, errb.String(), "  "+f+" ", f)
	}
	for _, def := range []string{`(default ":8081")`, `(default "ticksync")`, `(default "rooms")`, `(default "default")`, `(default "ws")`, `(default 1m0s)`} {
		assert.Contains(t, errb.String(), def)
	}
	errb.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"help"}, env(nil), &out, &errb))
	assert.Contains(t, errb.String(), "  lobby    the room directory of a fleet on Agones")
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim/arena"
)

const secret = "0123456789abcdef0123456789abcdef"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// testProgram is the program the tests run: named ticksync, with arena, no pages.
func testProgram() *Program {
	games := server.NewRegistry()
	if err := games.Register(arena.Name, arena.New); err != nil {
		panic(err)
	}
	return &Program{Name: "ticksync", Games: games}
}

// run runs testProgram with args.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	return testProgram().Run(ctx, args, env, stdout, stderr)
}

// TestServePrintsAddressAndShutsDown starts serve on 127.0.0.1:0, reads the bound address it
// prints, checks /healthz, then cancels (as SIGTERM does) and expects a clean exit.
func TestServePrintsAddressAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-log-level", "warn"}, env(nil), pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "ticksync serving on http://127.0.0.1:"), line)
	url := strings.Fields(line)[3]
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	go io.Copy(io.Discard, pr)
	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeRefusals(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"anonymous by default only on loopback", []string{"-addr", "0.0.0.0:0"}, nil, "not loopback"},
		{"token mode needs a secret", []string{"-auth", "token"}, nil, "needs a secret"},
		{"weak secret", []string{"-auth", "token"}, map[string]string{auth.EnvSecret: "short"}, "too short"},
		{"bad mode", []string{"-auth", "open"}, nil, "want anonymous or token"},
		{"bad tick rate", []string{"-tick-rate", "500"}, nil, "tick rate"},
		{"bad log level", []string{"-log-level", "loud"}, nil, "log-level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			c := run(context.Background(), append([]string{"serve"}, tc.args...), env(tc.env), &out, &errb)
			assert.Equal(t, 2, c)
			assert.Contains(t, errb.String(), tc.want)
		})
	}
}

func TestServeHelpExplainsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"serve", "-h"}, env(nil), &out, &errb))
	for _, f := range []string{"-addr", "-auth", "-auth-secret-file", "-allow-origin", "-tick-rate", "-max-catchup",
		"-ring", "-hash-every", "-max-rooms", "-max-players", "-max-conns", "-max-conns-per-ip", "-max-seats-per-ip", "-max-msg-bytes",
		"-header-timeout", "-max-header-bytes", "-inbox", "-inputs-per-tick", "-input-rate", "-input-burst",
		"-input-bytes", "-write-timeout", "-max-lag", "-send-buffer", "-ping-interval", "-pong-timeout", "-join-timeout",
		"-reconnect-grace", "-room-grace", "-shutdown-timeout", "-log-level", "-log-format"} {
		assert.Contains(t, errb.String(), "  "+f+" ", f)
	}
	assert.Contains(t, errb.String(), `(default "127.0.0.1:8080")`)
}

func TestToken(t *testing.T) {
	var out, errb bytes.Buffer
	c := run(context.Background(), []string{"token", "-room", "duel", "-player", "7", "-ttl", "2m"}, env(map[string]string{auth.EnvSecret: secret}), &out, &errb)
	require.Equal(t, 0, c, errb.String())
	cl, err := auth.Verify([]byte(secret), strings.TrimSpace(out.String()), time.Now())
	require.NoError(t, err)
	assert.Equal(t, "duel", cl.Room)
	assert.Equal(t, uint32(7), cl.Player)
	assert.Equal(t, auth.RolePlayer, cl.Role)
	assert.Equal(t, auth.KindJoin, cl.Kind)
	assert.InDelta(t, time.Now().Add(2*time.Minute).Unix(), cl.Expiry, 2)

	out.Reset()
	errb.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"token", "-room", "duel"}, env(map[string]string{auth.EnvSecret: secret}), &out, &errb), "a player token needs a player id")
	assert.Equal(t, 2, run(context.Background(), []string{"token", "-room", "duel", "-player", "1"}, env(nil), &out, &errb), "no secret")

	// A game-scoped token: every room of one game (quick play); room * without a game is admin only.
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"token", "-room", "*", "-game", "arena", "-player", "3"}, env(map[string]string{auth.EnvSecret: secret}), &out, &errb), errb.String())
	cl, err = auth.Verify([]byte(secret), strings.TrimSpace(out.String()), time.Now())
	require.NoError(t, err)
	assert.Equal(t, auth.Claims{Kind: auth.KindJoin, Room: auth.AnyRoom, Game: "arena", Player: 3, Role: auth.RolePlayer, Expiry: cl.Expiry}, cl)
	errb.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"token", "-room", "*", "-player", "3"}, env(map[string]string{auth.EnvSecret: secret}), &out, &errb))
	assert.Contains(t, errb.String(), "room * needs a game")
}

func TestDispatch(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), nil, env(nil), &out, &errb))
	assert.Contains(t, errb.String(), "serve")
	assert.Equal(t, 2, run(context.Background(), []string{"bogus"}, env(nil), &out, &errb))
	assert.Equal(t, 0, run(context.Background(), []string{"help"}, env(nil), &out, &errb))
}

// TestProgramOwnCommandsAndName: a program's own commands are listed and dispatched beside
// the built-in ones, and its name is the one its usage, errors and serving line say.
func TestProgramOwnCommandsAndName(t *testing.T) {
	var got []string
	p := testProgram()
	p.Name = "duel"
	p.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "duel page "+r.URL.Path) })
	p.Commands = []Command{{Name: "matchmaker", Summary: "run the matchmaker", Run: func(_ context.Context, args []string, _ func(string) string, _, _ io.Writer) int {
		got = args
		return 7
	}}}
	var out, errb bytes.Buffer
	assert.Equal(t, 7, p.Run(context.Background(), []string{"matchmaker", "-x"}, env(nil), &out, &errb))
	assert.Equal(t, []string{"-x"}, got)
	assert.Equal(t, 0, p.Run(context.Background(), []string{"help"}, env(nil), &out, &errb))
	for _, want := range []string{"usage: duel <command>", "  serve ", "  token ", "  replay ", "  matchmaker run the matchmaker"} {
		assert.Contains(t, errb.String(), want)
	}
	errb.Reset()
	assert.Equal(t, 2, p.Run(context.Background(), []string{"token", "-room", "r"}, env(nil), &out, &errb))
	assert.Contains(t, errb.String(), "duel token:")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- p.Run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-log-level", "warn", "-record=false"}, env(nil), pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(line, "duel serving on http://127.0.0.1:"), line)
	go io.Copy(io.Discard, pr)
	// The program's pages, and beside them the replay viewer every program serves.
	base := strings.TrimSpace(strings.TrimPrefix(line, "duel serving on "))
	base = strings.Fields(base)[0]
	for path, want := range map[string]string{"/": "duel page /", "/style.css": "duel page /style.css", "/replay": "<title>ticksync · replay</title>"} {
		res, err := http.Get(strings.TrimSuffix(base, "/") + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Contains(t, string(body), want, path)
	}
	cancel()
	select {
	case c := <-code:
		assert.Equal(t, 0, c)
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

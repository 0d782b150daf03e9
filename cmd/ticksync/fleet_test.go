package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
	client "github.com/ticksync/ticksync/client-go"
)

// A fleet on one machine: three `ticksync serve -agones` processes, each beside its own fake
// SDK sidecar (agonestest.Sidecar, the documented state machine), the fake allocator over the
// three (agonestest.Allocator: the GameServerAllocation selectors and priorities) and a
// `ticksync lobby` process that allocates through it. Everything the processes do goes
// through real sockets, real signals and real recording files.

const fleetSecret = "fleet-test-secret-0123456789abcdef"

// fleetProc is a child process and the first line it printed on stdout.
type fleetProc struct {
	cmd   *exec.Cmd
	first string
	done  chan struct{} // closed when it has exited
	err   error         // Wait's, once done is closed
}

// startProc runs bin with args and the fleet's secret, and waits for its first stdout line.
func startProc(t *testing.T, bin string, args ...string) *fleetProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TICKSYNC_AUTH_SECRET="+fleetSecret)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &fleetProc{cmd: cmd, done: make(chan struct{})}
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "%v: no first line", args)
	p.first = strings.TrimSpace(line)
	go func() {
		_, _ = io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// addr returns the host:port in the first line ("… serving on http://HOST:PORT …").
func (p *fleetProc) addr(t *testing.T) string {
	t.Helper()
	for _, f := range strings.Fields(p.first) {
		if strings.HasPrefix(f, "http://") {
			return strings.TrimPrefix(f, "http://")
		}
	}
	t.Fatalf("no address in %q", p.first)
	return ""
}

// lobbyRoom is the lobby's answer.
type lobbyRoom struct {
	Room, URL, Token string
}

func lobbyCall(t *testing.T, method, url string) (int, lobbyRoom) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var r lobbyRoom
	if res.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(body, &r), string(body))
	}
	return res.StatusCode, r
}

func fleetCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestFleetOnOneMachine: rooms created through the lobby are packed fullest first; two clients
// asking the lobby for room X land on the same server and in the same room; a server that gets
// SIGTERM drains (its clients get 1001 after the drain grace, its rooms leave its list, it calls
// Shutdown, its recordings verify) and new rooms go elsewhere meanwhile. The transcript (calls
// per server, where each room went) is logged (go test -v -run TestFleetOnOneMachine).
func TestFleetOnOneMachine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs five processes")
	}
	bin := filepath.Join(t.TempDir(), "ticksync")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	names := []string{"gs-0", "gs-1", "gs-2"}
	sidecars := map[string]*agonestest.Sidecar{}
	servers := map[string]*fleetProc{}
	dirs := map[string]string{}
	byURL := map[string]string{} // ws URL → GameServer name
	for _, name := range names {
		sc := agonestest.NewSidecar(t, agones.GameServer{
			ObjectMeta: agones.ObjectMeta{Name: name, Namespace: "games", Labels: map[string]string{"agones.dev/fleet": "ticksync"}},
			Status: agones.Status{
				State:    agones.StateScheduled,
				Lists:    map[string]agones.ListStatus{"rooms": {Capacity: 10}},
				Counters: map[string]agones.CounterStatus{"players": {Capacity: 100}},
			},
		})
		dirs[name] = t.TempDir()
		p := startProc(t, bin, "serve", "-agones", "-agones-sdk", sc.URL(), "-addr", "127.0.0.1:0", "-auth", "token",
			"-max-rooms", "3", "-drain-grace", "3s", "-agones-health", "200ms", "-record-dir", dirs[name])
		host, port, err := net.SplitHostPort(p.addr(t))
		require.NoError(t, err)
		n, err := strconv.Atoi(port)
		require.NoError(t, err)
		sc.SetAddress(host, int32(n)) // Agones would have given the pod its address and port
		sidecars[name], servers[name] = sc, p
		byURL[fmt.Sprintf("ws://%s:%d/ws", host, n)] = name
	}
	for _, name := range names {
		require.NoError(t, sidecars[name].WaitState(fleetCtx(t), agones.StateReady), name)
		gs := sidecars[name].GameServer()
		require.Equal(t, int64(3), gs.Status.Lists["rooms"].Capacity, "the server set its list's capacity to -max-rooms")
		require.NotEmpty(t, gs.Status.Ports)
	}
	alloc := agonestest.NewAllocator(t, "games", sidecars["gs-0"], sidecars["gs-1"], sidecars["gs-2"])
	lobby := startProc(t, bin, "lobby", "-addr", "127.0.0.1:0", "-allocator-url", alloc.URL(), "-namespace", "games")
	lobbyURL := "http://" + lobby.addr(t)

	// Four rooms: packed (fullest first) three on one server, the fourth on a second, the third
	// server left Ready.
	placed := map[string]string{} // room → server
	var rooms []string
	for range 4 {
		code, r := lobbyCall(t, http.MethodPost, lobbyURL+"/v1/rooms")
		require.Equal(t, http.StatusCreated, code)
		require.Contains(t, byURL, r.URL)
		placed[r.Room] = byURL[r.URL]
		rooms = append(rooms, r.Room)
	}
	first, second := placed[rooms[0]], placed[rooms[3]]
	assert.Equal(t, first, placed[rooms[1]], "the second room joins the first on its server")
	assert.Equal(t, first, placed[rooms[2]])
	assert.NotEqual(t, first, second, "a full server is skipped")
	idle := ""
	for _, name := range names {
		if name != first && name != second {
			idle = name
		}
	}
	assert.Equal(t, agones.StateReady, sidecars[idle].GameServer().Status.State, "the third server holds nothing")

	// Two clients ask the lobby for room X: the same server, the same room.
	x := rooms[3]
	var clients []*client.Client
	for range 2 {
		code, r := lobbyCall(t, http.MethodGet, lobbyURL+"/v1/rooms/"+x)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, second, byURL[r.URL])
		c, err := client.Dial(fleetCtx(t), r.URL, client.Options{Room: r.Room, Token: r.Token})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		assert.Equal(t, x, c.Welcome().GetRoom())
		clients = append(clients, c)
	}
	assert.NotEqual(t, clients[0].PlayerID(), clients[1].PlayerID())
	require.NoError(t, sidecars[second].WaitFor(fleetCtx(t), func(gs agones.GameServer) bool {
		return gs.Status.Counters["players"].Count == 2
	}), "the players counter")

	// SIGTERM to the second server, the fullest with a free slot: it drains, labelled so that
	// the lobby sends no new room there.
	require.NoError(t, servers[second].cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, sidecars[second].WaitFor(fleetCtx(t), func(gs agones.GameServer) bool {
		return gs.ObjectMeta.Labels["agones.dev/sdk-draining"] == "true"
	}))
	code, r := lobbyCall(t, http.MethodPost, lobbyURL+"/v1/rooms")
	require.Equal(t, http.StatusCreated, code)
	placed[r.Room] = byURL[r.URL]
	rooms = append(rooms, r.Room)
	assert.Equal(t, idle, placed[r.Room], "while the second server drains, a new room goes to the idle one (the first is full)")
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-fleetCtx(t).Done():
			t.Fatal("a client of the drained server was not closed")
		}
		assert.Equal(t, uint16(1001), c.CloseInfo().Code)
	}
	select {
	case <-servers[second].done:
		require.NoError(t, servers[second].err, "serve exits 0 after a clean drain")
	case <-fleetCtx(t).Done():
		t.Fatal("the drained server did not exit")
	}
	gs := sidecars[second].GameServer()
	assert.Empty(t, gs.Status.Lists["rooms"].Values, "its rooms left the list")
	assert.Equal(t, agones.StateShutdown, gs.Status.State)
	assert.Zero(t, gs.Status.Counters["players"].Count)

	files, err := filepath.Glob(filepath.Join(dirs[second], "*.tsrec"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		out, err := exec.Command(bin, "replay", "verify", f).CombinedOutput()
		assert.NoError(t, err, "replay verify %s: %s", f, out)
	}
	// The room a client asked for afterwards is gone with its server.
	code, _ = lobbyCall(t, http.MethodGet, lobbyURL+"/v1/rooms/"+x)
	assert.Equal(t, http.StatusNotFound, code)

	// The transcript: where each room went, and the SDK calls each server made.
	for i, room := range rooms {
		t.Logf("room %d %s → %s", i+1, room, placed[room])
	}
	for _, name := range names {
		calls := map[string]int{}
		for _, req := range sidecars[name].Requests() {
			calls[req.Method+" "+req.Path]++
		}
		keys := make([]string, 0, len(calls))
		for k := range calls {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, calls[k]))
		}
		t.Logf("%s (%s): %s", name, sidecars[name].GameServer().Status.State, strings.Join(parts, ", "))
	}
}

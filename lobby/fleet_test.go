package lobby

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
)

// gameServer starts a fake sidecar for a Ready GameServer of fleet "ticksync" at addr:port
// whose list "rooms" holds up to capacity rooms.
func gameServer(t *testing.T, name, addr string, port int32, capacity int64) *agonestest.Sidecar {
	return agonestest.NewSidecar(t, agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: name, Namespace: "games", Labels: map[string]string{FleetLabel: "ticksync"}},
		Status: agones.Status{
			State: agones.StateReady, Address: addr, Ports: []agones.Port{{Name: "default", Port: port}},
			Lists: map[string]agones.ListStatus{"rooms": {Capacity: capacity}},
		},
	})
}

// fleetAllocator is the lobby's client of the fake allocator at rawURL.
func fleetAllocator(rawURL string) *Allocator {
	return &Allocator{URL: rawURL, Namespace: "games", Backoff: time.Millisecond}
}

// TestFleet plays the lobby against a fake fleet of two servers with two room slots each: new
// rooms go to the fullest server with a free slot (the first two to one server, the next two to
// the other), then 503; each room is found again on its server, as often as asked, with a
// fresh token; an unknown room is 404; a room's config lands in its server's annotation.
func TestFleet(t *testing.T) {
	gsA := gameServer(t, "gs-a", "10.0.0.1", 7001, 2)
	gsB := gameServer(t, "gs-b", "10.0.0.2", 7002, 2)
	fake := agonestest.NewAllocator(t, "games", gsA, gsB)
	base, logs := newLobby(t, fleetAllocator(fake.URL()), nil)
	byURL := map[string]*agonestest.Sidecar{"ws://10.0.0.1:7001/ws": gsA, "ws://10.0.0.2:7002/ws": gsB}

	create := func(body string) Room {
		t.Helper()
		code, b, _ := call(t, http.MethodPost, base+"/v1/rooms", body)
		require.Equal(t, http.StatusCreated, code, b)
		r, _ := decodeRoom(t, b)
		require.True(t, ValidRoomID(r.Room), r.Room)
		require.Contains(t, byURL, r.URL)
		return r
	}
	r1 := create(`{"config": {"world": 300, "npcs": 3}}`)
	r2 := create("")
	r3 := create(`{"config": null}`)
	r4 := create(`{}`)
	first, other := byURL[r1.URL], byURL[r3.URL]
	assert.Equal(t, r1.URL, r2.URL, "the second room goes to the server already running one")
	assert.NotEqual(t, r1.URL, r3.URL, "the third room goes to the other server")
	assert.Equal(t, r3.URL, r4.URL)
	assert.Len(t, map[string]bool{r1.Room: true, r2.Room: true, r3.Room: true, r4.Room: true}, 4, "fresh ids")

	// The allocation the lobby sent for the first room, as docs/fleet.md shows it.
	reqs := fake.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, agonestest.AllocationPath("games"), reqs[0].Path)
	assert.JSONEq(t, `{"apiVersion":"allocation.agones.dev/v1","kind":"GameServerAllocation","spec":{
		"selectors":[
			{"matchLabels":{"agones.dev/fleet":"ticksync"},"matchExpressions":[{"key":"agones.dev/sdk-draining","operator":"DoesNotExist"}],"gameServerState":"Allocated","lists":{"rooms":{"minAvailable":1}}},
			{"matchLabels":{"agones.dev/fleet":"ticksync"},"matchExpressions":[{"key":"agones.dev/sdk-draining","operator":"DoesNotExist"}],"gameServerState":"Ready","lists":{"rooms":{"minAvailable":1}}}],
		"priorities":[{"type":"List","key":"rooms","order":"Ascending"}],
		"lists":{"rooms":{"addValues":["`+r1.Room+`"]}},
		"metadata":{"annotations":{"config.ticksync.dev/`+r1.Room+`":"{\"world\":300,\"npcs\":3}"}}}}`, reqs[0].Body)

	// No free slot left: 503 with Retry-After, nothing changed.
	code, body, h := call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no game server has a free room slot")
	assert.Equal(t, "5", h.Get("Retry-After"))

	// Each server's list holds its rooms, and it is Allocated; the config is its annotation.
	for s, rooms := range map[*agonestest.Sidecar][]string{first: {r1.Room, r2.Room}, other: {r3.Room, r4.Room}} {
		gs := s.GameServer()
		assert.Equal(t, agones.StateAllocated, gs.Status.State, gs.ObjectMeta.Name)
		assert.ElementsMatch(t, rooms, gs.Status.Lists["rooms"].Values, gs.ObjectMeta.Name)
	}
	ann := first.GameServer().ObjectMeta.Annotations
	assert.Equal(t, `{"world":300,"npcs":3}`, ann[ConfigAnnotationPrefix+r1.Room], "compact JSON, key order kept")
	assert.NotContains(t, ann, ConfigAnnotationPrefix+r2.Room, "no config: no annotation (the game's defaults)")
	assert.NotContains(t, other.GameServer().ObjectMeta.Annotations, ConfigAnnotationPrefix+r3.Room)

	// Found again, twice, on the same server with a fresh token; nothing is added to a list.
	for _, r := range []Room{r1, r1, r4} {
		code, b, _ := call(t, http.MethodGet, base+"/v1/rooms/"+r.Room, "")
		require.Equal(t, http.StatusOK, code, b)
		got, _ := decodeRoom(t, b)
		assert.Equal(t, r.Room, got.Room)
		assert.Equal(t, r.URL, got.URL)
	}
	assert.Len(t, first.GameServer().Status.Lists["rooms"].Values, 2)
	assert.Len(t, other.GameServer().Status.Lists["rooms"].Values, 2)

	code, body, _ = call(t, http.MethodGet, base+"/v1/rooms/"+NewRoomID(), "")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Equal(t, "room not found\n", body)

	// One log line per allocation names the room, the server and the time taken.
	assert.Regexp(t, `msg="room allocated" op=create room=`+r1.Room+` took=\S+ server=`+first.Name(), logs.String())
	assert.Regexp(t, `msg="room found" op=find room=`+r4.Room+` took=\S+ server=`+other.Name(), logs.String())
	_, metrics, _ := call(t, http.MethodGet, base+"/metrics", "")
	for _, want := range []string{`{op="create",result="allocated"} 4`, `{op="create",result="unallocated"} 1`,
		`{op="find",result="allocated"} 3`, `{op="find",result="unallocated"} 1`} {
		assert.Contains(t, metrics, "ticksync_lobby_allocations_total"+want)
	}
}

// TestFleetFullestFirst: among the servers already running rooms, the one with the fewest free
// slots gets the new room (not the first by name); an idle server only when none has a slot.
func TestFleetFullestFirst(t *testing.T) {
	gsA := gameServer(t, "gs-a", "10.0.0.1", 7001, 3)
	gsB := gameServer(t, "gs-b", "10.0.0.2", 7002, 3)
	gsC := gameServer(t, "gs-c", "10.0.0.3", 7003, 3)
	all := agonestest.Selector{}
	require.True(t, gsA.TryAllocate(all, map[string][]string{"rooms": {"x"}}, nil))
	require.True(t, gsB.TryAllocate(all, map[string][]string{"rooms": {"y", "z"}}, nil))
	fake := agonestest.NewAllocator(t, "games", gsA, gsB, gsC)
	base, _ := newLobby(t, fleetAllocator(fake.URL()), nil)
	var got []string
	for range 5 {
		code, b, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
		require.Equal(t, http.StatusCreated, code, b)
		r, _ := decodeRoom(t, b)
		got = append(got, r.URL)
	}
	assert.Equal(t, []string{"ws://10.0.0.2:7002/ws", "ws://10.0.0.1:7001/ws", "ws://10.0.0.1:7001/ws",
		"ws://10.0.0.3:7003/ws", "ws://10.0.0.3:7003/ws"}, got)
}

// TestFleetOtherFleetAndList: the lobby allocates only from its own fleet, and uses its list.
func TestFleetOtherFleetAndList(t *testing.T) {
	gs := gameServer(t, "gs-a", "10.0.0.1", 7001, 2)
	fake := agonestest.NewAllocator(t, "games", gs)
	base, _ := newLobby(t, fleetAllocator(fake.URL()), func(c *Config) { c.Fleet = "other" })
	code, _, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	base, _ = newLobby(t, fleetAllocator(fake.URL()), func(c *Config) { c.List = "matches" })
	code, _, _ = call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "no server has a list named matches")
	assert.Empty(t, gs.GameServer().Status.Lists["rooms"].Values)
}

// TestFleetContention: an allocation answered Contention is retried until it is allocated.
func TestFleetContention(t *testing.T) {
	gs := gameServer(t, "gs-a", "10.0.0.1", 7001, 2)
	fake := agonestest.NewAllocator(t, "games", gs)
	target, err := url.Parse(fake.URL())
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var seen atomic.Int32
	contended := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= 2 { // the first two lose a race to another allocation
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"apiVersion":"allocation.agones.dev/v1","kind":"GameServerAllocation","status":{"state":"Contention"}}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer contended.Close()
	base, _ := newLobby(t, fleetAllocator(contended.URL), nil)
	code, body, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
	require.Equal(t, http.StatusCreated, code, body)
	r, _ := decodeRoom(t, body)
	assert.Equal(t, int32(3), seen.Load())
	assert.Equal(t, []string{r.Room}, gs.GameServer().Status.Lists["rooms"].Values)

	// Contention every time: 503 after the attempts, with Retry-After.
	seen.Store(-100)
	code, body, h := call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Equal(t, "1", h.Get("Retry-After"))
	assert.Equal(t, int32(-95), seen.Load(), "5 attempts")
	assert.True(t, strings.Contains(body, "busy"), body)
}

// TestFleetSkipsDrainingServers: a server that labelled itself draining (agonesmode, on
// SIGTERM) gets no new room, even when it is the fullest with a free slot; its rooms are still
// found.
func TestFleetSkipsDrainingServers(t *testing.T) {
	gsA := gameServer(t, "gs-a", "10.0.0.1", 7001, 4)
	gsB := gameServer(t, "gs-b", "10.0.0.2", 7002, 4)
	fake := agonestest.NewAllocator(t, "games", gsA, gsB)
	base, _ := newLobby(t, fleetAllocator(fake.URL()), nil)
	code, b, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
	require.Equal(t, http.StatusCreated, code, b)
	first, _ := decodeRoom(t, b)
	assert.Equal(t, "ws://10.0.0.1:7001/ws", first.URL)
	gsA.Update(func(gs *agones.GameServer) { gs.ObjectMeta.Labels[DrainingLabel] = "true" })
	code, b, _ = call(t, http.MethodPost, base+"/v1/rooms", "")
	require.Equal(t, http.StatusCreated, code, b)
	second, _ := decodeRoom(t, b)
	assert.Equal(t, "ws://10.0.0.2:7002/ws", second.URL, "not the draining server, though it is the fullest")
	code, b, _ = call(t, http.MethodGet, base+"/v1/rooms/"+first.Room, "")
	require.Equal(t, http.StatusOK, code, b)
}

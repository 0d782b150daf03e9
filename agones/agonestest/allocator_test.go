package agonestest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
)

const fleetLabel = "agones.dev/fleet"

func server(name, state string, capacity int64, rooms ...string) agones.GameServer {
	return agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: name, Namespace: "games", Labels: map[string]string{fleetLabel: "ticksync"}},
		Status: agones.Status{
			State:   state,
			Address: "10.0.0.1",
			Ports:   []agones.Port{{Name: "default", Port: 7000}},
			Lists:   map[string]agones.ListStatus{"rooms": {Capacity: capacity, Values: rooms}},
		},
	}
}

// createRoom is the lobby's allocation for a new room (fleet-plan.md): an Allocated server with
// room first, then a Ready one, fullest first, the room added, its config annotated.
func createRoom(room string, order string) agonestest.GameServerAllocation {
	match := map[string]string{fleetLabel: "ticksync"}
	free := map[string]agonestest.ListSelector{"rooms": {MinAvailable: 1}}
	return agonestest.GameServerAllocation{
		APIVersion: "allocation.agones.dev/v1", Kind: "GameServerAllocation",
		Spec: agonestest.AllocationSpec{
			Selectors: []agonestest.Selector{
				{MatchLabels: match, GameServerState: agones.StateAllocated, Lists: free},
				{MatchLabels: match, GameServerState: agones.StateReady, Lists: free},
			},
			Priorities: []agonestest.Priority{{Type: "List", Key: "rooms", Order: order}},
			Lists:      map[string]agonestest.ListAction{"rooms": {AddValues: []string{room}}},
			Metadata:   agonestest.MetaPatch{Annotations: map[string]string{"config.ticksync.dev/" + room: `{"seats":2}`}},
		},
	}
}

// joinRoom finds the Allocated server holding room.
func joinRoom(room string) agonestest.GameServerAllocation {
	return agonestest.GameServerAllocation{Spec: agonestest.AllocationSpec{Selectors: []agonestest.Selector{{
		MatchLabels:     map[string]string{fleetLabel: "ticksync"},
		GameServerState: agones.StateAllocated,
		Lists:           map[string]agonestest.ListSelector{"rooms": {ContainsValue: room}},
	}}}}
}

// send posts body to url and decodes a 201 answer.
func send(url string, body any) (int, agonestest.GameServerAllocation, string, error) {
	var gsa agonestest.GameServerAllocation
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, gsa, "", err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return 0, gsa, "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(out, &gsa)
	}
	return resp.StatusCode, gsa, string(out), err
}

func post(t *testing.T, url string, body any) (int, agonestest.GameServerAllocation, string) {
	t.Helper()
	code, gsa, out, err := send(url, body)
	if err != nil {
		t.Fatalf("POST %s: %v (%s)", url, err, out)
	}
	return code, gsa, out
}

// tryAllocate posts an allocation and checks the answer is a 201 GameServerAllocation.
func tryAllocate(a *agonestest.Allocator, gsa agonestest.GameServerAllocation) (agonestest.AllocationStatus, error) {
	code, got, body, err := send(a.URL()+agonestest.AllocationPath("games"), gsa)
	switch {
	case err != nil:
		return got.Status, err
	case code != http.StatusCreated:
		return got.Status, fmt.Errorf("allocation answered %d: %s", code, body)
	case got.Kind != "GameServerAllocation" || got.APIVersion != "allocation.agones.dev/v1" || got.Metadata.Namespace != "games":
		return got.Status, fmt.Errorf("allocation object = %s", body)
	}
	return got.Status, nil
}

func allocate(t *testing.T, a *agonestest.Allocator, gsa agonestest.GameServerAllocation) agonestest.AllocationStatus {
	t.Helper()
	st, err := tryAllocate(a, gsa)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func rooms(s *agonestest.Sidecar) string {
	return strings.Join(s.GameServer().Status.Lists["rooms"].Values, ",")
}

func TestAllocatorFullestFirst(t *testing.T) {
	a1 := agonestest.NewSidecar(t, server("gs-a", agones.StateAllocated, 3, "x1"))
	b := agonestest.NewSidecar(t, server("gs-b", agones.StateAllocated, 3, "y1", "y2"))
	c := agonestest.NewSidecar(t, server("gs-c", agones.StateReady, 3))
	d := agonestest.NewSidecar(t, server("gs-d", agones.StateReady, 3))
	al := agonestest.NewAllocator(t, "games", d, c, b, a1)

	// gs-b is the fullest Allocated server with room; then gs-a until it is full; then the
	// Ready servers, ties broken by name; then nothing.
	want := []string{"gs-b", "gs-a", "gs-a", "gs-c", "gs-c", "gs-c", "gs-d", "gs-d", "gs-d"}
	for i, w := range want {
		st := allocate(t, al, createRoom("r"+string(rune('0'+i)), "Ascending"))
		if st.State != agonestest.AllocationAllocated || st.GameServerName != w {
			t.Fatalf("allocation %d: %s on %q, want Allocated on %s", i, st.State, st.GameServerName, w)
		}
	}
	if got := rooms(b); got != "y1,y2,r0" {
		t.Fatalf("gs-b rooms = %s", got)
	}
	if got := rooms(a1); got != "x1,r1,r2" {
		t.Fatalf("gs-a rooms = %s", got)
	}
	if got := rooms(c); got != "r3,r4,r5" {
		t.Fatalf("gs-c rooms = %s", got)
	}
	if s := c.GameServer().Status.State; s != agones.StateAllocated {
		t.Fatalf("gs-c state = %s, want Allocated", s)
	}
	st := allocate(t, al, createRoom("full", "Ascending"))
	if st.State != agonestest.AllocationUnAllocated || st.GameServerName != "" {
		t.Fatalf("allocation on a full fleet: %+v, want UnAllocated", st)
	}
}

func TestAllocatorDescendingAndStatePreference(t *testing.T) {
	a1 := agonestest.NewSidecar(t, server("gs-a", agones.StateAllocated, 4, "x1", "x2"))
	b := agonestest.NewSidecar(t, server("gs-b", agones.StateAllocated, 4, "y1"))
	c := agonestest.NewSidecar(t, server("gs-c", agones.StateReady, 4)) // emptiest, but Ready
	al := agonestest.NewAllocator(t, "games", a1, b, c)
	st := allocate(t, al, createRoom("r", "Descending"))
	if st.GameServerName != "gs-b" {
		t.Fatalf("Descending picked %s, want gs-b (most room among the Allocated: the first selector wins)", st.GameServerName)
	}
}

func TestAllocatorJoinAndMetadata(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a1 := agonestest.NewSidecar(t, server("gs-a", agones.StateReady, 2))
	b := agonestest.NewSidecar(t, server("gs-b", agones.StateReady, 2))
	al := agonestest.NewAllocator(t, "games", a1, b)

	st := allocate(t, al, createRoom("R", "Ascending"))
	if st.GameServerName != "gs-a" || st.Address != "10.0.0.1" || len(st.Ports) != 1 || st.Ports[0].Port != 7000 {
		t.Fatalf("create: %+v", st)
	}
	if st.Metadata == nil || st.Metadata.Annotations["config.ticksync.dev/R"] != `{"seats":2}` ||
		st.Metadata.Annotations[agonestest.LastAllocatedAnnotation] == "" || st.Metadata.Labels[fleetLabel] != "ticksync" {
		t.Fatalf("status.metadata = %+v", st.Metadata)
	}
	if l := st.Lists["rooms"]; l.Capacity != 2 || !slices.Equal(l.Values, []string{"R"}) {
		t.Fatalf("status.lists = %+v", st.Lists)
	}
	if err := a1.WaitFor(ctx, func(gs agones.GameServer) bool {
		return gs.ObjectMeta.Annotations["config.ticksync.dev/R"] == `{"seats":2}` && gs.Status.State == agones.StateAllocated
	}); err != nil {
		t.Fatal(err)
	}

	for range 2 { // a join is idempotent: the holder comes back, nothing is added
		st = allocate(t, al, joinRoom("R"))
		if st.State != agonestest.AllocationAllocated || st.GameServerName != "gs-a" {
			t.Fatalf("join R: %+v", st)
		}
		if got := rooms(a1); got != "R" {
			t.Fatalf("gs-a rooms after a join = %s, want R", got)
		}
	}
	if st = allocate(t, al, joinRoom("nope")); st.State != agonestest.AllocationUnAllocated {
		t.Fatalf("join of an unknown room: %+v", st)
	}
	if n := len(al.Requests()); n != 4 {
		t.Fatalf("allocator logged %d requests, want 4", n)
	}
	if r := al.Requests()[0]; r.Method != http.MethodPost || r.Path != agonestest.AllocationPath("games") || !strings.Contains(r.Body, `"addValues":["R"]`) {
		t.Fatalf("first request = %+v", r)
	}
}

func TestAllocatorErrors(t *testing.T) {
	s := agonestest.NewSidecar(t, server("gs-a", agones.StateReady, 2))
	al := agonestest.NewAllocator(t, "games", s)
	if code, _, _ := post(t, al.URL()+agonestest.AllocationPath("other"), createRoom("r", "")); code != http.StatusNotFound {
		t.Fatalf("other namespace: %d, want 404", code)
	}
	bad := createRoom("r", "")
	bad.Spec.Selectors[0].GameServerState = agones.StateShutdown
	if code, _, body := post(t, al.URL()+agonestest.AllocationPath("games"), bad); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"kind":"Status"`) {
		t.Fatalf("state Shutdown selector: %d %s, want 422 Status", code, body)
	}
	if code, _, _ := post(t, al.URL()+agonestest.AllocationPath("games"), "not an object"); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d, want 400", code)
	}
	al.RequireToken("secret")
	if code, _, _ := post(t, al.URL()+agonestest.AllocationPath("games"), createRoom("r", "")); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", code)
	}
	if st := s.GameServer().Status.State; st != agones.StateReady {
		t.Fatalf("a refused allocation changed the server: %s", st)
	}
}

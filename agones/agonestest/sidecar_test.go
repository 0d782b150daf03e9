package agonestest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
)

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSidecarWatchPushesEveryChange reads the raw stream: the current state first, then one
// line per change, none coalesced, in the gateway's format ({"result": …}, int64 as strings,
// empty lists as []).
func TestSidecarWatchPushesEveryChange(t *testing.T) {
	ctx := ctx10(t)
	s := agonestest.NewSidecar(t, server("gs-a", "", 3))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/watch/gameserver", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	read := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("watch stream ended: %v", lines.Err())
		}
		return lines.Text()
	}
	first := read()
	if !strings.HasPrefix(first, `{"result":{"object_meta":{"name":"gs-a"`) ||
		!strings.Contains(first, `"state":"Scheduled"`) || !strings.Contains(first, `"rooms":{"capacity":"3","values":[]}`) {
		t.Fatalf("first line = %s", first)
	}
	// Many changes at once, while the stream is not being read.
	post := func(path, body string) {
		r, err := http.Post(s.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	post("/ready", "{}")
	for i := range 3 {
		post("/v1beta1/lists/rooms:addValue", fmt.Sprintf(`{"value":"r%d"}`, i))
	}
	post("/shutdown", "{}")
	want := []string{"RequestReady/", "Ready/", "Ready/r0", "Ready/r0,r1", "Ready/r0,r1,r2", "Shutdown/r0,r1,r2"}
	for i, w := range want {
		var line struct{ Result agones.GameServer }
		if err := json.Unmarshal([]byte(read()), &line); err != nil {
			t.Fatal(err)
		}
		got := line.Result.Status.State + "/" + strings.Join(line.Result.Status.Lists["rooms"].Values, ",")
		if got != w {
			t.Fatalf("line %d = %s, want %s", i+1, got, w)
		}
	}
}

func TestSidecarAutoUnhealthy(t *testing.T) {
	ctx := ctx10(t)
	s := agonestest.NewSidecar(t, server("gs-a", agones.StateReady, 3))
	s.AutoUnhealthy(20 * time.Millisecond)
	if err := s.WaitState(ctx, agones.StateUnhealthy); err != nil {
		t.Fatal(err)
	}
}

// TestAllocatorConcurrent: parallel allocations never overfill a server nor place a room twice.
func TestAllocatorConcurrent(t *testing.T) {
	var sidecars []*agonestest.Sidecar
	for i := range 4 {
		sidecars = append(sidecars, agonestest.NewSidecar(t, server(fmt.Sprintf("gs-%d", i), agones.StateReady, 5)))
	}
	al := agonestest.NewAllocator(t, "games", sidecars...)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			st, err := tryAllocate(al, createRoom(fmt.Sprintf("room-%02d", i), "Ascending"))
			if err != nil || st.State != agonestest.AllocationAllocated {
				t.Errorf("room-%02d: %s %v", i, st.State, err)
			}
		})
	}
	wg.Wait()
	var all []string
	for _, s := range sidecars {
		vals := s.GameServer().Status.Lists["rooms"].Values
		if len(vals) != 5 {
			t.Fatalf("%s holds %d rooms, want 5", s.Name(), len(vals))
		}
		all = append(all, vals...)
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != 20 {
		t.Fatalf("rooms placed: %v", all)
	}
	if st := allocate(t, al, createRoom("one-more", "Ascending")); st.State != agonestest.AllocationUnAllocated {
		t.Fatalf("21st room: %s, want UnAllocated", st.State)
	}
}

func TestSelectorMatches(t *testing.T) {
	gs := server("gs-a", agones.StateReady, 4, "a", "b")
	gs.ObjectMeta.Labels["version"] = "2"
	gs.Status.Counters = map[string]agones.CounterStatus{"players": {Count: 3, Capacity: 8}}
	cases := []struct {
		name string
		sel  agonestest.Selector
		want bool
	}{
		{"empty selector: Ready", agonestest.Selector{}, true},
		{"state Allocated", agonestest.Selector{GameServerState: agones.StateAllocated}, false},
		{"matchLabels", agonestest.Selector{MatchLabels: map[string]string{fleetLabel: "ticksync", "version": "2"}}, true},
		{"matchLabels other fleet", agonestest.Selector{MatchLabels: map[string]string{fleetLabel: "other"}}, false},
		{"In", agonestest.Selector{MatchExpressions: []agonestest.LabelSelectorRequirement{{Key: "version", Operator: "In", Values: []string{"1", "2"}}}}, true},
		{"NotIn", agonestest.Selector{MatchExpressions: []agonestest.LabelSelectorRequirement{{Key: "version", Operator: "NotIn", Values: []string{"2"}}}}, false},
		{"DoesNotExist", agonestest.Selector{MatchExpressions: []agonestest.LabelSelectorRequirement{{Key: "beta", Operator: "DoesNotExist"}}}, true},
		{"containsValue", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {ContainsValue: "b"}}}, true},
		{"containsValue missing", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {ContainsValue: "c"}}}, false},
		{"minAvailable 2 of 2", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {MinAvailable: 2}}}, true},
		{"minAvailable 3 of 2", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {MinAvailable: 3}}}, false},
		{"maxAvailable 1 of 2", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {MaxAvailable: 1}}}, false},
		{"unknown list", agonestest.Selector{Lists: map[string]agonestest.ListSelector{"seats": {}}}, false},
		{"counter minAvailable 5", agonestest.Selector{Counters: map[string]agonestest.CounterSelector{"players": {MinAvailable: 5}}}, true},
		{"counter maxCount 2", agonestest.Selector{Counters: map[string]agonestest.CounterSelector{"players": {MaxCount: 2}}}, false},
	}
	for _, c := range cases {
		if got := c.sel.Matches(gs); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTryAllocate: the plan's one-call allocation of a single Sidecar.
func TestTryAllocate(t *testing.T) {
	s := agonestest.NewSidecar(t, server("gs-a", agones.StateReady, 1))
	sel := agonestest.Selector{Lists: map[string]agonestest.ListSelector{"rooms": {MinAvailable: 1}}}
	if !s.TryAllocate(sel, map[string][]string{"rooms": {"r1"}}, map[string]string{"k": "v"}) {
		t.Fatal("TryAllocate of a matching server failed")
	}
	gs := s.GameServer()
	if gs.Status.State != agones.StateAllocated || rooms(s) != "r1" || gs.ObjectMeta.Annotations["k"] != "v" {
		t.Fatalf("after TryAllocate: %+v", gs)
	}
	sel.GameServerState = agones.StateAllocated
	if s.TryAllocate(sel, map[string][]string{"rooms": {"r2"}}, nil) || rooms(s) != "r1" {
		t.Fatalf("TryAllocate of a full server succeeded: rooms %s", rooms(s))
	}
}

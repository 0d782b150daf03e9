package agonestest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/agones"
)

// TryAllocate allocates this GameServer if it matches sel, atomically: state Allocated,
// addValues appended to its Lists, annotations merged. It reports whether it did.
func (s *Sidecar) TryAllocate(sel Selector, addValues map[string][]string, annotations map[string]string) bool {
	spec := &AllocationSpec{Metadata: MetaPatch{Annotations: annotations}, Lists: map[string]ListAction{}}
	for k, v := range addValues {
		spec.Lists[k] = ListAction{AddValues: v}
	}
	_, ok := s.Allocate(sel, spec)
	return ok
}

// Allocate applies spec's metadata, Counter and List actions to this GameServer and makes it
// Allocated, if it matches sel (checked under the same lock): what the Allocator does to the
// GameServer it picks. It returns the GameServer after the change.
func (s *Sidecar) Allocate(sel Selector, spec *AllocationSpec) (agones.GameServer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sel.Matches(s.gs) {
		return agones.GameServer{}, false
	}
	applyAllocation(&s.gs, spec, s.now().UTC().Format(time.RFC3339Nano))
	s.pushLocked()
	return s.gs.Clone(), true
}

// AllocationPath is the Kubernetes API path of GameServerAllocations in namespace ns.
func AllocationPath(ns string) string {
	return "/apis/allocation.agones.dev/v1/namespaces/" + ns + "/gameserverallocations"
}

// Allocator is a fake of the Kubernetes API's GameServerAllocation endpoint
// (POST /apis/allocation.agones.dev/v1/namespaces/{ns}/gameserverallocations) over Sidecars.
//
// It follows Agones' Packed allocation: candidates are the Sidecars' GameServers in the
// namespace (a GameServer with no namespace counts as in it), Allocated ones first, then by
// spec.priorities, then by name; the first selector that matches any candidate wins and its
// first candidate is allocated (metadata merged, state Allocated, list and counter actions).
// Answers: 201 with the allocation and status.state Allocated, or UnAllocated when nothing
// matches; 400 for a body that does not decode; 422 for an invalid spec; 404 for another
// namespace; 401 when RequireToken was set and the bearer token differs. Distributed
// scheduling is treated as Packed (deterministic).
type Allocator struct {
	t   testing.TB
	ns  string
	srv *httptest.Server

	mu       sync.Mutex
	sidecars []*Sidecar
	reqs     []Request
	token    string
}

// NewAllocator starts a fake allocator for namespace over sidecars and closes it when the
// test ends.
func NewAllocator(t testing.TB, namespace string, sidecars ...*Sidecar) *Allocator {
	a := &Allocator{t: t, ns: namespace, sidecars: slices.Clone(sidecars)}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the fake API server's base URL; allocations go to URL()+AllocationPath(ns).
func (a *Allocator) URL() string { return a.srv.URL }

// Add makes more Sidecars candidates (the fleet scaled up).
func (a *Allocator) Add(sidecars ...*Sidecar) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sidecars = append(a.sidecars, sidecars...)
}

// RequireToken makes the allocator answer 401 unless a request carries
// "Authorization: Bearer "+token.
func (a *Allocator) RequireToken(token string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.token = token
}

// Requests returns a copy of the request log, oldest first.
func (a *Allocator) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reqs)
}

// kubeStatus writes a Kubernetes metav1.Status failure.
func kubeStatus(w http.ResponseWriter, code int, reason, msg string) {
	writeJSON(w, code, map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

func (a *Allocator) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	// Allocations are serialised: one at a time, like a single allocator replica.
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reqs = append(a.reqs, Request{Method: r.Method, Path: r.URL.Path, Body: string(raw)})

	if a.token != "" && r.Header.Get("Authorization") != "Bearer "+a.token {
		kubeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return
	}
	ns, ok := strings.CutPrefix(r.URL.Path, "/apis/allocation.agones.dev/v1/namespaces/")
	ns, rest, _ := strings.Cut(ns, "/")
	if !ok || rest != "gameserverallocations" {
		kubeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	if ns != a.ns {
		kubeStatus(w, http.StatusNotFound, "NotFound", fmt.Sprintf("namespaces %q not found", ns))
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "Method not supported", http.StatusMethodNotAllowed)
		return
	}
	var gsa GameServerAllocation
	if err := json.Unmarshal(raw, &gsa); err != nil {
		kubeStatus(w, http.StatusBadRequest, "BadRequest", "error decoding GameServerAllocation: "+err.Error())
		return
	}
	if err := validate(&gsa.Spec); err != nil {
		kubeStatus(w, http.StatusUnprocessableEntity, "Invalid", "GameServerAllocation is invalid: "+err.Error())
		return
	}
	gsa.APIVersion, gsa.Kind = "allocation.agones.dev/v1", "GameServerAllocation"
	gsa.Metadata.Namespace = ns
	gsa.Status = a.allocate(&gsa.Spec)
	if gsa.Status.State == AllocationAllocated {
		gsa.Metadata.Name = gsa.Status.GameServerName
	}
	writeJSON(w, http.StatusCreated, gsa)
}

// validate applies the defaults and checks what Agones' validation checks of the spec.
func validate(spec *AllocationSpec) error {
	if len(spec.Selectors) == 0 {
		spec.Selectors = slices.Clone(spec.Preferred)
		if spec.Required != nil {
			spec.Selectors = append(spec.Selectors, *spec.Required)
		}
		if len(spec.Selectors) == 0 {
			spec.Selectors = []Selector{{}}
		}
	}
	if spec.Scheduling == "" {
		spec.Scheduling = "Packed"
	}
	if spec.Scheduling != "Packed" && spec.Scheduling != "Distributed" {
		return fmt.Errorf("spec.scheduling: %q is not Packed or Distributed", spec.Scheduling)
	}
	for i := range spec.Selectors {
		sel := &spec.Selectors[i]
		sel.GameServerState = sel.state()
		if sel.GameServerState != agones.StateReady && sel.GameServerState != agones.StateAllocated {
			return fmt.Errorf("spec.selectors[%d].gameServerState: GameServerState must be either Allocated or Ready", i)
		}
		for j, req := range sel.MatchExpressions {
			if !slices.Contains([]string{"In", "NotIn", "Exists", "DoesNotExist"}, req.Operator) {
				return fmt.Errorf("spec.selectors[%d].matchExpressions[%d].operator: %q is not a valid selector operator", i, j, req.Operator)
			}
		}
	}
	for i := range spec.Priorities {
		p := &spec.Priorities[i]
		if p.Order == "" {
			p.Order = "Ascending"
		}
		if (p.Type != "Counter" && p.Type != "List") || p.Key == "" || (p.Order != "Ascending" && p.Order != "Descending") {
			return fmt.Errorf("spec.priorities[%d]: type must be Counter or List, key set, order Ascending or Descending", i)
		}
	}
	return nil
}

type candidate struct {
	s  *Sidecar
	gs agones.GameServer
}

func (a *Allocator) allocate(spec *AllocationSpec) AllocationStatus {
	var cands []candidate
	for _, s := range a.sidecars {
		gs := s.GameServer()
		if gs.ObjectMeta.Namespace == "" || gs.ObjectMeta.Namespace == a.ns {
			cands = append(cands, candidate{s, gs})
		}
	}
	slices.SortStableFunc(cands, func(x, y candidate) int {
		if spec.Scheduling == "Packed" {
			xa, ya := x.gs.Status.State == agones.StateAllocated, y.gs.Status.State == agones.StateAllocated
			if xa != ya {
				if xa {
					return -1
				}
				return 1
			}
		}
		if c := comparePriorities(spec.Priorities, x.gs, y.gs); c != 0 {
			return c
		}
		return strings.Compare(x.gs.ObjectMeta.Name, y.gs.ObjectMeta.Name)
	})
	for _, sel := range spec.Selectors {
		for _, c := range cands {
			if !sel.Matches(c.gs) {
				continue
			}
			if gs, ok := c.s.Allocate(sel, spec); ok {
				return allocated(gs)
			}
		}
	}
	return AllocationStatus{State: AllocationUnAllocated}
}

func allocated(gs agones.GameServer) AllocationStatus {
	st := AllocationStatus{
		State:          AllocationAllocated,
		GameServerName: gs.ObjectMeta.Name,
		Ports:          gs.Status.Ports,
		Address:        gs.Status.Address,
		Addresses:      gs.Status.Addresses,
		Source:         "local",
		Metadata:       &MetaPatch{Labels: gs.ObjectMeta.Labels, Annotations: gs.ObjectMeta.Annotations},
	}
	if gs.Status.Counters != nil {
		st.Counters = map[string]CounterStatus{}
		for k, c := range gs.Status.Counters {
			st.Counters[k] = CounterStatus{Count: c.Count, Capacity: c.Capacity}
		}
	}
	if gs.Status.Lists != nil {
		st.Lists = map[string]ListStatus{}
		for k, l := range gs.Status.Lists {
			st.Lists[k] = ListStatus{Capacity: l.Capacity, Values: nonNil(l.Values)}
		}
	}
	return st
}

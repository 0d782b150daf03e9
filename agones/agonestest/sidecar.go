// Package agonestest holds fakes of Agones for tests, written from the Agones documentation
// and the SDK server's sources (no Agones module): a Sidecar (the game server SDK's REST
// sidecar: the GameServer state machine, health, labels and annotations, Beta Counters and
// Lists with their capacity rules and error messages, watch streams, a request log) and an
// Allocator (the Kubernetes API's GameServerAllocation endpoint over several Sidecars, with
// the documented selectors, priorities and list actions). Both are httptest servers on
// 127.0.0.1 that close when the test ends.
package agonestest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/agones"
)

// Request is one request a fake received: its method, path (e.g.
// "/v1beta1/lists/rooms:addValue") and body.
type Request struct {
	Method string
	Path   string
	Body   string
}

// MaxListCapacity is the largest List capacity the SDK accepts (UpdateList).
const MaxListCapacity = 1000

// LastAllocatedAnnotation is the annotation an allocation stamps on the GameServer.
const LastAllocatedAnnotation = "agones.dev/last-allocated"

// sdkMetadataPrefix prefixes the labels and annotations set through the SDK.
const sdkMetadataPrefix = "agones.dev/sdk-"

// Sidecar is a fake Agones SDK sidecar: an httptest server speaking the REST SDK.
//
// State machine (as the SDK server and the controller drive it): POST /ready moves the
// GameServer to RequestReady and then Ready (two watch lines); POST /allocate and an allocation
// move it to Allocated; POST /reserve to Reserved; POST /shutdown to Shutdown. Shutdown and
// Unhealthy are final: later state requests answer 200 and change nothing. Unhealthy comes from
// CheckHealth (or AutoUnhealthy) when health pings stop. Reserve has no timer: the server stays
// Reserved until the next state request.
//
// Labels and annotations set through the SDK get the prefix "agones.dev/sdk-". Lists and
// Counters follow the SDK server's rules and answer its error messages (HTTP 500, gRPC code 2):
// "not found. …", "already exists. …", "out of range. …" (a full List, a count outside
// [0, capacity], a List capacity outside [0, 1000]). Unlike the real sidecar, which batches
// List and Counter changes into the GameServer about once a second, the fake applies them at
// once, and each change is one line on every watch stream.
type Sidecar struct {
	t       testing.TB
	srv     *httptest.Server
	done    chan struct{} // closed at cleanup: ends the watch streams
	started bool

	mu         sync.Mutex
	gs         agones.GameServer
	reqs       []Request
	changed    chan struct{} // closed and replaced on every change of gs or reqs
	watchers   map[*watcher]struct{}
	now        func() time.Time
	lastHealth time.Time
	pings      int
}

type watcher struct {
	queue []agones.GameServer // snapshots not yet written (guarded by Sidecar.mu)
	wake  chan struct{}       // buffered 1
	drop  chan struct{}       // closed by CloseWatches
}

// NewSidecar starts a fake sidecar serving gs (State "" becomes Scheduled) and closes it when
// the test ends.
func NewSidecar(t testing.TB, gs agones.GameServer) *Sidecar {
	s := NewUnstartedSidecar(t, gs)
	s.Start()
	return s
}

// NewUnstartedSidecar reserves a port on 127.0.0.1 and returns a sidecar that refuses
// connections there until Start: a sidecar that starts after the game server. URL is known
// before Start.
func NewUnstartedSidecar(t testing.TB, gs agones.GameServer) *Sidecar {
	t.Helper()
	gs = gs.Clone()
	if gs.Status.State == "" {
		gs.Status.State = agones.StateScheduled
	}
	s := &Sidecar{
		t:        t,
		done:     make(chan struct{}),
		gs:       gs,
		changed:  make(chan struct{}),
		watchers: map[*watcher]struct{}{},
		now:      time.Now,
	}
	s.lastHealth = s.now()
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Reserve the address: remember it, free it, listen on it again at Start.
	addr := s.srv.Listener.Addr().String()
	s.srv.Listener.Close()
	s.srv.Listener = nil
	s.srv.Config.Addr = addr
	t.Cleanup(s.close)
	return s
}

// Start starts an unstarted sidecar on its reserved address (failing the test when the port was
// taken meanwhile).
func (s *Sidecar) Start() {
	s.t.Helper()
	l, err := net.Listen("tcp", s.srv.Config.Addr)
	if err != nil {
		s.t.Fatalf("agonestest: sidecar cannot listen on its reserved address: %v", err)
	}
	s.srv.Listener = l
	s.srv.Start()
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
}

func (s *Sidecar) close() {
	close(s.done)
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		s.srv.Close()
	}
}

// URL is the sidecar's base URL (http://127.0.0.1:PORT), what agones.New takes.
func (s *Sidecar) URL() string { return "http://" + s.srv.Config.Addr }

// Port is the sidecar's port, what AGONES_SDK_HTTP_PORT would say.
func (s *Sidecar) Port() string {
	_, port, _ := net.SplitHostPort(s.srv.Config.Addr)
	return port
}

// Name is the GameServer's name.
func (s *Sidecar) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gs.ObjectMeta.Name
}

// GameServer returns a copy of the GameServer as the sidecar holds it now.
func (s *Sidecar) GameServer() agones.GameServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gs.Clone()
}

// Requests returns a copy of the request log, oldest first.
func (s *Sidecar) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// SetClock replaces the clock health checking reads (default time.Now) and restarts the health
// timer from its now.
func (s *Sidecar) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
	s.lastHealth = now()
}

// SetAddress sets status.address and one port named "default" (as the controller does when the
// pod is scheduled) and pushes the change.
func (s *Sidecar) SetAddress(addr string, port int32) {
	s.Update(func(gs *agones.GameServer) {
		gs.Status.Address = addr
		gs.Status.Ports = []agones.Port{{Name: "default", Port: port}}
	})
}

// SetState sets the state directly, as the controller would (e.g. Shutdown from outside), and
// pushes the change.
func (s *Sidecar) SetState(state string) {
	s.Update(func(gs *agones.GameServer) { gs.Status.State = state })
}

// Update changes the GameServer with fn under the sidecar's lock and pushes the result to the
// watch streams, as a change made through Kubernetes would.
func (s *Sidecar) Update(fn func(gs *agones.GameServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.gs)
	s.pushLocked()
}

// WaitFor waits until cond holds for the GameServer (checked now and after every change) or ctx
// ends.
func (s *Sidecar) WaitFor(ctx context.Context, cond func(agones.GameServer) bool) error {
	return s.wait(ctx, func() bool { return cond(s.gs) })
}

// WaitState waits until the GameServer is in state.
func (s *Sidecar) WaitState(ctx context.Context, state string) error {
	err := s.WaitFor(ctx, func(gs agones.GameServer) bool { return gs.Status.State == state })
	if err != nil {
		return fmt.Errorf("agonestest: waiting for state %s (now %s): %w", state, s.GameServer().Status.State, err)
	}
	return nil
}

// WaitRequests waits until cond holds for the request log (checked now and after every request).
func (s *Sidecar) WaitRequests(ctx context.Context, cond func([]Request) bool) error {
	return s.wait(ctx, func() bool { return cond(s.reqs) })
}

func (s *Sidecar) wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HealthPings is the number of POST /health the sidecar received.
func (s *Sidecar) HealthPings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pings
}

// Healthy reports whether a health ping arrived within the last d (by the sidecar's clock;
// the sidecar's creation counts as a ping).
func (s *Sidecar) Healthy(d time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now().Sub(s.lastHealth) <= d
}

// CheckHealth is one health check of the SDK server: when no ping arrived for longer than
// timeout and the GameServer is not Shutdown, it turns Unhealthy (pushed to the watchers).
// It reports whether the GameServer is Unhealthy now.
func (s *Sidecar) CheckHealth(timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gs.Spec.Health.Disabled {
		return false
	}
	st := s.gs.Status.State
	if st != agones.StateUnhealthy && st != agones.StateShutdown && s.now().Sub(s.lastHealth) > timeout {
		s.gs.Status.State = agones.StateUnhealthy
		s.pushLocked()
	}
	return s.gs.Status.State == agones.StateUnhealthy
}

// AutoUnhealthy runs CheckHealth(timeout) every timeout/4 on the real clock until the test
// ends: a server that stops pinging turns Unhealthy within about 1.25 timeouts.
func (s *Sidecar) AutoUnhealthy(timeout time.Duration) {
	tick := time.NewTicker(max(timeout/4, time.Millisecond))
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
				s.CheckHealth(timeout)
			}
		}
	}()
}

// CloseWatches ends every open watch stream (clients are expected to reconnect).
func (s *Sidecar) CloseWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		close(w.drop)
		delete(s.watchers, w)
	}
}

// Watchers is the number of open watch streams.
func (s *Sidecar) Watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watchers)
}

// pushLocked queues the current GameServer on every watch stream and wakes the waiters.
func (s *Sidecar) pushLocked() {
	snap := s.gs.Clone()
	for w := range s.watchers {
		w.queue = append(w.queue, snap)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	s.notifyLocked()
}

func (s *Sidecar) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setStateLocked applies a state request: Shutdown and Unhealthy are final.
func (s *Sidecar) setStateLocked(states ...string) {
	for _, st := range states {
		cur := s.gs.Status.State
		if cur == agones.StateShutdown || cur == agones.StateUnhealthy {
			return
		}
		s.gs.Status.State = st
		s.pushLocked()
	}
}

// wire is gs as the gateway writes it (it emits unpopulated fields): empty maps and lists
// rather than null.
func wire(gs agones.GameServer) agones.GameServer {
	gs = gs.Clone()
	if gs.Status.Lists == nil {
		gs.Status.Lists = map[string]agones.ListStatus{}
	}
	if gs.Status.Counters == nil {
		gs.Status.Counters = map[string]agones.CounterStatus{}
	}
	for k, l := range gs.Status.Lists {
		l.Values = nonNil(l.Values)
		gs.Status.Lists[k] = l
	}
	return gs
}

// sdkError is the gateway's error body for an SDK refusal: gRPC code Unknown, HTTP 500.
type sdkError struct {
	status int
	code   int
	msg    string
}

func errUnknown(format string, args ...any) *sdkError {
	return &sdkError{http.StatusInternalServerError, 2, fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Sidecar) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Body: string(raw)})
	s.notifyLocked()
	s.mu.Unlock()

	if r.Method == http.MethodGet && r.URL.Path == "/watch/gameserver" {
		s.serveWatch(w, r)
		return
	}
	out, err := s.route(r.Method, r.URL.Path, raw)
	if err != nil {
		writeJSON(w, err.status, map[string]any{"code": err.code, "message": err.msg, "details": []any{}})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sidecar) route(method, path string, body []byte) (any, *sdkError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	post, get, patch := method == http.MethodPost, method == http.MethodGet, method == http.MethodPatch
	switch {
	case post && path == "/ready":
		s.setStateLocked(agones.StateRequestReady, agones.StateReady)
	case post && path == "/allocate":
		s.setStateLocked(agones.StateAllocated)
	case post && path == "/reserve":
		s.setStateLocked(agones.StateReserved)
	case post && path == "/shutdown":
		s.setStateLocked(agones.StateShutdown)
	case post && path == "/health":
		s.pings++
		s.lastHealth = s.now()
	case get && path == "/gameserver":
		return wire(s.gs), nil
	case method == http.MethodPut && (path == "/metadata/label" || path == "/metadata/annotation"):
		var kv struct{ Key, Value string }
		if err := json.Unmarshal(body, &kv); err != nil {
			return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
		}
		m := &s.gs.ObjectMeta.Annotations
		if path == "/metadata/label" {
			m = &s.gs.ObjectMeta.Labels
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[sdkMetadataPrefix+kv.Key] = kv.Value
		s.pushLocked()
	case strings.HasPrefix(path, "/v1beta1/lists/"):
		name, verb, _ := strings.Cut(strings.TrimPrefix(path, "/v1beta1/lists/"), ":")
		switch {
		case get && verb == "":
			return s.getList(name)
		case patch && verb == "":
			return s.updateList(name, body)
		case post && (verb == "addValue" || verb == "removeValue"):
			var v struct{ Value string }
			if err := json.Unmarshal(body, &v); err != nil {
				return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
			}
			if verb == "addValue" {
				return s.addListValue(name, v.Value)
			}
			return s.removeListValue(name, v.Value)
		}
		return nil, notFound()
	case strings.HasPrefix(path, "/v1beta1/counters/"):
		name := strings.TrimPrefix(path, "/v1beta1/counters/")
		switch {
		case get:
			return s.getCounter(name)
		case patch:
			return s.updateCounter(name, body)
		}
		return nil, notFound()
	default:
		return nil, notFound()
	}
	return struct{}{}, nil
}

func notFound() *sdkError { return &sdkError{http.StatusNotFound, 5, "Not Found"} }

func (s *Sidecar) getList(name string) (any, *sdkError) {
	l, ok := s.gs.Status.Lists[name]
	if !ok {
		return nil, errUnknown("not found. %s List not found", name)
	}
	return agones.List{Name: name, Capacity: l.Capacity, Values: nonNil(l.Values)}, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return slices.Clone(v)
}

// updateList is UpdateList: the field mask is the body's keys (as the gateway infers it for a
// PATCH); capacity must be within [0, 1000]; values beyond the capacity are dropped.
func (s *Sidecar) updateList(name string, body []byte) (any, *sdkError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
	}
	l, ok := s.gs.Status.Lists[name]
	for k := range fields {
		if k != "capacity" && k != "values" {
			return nil, errUnknown("invalid argument. Field Mask Path(s): [%s] are invalid for List. Use valid field name(s): capacity, values", k)
		}
	}
	var capacity int64
	if rawCap, has := fields["capacity"]; has {
		n, err := parseInt64(rawCap)
		if err != nil {
			return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
		}
		capacity = n
	}
	if capacity < 0 || capacity > MaxListCapacity {
		return nil, errUnknown("out of range. Capacity must be within range [0,1000]. Found Capacity: %d", capacity)
	}
	if !ok {
		return nil, errUnknown("not found. %s List not found", name)
	}
	if _, has := fields["capacity"]; has {
		l.Capacity = capacity
	}
	if rawVals, has := fields["values"]; has {
		var vals []string
		if err := json.Unmarshal(rawVals, &vals); err != nil {
			return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
		}
		l.Values = vals
	}
	if int64(len(l.Values)) > l.Capacity {
		l.Values = slices.Clone(l.Values[:l.Capacity])
	}
	s.gs.Status.Lists[name] = l
	s.pushLocked()
	return s.getList(name)
}

func (s *Sidecar) addListValue(name, value string) (any, *sdkError) {
	l, ok := s.gs.Status.Lists[name]
	if !ok {
		return nil, errUnknown("not found. %s List not found", name)
	}
	if l.Capacity <= int64(len(l.Values)) {
		return nil, errUnknown("out of range. No available capacity. Current Capacity: %d, List Size: %d", l.Capacity, len(l.Values))
	}
	if slices.Contains(l.Values, value) {
		return nil, errUnknown("already exists. Value: %s already in List: %s", value, name)
	}
	l.Values = append(slices.Clone(l.Values), value)
	s.gs.Status.Lists[name] = l
	s.pushLocked()
	return s.getList(name)
}

func (s *Sidecar) removeListValue(name, value string) (any, *sdkError) {
	l, ok := s.gs.Status.Lists[name]
	if !ok {
		return nil, errUnknown("not found. %s List not found", name)
	}
	i := slices.Index(l.Values, value)
	if i < 0 {
		return nil, errUnknown("not found. Value: %s not found in List: %s", value, name)
	}
	l.Values = slices.Delete(slices.Clone(l.Values), i, i+1)
	s.gs.Status.Lists[name] = l
	s.pushLocked()
	return s.getList(name)
}

func (s *Sidecar) getCounter(name string) (any, *sdkError) {
	c, ok := s.gs.Status.Counters[name]
	if !ok {
		return nil, errUnknown("not found. %s Counter not found", name)
	}
	return agones.Counter{Name: name, Count: c.Count, Capacity: c.Capacity}, nil
}

// updateCounter is UpdateCounter: capacity (>= 0), then count, then countDiff, each checked
// against [0, capacity]; nothing changes when one fails.
func (s *Sidecar) updateCounter(name string, body []byte) (any, *sdkError) {
	var req struct {
		Count     *int64Value `json:"count"`
		Capacity  *int64Value `json:"capacity"`
		CountDiff int64Value  `json:"countDiff"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &sdkError{http.StatusBadRequest, 3, err.Error()}
	}
	if req.Count == nil && req.Capacity == nil && req.CountDiff == 0 {
		return nil, errUnknown("invalid argument. Malformed CounterUpdateRequest: %s", body)
	}
	c, ok := s.gs.Status.Counters[name]
	if !ok {
		return nil, errUnknown("not found. %s Counter not found", name)
	}
	if req.Capacity != nil {
		if c.Capacity = int64(*req.Capacity); c.Capacity < 0 {
			return nil, errUnknown("out of range. Capacity must be greater than or equal to 0. Found Capacity: %d", c.Capacity)
		}
	}
	if req.Count != nil {
		c.Count = int64(*req.Count)
		if c.Count < 0 || c.Count > c.Capacity {
			return nil, errUnknown("out of range. Count must be within range [0,Capacity]. Found Count: %d, Capacity: %d", c.Count, c.Capacity)
		}
	}
	if req.CountDiff != 0 {
		c.Count += int64(req.CountDiff)
		if c.Count < 0 || c.Count > c.Capacity {
			return nil, errUnknown("out of range. Count must be within range [0,Capacity]. Found Count: %d, Capacity: %d", c.Count, c.Capacity)
		}
	}
	s.gs.Status.Counters[name] = c
	s.pushLocked()
	return agones.Counter{Name: name, Count: c.Count, Capacity: c.Capacity}, nil
}

// int64Value decodes an int64 the way protojson does: a JSON string or a number.
type int64Value int64

func (v *int64Value) UnmarshalJSON(b []byte) error {
	n, err := parseInt64(b)
	*v = int64Value(n)
	return err
}

func parseInt64(b []byte) (int64, error) {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid int64 %s", b)
	}
	return n, nil
}

// serveWatch streams {"result": GameServer} lines: the current state, then every change, until
// the client goes, CloseWatches, or the test ends.
func (s *Sidecar) serveWatch(w http.ResponseWriter, r *http.Request) {
	wt := &watcher{wake: make(chan struct{}, 1), drop: make(chan struct{})}
	s.mu.Lock()
	wt.queue = []agones.GameServer{s.gs.Clone()}
	wt.wake <- struct{}{}
	s.watchers[wt] = struct{}{}
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, wt)
		s.notifyLocked()
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-wt.drop:
			return
		case <-wt.wake:
		}
		s.mu.Lock()
		batch := wt.queue
		wt.queue = nil
		s.mu.Unlock()
		for _, gs := range batch {
			if err := enc.Encode(map[string]any{"result": wire(gs)}); err != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

package agones_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func roomsServer(name string, capacity int64, rooms ...string) agones.GameServer {
	return agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"agones.dev/fleet": "ticksync"}},
		Status: agones.Status{
			Lists:    map[string]agones.ListStatus{"rooms": {Capacity: capacity, Values: rooms}},
			Counters: map[string]agones.CounterStatus{"players": {Count: 0, Capacity: 10}},
		},
	}
}

func newPair(t *testing.T, gs agones.GameServer) (*agonestest.Sidecar, *agones.Client) {
	sc := agonestest.NewSidecar(t, gs)
	return sc, agones.New(sc.URL(), agones.WithBackoff(time.Millisecond, 20*time.Millisecond))
}

func requestsTo(reqs []agonestest.Request, method, path string) []agonestest.Request {
	var out []agonestest.Request
	for _, r := range reqs {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func TestLifecycle(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 4))

	gs, err := c.GameServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gs.ObjectMeta.Name != "gs-1" || gs.Status.State != agones.StateScheduled || gs.ObjectMeta.Labels["agones.dev/fleet"] != "ticksync" {
		t.Fatalf("GameServer = %+v", gs)
	}
	steps := []struct {
		call func(context.Context) error
		path string
		want string
	}{
		{c.Ready, "/ready", agones.StateReady},
		{c.Allocate, "/allocate", agones.StateAllocated},
		{c.Ready, "/ready", agones.StateReady}, // Ready on Allocated returns the server to Ready
		{func(ctx context.Context) error { return c.Reserve(ctx, 5*time.Second) }, "/reserve", agones.StateReserved},
		{c.Ready, "/ready", agones.StateReady},
		{c.Shutdown, "/shutdown", agones.StateShutdown},
		{c.Ready, "/ready", agones.StateShutdown}, // no escaping Shutdown
	}
	for i, st := range steps {
		if err := st.call(ctx); err != nil {
			t.Fatalf("step %d %s: %v", i, st.path, err)
		}
		gs, err := c.GameServer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if gs.Status.State != st.want {
			t.Fatalf("step %d %s: state %s, want %s", i, st.path, gs.Status.State, st.want)
		}
	}
	ready := requestsTo(sc.Requests(), http.MethodPost, "/ready")
	if len(ready) != 4 || ready[0].Body != "{}" {
		t.Fatalf("POST /ready log = %+v, want 4 with body {}", ready)
	}
	if r := requestsTo(sc.Requests(), http.MethodPost, "/reserve"); len(r) != 1 || r[0].Body != `{"seconds":"5"}` {
		t.Fatalf("POST /reserve log = %+v", r)
	}

	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sc.HealthPings(); n != 2 {
		t.Fatalf("HealthPings = %d, want 2", n)
	}
	if got := requestsTo(sc.Requests(), http.MethodPost, "/health"); len(got) != 2 {
		t.Fatalf("POST /health log = %+v", got)
	}
}

func TestMetadata(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 4))
	if err := c.SetLabel(ctx, "rooms", "2"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetAnnotation(ctx, "note", "x"); err != nil {
		t.Fatal(err)
	}
	gs := sc.GameServer()
	if gs.ObjectMeta.Labels["agones.dev/sdk-rooms"] != "2" || gs.ObjectMeta.Annotations["agones.dev/sdk-note"] != "x" {
		t.Fatalf("metadata = %+v", gs.ObjectMeta)
	}
	if r := requestsTo(sc.Requests(), http.MethodPut, "/metadata/label"); len(r) != 1 || r[0].Body != `{"key":"rooms","value":"2"}` {
		t.Fatalf("PUT /metadata/label log = %+v", r)
	}
}

func TestUnhealthyWhenPingsStop(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 4))
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	sc.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		advance(4 * time.Second)
		if err := c.Health(ctx); err != nil {
			t.Fatal(err)
		}
		if sc.CheckHealth(5 * time.Second) {
			t.Fatal("Unhealthy while pinging every 4s with a 5s timeout")
		}
	}
	advance(6 * time.Second)
	if !sc.CheckHealth(5 * time.Second) {
		t.Fatal("still healthy 6s after the last ping with a 5s timeout")
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if st := sc.GameServer().Status.State; st != agones.StateUnhealthy {
		t.Fatalf("state after Ready on Unhealthy = %s, want Unhealthy (final)", st)
	}
}

// watchInto runs c.Watch until the test ends and forwards the states to a channel.
func watchInto(t *testing.T, c *agones.Client) (<-chan *agones.GameServer, func() error) {
	ch := make(chan *agones.GameServer, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Watch(ctx, func(gs *agones.GameServer) { ch <- gs }) }()
	stop := func() error { cancel(); return <-done }
	t.Cleanup(cancel)
	return ch, stop
}

func next(t *testing.T, ch <-chan *agones.GameServer) *agones.GameServer {
	t.Helper()
	select {
	case gs := <-ch:
		return gs
	case <-time.After(10 * time.Second):
		t.Fatal("no watch line within 10s")
		return nil
	}
}

func TestWatch(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 4, "r1"))
	ch, stop := watchInto(t, c)

	first := next(t, ch)
	if first.Status.State != agones.StateScheduled || first.ObjectMeta.Name != "gs-1" ||
		len(first.Status.Lists["rooms"].Values) != 1 || first.Status.Lists["rooms"].Capacity != 4 {
		t.Fatalf("first line = %+v, want the current state", first)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{agones.StateRequestReady, agones.StateReady} {
		if gs := next(t, ch); gs.Status.State != want {
			t.Fatalf("watch state = %s, want %s", gs.Status.State, want)
		}
	}
	if err := c.AddListValue(ctx, "rooms", "r2"); err != nil {
		t.Fatal(err)
	}
	if gs := next(t, ch); strings.Join(gs.Status.Lists["rooms"].Values, ",") != "r1,r2" {
		t.Fatalf("watch rooms = %v, want r1,r2", gs.Status.Lists["rooms"].Values)
	}
	sc.SetAddress("10.0.0.7", 7001)
	if gs := next(t, ch); gs.Status.Address != "10.0.0.7" || len(gs.Status.Ports) != 1 || gs.Status.Ports[0].Port != 7001 {
		t.Fatalf("watch status = %+v", gs.Status)
	}

	// The stream ends: Watch reconnects and the new stream starts with the current state.
	sc.CloseWatches()
	if gs := next(t, ch); gs.Status.State != agones.StateReady || gs.Status.Address != "10.0.0.7" {
		t.Fatalf("first line after reconnect = %+v", gs.Status)
	}
	if n := len(requestsTo(sc.Requests(), http.MethodGet, "/watch/gameserver")); n != 2 {
		t.Fatalf("GET /watch/gameserver %d times, want 2", n)
	}
	sc.SetState(agones.StateShutdown)
	if gs := next(t, ch); gs.Status.State != agones.StateShutdown {
		t.Fatalf("watch state = %s after reconnect, want Shutdown", gs.Status.State)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v, want context.Canceled", err)
	}
}

func TestLists(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 2))

	if err := c.AddListValue(ctx, "rooms", "a"); err != nil {
		t.Fatal(err)
	}
	err := c.AddListValue(ctx, "rooms", "a")
	var e *agones.Error
	if !errors.Is(err, agones.ErrValueExists) || !errors.As(err, &e) || e.StatusCode != 500 || e.Code != 2 ||
		!strings.HasPrefix(e.Message, "already exists.") {
		t.Fatalf("second add of a: %v (%#v), want ErrValueExists from an HTTP 500", err, e)
	}
	if errors.Is(err, agones.ErrListFull) || errors.Is(err, agones.ErrValueMissing) {
		t.Fatalf("already-exists error also matches another sentinel: %v", err)
	}
	if err := c.AddListValue(ctx, "rooms", "b"); err != nil {
		t.Fatal(err)
	}
	err = c.AddListValue(ctx, "rooms", "c")
	if !errors.Is(err, agones.ErrListFull) || !errors.Is(err, agones.ErrOutOfRange) || errors.Is(err, agones.ErrValueExists) {
		t.Fatalf("add to a full list: %v, want ErrListFull", err)
	}
	l, err := c.List(ctx, "rooms")
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "rooms" || l.Capacity != 2 || strings.Join(l.Values, ",") != "a,b" {
		t.Fatalf("List = %+v", l)
	}
	if err := c.RemoveListValue(ctx, "rooms", "x"); !errors.Is(err, agones.ErrValueMissing) || errors.Is(err, agones.ErrNotFound) {
		t.Fatalf("remove of a missing value: %v, want ErrValueMissing only", err)
	}
	if err := c.RemoveListValue(ctx, "rooms", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(ctx, "nope"); !errors.Is(err, agones.ErrNotFound) || errors.Is(err, agones.ErrValueMissing) {
		t.Fatalf("List(nope): %v, want ErrNotFound", err)
	}
	if err := c.AddListValue(ctx, "nope", "a"); !errors.Is(err, agones.ErrNotFound) {
		t.Fatalf("AddListValue(nope): %v, want ErrNotFound", err)
	}

	if err := c.SetListCapacity(ctx, "rooms", 5); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"c", "d"} {
		if err := c.AddListValue(ctx, "rooms", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.SetListCapacity(ctx, "rooms", 2); err != nil { // drops the values beyond it
		t.Fatal(err)
	}
	if got := sc.GameServer().Status.Lists["rooms"]; got.Capacity != 2 || strings.Join(got.Values, ",") != "b,c" {
		t.Fatalf("rooms after capacity 2 = %+v, want b,c", got)
	}
	if err := c.SetListCapacity(ctx, "rooms", 1001); !errors.Is(err, agones.ErrOutOfRange) {
		t.Fatalf("capacity 1001: %v, want ErrOutOfRange", err)
	}
	if r := requestsTo(sc.Requests(), http.MethodPost, "/v1beta1/lists/rooms:addValue"); len(r) != 6 || r[0].Body != `{"value":"a"}` {
		t.Fatalf("addValue log = %+v", r)
	}
	if r := requestsTo(sc.Requests(), http.MethodPatch, "/v1beta1/lists/rooms"); len(r) != 3 || r[0].Body != `{"capacity":"5"}` {
		t.Fatalf("PATCH list log = %+v, want int64 as a string", r)
	}
}

func TestCounters(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 2))
	if err := c.SetCounter(ctx, "players", 3); err != nil {
		t.Fatal(err)
	}
	if err := c.IncrementCounter(ctx, "players", 2); err != nil {
		t.Fatal(err)
	}
	ct, err := c.Counter(ctx, "players")
	if err != nil {
		t.Fatal(err)
	}
	if *ct != (agones.Counter{Name: "players", Count: 5, Capacity: 10}) {
		t.Fatalf("Counter = %+v", ct)
	}
	if err := c.SetCounter(ctx, "players", 11); !errors.Is(err, agones.ErrOutOfRange) || errors.Is(err, agones.ErrListFull) {
		t.Fatalf("count 11 of 10: %v, want ErrOutOfRange", err)
	}
	if err := c.IncrementCounter(ctx, "players", -6); !errors.Is(err, agones.ErrOutOfRange) {
		t.Fatalf("count -1: %v, want ErrOutOfRange", err)
	}
	if err := c.SetCounterCapacity(ctx, "players", 4); err != nil {
		t.Fatal(err)
	}
	if got := sc.GameServer().Status.Counters["players"]; got != (agones.CounterStatus{Count: 5, Capacity: 4}) {
		t.Fatalf("counter = %+v (a capacity update alone keeps the count)", got)
	}
	if _, err := c.Counter(ctx, "nope"); !errors.Is(err, agones.ErrNotFound) {
		t.Fatalf("Counter(nope): %v, want ErrNotFound", err)
	}
	r := requestsTo(sc.Requests(), http.MethodPatch, "/v1beta1/counters/players")
	if len(r) < 2 || r[0].Body != `{"count":"3"}` || r[1].Body != `{"countDiff":"2"}` {
		t.Fatalf("PATCH counter log = %+v", r)
	}
}

// TestInt64AsString: int64s travel as JSON strings both ways, beyond float64's exact range.
func TestInt64AsString(t *testing.T) {
	ctx := testCtx(t)
	big := int64(math.MaxInt64 - 1)
	gs := roomsServer("gs-1", 2)
	gs.Status.Counters["big"] = agones.CounterStatus{Count: 0, Capacity: big}
	gs.ObjectMeta.Generation = 1<<53 + 1
	sc, c := newPair(t, gs)
	if err := c.SetCounter(ctx, "big", big-1); err != nil {
		t.Fatal(err)
	}
	ct, err := c.Counter(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if ct.Count != big-1 || ct.Capacity != big {
		t.Fatalf("Counter = %+v", ct)
	}
	got, err := c.GameServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ObjectMeta.Generation != 1<<53+1 {
		t.Fatalf("generation = %d", got.ObjectMeta.Generation)
	}
	raw, err := json.Marshal(got.Status.Counters["big"])
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"count":"9223372036854775805","capacity":"9223372036854775806"}` {
		t.Fatalf("CounterStatus JSON = %s", raw)
	}
	// The sidecar's own documented example decodes.
	var doc agones.GameServer
	example := `{"object_meta":{"name":"local","namespace":"default","uid":"1234","resource_version":"v1","generation":"1","creation_timestamp":"1531795395","annotations":{"annotation":"true"},"labels":{"islocal":"true"}},"status":{"state":"Ready","address":"127.0.0.1","ports":[{"name":"default","port":7777}],"lists":{"rooms":{"capacity":"10","values":["a"]}},"counters":{"players":{"count":"1","capacity":"10"}}}}`
	if err := json.Unmarshal([]byte(example), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ObjectMeta.CreationTimestamp != 1531795395 || doc.Status.Ports[0].Port != 7777 ||
		doc.Status.Lists["rooms"].Capacity != 10 || doc.Status.Counters["players"].Count != 1 {
		t.Fatalf("documented example decoded as %+v", doc)
	}
	_ = sc
}

// errTransport records the transport errors the client meets and signals the first.
type errTransport struct {
	base     http.RoundTripper
	once     sync.Once
	firstErr chan error
}

func (e *errTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.base.RoundTrip(r)
	if err != nil {
		e.once.Do(func() { e.firstErr <- err })
	}
	return resp, err
}

// TestSidecarStartsLate: the first call meets a refused connection, retries, and succeeds once
// the sidecar listens; a refused dial is retried for the non-idempotent calls too (nothing was
// sent), and the sidecar sees the call once.
func TestSidecarStartsLate(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		call       func(context.Context, *agones.Client) error
	}{
		{"Ready", "/ready", func(ctx context.Context, c *agones.Client) error { return c.Ready(ctx) }},
		{"AddListValue", "/v1beta1/lists/rooms:addValue", func(ctx context.Context, c *agones.Client) error {
			return c.AddListValue(ctx, "rooms", "r1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			sc := agonestest.NewUnstartedSidecar(t, roomsServer("gs-1", 2))
			tr := &errTransport{base: http.DefaultTransport.(*http.Transport).Clone(), firstErr: make(chan error, 1)}
			c := agones.New(sc.URL(), agones.WithHTTPClient(&http.Client{Transport: tr}), agones.WithBackoff(time.Millisecond, 10*time.Millisecond))

			done := make(chan error, 1)
			go func() { done <- tc.call(ctx, c) }()
			select {
			case err := <-tr.firstErr:
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("first attempt failed with %v, want connection refused", err)
				}
			case err := <-done:
				t.Fatalf("%s returned %v before the sidecar started", tc.name, err)
			}
			sc.Start()
			if err := <-done; err != nil {
				t.Fatalf("%s after the sidecar started: %v", tc.name, err)
			}
			if n := len(requestsTo(sc.Requests(), http.MethodPost, tc.path)); n != 1 {
				t.Fatalf("the sidecar saw %d POST %s, want 1", n, tc.path)
			}
		})
	}
}

// TestRetryEndsWithContext: a sidecar that never comes: the call returns the context's error
// with the last connection error.
func TestRetryEndsWithContext(t *testing.T) {
	sc := agonestest.NewUnstartedSidecar(t, roomsServer("gs-1", 2))
	tr := &errTransport{base: http.DefaultTransport, firstErr: make(chan error, 1)}
	c := agones.New(sc.URL(), agones.WithHTTPClient(&http.Client{Transport: tr}), agones.WithBackoff(time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Health(ctx) }()
	<-tr.firstErr
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Health = %v, want context.Canceled wrapping connection refused", err)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := agones.FromEnv(getenv).BaseURL(); got != "http://localhost:9358" {
		t.Fatalf("default base = %s", got)
	}
	env["AGONES_SDK_HTTP_PORT"] = "9999"
	if got := agones.FromEnv(getenv).BaseURL(); got != "http://localhost:9999" {
		t.Fatalf("base = %s", got)
	}
}

// flaky answers each path's first n requests badly (drop: the connection is closed without an
// answer; otherwise HTTP 503 Unavailable, as the gateway says before the gRPC server is up),
// then {} with 200, counting the requests per path.
type flaky struct {
	mu    sync.Mutex
	n     int
	drop  bool
	count map[string]int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.count[r.URL.Path]++
	bad := f.count[r.URL.Path] <= f.n
	f.mu.Unlock()
	switch {
	case bad && f.drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case bad:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"code":14,"message":"connection error","details":[]}`))
	default:
		_, _ = w.Write([]byte(`{}`))
	}
}

func (f *flaky) requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[path]
}

func flakyClient(t *testing.T, f *flaky) *agones.Client {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true // no reuse: the transport itself retries nothing
	t.Cleanup(tr.CloseIdleConnections)
	return agones.New(srv.URL, agones.WithHTTPClient(&http.Client{Transport: tr}), agones.WithBackoff(time.Millisecond, 10*time.Millisecond))
}

// TestRetryOnlyWhatIsSafe: a connection lost after the request went out is retried for the
// idempotent calls and not for AddListValue / RemoveListValue / IncrementCounter (which the
// sidecar may have applied); a 503 is retried for every call.
func TestRetryOnlyWhatIsSafe(t *testing.T) {
	ctx := testCtx(t)
	f := &flaky{n: 2, drop: true, count: map[string]int{}}
	c := flakyClient(t, f)
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready over two dropped connections: %v", err)
	}
	if n := f.requests("/ready"); n != 3 {
		t.Fatalf("POST /ready sent %d times, want 3", n)
	}
	if err := c.SetListCapacity(ctx, "rooms", 3); err != nil {
		t.Fatalf("SetListCapacity over dropped connections: %v", err)
	}
	err := c.AddListValue(ctx, "rooms", "r1")
	var e *agones.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("AddListValue over a dropped connection = %v, want the transport error", err)
	}
	if n := f.requests("/v1beta1/lists/rooms:addValue"); n != 1 {
		t.Fatalf("addValue sent %d times, want 1 (not retried)", n)
	}
	if err := c.IncrementCounter(ctx, "players", 1); err == nil || f.requests("/v1beta1/counters/players") != 1 {
		t.Fatalf("IncrementCounter over a dropped connection = %v after %d requests, want an error after 1", err, f.requests("/v1beta1/counters/players"))
	}

	u := &flaky{n: 2, count: map[string]int{}}
	c = flakyClient(t, u)
	if err := c.AddListValue(ctx, "rooms", "r1"); err != nil {
		t.Fatalf("AddListValue over two 503s: %v", err)
	}
	if n := u.requests("/v1beta1/lists/rooms:addValue"); n != 3 {
		t.Fatalf("addValue sent %d times over 503s, want 3", n)
	}
}

// TestNoRetryOnRefusal: a refusal (not 2xx, not 503) comes back at once as an *Error.
func TestNoRetryOnRefusal(t *testing.T) {
	ctx := testCtx(t)
	sc, c := newPair(t, roomsServer("gs-1", 2))
	_, err := c.Counter(ctx, "nope")
	var e *agones.Error
	if !errors.As(err, &e) || e.Method != http.MethodGet || e.Path != "/v1beta1/counters/nope" || e.StatusCode != 500 {
		t.Fatalf("Counter(nope) = %v, want an *Error for GET /v1beta1/counters/nope", err)
	}
	if n := len(requestsTo(sc.Requests(), http.MethodGet, "/v1beta1/counters/nope")); n != 1 {
		t.Fatalf("GET counters/nope sent %d times, want 1", n)
	}
}

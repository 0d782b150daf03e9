package lobby

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted is an API server that answers each allocation with the next of its answers (the
// last one repeats) and logs what it got.
type scripted struct {
	mu      sync.Mutex
	answers []answer
	got     []*http.Request
	bodies  []string
}

type answer struct {
	code int
	body string
}

func allocated(name string) answer {
	return answer{http.StatusCreated, `{"kind":"GameServerAllocation","status":{"state":"Allocated","gameServerName":"` + name +
		`","address":"10.0.0.7","ports":[{"name":"default","port":7654}],"source":"local"}}`}
}

var contention = answer{http.StatusCreated, `{"status":{"state":"Contention"}}`}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, r)
	s.bodies = append(s.bodies, string(body))
	a := s.answers[0]
	if len(s.answers) > 1 {
		s.answers = s.answers[1:]
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.code)
	io.WriteString(w, a.body)
}

func (s *scripted) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func newScripted(t *testing.T, answers ...answer) (*scripted, *Allocator) {
	s := &scripted{answers: answers}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, &Allocator{URL: srv.URL, Namespace: "games", Backoff: time.Millisecond}
}

// TestAllocatorInCluster: InCluster finds the API server from the environment, trusts it
// through ca.crt, posts to the namespace's gameserverallocations with the service account's
// bearer token, and rereads the token file on every request (the kubelet rotates it).
func TestAllocatorInCluster(t *testing.T) {
	s := &scripted{answers: []answer{allocated("gs-1")}}
	srv := httptest.NewTLSServer(s)
	defer srv.Close()
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("tok-1\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "namespace"), []byte("games"), 0o600))
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	envs := map[string]string{"KUBERNETES_SERVICE_HOST": u.Hostname(), "KUBERNETES_SERVICE_PORT": u.Port()}
	a, err := InCluster(dir, func(k string) string { return envs[k] })
	require.NoError(t, err)
	assert.Equal(t, "games", a.Namespace)

	spec := AllocationSpec{Selectors: []Selector{{MatchLabels: map[string]string{FleetLabel: "f"}}}}
	st, err := a.Allocate(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, AllocationStatus{State: StateAllocated, GameServerName: "gs-1", Address: "10.0.0.7", Ports: []Port{{"default", 7654}}}, st)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("tok-2"), 0o600))
	_, err = a.Allocate(context.Background(), spec)
	require.NoError(t, err)

	require.Len(t, s.got, 2)
	r := s.got[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/apis/allocation.agones.dev/v1/namespaces/games/gameserverallocations", r.URL.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "Bearer tok-1", r.Header.Get("Authorization"))
	assert.Equal(t, "Bearer tok-2", s.got[1].Header.Get("Authorization"))
	assert.JSONEq(t, `{"apiVersion":"allocation.agones.dev/v1","kind":"GameServerAllocation",
		"spec":{"selectors":[{"matchLabels":{"agones.dev/fleet":"f"}}]}}`, s.bodies[0])

	// Outside a cluster: a clear error.
	_, err = InCluster(t.TempDir(), func(string) string { return "" })
	assert.ErrorContains(t, err, "not in a cluster")
}

// TestAllocatorContention: Contention is retried until Allocated, and at most Attempts times.
func TestAllocatorContention(t *testing.T) {
	s, a := newScripted(t, contention, contention, allocated("gs-2"))
	a.Attempts = 5
	st, err := a.Allocate(context.Background(), AllocationSpec{})
	require.NoError(t, err)
	assert.Equal(t, "gs-2", st.GameServerName)
	assert.Equal(t, 3, s.requests())

	s, a = newScripted(t, contention)
	a.Attempts = 4
	_, err = a.Allocate(context.Background(), AllocationSpec{})
	assert.ErrorIs(t, err, ErrContention)
	assert.Equal(t, 4, s.requests())

	// A cancelled context ends the backoff at once (an hour here).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, contention.body)
		cancel()
	}))
	defer srv.Close()
	a = &Allocator{URL: srv.URL, Namespace: "games", Backoff: time.Hour}
	_, err = a.Allocate(ctx, AllocationSpec{})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestAllocatorAnswers: UnAllocated and 429 mean no server; other failures are APIErrors with
// the Kubernetes Status' reason and message.
func TestAllocatorAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		a    answer
		want error
	}{
		"unallocated": {answer{http.StatusCreated, `{"status":{"state":"UnAllocated"}}`}, ErrNoServer},
		"429":         {answer{http.StatusTooManyRequests, `{"kind":"Status","message":"too many"}`}, ErrNoServer},
		"forbidden": {answer{http.StatusForbidden, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"gameserverallocations.allocation.agones.dev is forbidden: User \"system:serviceaccount:games:lobby\" cannot create resource","reason":"Forbidden","code":403}`},
			&APIError{Code: 403, Reason: "Forbidden", Message: `gameserverallocations.allocation.agones.dev is forbidden: User "system:serviceaccount:games:lobby" cannot create resource`}},
		"not json": {answer{http.StatusBadGateway, "upstream down\nmore"}, &APIError{Code: 502, Reason: "Bad Gateway", Message: "upstream down"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, a := newScripted(t, tc.a)
			_, err := a.Allocate(context.Background(), AllocationSpec{})
			var ae *APIError
			if want, ok := tc.want.(*APIError); ok {
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, want, ae)
			} else {
				assert.ErrorIs(t, err, tc.want)
			}
		})
	}
}

// TestSpecJSON: the spec marshals with Agones' field names.
func TestSpecJSON(t *testing.T) {
	spec := AllocationSpec{
		Selectors:  []Selector{{MatchLabels: map[string]string{FleetLabel: "f"}, GameServerState: StateAllocated, Lists: map[string]ListSelector{"rooms": {MinAvailable: 1}}}},
		Priorities: []Priority{{Type: "List", Key: "rooms", Order: "Ascending"}},
		Metadata:   &MetaPatch{Annotations: map[string]string{"a": "b"}},
		Lists:      map[string]ListAction{"rooms": {AddValues: []string{"x"}}},
	}
	js, err := json.Marshal(spec)
	require.NoError(t, err)
	assert.JSONEq(t, `{"selectors":[{"matchLabels":{"agones.dev/fleet":"f"},"gameServerState":"Allocated","lists":{"rooms":{"minAvailable":1}}}],
		"priorities":[{"type":"List","key":"rooms","order":"Ascending"}],
		"metadata":{"annotations":{"a":"b"}},"lists":{"rooms":{"addValues":["x"]}}}`, string(js))
}

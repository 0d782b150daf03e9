package lobby

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// fixedNow is the tests' clock: tokens expire TokenTTL after it.
var fixedNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// newLobby serves a Lobby allocating through a, with the tests' secret and clock, and returns
// its URL and the log it writes.
func newLobby(t *testing.T, a *Allocator, mod func(*Config)) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := Config{Allocator: a, Secret: secret, Now: func() time.Time { return fixedNow },
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if mod != nil {
		mod(&cfg)
	}
	l, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// call sends method path with body to the lobby at base and returns the status, the body and
// the answer's headers.
func call(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b), res.Header
}

// decodeRoom decodes a Room answer and checks its token: a join token of role player for that
// room, valid now, expiring TokenTTL (default 60s) after the clock.
func decodeRoom(t *testing.T, body string) (Room, auth.Claims) {
	t.Helper()
	var r Room
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r), body)
	cl, err := auth.Verify(secret, r.Token, fixedNow)
	require.NoError(t, err)
	assert.Equal(t, auth.KindJoin, cl.Kind)
	assert.Equal(t, r.Room, cl.Room)
	assert.Equal(t, auth.RolePlayer, cl.Role)
	assert.NotZero(t, cl.Player)
	assert.Less(t, cl.Player, uint32(1<<31))
	assert.Equal(t, fixedNow.Add(60*time.Second), r.Expires)
	assert.Equal(t, r.Expires.Unix(), cl.Expiry)
	return r, cl
}

// TestRequestsRefused: bad bodies and bad ids are 400 before anything is allocated.
func TestRequestsRefused(t *testing.T) {
	s, a := newScripted(t, allocated("gs-1"))
	base, _ := newLobby(t, a, nil)
	for name, body := range map[string]string{
		"not json":        "{",
		"unknown field":   `{"config":{},"labels":{"a":"b"}}`,
		"config array":    `{"config":[1]}`,
		"config string":   `{"config":"x"}`,
		"two values":      `{} {}`,
		"config too big":  `{"config":{"k":"` + strings.Repeat("x", MaxConfigBytes) + `"}}`,
		"body too big":    `{"config":{}}` + strings.Repeat(" ", maxBody),
		"config bad json": `{"config":{"a":}}`,
	} {
		code, msg, _ := call(t, http.MethodPost, base+"/v1/rooms", body)
		assert.Equal(t, http.StatusBadRequest, code, name+": "+msg)
	}
	for _, id := range []string{"-abc", "abc-", "a%2Fb", "a%20b", strings.Repeat("a", 41), "r%C3%A9"} {
		code, _, _ := call(t, http.MethodGet, base+"/v1/rooms/"+id, "")
		assert.Equal(t, http.StatusBadRequest, code, id)
	}
	assert.Zero(t, s.requests(), "nothing allocated")

	code, body, _ := call(t, http.MethodGet, base+"/healthz", "")
	assert.Equal(t, http.StatusOK, code, body)
}

// TestValidRoomID: the lobby's ids, and what else is accepted.
func TestValidRoomID(t *testing.T) {
	for range 100 {
		id := NewRoomID()
		require.True(t, ValidRoomID(id), id)
		require.Len(t, id, 26)
	}
	assert.NotEqual(t, NewRoomID(), NewRoomID())
	for _, id := range []string{"a", "a.b", "A_b-9", strings.Repeat("z", 40)} {
		assert.True(t, ValidRoomID(id), id)
	}
	for _, id := range []string{"", "_a", "a.", "a b", "a:b", strings.Repeat("z", 41)} {
		assert.False(t, ValidRoomID(id), id)
	}
}

// TestAPIErrorsAre502: a failing API server answers 502 with its reason, counted and logged.
func TestAPIErrorsAre502(t *testing.T) {
	_, a := newScripted(t, answer{http.StatusForbidden, `{"kind":"Status","message":"gameserverallocations.allocation.agones.dev is forbidden","reason":"Forbidden","code":403}`})
	base, logs := newLobby(t, a, nil)
	code, body, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, body, "403 Forbidden: gameserverallocations.allocation.agones.dev is forbidden")
	code, _, _ = call(t, http.MethodGet, base+"/v1/rooms/abc", "")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, logs.String(), "allocation failed")

	// An allocated server without ports cannot be reached: 502 too.
	_, a = newScripted(t, answer{http.StatusCreated, `{"status":{"state":"Allocated","gameServerName":"gs-9","address":"10.0.0.1"}}`})
	base, _ = newLobby(t, a, nil)
	code, body, _ = call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, body, `game server "gs-9" has no address or port`)

	_, body, _ = call(t, http.MethodGet, base+"/metrics", "")
	assert.Contains(t, body, `ticksync_lobby_allocations_total{op="create",result="error"} 1`)

	// An API server that does not answer: 502 without its address (the log has it).
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	base, logs = newLobby(t, &Allocator{URL: gone.URL, Namespace: "games"}, nil)
	code, body, _ = call(t, http.MethodPost, base+"/v1/rooms", "")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Equal(t, "allocation failed: the Kubernetes API did not answer\n", body)
	assert.Contains(t, logs.String(), strings.TrimPrefix(gone.URL, "http://"))
}

// TestURLPort: the URL names the port of -port-name, else the first port; IPv6 is bracketed;
// the scheme is the configured one.
func TestURLPort(t *testing.T) {
	ans := answer{http.StatusCreated, `{"status":{"state":"Allocated","gameServerName":"gs","address":"fd00::7",
		"ports":[{"name":"metrics","port":9000},{"name":"game","port":7000}]}}`}
	_, a := newScripted(t, ans)
	base, _ := newLobby(t, a, func(c *Config) { c.PortName, c.Scheme = "game", "wss" })
	code, body, _ := call(t, http.MethodPost, base+"/v1/rooms", "")
	require.Equal(t, http.StatusCreated, code, body)
	r, _ := decodeRoom(t, body)
	assert.Equal(t, "wss://[fd00::7]:7000/ws", r.URL)

	base, _ = newLobby(t, a, func(c *Config) { c.PortName = "nope" })
	_, body, _ = call(t, http.MethodPost, base+"/v1/rooms", "")
	r, _ = decodeRoom(t, body)
	assert.Equal(t, "ws://[fd00::7]:9000/ws", r.URL)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

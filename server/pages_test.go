package server

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPages: the server serves no pages of its own. Without Config.Pages every GET outside
// the API is 404 with a line naming the endpoints; with them, Pages answers those GETs and the
// API routes still answer their own.
func TestPages(t *testing.T) {
	get := func(ts *testServer, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.httpURL(path))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	bare := startServer(t, Config{TickRate: 20}, nil)
	for _, path := range []string{"/", "/replay", "/app.js"} {
		code, body := get(bare, path)
		assert.Equal(t, http.StatusNotFound, code, path)
		assert.Contains(t, body, "/ws, /rooms, /replays, /healthz and /metrics", path)
	}

	var seen []string
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		_, _ = io.WriteString(w, "page "+r.URL.Path)
	})
	ts := startServer(t, Config{TickRate: 20, Pages: pages}, nil)
	for _, path := range []string{"/", "/replay", "/app.js"} {
		code, body := get(ts, path)
		assert.Equal(t, http.StatusOK, code, path)
		assert.Equal(t, "page "+path, body)
	}
	code, body := get(ts, "/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ok\n", body, "the API wins over pages")
	code, _ = get(ts, "/rooms")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, []string{"/", "/replay", "/app.js"}, seen, "pages saw only the page requests")
}

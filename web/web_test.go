package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkServes asserts h serves each path as the committed file byte for byte, and 404 for each
// of missing.
func checkServes(t *testing.T, h http.Handler, files map[string]string, missing []string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for path, file := range files {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err, path)
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err, path)
		want, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, string(want), string(body), "%s serves %s", path, file)
	}
	for _, path := range missing {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err, path)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
}

// TestPages: "/" is the demo, "/replay" the viewer, the scripts are served by name, each
// byte for byte the committed file, and anything else is 404.
func TestPages(t *testing.T) {
	checkServes(t, Pages(), map[string]string{
		"/": "index.html", "/replay": "replay.html", "/app.js": "app.js", "/replay.js": "replay.js", "/style.css": "style.css",
	}, []string{"/nope.js", "/web.go"})
}

// TestViewer: Viewer serves the viewer's page and files byte for byte, and nothing else (not
// the demo), so a game server can mount it beside its own pages.
func TestViewer(t *testing.T) {
	checkServes(t, Viewer(), map[string]string{"/replay": "replay.html", "/replay.js": "replay.js", "/replay.css": "replay.css"},
		[]string{"/", "/app.js", "/style.css", "/index.html"})
	assert.Len(t, ViewerPaths, 3)
}

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

// TestPages: "/" is the demo, "/replay" the viewer, the scripts are served by name, each
// byte for byte the committed file, and anything else is 404.
func TestPages(t *testing.T) {
	srv := httptest.NewServer(Pages())
	t.Cleanup(srv.Close)
	for path, file := range map[string]string{
		"/": "index.html", "/replay": "replay.html", "/app.js": "app.js", "/replay.js": "replay.js", "/style.css": "style.css",
	} {
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
	for _, path := range []string{"/nope.js", "/web.go"} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err, path)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
}

// TestViewer: Viewer serves the viewer's page and files byte for byte, and nothing else (not
// the demo), so a game server can mount it beside its own pages.
func TestViewer(t *testing.T) {
	srv := httptest.NewServer(Viewer())
	t.Cleanup(srv.Close)
	for path, file := range map[string]string{"/replay": "replay.html", "/replay.js": "replay.js", "/replay.css": "replay.css"} {
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
	for _, path := range []string{"/", "/app.js", "/style.css", "/index.html"} {
		res, err := http.Get(srv.URL + path)
		require.NoError(t, err, path)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode, path)
	}
	assert.Len(t, ViewerPaths, 3)
}

// Package web is the demo and replay-viewer pages built from client-js, embedded: index.html,
// app.js and style.css (the demo, client-js/demo) and replay.html and replay.js (the viewer,
// client-js/viewer). `npm run build:web` in client-js writes them here; they are committed and
// `make web` fails when they differ from a fresh build.
//
// The server mounts no pages of its own: cmd/ticksync passes Pages() as server.Config.Pages.
package web

import (
	"embed"
	"net/http"
)

// files is the built bundle (the build writes only these kinds of file here).
//
//go:embed *.html *.js *.css
var files embed.FS

// Pages serves the bundle: the demo at "/", the replay viewer at "/replay", and the bundle's
// files by name.
func Pages() http.Handler {
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/replay" {
			http.ServeFileFS(w, r, files, "replay.html")
			return
		}
		static.ServeHTTP(w, r)
	})
}

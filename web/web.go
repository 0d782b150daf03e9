// Package web is the demo and replay-viewer pages built from client-js, embedded: index.html,
// app.js and style.css (the demo, client-js/demo) and replay.html and replay.js (the viewer,
// client-js/viewer). `npm run build:web` in client-js writes them here; they are committed and
// `make web` fails when they differ from a fresh build.
//
// The server mounts no pages of its own: cmd/ticksync passes Pages() as server.Config.Pages,
// and package cli mounts Viewer() in every game server, so any game's recordings can be
// watched at /replay.
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

// ViewerPaths are the paths Viewer answers: the page and its two files.
var ViewerPaths = []string{"/replay", "/replay.js", "/replay.css"}

// Viewer serves only the replay viewer: "/replay" and its files (replay.js, replay.css), and
// 404 for anything else. Every game server mounts it (package cli), whatever its own pages.
func Viewer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/replay":
			http.ServeFileFS(w, r, files, "replay.html")
		case "/replay.js", "/replay.css":
			http.ServeFileFS(w, r, files, r.URL.Path[1:])
		default:
			http.NotFound(w, r)
		}
	})
}

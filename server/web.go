package server

import (
	"embed"
	"io/fs"
	"net/http"
)

// webFS is the built demo page and replay viewer (client-js builds into server/web/).
//
//go:embed web
var webFS embed.FS

// webHandler serves the embedded bundle: / the demo, /replay the viewer.
func webHandler() http.Handler {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/replay" {
			if _, err := fs.Stat(sub, "replay.html"); err == nil {
				http.ServeFileFS(w, r, sub, "replay.html")
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}

// Package web is the skirmish example's browser page, built from examples/skirmish/page by
// `npm run build:web` in client-js and embedded: index.html, app.js and style.css. The built
// files are committed and `make web` fails when they differ from a fresh build.
//
// cmd/skirmish passes Pages() as cli.Program.Pages, so `skirmish serve` serves the page at "/".
package web

import (
	"embed"
	"net/http"
)

// files is the built page (the build writes only these kinds of file here).
//
//go:embed *.html *.js *.css
var files embed.FS

// Pages serves the page at "/" and its files by name.
func Pages() http.Handler {
	return http.FileServerFS(files)
}

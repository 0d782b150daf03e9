package sim_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const modulePath = "github.com/ticksync/ticksync"

// forbidden are standard packages that would bring a clock, I/O, goroutine machinery or
// package-level randomness into the deterministic core (DESIGN.md, "Determinism").
var forbidden = []string{"time", "math/rand", "math/rand/v2", "os", "net", "sync", "syscall", "log", "log/slog", "unsafe", "io/ioutil"}

func isForbidden(path string) bool {
	for _, f := range forbidden {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}

// TestImports holds sim, sim/arena, sim/simtest and the example game to the map: sim imports
// nothing of the project but proto (the games also sim), none imports a clock, I/O, sync or a
// random source, and none starts a goroutine. Test files may cross any line.
func TestImports(t *testing.T) {
	proto := modulePath + "/proto/ticksync/v1"
	sim := modulePath + "/sim"
	tests := []struct {
		dir     string
		project []string // project packages it may import
	}{
		{".", []string{proto}},
		{"arena", []string{proto, sim}},
		{"simtest", []string{sim}},
		{"../examples/skirmish", []string{proto, sim}}, // the example game: the same rules hold for games
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			pkg, err := build.ImportDir(tt.dir, 0)
			require.NoError(t, err)
			require.NotEmpty(t, pkg.GoFiles)
			for _, imp := range pkg.Imports {
				assert.False(t, isForbidden(imp), "%s imports %q", tt.dir, imp)
				if strings.HasPrefix(imp, modulePath) {
					assert.Contains(t, tt.project, imp, "%s imports project package %q", tt.dir, imp)
				}
			}
			for _, name := range pkg.GoFiles {
				assertNoGoroutines(t, filepath.Join(tt.dir, name))
			}
		})
	}

	// And proto, which sim does import, imports nothing of the project.
	pkg, err := build.Import(proto, ".", 0)
	require.NoError(t, err)
	for _, imp := range pkg.Imports {
		assert.False(t, strings.HasPrefix(imp, modulePath), "proto imports %q", imp)
	}
	assert.True(t, slices.Contains(forbidden, "time"))
}

func assertNoGoroutines(t *testing.T, path string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	require.NoError(t, err)
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			assert.Fail(t, "sim starts no goroutines", "%s: go statement", path)
		case *ast.FuncDecl:
			assert.False(t, n.Recv == nil && n.Name.Name == "init", "%s: func init (hidden global state)", path)
		}
		return true
	})
}

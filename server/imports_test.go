package server_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const modulePath = "github.com/ticksync/ticksync"

// serverMay are the project packages server's non-test code may import: the server knows no
// game (no sim/arena: the binary registers the games), mounts no pages (no web: the binary
// passes them in Config.Pages) and leans on no client or benchmark.
var serverMay = []string{
	modulePath + "/sim",
	modulePath + "/sim/replay",
	modulePath + "/proto/ticksync/v1",
	modulePath + "/auth",
}

// TestImports holds server and server/internal/... to serverMay and their own internals. It
// reads every non-test .go file whatever its build constraints (sendq_linux.go and
// sendq_other.go alike). Test files may cross any line.
func TestImports(t *testing.T) {
	internal := modulePath + "/server/internal/"
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" || (path != "." && strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			require.NoError(t, err)
			if imp != modulePath && !strings.HasPrefix(imp, modulePath+"/") {
				continue // the standard library and third parties
			}
			if strings.HasPrefix(imp, internal) {
				continue
			}
			assert.Contains(t, serverMay, imp, "%s imports project package %q", path, imp)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, files, 10, "the walk found server's files")
}

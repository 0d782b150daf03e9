package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplayServe serves the golden recording, lists it on /replays and stops cleanly.
func TestReplayServe(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("..", "sim", "replay", "testdata", "golden-v1.tsrec"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "golden-v1.tsrec")
	require.NoError(t, os.WriteFile(path, golden, 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- runReplayServe(ctx, testProgram(), []string{"-addr", "127.0.0.1:0", "-log-level", "warn", path}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "ticksync serving on http://127.0.0.1:"), line)
	url := strings.Fields(line)[3]
	resp, err := http.Get(url + "/replays")
	require.NoError(t, err)
	var list []struct {
		Name     string `json:"name"`
		Game     string `json:"game"`
		Ticks    uint32 `json:"ticks"`
		Complete bool   `json:"complete"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list, 1)
	assert.Equal(t, "golden-v1", list[0].Name)
	assert.Equal(t, "arena", list[0].Game)
	assert.True(t, list[0].Complete)
	assert.NotZero(t, list[0].Ticks)
	cancel()
	assert.Equal(t, 0, <-code, stderr.String())
}

func TestReplayServeRefuses(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.tsrec")
	require.NoError(t, os.WriteFile(junk, []byte("not a recording"), 0o644))
	for name, tc := range map[string]struct {
		args []string
		code int
	}{
		"no files":        {nil, 2},
		"missing file":    {[]string{filepath.Join(dir, "nope.tsrec")}, 1},
		"not a recording": {[]string{junk}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			got := runReplayServe(context.Background(), testProgram(), append([]string{"-addr", "127.0.0.1:0"}, tc.args...), io.Discard, &stderr)
			assert.Equal(t, tc.code, got, stderr.String())
		})
	}
}

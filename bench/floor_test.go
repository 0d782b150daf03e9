package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFloorScenario runs `bench -scenario floor` end to end: a floor server process, a load
// generator process, a short window, one JSONL line.
func TestFloorScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Setenv(envAsMain, "1")
	dir := t.TempDir()
	out := filepath.Join(dir, "r.jsonl")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Main(ctx, []string{"-scenario", "floor", "-clients", "20", "-hz", "20", "-frame-bytes", "1500", "-floor-loop",
		"-duration", "2s", "-warmup", "500ms", "-out", out, "-progress=false"}, &stdout, &stderr)
	require.Equal(t, 0, code, "stderr: %s", stderr.String())
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	require.True(t, sc.Scan())
	var res result
	require.NoError(t, json.Unmarshal(sc.Bytes(), &res))
	require.NotNil(t, res.Floor)
	assert.Equal(t, "floor", res.Server)
	assert.Equal(t, 20, res.Floor.Clients)
	assert.Equal(t, 1500, res.Floor.FrameBytes)
	assert.Equal(t, "loop", res.Floor.Writers)
	assert.InDelta(t, 17, res.Floor.FramesPerSPerCli, 7, "frames per second per connection (20, fewer on a busy machine)")
	assert.Greater(t, res.Floor.CPUUtilPct, 0.0)
	assert.Greater(t, res.Floor.WriteBurstP99Ms, 0.0)
	assert.Greater(t, res.LoadgenCPUUtilPct, 0.0)
	assert.Contains(t, stdout.String(), "| metric | value |")
}

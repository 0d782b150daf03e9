package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim/arena"
)

// TestStateViewMatchesReplayDump: GET /rooms/{id}/state of a live room at tick 37 and
// `replay dump -tick 37` of its recording print the same world, field by field (both are
// sim.StateView; the dump re-simulates from the keyframe before).
func TestStateViewMatchesReplayDump(t *testing.T) {
	p := testProgram()
	dir := t.TempDir()
	rec, err := server.NewFileRecorder(server.FileRecorderOptions{Dir: dir, NoSync: true, KeyframeEvery: 10, Queue: 64})
	require.NoError(t, err)
	s, err := server.New(server.Config{ManualTicks: true, Games: p.Games, NewRecorder: rec, Ring: 128}) // the queue holds every tick: manual ticks outrun the writer
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	r, err := s.CreateRoom("dump", arena.Name, []byte(`{"npcs":12}`))
	require.NoError(t, err)
	for range 37 {
		require.True(t, r.Tick())
	}
	res, err := http.Get(srv.URL + "/rooms/dump/state")
	require.NoError(t, err)
	live, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, string(live))
	res, err = http.Get(srv.URL + "/rooms/nope/state")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	require.True(t, s.CloseRoom("dump"))
	r.Tick() // a manually ticked room finishes (and closes its recording) on its next turn
	<-r.Done()
	files, err := filepath.Glob(filepath.Join(dir, "*.tsrec"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	var out, errb bytes.Buffer
	require.Equal(t, 0, p.Run(context.Background(), []string{"replay", "dump", "-tick", "37", files[0]}, env(nil), &out, &errb), errb.String())

	var a, b map[string]any
	require.NoError(t, json.Unmarshal(live, &a))
	require.NoError(t, json.Unmarshal(out.Bytes(), &b))
	assert.Equal(t, a, b)
	assert.EqualValues(t, 37, b["tick"])
	npcs := b["classes"].(map[string]any)["npc"].([]any)
	require.Len(t, npcs, 12)
	fields := npcs[0].(map[string]any)["fields"].(map[string]any)
	assert.Contains(t, fields, "x")
	assert.Contains(t, fields, "hp")

	// A tick past the end is refused; no tick means the last one.
	assert.Equal(t, 2, p.Run(context.Background(), []string{"replay", "dump", "-tick", "999", files[0]}, env(nil), &out, &errb))
	out.Reset()
	require.Equal(t, 0, p.Run(context.Background(), []string{"replay", "dump", files[0]}, env(nil), &out, &errb))
	require.NoError(t, json.Unmarshal(out.Bytes(), &b))
	assert.EqualValues(t, 37, b["tick"])
}

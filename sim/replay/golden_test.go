package replay

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata: the golden recording and the fuzz seeds")

// goldenPath is the golden recording as the current writer writes it; goldenV1First is the
// same match as the first version-1 writer wrote it, before the additive fields (keyframes'
// storage order, events, results, history): it must keep reading and verifying.
const (
	goldenPath    = "testdata/golden-v1-order.tsrec"
	goldenV1First = "testdata/golden-v1.tsrec"
)

// golden is the scripted match of the committed golden recording. Changing it changes the file.
func golden() match {
	return match{npcs: 16, hz: 20, seed: 1234, scriptSeed: 99, ticks: 300, keyEvery: 100, players: 8,
		joinBelow: 1 << 27, leaveBelow: 1 << 25, moveBelow: 1 << 31, odd: true}
}

// The committed recordings keep verifying, and a fresh write of the same match is byte for byte
// the current one: the format cannot change by accident. Format version 1 grows only by
// additive fields that older readers skip (docs/operations.md, "Recordings on disk"); a change
// an older reader would misread bumps FormatVersion and adds a golden file. Run with -update only
// to rewrite the current file when its match or an additive field changes.
func TestGolden(t *testing.T) {
	fresh := golden().play(t, nil, nil).file
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
		require.NoError(t, os.WriteFile(goldenPath, fresh, 0o644))
	}
	for _, path := range []string{goldenPath, goldenV1First} {
		committed, err := os.ReadFile(path)
		require.NoError(t, err)
		r := openBytes(t, committed)
		require.NoError(t, Verify(r, lookup, nil), path)
		info, err := r.Info()
		require.NoError(t, err)
		assert.True(t, info.Complete, path)
		assert.Equal(t, uint32(300), info.Ticks, path)
		assert.Equal(t, 3, info.Keyframes, path)
		assert.Equal(t, 8, info.Players, path)
	}
	committed, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	require.True(t, bytes.Equal(committed, fresh), "a fresh write differs from %s (%d vs %d bytes): the encoding changed; a deliberate change needs a new format version", goldenPath, len(fresh), len(committed))
}

// fuzzSeeds are the seed files of FuzzReadRecording: a closed file and damaged copies of it.
func fuzzSeeds(t *testing.T) map[string][]byte {
	p := small().play(t, nil, nil)
	file := p.file
	flipped := bytes.Clone(file)
	flipped[p.tickOff[30]+9] ^= 0x10
	noTrailer := file[:len(file)-trailerLen]
	return map[string][]byte{
		"closed":      file,
		"torn":        file[:p.tickOff[40]+7],
		"unclosed":    file[:p.tickOff[50]],
		"flipped":     flipped,
		"no-trailer":  noTrailer,
		"header-only": file[:p.tickOff[1]],
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzReadRecording")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadRecording")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, b := range fuzzSeeds(t) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644))
	}
}

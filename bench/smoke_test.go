package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmokeScenarioA is the `make test` bench run: it builds ticksync once, runs a few seconds
// of scenario A with tiny sizes against a real `ticksync serve`, and checks that the JSONL line
// has every field with sane values. It asserts no timings.
func TestSmokeScenarioA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a real server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	stdout, stderr := runSmokeBench(ctx, t, dir, "-scenario", "A", "-entities", "50", "-clients", "5", "-duration", "3s", "-warmup", "1s",
		"-floor-duration", "2s", "-out", out, "-progress=false", "-decode", "-1")
	t.Logf("stderr:\n%s", stderr)

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	require.True(t, sc.Scan(), "no JSONL line")
	line := sc.Bytes()
	var raw map[string]any
	require.NoError(t, json.Unmarshal(line, &raw))
	for _, k := range sharedFields {
		assert.Contains(t, raw, k)
	}
	var r result
	require.NoError(t, json.Unmarshal(line, &r))

	assert.Equal(t, "ticksync", r.Server)
	assert.Equal(t, "A", r.Scenario)
	assert.Equal(t, 50, r.Entities)
	assert.Equal(t, 5, r.Clients)
	assert.Equal(t, 20, r.Hz)
	assert.NotEmpty(t, r.Version)
	assert.NotEmpty(t, r.Machine)
	_, err = time.Parse(time.RFC3339, r.Date)
	assert.NoError(t, err)

	// Traffic: every client got about one patch per tick, and bytes.
	assert.Greater(t, r.BytesPerSPerClient, 0.0)
	assert.Greater(t, r.BytesPerPatchMean, 0.0)
	assert.Greater(t, r.FullStateBytesOnJoin, int(r.BytesPerPatchMean), "the full state is bigger than a delta")
	assert.GreaterOrEqual(t, r.FullStateMaxBytes, r.FullStateBytesOnJoin)
	assert.Equal(t, 5, r.FullStates, "every client's join was measured")
	assert.Equal(t, r.RTTMs.N, r.RTTSamples)
	// On a busy machine a slow client's mailbox coalesces frames (latest wins), so a client may
	// get fewer patches than the server ran ticks, never more.
	assert.InDelta(t, 20, r.TicksPerS, 5, "ticks per second")
	assert.GreaterOrEqual(t, r.PatchesPerSPerClient, 10.0, "patches per second per client")
	sent := float64(r.Ticks * r.Clients)
	assert.LessOrEqual(t, float64(r.Patches), 1.05*sent+float64(r.Clients), "patches received ≤ ticks × clients")
	assert.GreaterOrEqual(t, float64(r.Patches), 0.5*sent, "patches received match ticks × clients")

	// Latency: inputs were matched to frames through last_input_seq.
	assert.Greater(t, r.InputsSent, int64(0))
	assert.Greater(t, r.RTTMs.N, int(r.InputsSent)/2, "most inputs got an RTT")
	assert.Greater(t, r.RTTMs.P50, 0.0, "no zero RTT")
	assert.GreaterOrEqual(t, r.RTTMs.Max, r.RTTMs.P99)
	assert.Greater(t, r.ServerHoldMs.N, 0)
	assert.Greater(t, r.ServerHoldMs.P50, 0.0)
	assert.Greater(t, r.TickWaitMs.N, 0)
	assert.LessOrEqual(t, r.TickWaitMs.P50, r.ServerHoldMs.P50, "the wait is part of the hold")
	assert.Equal(t, r.ServerHoldMs.N, r.HoldBeyondWaitMs.N)
	assert.GreaterOrEqual(t, r.HoldBeyondWaitMs.P50, 0.0)

	// Server side, from the stats messages and /proc.
	assert.Greater(t, r.TickWorkMs.N, 0)
	assert.Greater(t, r.TickWorkMs.P99, 0.0)
	assert.Greater(t, r.TickWorkMs.Step.P50, 0.0)
	assert.Greater(t, r.TickWorkMs.Encode.P50, 0.0)
	assert.Greater(t, r.FrameWritesMs.N, r.TickWorkMs.N/2, "most ticks report when their frames were written")
	assert.Greater(t, r.FrameWritesMs.P50, r.TickWorkMs.Handoff.P50, "writes end after the hand-off starts them")
	assert.Greater(t, r.TickIntervalMs.N, 0)
	assert.Greater(t, r.TickIntervalMs.P99, 0.0)
	assert.GreaterOrEqual(t, r.MissedTicks, 0)
	assert.Greater(t, r.ServerCPUUtilPct, 0.0)
	assert.Greater(t, r.ServerRSSMB, 0.0)
	assert.GreaterOrEqual(t, r.ServerRSSPeakMB, r.ServerRSSMB)
	assert.Greater(t, r.GoHeapMB, 0.0)
	assert.GreaterOrEqual(t, r.AllocsPerTick, 0.0)

	// Load generator and decode.
	assert.Greater(t, r.LoadgenCPUUtilPct, 0.0)
	assert.Equal(t, 5, r.DecodingClients)
	assert.Greater(t, r.ClientDecodeMsPerPatch, 0.0)
	assert.Positive(t, r.ViewHashChecks, "decoding clients check the view hashes they get")
	assert.Zero(t, r.ViewHashMismatches)
	assert.Zero(t, r.Disconnects, "notes: %v", r.Notes)

	// The floor ran with the run's shape.
	require.NotNil(t, r.Floor)
	assert.Equal(t, 5, r.Floor.Clients)
	assert.Equal(t, int(r.BytesPerPatchMean+0.5), r.Floor.FrameBytes)
	assert.Greater(t, r.Floor.CPUUtilPct, 0.0)
	assert.Greater(t, r.ServerCPUVsFloor, 0.0)

	assert.Contains(t, stdout, "| metric | value |")
	require.NotEmpty(t, r.Plot)
	assert.FileExists(t, strings.TrimSuffix(r.Plot, ".svg")+".md")
	svg, err := os.ReadFile(r.Plot)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(svg, []byte("<svg")))
}

// moduleRoot returns the directory of go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test")
		dir = parent
	}
}

// TestSmokeSoak is the `make test` soak: about a minute of the soak scenario at tiny sizes (2
// rooms × 5 players, one hostile client of each kind, the R search skipped) against a real
// `ticksync serve` with short timeouts. It checks counts only, never timings: no crash, no
// honest client lost, every recording verified, and each hostile kind closed the way
// docs/protocol.md and server/close.go say (flood and garbage 1008, oversized 1009, a
// never-reader dropped, slowloris never upgraded, storms seated every time).
func TestSmokeSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a real server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	stdout, _ := runSmokeBench(ctx, t, dir, "-scenario", "soak", "-soak-players", "10", "-players-per-room", "5",
		"-duration", "40s", "-clean-duration", "5s", "-sample-every", "5s", "-warmup", "2s", "-hostile", "5%",
		"-server-flags", "-max-lag=2s -write-timeout=2s -header-timeout=2s -max-msg-bytes=1024",
		"-out", out, "-svg", filepath.Join(dir, "soak.svg"), "-progress=false")
	t.Logf("stdout:\n%s", stdout)

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var r result
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(b), &r))
	require.NotNil(t, r.Soak, "no soak object")
	s := r.Soak
	assert.Equal(t, "soak", r.Scenario)
	assert.Equal(t, 10, s.Players)
	assert.Zero(t, s.Crashes, "the server exited by itself; notes: %v", r.Notes)
	assert.Zero(t, s.Clean.Disconnects, "honest clients lost in the clean run; notes: %v", r.Notes)
	assert.Zero(t, s.HonestDisconnects, "honest clients lost in the soak; notes: %v", r.Notes)
	assert.NotEmpty(t, s.Samples)
	assert.NotEmpty(t, s.CleanSamples)
	assert.Positive(t, s.Recordings, "no recordings to verify")
	assert.Equal(t, s.Recordings, s.RecordingsOK, "recordings that do not verify: %v", s.RecordingErrors)

	// Each kind: what it must have got at least once, and everything it may get. A loop's
	// last connection may still be open when the soak ends.
	want := map[string]struct {
		must string
		may  []string
	}{
		kindFlood:     {"1008", []string{"1008"}},
		kindGarbage:   {"1008", []string{"1008"}},
		kindOversized: {"1009", []string{"1009"}},
		// Dropped as too slow: the close frame cannot reach a peer whose window is shut, so
		// the socket may just end.
		kindNoRead:    {"", []string{"1008", outNoCloseFrame}},
		kindSlowloris: {"", []string{"http 400", "http 408", outNoReply}},
		kindStorm:     {outLeftTCP, []string{outLeft1000, outLeftMsg, outLeftTCP}},
	}
	require.Len(t, r.Hostile, len(hostileKinds))
	for _, h := range r.Hostile {
		w, ok := want[h.Kind]
		require.True(t, ok, "unknown kind %q", h.Kind)
		ended := h.Connections - h.Codes[outOpenAtEnd]
		assert.Positive(t, ended, "%s: no connection ended before the soak did: %v", h.Kind, h.Codes)
		if w.must != "" {
			assert.Positive(t, h.Codes[w.must], "%s: never got %s: %v", h.Kind, w.must, h.Codes)
		}
		for code := range h.Codes {
			if code != outOpenAtEnd {
				assert.Contains(t, w.may, code, "%s: got %s: %v", h.Kind, code, h.Codes)
			}
		}
	}
	assert.Contains(t, stdout, "| recordings verified |")
	svg, err := os.ReadFile(filepath.Join(dir, "soak.svg"))
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(svg, []byte("<svg")))
}

// runSmokeBench builds ./cmd/ticksync into dir and runs `ticksync bench args` with it, returning
// its stdout and stderr (a failed run fails the test).
func runSmokeBench(ctx context.Context, t *testing.T, dir string, args ...string) (stdout, stderr string) {
	t.Helper()
	bin := filepath.Join(dir, "ticksync")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ticksync")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ticksync: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"bench"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	require.NoError(t, cmd.Run(), "stderr:\n%s", e.String())
	return o.String(), e.String()
}

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	client "github.com/ticksync/ticksync/client-go"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// writeMatch records a 600-tick arena match of four players straight from the sim (no
// server): keyframes every 100 ticks. With alterAt set, player 1's move at that tick is
// recorded with a vx far from what the world applied, so the recorded hashes no longer follow
// from the recorded inputs from that tick on.
func writeMatch(t *testing.T, path string, alterAt uint32) {
	t.Helper()
	g, err := arena.New(20, nil)
	require.NoError(t, err)
	st, in := g.Schema().Proto()
	const seed = 99
	w := sim.NewWorld(g.Schema(), seed)
	require.NoError(t, g.Init(w))
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	rw, err := replay.NewWriter(f, &pb.RecordingHeader{FormatVersion: replay.FormatVersion, Game: arena.Name, State: st,
		Input: in, Seed: seed, TickRate: 20, Room: "cli", KeyframeEvery: 100, StartUnixMs: 1_700_000_000_000})
	require.NoError(t, err)
	rng := sim.NewRand(5)
	var ins, rec []sim.Input
	for tick := uint32(1); tick <= 600; tick++ {
		ins = ins[:0]
		for p := uint32(1); p <= 4; p++ {
			if tick == 1 {
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputJoin})
				continue
			}
			vals := []int32{int32(rng.Mod(2*arena.MaxInput+1)) - arena.MaxInput, int32(rng.Mod(2*arena.MaxInput+1)) - arena.MaxInput}
			ins = append(ins, sim.Input{Player: p, Kind: sim.InputMove, Seq: tick, Values: vals})
		}
		w.Step(g, ins)
		rec = append(rec[:0], ins...)
		if tick == alterAt {
			v := append([]int32(nil), rec[0].Values...)
			if v[0] > 0 { // a large change: the position differs from then on
				v[0] -= arena.MaxInput
			} else {
				v[0] += arena.MaxInput
			}
			rec[0].Values = v
		}
		require.NoError(t, rw.WriteTick(tick, rec, w.Hash(), nil))
		if tick%100 == 0 {
			require.NoError(t, rw.WriteKeyframe(tick, w.Save()))
		}
	}
	require.NoError(t, rw.Close("room closed", 1_700_000_030_000))
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, env(nil), &out, &errb)
	return code, out.String(), errb.String()
}

// recordings writes a good, an altered and a torn recording and a file that is not one.
func recordings(t *testing.T) (good, altered, torn, junk string) {
	dir := t.TempDir()
	good, altered, torn, junk = filepath.Join(dir, "good.tsrec"), filepath.Join(dir, "altered.tsrec"),
		filepath.Join(dir, "torn.tsrec"), filepath.Join(dir, "junk.tsrec")
	writeMatch(t, good, 0)
	writeMatch(t, altered, 250)
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(torn, b[:len(b)/2], 0o644)) // a write cut short mid-match
	require.NoError(t, os.WriteFile(junk, []byte("not a recording at all"), 0o644))
	return good, altered, torn, junk
}

func TestReplayVerifyExitCodes(t *testing.T) {
	good, altered, torn, junk := recordings(t)
	cases := []struct {
		name string
		file string
		code int
		want []string
	}{
		{"good", good, 0, []string{"OK: 600 ticks verified"}},
		{"altered", altered, 1, []string{"MISMATCH at tick 250", "at keyframe 300 (recorded vs re-simulated):", "entity"}},
		{"torn", torn, 2, []string{"INCOMPLETE", "torn"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := runCmd("replay", "verify", tc.file)
			assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out, errb)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		code, _, errb := runCmd("replay", "verify", junk)
		assert.Equal(t, 2, code)
		assert.Contains(t, errb, "not a recording")
		code, _, errb = runCmd("replay", "verify", filepath.Join(t.TempDir(), "missing.tsrec"))
		assert.Equal(t, 2, code)
		assert.Contains(t, errb, "no such file")
	})
	t.Run("progress", func(t *testing.T) {
		code, _, errb := runCmd("replay", "verify", "-progress", good)
		assert.Equal(t, 0, code)
		assert.Contains(t, errb, "verify [==============================] 100% 600/600 ticks")
		_, _, errb = runCmd("replay", "verify", good)
		assert.Empty(t, errb, "no bar when stderr is not a terminal")
	})
	t.Run("usage", func(t *testing.T) {
		code, _, errb := runCmd("replay", "verify")
		assert.Equal(t, 2, code)
		assert.Contains(t, errb, "want one FILE")
		code, _, errb = runCmd("replay", "verify", "-h")
		assert.Equal(t, 0, code)
		assert.Contains(t, errb, "exit status:")
		assert.Contains(t, errb, "1  MISMATCH")
	})
}

func TestReplayInfo(t *testing.T) {
	good, altered, torn, junk := recordings(t)
	t.Run("text", func(t *testing.T) {
		code, out, _ := runCmd("replay", "info", good)
		require.Equal(t, 0, code)
		for _, w := range []string{"game       arena (room cli, seed 99, 20 Hz)", "ticks      600 (30s of game time)",
			"players    4", "keyframes  6 (every 100 ticks)", "status     complete, ended: room closed"} {
			assert.Contains(t, out, w)
		}
	})
	for _, tc := range []struct {
		name     string
		file     string
		code     int
		complete bool
		problem  string
	}{
		{"good", good, 0, true, ""},
		{"altered", altered, 0, true, ""}, // intact records: only verify can tell
		{"torn", torn, 2, false, "torn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errb := runCmd("replay", "info", "-json", tc.file)
			require.Equal(t, tc.code, code, errb)
			var in infoJSON
			require.NoError(t, json.Unmarshal([]byte(out), &in))
			assert.Equal(t, tc.complete, in.Complete)
			assert.Equal(t, "arena", in.Game)
			assert.Equal(t, 4, in.Players)
			assert.Contains(t, in.Problem, tc.problem)
			if tc.complete {
				assert.Equal(t, uint32(600), in.Ticks)
				assert.Equal(t, 30.0, in.Duration)
			} else {
				assert.Less(t, in.Ticks, uint32(600))
			}
		})
	}
	t.Run("torn text", func(t *testing.T) {
		code, out, _ := runCmd("replay", "info", torn)
		assert.Equal(t, 2, code)
		assert.Contains(t, out, "status     torn (a write cut short; readable up to tick")
	})
	t.Run("unreadable", func(t *testing.T) {
		code, out, errb := runCmd("replay", "info", "-json", junk)
		assert.Equal(t, 2, code)
		assert.Contains(t, errb, "not a recording")
		var in infoJSON
		require.NoError(t, json.Unmarshal([]byte(out), &in))
		assert.Contains(t, in.Error, "not a recording")
	})
	t.Run("dispatch", func(t *testing.T) {
		code, _, errb := runCmd("replay")
		assert.Equal(t, 2, code)
		assert.Contains(t, errb, "verify")
		code, _, _ = runCmd("replay", "bogus")
		assert.Equal(t, 2, code)
		code, _, errb = runCmd("help")
		assert.Equal(t, 0, code)
		assert.Contains(t, errb, "replay")
	})
}

// TestServeRecordsAVerifiableMatch builds the binary, serves with recording on, plays a client
// for two seconds over a real socket, stops the server with SIGTERM and verifies the file.
func TestServeRecordsAVerifiableMatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and plays for two seconds")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "ticksync")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, "../cmd/ticksync")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	dir := filepath.Join(tmp, "recordings") // does not exist yet: serve creates it
	srv := exec.CommandContext(ctx, bin, "serve", "-addr", "127.0.0.1:0", "-record-dir", dir, "-log-level", "warn")
	logf, err := os.Create(filepath.Join(tmp, "serve.log"))
	require.NoError(t, err)
	defer logf.Close()
	srv.Stderr = logf
	serveLog := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	stdout, err := srv.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, serveLog())
	url := strings.Fields(line)[3]

	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", client.Options{Room: "e2e", Game: "arena", CreateIfMissing: true})
	require.NoError(t, err)
	defer c.Close()
	rng := sim.NewRand(3)
	tk := time.NewTicker(50 * time.Millisecond)
	defer tk.Stop()
	var seq uint32
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); <-tk.C {
		seq, err = c.SendInput(int32(rng.Mod(2*arena.MaxInput+1))-arena.MaxInput, int32(rng.Mod(2*arena.MaxInput+1))-arena.MaxInput)
		require.NoError(t, err)
	}
	require.NoError(t, c.WaitFrame(ctx, func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq >= seq }))

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	err = srv.Wait()
	require.NoError(t, err, "a clean shutdown exits 0; stderr:\n%s", serveLog())
	<-c.Done()
	if ce := c.CloseInfo(); assert.NotNil(t, ce) {
		assert.Equal(t, uint16(1001), ce.Code, "connections close after the recorder")
	}

	files, err := filepath.Glob(filepath.Join(dir, "e2e-*.tsrec"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	code, vout, verr := runCmd("replay", "verify", files[0])
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", vout, verr)
	code, iout, _ := runCmd("replay", "info", "-json", files[0])
	require.Equal(t, 0, code)
	var in infoJSON
	require.NoError(t, json.Unmarshal([]byte(iout), &in))
	assert.True(t, in.Complete)
	assert.Equal(t, 1, in.Players)
	assert.Equal(t, "e2e", in.Room)
	assert.GreaterOrEqual(t, in.Ticks, uint32(30), "two seconds at 20 Hz")
	assert.Equal(t, "server: shutting down", in.EndReason)
	t.Logf("%s: %d ticks, %d bytes", filepath.Base(files[0]), in.Ticks, in.Size)
}

func TestServeRecordingFlags(t *testing.T) {
	code, _, errb := runCmd("serve", "-h")
	require.Equal(t, 0, code)
	for _, f := range []string{"-record\n", "-record-dir ", "-record-keep ", "-require-recording\n"} {
		assert.Contains(t, errb, "  "+f, f)
	}
	assert.Contains(t, errb, `(default "./recordings")`)
	assert.Contains(t, errb, "(default 100)")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"required needs recording", []string{"-record=false", "-require-recording"}, "-require-recording needs -record"},
		{"negative keep", []string{"-record-keep", "-1"}, "-record-keep -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errb := runCmd(append([]string{"serve", "-addr", "127.0.0.1:0"}, tc.args...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errb, tc.want)
		})
	}
}

// TestReplayCorruptKeyframe: a cleanly closed file with one damaged keyframe in the middle
// opens from its intact index, which counts all 600 ticks. info and verify report the same
// readable range, ticks 1–300 (the records before the damage), the same problem and exit 2.
func TestReplayCorruptKeyframe(t *testing.T) {
	good, _, _, _ := recordings(t)
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	r, err := replay.Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	kfs := r.Keyframes()
	require.Len(t, kfs, 6)
	kf := kfs[2] // the keyframe after tick 300
	require.Equal(t, uint32(300), kf.Tick)
	b[kf.Offset+20] ^= 0xff // inside its payload: the record fails its checksum
	bad := filepath.Join(t.TempDir(), "corrupt.tsrec")
	require.NoError(t, os.WriteFile(bad, b, 0o644))
	r, err = replay.Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Equal(t, uint32(600), r.LastTick(), "Open reads the index, not the damaged middle")

	code, out, errb := runCmd("replay", "info", "-json", bad)
	require.Equal(t, 2, code, errb)
	var in infoJSON
	require.NoError(t, json.Unmarshal([]byte(out), &in))
	assert.False(t, in.Complete)
	assert.Equal(t, uint32(300), in.Ticks)
	assert.Equal(t, 2, in.Keyframes, "keyframes 100 and 200")
	assert.Contains(t, in.Problem, "fails its checksum")
	assert.Contains(t, in.Problem, fmt.Sprintf("record at offset %d (after tick 300)", kf.Offset))

	code, out, _ = runCmd("replay", "info", bad)
	assert.Equal(t, 2, code)
	assert.Contains(t, out, "status     corrupt (readable up to tick 300): "+in.Problem)

	code, vout, verr := runCmd("replay", "verify", bad)
	assert.Equal(t, 2, code, "the same exit status as info; stderr:\n%s", verr)
	assert.Equal(t, "INCOMPLETE: readable up to tick 300, and those 300 ticks verified, but the file does not: "+in.Problem+"\n", vout)
}

// TestPrintMismatchEvents: a tick whose hash agrees but whose game events differ says so, not
// "recorded hash X, re-simulated X".
func TestPrintMismatchEvents(t *testing.T) {
	var b bytes.Buffer
	printMismatch(&b, &replay.MismatchError{Tick: 9, Want: 0xab, Got: 0xab, Events: "1 game events recorded, 0 re-simulated"})
	assert.Equal(t, "MISMATCH at tick 9: the state hash agrees (00000000000000ab), but 1 game events recorded, 0 re-simulated\n", b.String())
}

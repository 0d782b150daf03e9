package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/replay"
)

// Exit codes of `replay info` and `replay verify`.
const (
	exitOK       = 0 // complete (info); every tick's hash identical (verify)
	exitMismatch = 1 // verify: a re-simulated tick differs from the recording
	exitBad      = 2 // unreadable, torn, corrupt or unclosed file, unknown game; bad usage
)

// runReplay is `NAME replay <info|verify|serve> …`.
func runReplay(ctx context.Context, p *Program, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage: %s replay <command> [flags] FILE\n", p.Name)
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "commands:")
		fmt.Fprintln(stderr, "  info     describe a recording: game, ticks, duration, players, keyframes, size, complete or torn")
		fmt.Fprintln(stderr, "  verify   re-simulate a recording and check every tick's state hash")
		fmt.Fprintln(stderr, "  dump     print one tick's world as JSON (entities by class, fields by name)")
		fmt.Fprintln(stderr, "  serve    serve recordings to the viewer (/replay)")
		fmt.Fprintln(stderr)
		fmt.Fprintf(stderr, "Run '%s replay <command> -h' for its flags and exit codes.\n", p.Name)
	}
	if len(args) == 0 {
		usage()
		return exitBad
	}
	switch args[0] {
	case "info":
		return runReplayInfo(p, args[1:], stdout, stderr)
	case "verify":
		return runReplayVerify(p, args[1:], stdout, stderr)
	case "dump":
		return runReplayDump(p, args[1:], stdout, stderr)
	case "serve":
		return runReplayServe(ctx, p, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return exitOK
	}
	fmt.Fprintf(stderr, p.Name+" replay: unknown command %q\n\n", args[0])
	usage()
	return exitBad
}

const (
	infoExitHelp = `exit status:
  0  the recording is complete
  2  it is torn, corrupt or was not closed cleanly (still described, up to where it stops
     being readable), it cannot be read at all, or bad usage
`
	verifyExitHelp = `exit status:
  0  OK: every tick's state hash identical, and the file is complete
  1  MISMATCH: a tick (or keyframe) differs from the re-simulation
  2  the file cannot be read, is torn, corrupt or was not closed cleanly (its readable ticks
     are still verified first), its game is not in this binary, or bad usage
`
)

// openRecording opens path for reading; the caller closes the file.
func openRecording(path string) (*os.File, *replay.Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	r, err := replay.Open(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, r, nil
}

// parseFileArg parses fs and returns its one FILE argument, or an exit status.
func (p *Program) parseFileArg(fs *flag.FlagSet, args []string, stderr io.Writer) (string, int, bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, p.Name+" %s: want one FILE, got %d arguments\n", fs.Name(), fs.NArg())
		fs.Usage()
		return "", exitBad, false
	}
	return fs.Arg(0), 0, true
}

// resultJSON is a match result in `replay info -json` (data as the game wrote it: JSON by
// convention).
type resultJSON struct {
	Tick    uint32   `json:"tick"`
	Winners []uint32 `json:"winners"`
	Summary string   `json:"summary"`
	Data    string   `json:"data,omitempty"`
}

// infoJSON is `replay info -json`.
type infoJSON struct {
	File          string      `json:"file"`
	Game          string      `json:"game"`
	Room          string      `json:"room"`
	TickRate      uint32      `json:"tick_rate"`
	Seed          uint32      `json:"seed"`
	KeyframeEvery uint32      `json:"keyframe_every"`
	Ticks         uint32      `json:"ticks"`
	Duration      float64     `json:"duration"` // seconds of game time
	Players       int         `json:"players"`
	Keyframes     int         `json:"keyframes"`
	Size          int64       `json:"size"`
	StartUnixMs   int64       `json:"start_unix_ms"`
	EndUnixMs     int64       `json:"end_unix_ms,omitempty"`
	EndReason     string      `json:"end_reason,omitempty"`
	Events        int         `json:"events"`           // game events recorded
	Result        *resultJSON `json:"result,omitempty"` // how the game ended the match
	Complete      bool        `json:"complete"`
	Problem       string      `json:"problem,omitempty"` // why not complete: torn, corrupt, not closed
	Error         string      `json:"error,omitempty"`   // why it cannot be read at all
}

// runReplayDump is `NAME replay dump [-tick N] FILE`: the world after tick N, re-simulated from
// the keyframe before it, as GET /rooms/{id}/state shows a live room's.
func runReplayDump(p *Program, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay dump", "usage: "+p.Name+` replay dump [-tick N] FILE

Prints the world after tick N as JSON: the tick, the state hash, and each class's entities
with their fields by name (fixed-point fields in their unit), as GET /rooms/{id}/state
answers for a live room. The world is re-simulated from the keyframe before N with this
binary's games.`, "exit status:\n  0  printed\n  2  the file or tick cannot be read, its game is not in this binary, or bad usage\n", stderr)
	tick := fs.Uint("tick", 0, "the `tick` to print (0: the last readable one)")
	path, code, ok := p.parseFileArg(fs, args, stderr)
	if !ok {
		return code
	}
	f, r, err := openRecording(path)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay dump: %v\n", err)
		return exitBad
	}
	defer f.Close()
	t := uint32(*tick)
	if *tick == 0 || *tick > uint(r.LastTick()) {
		if *tick != 0 {
			fmt.Fprintf(stderr, p.Name+" replay dump: tick %d is past the last readable tick, %d\n", *tick, r.LastTick())
			return exitBad
		}
		t = r.LastTick()
	}
	w, _, err := replay.Seek(r, p.Games.Lookup, t)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay dump: %s: %v\n", path, err)
		return exitBad
	}
	st := sim.NewState(w.Schema())
	w.Snapshot(st)
	writeJSONTo(stdout, st.View())
	return exitOK
}

func runReplayInfo(p *Program, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay info", "usage: "+p.Name+` replay info [-json] FILE

Describes a recording: game, room, ticks, duration, players, keyframes, size, and whether
it is complete or where and why its readable part ends. Reads (and checks) every record.`, infoExitHelp, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object (for scripts) instead of text")
	path, code, ok := p.parseFileArg(fs, args, stderr)
	if !ok {
		return code
	}
	out := infoJSON{File: path}
	in, err := readInfo(path)
	if err != nil {
		out.Error = err.Error()
		if *asJSON {
			writeJSONTo(stdout, out)
		}
		fmt.Fprintf(stderr, p.Name+" replay info: %v\n", err)
		return exitBad
	}
	out.Game, out.Room, out.TickRate, out.Seed, out.KeyframeEvery = in.Game, in.Room, in.TickRate, in.Seed, in.KeyframeEvery
	out.Ticks, out.Duration, out.Players, out.Keyframes, out.Size = in.Ticks, in.Duration.Seconds(), in.Players, in.Keyframes, in.Size
	out.StartUnixMs, out.EndUnixMs, out.EndReason, out.Complete = in.StartUnixMs, in.EndUnixMs, in.EndReason, in.Complete
	out.Events = in.Events
	if res := in.Result; res != nil {
		out.Result = &resultJSON{Tick: res.GetTick(), Winners: res.GetWinners(), Summary: res.GetSummary(), Data: string(res.GetData())}
	}
	if in.Problem != nil {
		out.Problem = in.Problem.Error()
	}
	if *asJSON {
		writeJSONTo(stdout, out)
	} else {
		printInfo(stdout, path, in)
	}
	if !in.Complete {
		return exitBad
	}
	return exitOK
}

func readInfo(path string) (replay.Info, error) {
	f, r, err := openRecording(path)
	if err != nil {
		return replay.Info{}, err
	}
	defer f.Close()
	in, err := r.Info()
	if err != nil {
		return replay.Info{}, fmt.Errorf("%s: %w", path, err)
	}
	return in, nil
}

func printInfo(w io.Writer, path string, in replay.Info) {
	fmt.Fprintf(w, "file       %s\n", path)
	fmt.Fprintf(w, "game       %s (room %s, seed %d, %d Hz)\n", in.Game, in.Room, in.Seed, in.TickRate)
	if in.StartUnixMs != 0 {
		fmt.Fprintf(w, "started    %s\n", time.UnixMilli(in.StartUnixMs).UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "ticks      %d (%s of game time)\n", in.Ticks, in.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "players    %d\n", in.Players)
	if in.Events > 0 {
		fmt.Fprintf(w, "events     %d\n", in.Events)
	}
	if res := in.Result; res != nil {
		fmt.Fprintf(w, "result     %s (tick %d, winners %v)\n", orDash(res.GetSummary()), res.GetTick(), res.GetWinners())
	}
	fmt.Fprintf(w, "keyframes  %d (every %d ticks)\n", in.Keyframes, in.KeyframeEvery)
	fmt.Fprintf(w, "size       %s (%d bytes)\n", humanBytes(in.Size), in.Size)
	switch {
	case in.Complete:
		fmt.Fprintf(w, "status     complete, ended: %s\n", orDash(in.EndReason))
	case errors.Is(in.Problem, replay.ErrNotClosed):
		fmt.Fprintf(w, "status     not closed (every record intact; the recorder stopped without an end record): %v\n", in.Problem)
	case errors.Is(in.Problem, replay.ErrTorn):
		fmt.Fprintf(w, "status     torn (a write cut short; readable up to tick %d): %v\n", in.Ticks, in.Problem)
	default:
		fmt.Fprintf(w, "status     corrupt (readable up to tick %d): %v\n", in.Ticks, in.Problem)
	}
}

func runReplayVerify(p *Program, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay verify", "usage: "+p.Name+` replay verify [-progress] [-q] FILE

Re-simulates a recording with this binary's games and compares every tick's state hash
with the recorded one, and every keyframe with the re-simulated world. Prints OK, or the
first tick that differs and, at the next keyframe, which entities and fields differ.`, verifyExitHelp, stderr)
	progress := fs.Bool("progress", false, "show a progress bar on stderr even when it is not a terminal (it is shown on a terminal anyway)")
	quiet := fs.Bool("q", false, "no progress bar, even on a terminal")
	path, code, ok := p.parseFileArg(fs, args, stderr)
	if !ok {
		return code
	}
	f, r, err := openRecording(path)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay verify: %v\n", err)
		return exitBad
	}
	defer f.Close()
	var bar *progressBar
	if !*quiet && (*progress || isTerminal(stderr)) {
		bar = &progressBar{w: stderr, every: 100 * time.Millisecond}
	}
	var cb func(done, total uint32)
	if bar != nil {
		cb = bar.update
	}
	err = replay.Verify(r, p.Games.Lookup, cb)
	if bar != nil {
		bar.finish()
	}
	h := r.Header()
	var mm *replay.MismatchError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "OK: %d ticks verified, every state hash identical (%s, room %s, %s of game time, %d keyframes)\n",
			r.LastTick(), h.GetGame(), h.GetRoom(), gameTime(r.LastTick(), h.GetTickRate()), len(r.Keyframes()))
		return exitOK
	case errors.As(err, &mm):
		printMismatch(stdout, mm)
		return exitMismatch
	case errors.Is(err, replay.ErrNotClosed), errors.Is(err, replay.ErrTorn), errors.Is(err, replay.ErrChecksum),
		errors.Is(err, replay.ErrMalformed):
		// The range info reports: Verify reads the file as Info does. A cleanly closed file
		// opens from its index, so LastTick can count ticks past damage that Open did not read;
		// the damage's Tick is where reading, and verifying, stopped.
		readable := r.LastTick()
		var ce *replay.CorruptError
		if errors.As(err, &ce) {
			readable = ce.Tick
		}
		fmt.Fprintf(stdout, "INCOMPLETE: readable up to tick %d, and those %d ticks verified, but the file does not: %v\n", readable, readable, err)
		return exitBad
	}
	fmt.Fprintf(stderr, p.Name+" replay verify: %s: %v\n", path, err)
	return exitBad
}

func printMismatch(w io.Writer, mm *replay.MismatchError) {
	if mm.Events != "" {
		fmt.Fprintf(w, "MISMATCH at tick %d: the state hash agrees (%016x), but %s\n", mm.Tick, mm.Got, mm.Events)
		return
	}
	if mm.Keyframe {
		fmt.Fprintf(w, "MISMATCH: every tick's hash agrees up to tick %d, but keyframe %d differs from the re-simulated world\n", mm.Tick, mm.Tick)
	} else {
		fmt.Fprintf(w, "MISMATCH at tick %d: recorded state hash %016x, re-simulated %016x\n", mm.Tick, mm.Want, mm.Got)
	}
	switch {
	case len(mm.Diff) == 0 && mm.DiffTick != 0:
		fmt.Fprintf(w, "at keyframe %d the recorded and re-simulated worlds agree again: the difference did not last\n", mm.DiffTick)
		return
	case len(mm.Diff) == 0:
		fmt.Fprintf(w, "no keyframe follows tick %d in the file, so the differing fields are unknown\n", mm.Tick)
		return
	}
	fmt.Fprintf(w, "at keyframe %d (recorded vs re-simulated):\n", mm.DiffTick)
	for _, d := range mm.Diff {
		fmt.Fprintf(w, "  %s\n", d)
	}
	if mm.More > 0 {
		fmt.Fprintf(w, "  … and %d more\n", mm.More)
	}
}

// progressBar draws "verify [=====>    ] 45% 5400/12000 ticks" on one line, at most every
// `every`.
type progressBar struct {
	w     io.Writer
	every time.Duration
	last  time.Time
	drawn bool
}

func (p *progressBar) update(done, total uint32) {
	now := time.Now()
	if p.drawn && now.Sub(p.last) < p.every && done != total {
		return
	}
	p.last, p.drawn = now, true
	const width = 30
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	fmt.Fprintf(p.w, "\rverify [%s] %3.0f%% %d/%d ticks", bar, frac*100, done, total)
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func gameTime(ticks, rate uint32) time.Duration {
	if rate == 0 {
		return 0
	}
	return (time.Duration(ticks) * time.Second / time.Duration(rate)).Round(time.Millisecond)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSONTo(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

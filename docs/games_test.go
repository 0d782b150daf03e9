package docs_test

// TestGuide follows docs/games.md literally: it writes every file block, runs every `sh run`
// block in order in one emulated terminal, and does the `sh interactive` steps itself (serve,
// two players, play to the end). It is slow (a clone, npm, a Go build) and needs the Go module
// proxy and the npm registry, so it runs only with TICKSYNC_GUIDE=1: `make guide`.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/format"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/sim"
)

// cloneURL is the address the guide clones ticksync from; the test clones the checkout it
// runs in instead, at HEAD (uncommitted changes are not in it: CI runs on a clean checkout).
const cloneURL = "https://github.com/ticksync/ticksync"

// block is one fenced code block of the guide.
type block struct {
	line  int               // the fence's line number
	lang  string            // the info string's first word
	attrs map[string]string // the rest: key=value, or a bare word mapped to ""
	body  string
	prose string // the text between the previous block and this one
}

// parseGuide returns the fenced blocks of a Markdown file.
func parseGuide(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks []block
		cur    *block
		body   strings.Builder
		prose  strings.Builder
	)
	for i, ln := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(ln, "```"):
			words := strings.Fields(strings.TrimPrefix(ln, "```"))
			cur = &block{line: i + 1, attrs: map[string]string{}, prose: prose.String()}
			if len(words) > 0 {
				cur.lang = words[0]
			}
			for _, w := range words[min(1, len(words)):] {
				k, v, _ := strings.Cut(w, "=")
				cur.attrs[k] = v
			}
			body.Reset()
			prose.Reset()
		case cur != nil && strings.TrimSpace(ln) == "```":
			cur.body = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(ln + "\n")
		default:
			prose.WriteString(ln + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", path, cur.line)
	}
	return blocks
}

// maxMainLines is what the guide promises of main.go: at most this many lines of code.
const maxMainLines = 15

func TestGuide(t *testing.T) {
	if os.Getenv("TICKSYNC_GUIDE") == "" {
		t.Skip("TICKSYNC_GUIDE=1 runs it (make guide): it clones the repository, runs npm and builds a game")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseGuide(t, "games.md")
	start := t.TempDir() // the directory the reader starts in: ticksync/ and coin/ go here
	sess := &session{t: t, dir: start}
	var summary string // the match result's summary, once played
	ran := map[string]bool{}
	for _, b := range blocks {
		where := fmt.Sprintf("games.md:%d", b.line)
		_, run := b.attrs["run"]
		_, interactive := b.attrs["interactive"]
		switch path := b.attrs["file"]; {
		case path != "":
			checkFileBlock(t, where, b)
			dst := filepath.Join(start, filepath.FromSlash(path))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, []byte(b.body), 0o644); err != nil {
				t.Fatal(err)
			}
		case b.lang == "sh" && run:
			script := strings.ReplaceAll(b.body, cloneURL, repo)
			out := sess.run(where, script)
			if strings.Contains(script, "replay info") {
				if summary == "" {
					t.Fatalf("%s: replay info before the match was played", where)
				}
				if want := "result     " + summary; !strings.Contains(out, want) {
					t.Errorf("%s: replay info does not show the result %q:\n%s", where, want, out)
				}
				ran["info"] = true
			}
			if strings.Contains(script, "replay verify") {
				if !strings.Contains(out, "OK:") {
					t.Errorf("%s: replay verify does not say OK:\n%s", where, out)
				}
				ran["verify"] = true
			}
			t.Logf("%s output:\n%s", where, out)
		case b.lang == "sh" && interactive:
			// The reader serves, opens two tabs and plays; the test serves, fetches the page and
			// plays with two Go clients. Only the steps it knows how to stand in for are allowed.
			if strings.TrimSpace(b.body) != "go run . serve" {
				t.Fatalf("%s: interactive block %q: the test does not know how to stand in for it", where, b.body)
			}
			typecheckPage(t, sess.dir, blocks)
			summary = play(t, sess.dir)
			ran["serve"] = true
		case b.lang == "sh":
			t.Fatalf("%s: a sh block must say run or interactive", where)
		}
	}
	for _, step := range []string{"serve", "info", "verify"} {
		if !ran[step] {
			t.Errorf("the guide has no %s step", step)
		}
	}
}

// checkFileBlock checks what the guide promises of its files: the prose names each file before
// showing it, Go is gofmt'd, and main.go is short.
func checkFileBlock(t *testing.T, where string, b block) {
	t.Helper()
	path := b.attrs["file"]
	if !strings.Contains(b.prose, "`"+path+"`") {
		t.Errorf("%s: the text before the block does not name `%s`: a reader cannot tell where it goes", where, path)
	}
	if b.lang != "go" {
		return
	}
	src, err := format.Source([]byte(b.body))
	if err != nil {
		t.Fatalf("%s: %s: %v", where, path, err)
	}
	if string(src) != b.body {
		t.Errorf("%s: %s is not gofmt'd", where, path)
	}
	if filepath.Base(path) == "main.go" {
		if n := codeLines(b.body); n > maxMainLines {
			t.Errorf("%s: main.go has %d lines of code, the guide promises at most %d", where, n, maxMainLines)
		}
	}
}

// codeLines counts a Go file's lines other than the package clause, the imports, blank lines
// and comments (line comments only: the guide's files use no others).
func codeLines(src string) int {
	n, inImport := 0, false
	for _, ln := range strings.Split(src, "\n") {
		ln = strings.TrimSpace(ln)
		switch {
		case inImport:
			inImport = ln != ")"
		case strings.HasPrefix(ln, "import ("):
			inImport = true
		case ln == "", strings.HasPrefix(ln, "//"), strings.HasPrefix(ln, "package "), strings.HasPrefix(ln, "import "):
		default:
			n++
		}
	}
	return n
}

// session is the reader's terminal: blocks run one after another, each where the last one's
// cd left it.
type session struct {
	t   *testing.T
	dir string
}

// run runs script with bash -e from the session's directory and returns its output; a failing
// command fails the test with the output.
func (s *session) run(where, script string) string {
	s.t.Helper()
	pwdFile := filepath.Join(s.t.TempDir(), "pwd")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script+"\npwd >"+shellQuote(pwdFile))
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	began := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s: %v\n--- script:\n%s--- output:\n%s", where, err, script, out)
	}
	s.t.Logf("%s: ok in %s", where, time.Since(began).Round(100*time.Millisecond))
	pwd, err := os.ReadFile(pwdFile)
	if err != nil {
		s.t.Fatal(err)
	}
	s.dir = strings.TrimSpace(string(pwd))
	return string(out)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// typecheckPage runs the clone's TypeScript over the guide's .ts files against @ticksync/client's
// declarations: esbuild only strips types, so a page calling the client wrongly would still build.
func typecheckPage(t *testing.T, dir string, blocks []block) {
	t.Helper()
	tsc := filepath.Join(dir, "..", "ticksync", "client-js", "node_modules", ".bin", "tsc")
	args := []string{"--noEmit", "--strict", "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom"}
	n := 0
	for _, b := range blocks {
		if p := b.attrs["file"]; strings.HasSuffix(p, ".ts") {
			args = append(args, filepath.Join(dir, "..", filepath.FromSlash(p)))
			n++
		}
	}
	if n == 0 {
		t.Fatal("the guide has no .ts file")
	}
	cmd := exec.Command(tsc, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the page does not typecheck against @ticksync/client: %v\n%s", err, out)
	}
}

// servingLine is what `serve` prints once it listens.
var servingLine = regexp.MustCompile(`serving on (http://\S+)`)

// play stands in for `go run . serve` and two browser tabs: it builds the game, serves it on a
// free port from the game's directory (so recordings/ lands where the guide looks), fetches
// the page, checks the join filter, plays a match to its end with two clients, and stops the
// server with SIGINT. It returns the result's summary.
func play(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "game")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := exec.Command(bin, "serve", "-addr", "127.0.0.1:0")
	srv.Dir = dir
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{w: &strings.Builder{}}
	srv.Stderr = logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing")
	}
	m := servingLine.FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("serve printed %q, not its address", lines.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout); exited <- srv.Wait() }()
	base := m[1]
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws"

	// The page and its bundle, as a browser tab gets them.
	page := get(t, base+"/")
	if !strings.Contains(page, `src="main.js"`) {
		t.Fatalf("GET / is not the guide's page:\n%s", page)
	}
	if js := get(t, base+"/main.js"); !strings.Contains(js, "ticksync.v1") {
		t.Fatalf("GET /main.js does not hold the client (no %q in %d bytes)", "ticksync.v1", len(js))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	opts := client.Options{Room: "guide", Game: "coin", CreateIfMissing: true, Config: []byte(`{"target":3}`)}
	join := func(meta string) (*client.Client, error) {
		o := opts
		o.Meta = meta
		return client.Dial(ctx, ws, o)
	}
	ann, err := join(`{"name":"ann"}`)
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	bob, err := join(`{"name":"bob"}`)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	// The join filter: no name, or a taken one, is refused with 4005 and the game's reason.
	for meta, reason := range map[string]string{`{}`: "pick a name", `{"name":"ann"}`: `"ann" is taken`} {
		c, err := join(meta)
		var ce *client.CloseError
		if !errors.As(err, &ce) || ce.Code != 4005 || !strings.Contains(ce.Reason, reason) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("join with meta %s: %v, want 4005 %q", meta, err, reason)
		}
	}

	steer(t, ctx, ann)
	res, err := ann.WaitResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bres, err := bob.WaitResult(ctx)
	if err != nil {
		t.Fatal(err)
	}
	winner := res.GetWinners()
	if len(winner) != 1 || (winner[0] != ann.PlayerID() && winner[0] != bob.PlayerID()) || bres.GetSummary() != res.GetSummary() {
		t.Fatalf("result %v (bob saw %v): want one winner, ann %d or bob %d, seen alike", res, bres, ann.PlayerID(), bob.PlayerID())
	}
	name := map[uint32]string{ann.PlayerID(): "ann", bob.PlayerID(): "bob"}[winner[0]]
	if want := name + " wins with 3 coins"; res.GetSummary() != want {
		t.Errorf("summary %q, want %q", res.GetSummary(), want)
	}
	// Every coin was an event to everyone: scores count up per player, the last one the win.
	// (A coin grabbed before bob joined is not among his events: a player's first may be 2.)
	evs := bob.Events()
	scores := map[int32]int32{}
	for _, ev := range evs {
		v := ev.GetValues()
		if ev.GetKind() != 1 || len(v) != 2 || v[1] < 1 || (scores[v[0]] > 0 && v[1] != scores[v[0]]+1) {
			t.Fatalf("event %v after scores %v: want kind 1, [player, score+1]", ev, scores)
		}
		scores[v[0]] = v[1]
	}
	// The winner's third coin is the last tick's: the match ends there (the other player may
	// grab a coin in that same tick too: its event can come after the winner's).
	last := len(evs) - 1
	for last >= 0 && evs[last].GetValues()[0] != int32(winner[0]) {
		last--
	}
	if last < 0 || scores[int32(winner[0])] != 3 || evs[last].GetTick() != res.GetTick() || evs[len(evs)-1].GetTick() != res.GetTick() {
		t.Fatalf("events %v (result at tick %d): the winner's third coin should be in the last tick, the result's", evs, res.GetTick())
	}
	// The room closes with 4002 "match over" after its grace, ending the recording.
	for _, c := range []*client.Client{ann, bob} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("the room did not close after the match")
		}
		if ce := c.CloseInfo(); ce == nil || ce.Code != 4002 {
			t.Fatalf("closed with %v, want 4002 match over", ce)
		}
	}

	stopped = true
	if err := srv.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGINT: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		_ = srv.Process.Kill()
		t.Fatalf("serve did not stop on SIGINT\n%s", logs.String())
	}
	return res.GetSummary()
}

// steer moves c's player toward the coin every frame until the match ends.
func steer(t *testing.T, ctx context.Context, c *client.Client) {
	t.Helper()
	field := func(cls, name string) sim.Field {
		f, err := c.Field(cls, name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	player, err := c.Class("player")
	if err != nil {
		t.Fatal(err)
	}
	coin, err := c.Class("coin")
	if err != nil {
		t.Fatal(err)
	}
	px, py, owner, cx, cy := field("player", "x"), field("player", "y"), field("player", "owner"), field("coin", "x"), field("coin", "y")
	sign := func(v int32) int32 { return min(max(v, -1), 1) }
	me := c.PlayerID() // read before WithState: its fn must not call the client
	var last [2]int32
	for tick := c.Tick(); c.Result() == nil; tick = c.Tick() {
		err := c.WaitFrame(ctx, func(_ *sim.State, f client.FrameInfo) bool { return f.Tick > tick })
		if err != nil {
			if c.Result() != nil {
				return
			}
			t.Fatalf("waiting for a frame: %v", err)
		}
		var dir [2]int32
		c.WithState(func(st *sim.State) {
			coins := client.Entities(st, coin)
			for _, e := range client.Entities(st, player) {
				if len(coins) == 1 && uint32(st.Value(e, owner)) == me {
					dir = [2]int32{sign(st.Value(coins[0], cx) - st.Value(e, px)), sign(st.Value(coins[0], cy) - st.Value(e, py))}
				}
			}
		})
		if dir != last {
			if _, err := c.SendInput(dir[0], dir[1]); err != nil && c.Result() == nil {
				t.Fatalf("input: %v", err)
			}
			last = dir
		}
	}
}

// syncWriter is a writer safe for the server's stderr copier and the test's reads.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// get fetches url and fails unless it answers 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}

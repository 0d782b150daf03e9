package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProc is a `ticksync serve` process the bench started.
type serverProc struct {
	cmd  *exec.Cmd
	addr chan string // the bound address, once
	done chan struct{}

	mu   sync.Mutex
	gcs  []gcEvent // from GODEBUG=gctrace=1 on its stderr
	tail []string  // its last stderr lines, for errors
}

// gcEvent is one GC cycle as gctrace reported it.
type gcEvent struct {
	at    time.Time // when the line was read
	pause time.Duration
	heap  float64 // MB live after the cycle
}

// addrRE finds a host:port in the server's first stdout lines ("listening on 127.0.0.1:8080"
// or a URL).
var addrRE = regexp.MustCompile(`((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:]+\]|localhost):(\d{1,5})`)

// gcRE reads a gctrace line: "gc 7 @1.2s 0%: 0.011+0.52+0.004 ms clock, …, 4->4->1 MB, …".
var gcRE = regexp.MustCompile(`^gc \d+ @[\d.]+s \d+%: ([\d.]+)\+[\d.]+\+([\d.]+) ms clock.*?(\d+)->(\d+)->(\d+) MB`)

// startServer runs exe with args and env; it returns once the server printed its address.
func startServer(ctx context.Context, exe string, args, env []string) (*serverProc, string, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	errp, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("bench: start server: %w", err)
	}
	p := &serverProc{cmd: cmd, addr: make(chan string, 1), done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.readStdout(out) }()
	go func() { defer wg.Done(); p.readStderr(errp) }()
	go func() { wg.Wait(); _ = cmd.Wait(); close(p.done) }()
	select {
	case a := <-p.addr:
		return p, a, nil
	case <-p.done:
		return nil, "", fmt.Errorf("bench: server exited before printing its address: %s", p.lastLines())
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("bench: server printed no address within 15s: %s", p.lastLines())
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	}
}

func (p *serverProc) readStdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if !sent {
			if m := addrRE.FindStringSubmatch(line); m != nil {
				p.addr <- m[1] + ":" + m[2]
				sent = true
				continue
			}
		}
		p.keep(line)
	}
}

func (p *serverProc) readStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gcRE.FindStringSubmatch(line); m != nil {
			a, _ := strconv.ParseFloat(m[1], 64)
			b, _ := strconv.ParseFloat(m[2], 64)
			live, _ := strconv.ParseFloat(m[5], 64)
			p.mu.Lock()
			p.gcs = append(p.gcs, gcEvent{at: time.Now(), pause: time.Duration((a + b) * float64(time.Millisecond)), heap: live})
			p.mu.Unlock()
			continue
		}
		p.keep(line)
	}
}

// keep remembers the last lines the server printed.
func (p *serverProc) keep(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tail = append(p.tail, line)
	if len(p.tail) > 20 {
		p.tail = p.tail[len(p.tail)-20:]
	}
}

func (p *serverProc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tail) == 0 {
		return "(no output)"
	}
	return strings.Join(p.tail, " | ")
}

// gcBetween returns the GC cycles gctrace reported in [from, to].
func (p *serverProc) gcBetween(from, to time.Time) []gcEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []gcEvent
	for _, g := range p.gcs {
		if !g.at.Before(from) && !g.at.After(to) {
			out = append(out, g)
		}
	}
	return out
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the server has exited.
func (p *serverProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (graceful shutdown), then SIGKILL after 10 s.
func (p *serverProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// flagRE finds flag names in a flag package usage text ("  -tick-rate Hz").
var flagRE = regexp.MustCompile(`(?m)^\s+-([a-z0-9][a-z0-9-]*)`)

// serveFlags returns the flags `exe serve` knows, from its -h output, so the bench passes
// only flags the binary has (it is built alongside the server, which grows flags over time).
func serveFlags(exe string) map[string]bool {
	cmd := exec.Command(exe, "serve", "-h")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	m := map[string]bool{}
	for _, f := range flagRE.FindAllStringSubmatch(out.String(), -1) {
		m[f[1]] = true
	}
	return m
}

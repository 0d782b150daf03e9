package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The parent drives its children (load generators, the floor server) with one command per line
// on their stdin; each child answers with one JSON object per line on stdout, whose "event"
// names it. Commands: "join <room> <count> <first player id>" (load generators), "start"
// (open the measurement window), "stop" (close it and report), "quit".
const (
	evReady   = "ready"   // the child is up (the floor server adds its address)
	evJoined  = "joined"  // a join command is done
	evStarted = "started" // the window is open
	evReport  = "report"  // the window's measurements
	evError   = "error"   // a command failed; Error says why
)

// envelope is the part of every child line the parent reads first.
type envelope struct {
	Event string `json:"event"`
	Error string `json:"error,omitempty"`
	Addr  string `json:"addr,omitempty"`
}

// child is a child process seen from the parent.
type child struct {
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []byte // stdout lines, closed at EOF
	done  chan struct{}
	err   error // Wait's result, set before done is closed
}

// startChild starts exe with args; its stderr goes to stderr, prefixed lines are not needed
// because children only write there when something goes wrong.
func startChild(name, exe string, args, env []string, stderr io.Writer) (*child, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, in: in, lines: make(chan []byte, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// send writes one command line.
func (c *child) send(cmd string) error {
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		return fmt.Errorf("bench: %s: send %q: %w", c.name, cmd, err)
	}
	return nil
}

// await waits for the next line, which must be event ev, and returns it whole.
func (c *child) await(ctx context.Context, ev string, timeout time.Duration) ([]byte, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-c.lines:
		if !ok {
			<-c.done
			return nil, fmt.Errorf("bench: %s exited while waiting for %q: %v", c.name, ev, c.err)
		}
		var e envelope
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("bench: %s: bad line %.200q: %w", c.name, line, err)
		}
		if e.Event == evError {
			return nil, fmt.Errorf("bench: %s: %s", c.name, e.Error)
		}
		if e.Event != ev {
			return nil, fmt.Errorf("bench: %s: got %q, want %q", c.name, e.Event, ev)
		}
		return line, nil
	case <-t.C:
		return nil, fmt.Errorf("bench: %s: no %q within %v", c.name, ev, timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// call sends cmd and awaits ev.
func (c *child) call(ctx context.Context, cmd, ev string, timeout time.Duration) ([]byte, error) {
	if err := c.send(cmd); err != nil {
		return nil, err
	}
	return c.await(ctx, ev, timeout)
}

// stop asks the child to quit, then kills it if it does not exit in time.
func (c *child) stop() {
	_ = c.send("quit")
	_ = c.in.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// childIO is the child's side: it reads commands and writes events.
type childIO struct {
	mu  sync.Mutex
	out io.Writer
}

// emit writes v (which must carry an "event" field) as one line.
func (c *childIO) emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(envelope{Event: evError, Error: err.Error()})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.out.Write(append(b, '\n'))
}

// fail reports a failed command.
func (c *childIO) fail(err error) { c.emit(envelope{Event: evError, Error: err.Error()}) }

// serveCommands runs handle for each command line from in until "quit", EOF or ctx ends.
func serveCommands(ctx context.Context, in io.Reader, handle func(ctx context.Context, cmd []string) error) error {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if f[0] == "quit" {
				return nil
			}
			if err := handle(ctx, f); err != nil {
				if errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
		}
	}
}

package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/web"
)

// Program is a game server binary: its name, the games it hosts and verifies, the pages it
// serves, and any commands of its own. Main runs it.
type Program struct {
	// Name is the binary's name in usage text, errors and its "NAME serving on …" line
	// (default: the base name of os.Args[0]).
	Name string
	// Games are the games serve hosts, and replay verify and replay serve re-simulate. A
	// recording of a game not registered here does not verify.
	Games *server.Registry
	// Pages, when set, answers every GET the server's own routes and the replay viewer do not
	// take (a game's browser page); nil serves none. Every program serves the replay viewer at
	// /replay (web.Viewer), so any game's recordings can be watched.
	Pages http.Handler
	// Commands are extra subcommands beside serve, token, replay, lobby and gen (ticksync adds
	// bench).
	Commands []Command
}

// Command is one subcommand: its name, a one-line summary and its entry point, which gets the
// arguments after the name and returns the exit status.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int
}

// Main runs p with the process's arguments and environment, stops gracefully on the first
// SIGINT or SIGTERM, and exits with the command's status.
func Main(p Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := p.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run dispatches args to a subcommand and returns the exit status (2 for bad usage). env
// reads the environment (os.Getenv in Main; tests pass their own).
func (p Program) Run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if p.Name == "" {
		p.Name = filepath.Base(os.Args[0])
	}
	if p.Games == nil {
		p.Games = server.NewRegistry()
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		p.usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range p.commands() {
		if c.Name == args[0] {
			return c.Run(ctx, args[1:], env, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", p.Name, args[0])
	p.usage(stderr)
	return 2
}

// commands are the built-in subcommands, then the program's own.
func (p *Program) commands() []Command {
	return append([]Command{
		{"serve", "host rooms over HTTP and WebSocket", func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
			return runServe(ctx, p, args, env, stdout, stderr)
		}},
		{"token", "mint an HMAC token for a room", func(_ context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
			return runToken(p, args, env, stdout, stderr)
		}},
		{"replay", "inspect, verify, dump or serve recordings (info, verify, dump, serve)", func(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
			return runReplay(ctx, p, args, stdout, stderr)
		}},
		{"lobby", "the room directory of a fleet on Agones (docs/fleet.md)", func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
			return runLobby(ctx, p, args, env, stdout, stderr)
		}},
		{"gen", "generate client code for a game (ts: typed TypeScript)", func(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
			return runGen(p, args, stdout, stderr)
		}},
	}, p.Commands...)
}

func (p *Program) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\n", p.Name)
	fmt.Fprintln(w, "commands:")
	for _, c := range p.commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", p.Name)
}

// pages is what serve and replay serve mount: the replay viewer (web.Viewer, at /replay with
// replay.js and replay.css), whatever the program's own pages, and p.Pages for the rest.
func (p *Program) pages() http.Handler {
	viewer := web.Viewer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, path := range web.ViewerPaths {
			if r.URL.Path == path {
				viewer.ServeHTTP(w, r)
				return
			}
		}
		if p.Pages == nil {
			http.NotFound(w, r)
			return
		}
		p.Pages.ServeHTTP(w, r)
	})
}

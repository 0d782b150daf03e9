package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ticksync/ticksync/server"
)

// command is one subcommand: its name, a one-line summary and its entry point.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int
}

// commands are the subcommands; serve and replay use games, the binary's one registry.
func commands(games *server.Registry) []command {
	return []command{
		{"serve", "host rooms over HTTP and WebSocket", func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
			return runServe(ctx, games, args, env, stdout, stderr)
		}},
		{"token", "mint an HMAC token for a room", runToken},
		{"replay", "inspect, verify or serve recordings (info, verify, serve)", func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
			return runReplay(ctx, games, args, env, stdout, stderr)
		}},
		{"bench", "measure tick work, input latency, bytes, CPU and memory (docs/benchmark.md)", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands(newGames()) {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "ticksync: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ticksync <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands(nil) {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'ticksync <command> -h' for a command's flags.")
}

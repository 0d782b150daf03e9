package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim/replay"
)

// runReplayServe is `NAME replay serve FILE...`: the given recordings and the viewer
// (/replay) over HTTP and WebSocket, without live rooms to speak of. A viewer joins
// "replay:<name>", name being the file name without ".tsrec".
func runReplayServe(ctx context.Context, p *Program, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("replay serve", "usage: "+p.Name+` replay serve [flags] FILE...

Serves recordings to the viewer at /replay (GET /replays lists them; a client joins
room "replay:<name>", name being the file name without .tsrec). Anonymous, so keep it
on a loopback address. Prints the bound address on stdout; SIGINT/SIGTERM stop it.`, "", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address` (host:port; port 0 picks a free one, printed at start)")
	hashEvery := fs.Int("hash-every", 20, "frames carry the state hash every `n` ticks (-1: never)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, p.Name+" replay serve: no recordings given")
		fs.Usage()
		return 2
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay serve: %v\n", err)
		return 2
	}
	for _, path := range fs.Args() {
		if err := checkRecording(path); err != nil {
			fmt.Fprintf(stderr, p.Name+" replay serve: %v\n", err)
			return 1
		}
	}
	rs, err := server.ReplayFiles(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay serve: %v\n", err)
		return 2
	}
	if !isLoopback(*addr) {
		log.Warn("anonymous on a non-loopback address: anyone can watch these recordings")
	}
	cfg := server.Config{Auth: server.AuthAnonymous, HashEvery: *hashEvery, Replays: rs, Games: p.Games, Pages: p.pages(), Logger: log}
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay serve: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" replay serve: %v\n", err)
		return 1
	}
	bound := ln.Addr().String()
	fmt.Fprintf(stdout, "%s serving on http://%s (auth anonymous; viewer at http://%s/replay)\n", p.Name, bound, bound)
	log.Info("serving replays", "addr", bound, "files", len(fs.Args()))
	return serveThenStop(ctx, log, func() error { return srv.Serve(ln) }, srv.Shutdown)
}

// checkRecording opens a recording, so a wrong path fails at start rather than in the viewer.
// A torn or unclosed file is fine: it plays up to its last whole record.
func checkRecording(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := replay.Open(f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/server"
)

// serveFlags holds serve's flags; every default is safe on the open internet
// (docs/operations.md, "Limits").
type serveFlags struct {
	addr, auth, secretFile, origins, logLevel, logFormat string
	tlsCert, tlsKey                                      string
	cfg                                                  server.Config
	recordFlags
	agones agonesFlags
}

func newServeFlags(fs *flag.FlagSet) *serveFlags {
	f := &serveFlags{}
	c := &f.cfg
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port; port 0 picks a free one, printed at start)")
	fs.StringVar(&f.auth, "auth", "", "auth `mode`: anonymous (server assigns player ids; the default on a loopback address) or token (HMAC tokens, needs a secret); any other address requires it explicitly")
	fs.StringVar(&f.secretFile, "auth-secret-file", "", "`file` holding the token secret (else $"+auth.EnvSecret+"); without one, a random per-process secret signs resume tokens only")
	fs.StringVar(&f.origins, "allow-origin", "", "extra allowed browser `origins`, comma-separated exact scheme://host[:port] (the request's own host is always allowed; no wildcards)")
	fs.IntVar(&c.TickRate, "tick-rate", 20, "room tick rate in `Hz` (1-128)")
	fs.IntVar(&c.MaxCatchup, "max-catchup", 5, "late `ticks` a room runs back to back before skipping (slow motion beats a spiral)")
	fs.IntVar(&c.Ring, "ring", 64, "past `states` kept per room for deltas from a client's own baseline (older: full snapshot)")
	fs.IntVar(&c.HashEvery, "hash-every", 20, "frames carry the state hash every `n` ticks (-1: never)")
	fs.IntVar(&c.MaxRooms, "max-rooms", 256, "rooms per server (POST /rooms: 503, join-create: 4003 beyond)")
	fs.IntVar(&c.MaxPlayers, "max-players", 64, "players per room, spectators included (4009 beyond)")
	fs.IntVar(&c.MaxConns, "max-conns", 4096, "open TCP connections (more wait in the backlog; keep below the open-file limit)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 64, "WebSocket connections per remote IP (429 beyond; -1: off, e.g. behind a proxy)")
	fs.IntVar(&c.MaxSeatsPerIP, "max-seats-per-ip", 8, "seats one remote IP may hold in anonymous mode, over all rooms, connected or within the reconnect grace (4029 beyond; -1: off, e.g. behind a proxy)")
	fs.IntVar(&c.MaxMsgBytes, "max-msg-bytes", 4<<10, "largest client message in `bytes` (1009 beyond)")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", 5*time.Second, "time to read request headers (slowloris: a partial request gets 400 and is closed)")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", 8<<10, "largest request head in `bytes`, request line and headers (431 beyond; more than 4096)")
	fs.IntVar(&c.Inbox, "inbox", 32, "inputs waiting per player (more are dropped and counted)")
	fs.IntVar(&c.InputsPerTick, "inputs-per-tick", 2, "inputs of one player applied per tick (the rest wait)")
	fs.IntVar(&c.InputRate, "input-rate", 0, "input token bucket refill per second per connection (0: 3 x tick rate)")
	fs.IntVar(&c.InputBurst, "input-burst", 0, "input token bucket size (0: 2 x tick rate)")
	fs.IntVar(&c.InputBytes, "input-bytes", 64<<10, "input `bytes` per second per connection")
	fs.IntVar(&c.MaxJoinMeta, "max-join-meta", 256, "largest player metadata a join may carry in anonymous mode, in `bytes` (1008 beyond; token mode takes it from the token)")
	fs.DurationVar(&c.MatchOverGrace, "match-over-grace", 2*time.Second, "how long a room stays open after its game ended the match, so the result reaches every client, before 4002 \"match over\"")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 5*time.Second, "deadline of every write; a client that does not read is closed")
	fs.DurationVar(&c.MaxLag, "max-lag", 5*time.Second, "how far a client's newest frame may trail its room before 1008 \"too slow\" (on Linux also measured from the bytes the client's TCP has acknowledged)")
	fs.IntVar(&c.SendBuffer, "send-buffer", 64<<10, "kernel send buffer per WebSocket connection in `bytes` (SO_SNDBUF; Linux doubles it): what a client that stops reading can pin (-1: off, kernel autotuning, ~4 MB)")
	fs.DurationVar(&c.PingInterval, "ping-interval", 5*time.Second, "server ping interval")
	fs.DurationVar(&c.PongTimeout, "pong-timeout", 10*time.Second, "a connection silent for ping-interval + pong-timeout is dropped (its seat held)")
	fs.DurationVar(&c.JoinTimeout, "join-timeout", 10*time.Second, "time from upgrade to join (1008 \"join timeout\")")
	fs.DurationVar(&c.ReconnectGrace, "reconnect-grace", 20*time.Second, "how long a dropped player's seat is held for a resume")
	fs.DurationVar(&c.RoomGrace, "room-grace", 30*time.Second, "how long a room with nobody in it lives")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "bound on a graceful shutdown (SIGINT/SIGTERM)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve TLS (wss://) with this certificate `file` (with -tls-key); default: plain HTTP, TLS terminated in front")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key `file` (with -tls-cert)")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve /debug/pprof/ (exposes internals: keep it off on the open internet)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `format`: text or json")
	f.recordFlags.register(fs)
	f.agones.register(fs)
	return f
}

// runServe is `NAME serve`: the server with the program's games and pages until a signal.
func runServe(ctx context.Context, p *Program, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "usage: "+p.Name+` serve [flags]

Hosts rooms of this binary's games (`+strings.Join(p.Games.Names(), ", ")+`) over HTTP and
WebSocket: /ws (subprotocol ticksync.v1), GET/POST /rooms, POST /admin/close, /healthz,
/metrics, and the binary's pages, if any, at /.
Prints the bound address on stdout. SIGINT/SIGTERM shut down gracefully (1001); with -agones,
SIGTERM drains first: no new rooms or joins, players finish for up to -drain-grace.`, "", stderr)
	f := newServeFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, p.Name+" serve: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" serve: %v\n", err)
		return 2
	}
	cfg, err := f.config(env, log)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" serve: %v\n", err)
		return 2
	}
	cfg.Games, cfg.Pages = p.Games, p.pages()
	fleet, err := f.agones.fleet(&cfg, env, log)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" serve: %v\n", err)
		return 2
	}
	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" serve: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintf(stderr, p.Name+" serve: %v\n", err)
		return 1
	}
	addr := ln.Addr().String()
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "%s serving on %s://%s (auth %s)\n", p.Name, scheme, addr, cfg.Auth)
	log.Info("serving", "addr", addr, "auth", string(cfg.Auth), "tick_rate", cfg.TickRate)
	if !isLoopback(addr) && f.tlsCert == "" {
		log.Warn("plain HTTP on a non-loopback address: terminate TLS in front of the server")
	}
	if fleet != nil {
		return serveAgones(ctx, fleet, srv, ln, f.tlsCert, f.tlsKey, log)
	}
	if code, done := serveUntil(ctx, log, func() error { return srv.ServeTLS(ln, f.tlsCert, f.tlsKey) }); !done {
		return code
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	go exitOnSecondSignal(log)
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return 1
	}
	log.Info("shut down cleanly")
	return 0
}

// exitOnSecondSignal exits at once on the next SIGINT/SIGTERM (the first started the shutdown).
func exitOnSecondSignal(log *slog.Logger) {
	sig := make(chan os.Signal, 1)
	notifySecond(sig)
	<-sig
	log.Error("second signal: exiting now")
	os.Exit(1)
}

// config turns the flags into a server.Config, applying the auth-mode rules of docs/operations.md, "Auth modes".
func (f *serveFlags) config(env func(string) string, log *slog.Logger) (server.Config, error) {
	cfg := f.cfg
	cfg.Logger = log
	if f.origins != "" {
		for _, o := range strings.Split(f.origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.AllowOrigins = append(cfg.AllowOrigins, o)
			}
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return cfg, errors.New("-tls-cert and -tls-key go together")
	}
	if lim, ok := openFileLimit(); ok && uint64(cfg.MaxConns)+64 > lim {
		capped := int(max(int64(lim)-64, 1))
		log.Warn("-max-conns above the open-file limit: capped", "max_conns", cfg.MaxConns, "nofile", lim, "capped", capped)
		cfg.MaxConns = capped
	}
	switch f.auth {
	case "":
		if !isLoopback(f.addr) {
			return cfg, fmt.Errorf("listening on %s (not loopback): choose -auth token, or -auth anonymous to accept anyone", f.addr)
		}
		cfg.Auth = server.AuthAnonymous
	case "anonymous":
		cfg.Auth = server.AuthAnonymous
		if !isLoopback(f.addr) {
			log.Warn("anonymous mode on a non-loopback address: anyone can join and create rooms")
		}
	case "token":
		cfg.Auth = server.AuthToken
	default:
		return cfg, fmt.Errorf("-auth %q: want anonymous or token", f.auth)
	}
	secret, err := auth.LoadSecret(f.secretFile, env)
	switch {
	case err == nil:
		cfg.Secret = secret
	case errors.Is(err, auth.ErrNoSecret) && cfg.Auth == server.AuthAnonymous:
		// a random per-process secret signs resume tokens
	case errors.Is(err, auth.ErrNoSecret):
		return cfg, fmt.Errorf("-auth token needs a secret: -auth-secret-file or $%s", auth.EnvSecret)
	default:
		return cfg, err
	}
	if err := f.recordFlags.apply(&cfg, log); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// isLoopback reports whether a listen address binds loopback only ("localhost", 127.0.0.0/8,
// ::1). An empty host binds every interface: not loopback.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// serveThenStop runs serve until it fails or ctx ends (serveUntil); then stop, bounded to 10 s.
// It returns the exit status: 0 after a clean stop, 1 after a failure of either.
func serveThenStop(ctx context.Context, log *slog.Logger, serve func() error, stop func(context.Context) error) int {
	if code, done := serveUntil(ctx, log, serve); !done {
		return code
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stop(sctx); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return 1
	}
	return 0
}

// serveUntil runs serve until it returns (status 1 for a failure, 0 once the server was closed)
// or ctx ends (done: the caller shuts the server down; serve's result is then not awaited).
func serveUntil(ctx context.Context, log *slog.Logger, serve func() error) (code int, done bool) {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
			return 1, false
		}
		return 0, false
	case <-ctx.Done():
		return 0, true
	}
}

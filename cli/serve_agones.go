package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agonesmode"
	"github.com/ticksync/ticksync/server"
)

// agonesFlags are serve's Agones flags (docs/operations.md, "Run under Agones").
type agonesFlags struct {
	on                            bool
	sdk, list, counter, game      string
	joinDeadline, idle, awaitRoom time.Duration
	idleAction                    string
	health, drainGrace            time.Duration
}

func (f *agonesFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "agones", false, "run as an Agones game server: Ready once listening, health pings, rooms in a GameServer list, SIGTERM drains (docs/operations.md, \"Run under Agones\")")
	fs.StringVar(&f.sdk, "agones-sdk", "", "Agones SDK sidecar `URL` (default http://localhost:$AGONES_SDK_HTTP_PORT, port 9358 when unset)")
	fs.StringVar(&f.list, "agones-list", "rooms", "GameServer list holding the room ids (its capacity is set to -max-rooms, at most 1000)")
	fs.StringVar(&f.counter, "agones-counter", "players", "GameServer counter following the players count (\"\": none)")
	fs.StringVar(&f.game, "agones-game", "", "`game` of the rooms allocations create (default: the binary's only game)")
	fs.DurationVar(&f.joinDeadline, "agones-join-deadline", 30*time.Second, "a room an allocation created is disposed when nobody joined it within this")
	fs.DurationVar(&f.awaitRoom, "agones-await-room", 2*time.Second, "a join naming a room this server does not hold waits this long for an allocation to bring it (the lobby answers before the server hears of the room)")
	fs.DurationVar(&f.idle, "agones-idle", 60*time.Second, "an Allocated server holding no room this long takes -agones-idle-action")
	fs.StringVar(&f.idleAction, "agones-idle-action", agonesmode.IdleReady, "`action` of an idle Allocated server: ready (back to Ready) or shutdown")
	fs.DurationVar(&f.health, "agones-health", 2*time.Second, "health ping interval (keep it below the fleet's health.periodSeconds); pings stop while a room has not ticked for a second")
	fs.DurationVar(&f.drainGrace, "drain-grace", 20*time.Second, "with -agones: how long SIGTERM's drain waits for players to leave before the shutdown (terminationGracePeriodSeconds must exceed it plus -shutdown-timeout)")
}

// fleet returns the Agones mode the flags ask for (nil without -agones), its hooks installed in
// cfg.
func (f *agonesFlags) fleet(cfg *server.Config, env func(string) string, log *slog.Logger) (*agonesmode.Fleet, error) {
	if !f.on {
		return nil, nil
	}
	game := f.game
	if game == "" {
		names := cfg.Games.Names()
		if len(names) != 1 {
			return nil, fmt.Errorf("-agones-game: the binary runs %d games (%v): name one", len(names), names)
		}
		game = names[0]
	}
	if _, ok := cfg.Games.Lookup(game); !ok {
		return nil, fmt.Errorf("-agones-game %q: not a game of this binary", game)
	}
	client := agones.FromEnv(env)
	if f.sdk != "" {
		client = agones.New(f.sdk)
	}
	fl, err := agonesmode.New(agonesmode.Config{
		Client: client, List: f.list, Counter: f.counter, Game: game, Capacity: int64(cfg.MaxRooms),
		JoinDeadline: f.joinDeadline, AwaitRoom: f.awaitRoom, Idle: f.idle, IdleAction: f.idleAction, Health: f.health,
		DrainGrace: f.drainGrace, ShutdownTimeout: cfg.ShutdownTimeout, Logger: log, Now: cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	fl.Hook(cfg)
	return fl, nil
}

// serveAgones serves srv on ln under Agones until ctx ends (SIGTERM), then drains
// (agonesmode.Fleet.Run); it returns the exit status.
func serveAgones(ctx context.Context, fl *agonesmode.Fleet, srv *server.Server, ln net.Listener, certFile, keyFile string, log *slog.Logger) int {
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, certFile, keyFile) }()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fl.Run(rctx, srv) }()
	go func() {
		select {
		case <-ctx.Done():
			exitOnSecondSignal(log)
		case <-rctx.Done():
		}
	}()
	code := 0
	var err error
	select {
	case serr := <-errc:
		if !errors.Is(serr, http.ErrServerClosed) {
			log.Error("serve", "err", serr)
			code = 1
			cancel() // drain and shut down
		}
		err = <-done
	case err = <-done:
	}
	switch {
	case err != nil:
		log.Error("agones", "err", err) // a start that failed, or a drain or shutdown incomplete
		return 1
	case code != 0:
		return code
	}
	log.Info("shut down cleanly")
	return 0
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/lobby"
)

// runLobby is `NAME lobby`: the fleet's room directory (package lobby) until a signal.
func runLobby(ctx context.Context, p *Program, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lobby", "usage: "+p.Name+` lobby [flags]

The room directory of a fleet of `+p.Name+` servers on Agones (docs/fleet.md). Stateless:
POST /v1/rooms (body {"config": {...}} optional) allocates a new room on the fullest game
server with a free slot; GET /v1/rooms/{id} finds the server holding a room. Both answer
{"room", "url", "token", "expires"}: connect to url?token=token. Also /healthz, /metrics.
In a pod it talks to the Kubernetes API with its service account (it needs create on
gameserverallocations.allocation.agones.dev). Prints the bound address on stdout;
SIGINT/SIGTERM stop it gracefully.`, "", stderr)
	addr := fs.String("addr", ":8081", "listen `address` (host:port; port 0 picks a free one, printed at start)")
	allocURL := fs.String("allocator-url", "", "Kubernetes API `URL` to allocate through, without credentials (e.g. http://127.0.0.1:8001 from kubectl proxy); default: the pod's cluster, with its service account")
	namespace := fs.String("namespace", "", "`namespace` of the fleet (default: the service account's, else \"default\")")
	fleet := fs.String("fleet", "ticksync", "Agones fleet `name` whose game servers host the rooms")
	list := fs.String("list", "rooms", "Agones List `key` holding each game server's room ids (as serve -agones-list)")
	portName := fs.String("port-name", "default", "game server port `name` players connect to (else its first port)")
	scheme := fs.String("public-scheme", "ws", "`scheme` of the rooms' URLs: ws, or wss when TLS is terminated in front of the game servers")
	secretFile := fs.String("auth-secret-file", "", "`file` holding the game servers' shared token secret (else $"+auth.EnvSecret+")")
	ttl := fs.Duration("token-ttl", defaultTokenTTL, "life of the player tokens the lobby hands out")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "%s lobby: %v\n", p.Name, err)
		return code
	}
	if fs.NArg() > 0 {
		return fail(2, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return fail(2, err)
	}
	secret, err := auth.LoadSecret(*secretFile, env)
	if errors.Is(err, auth.ErrNoSecret) {
		return fail(2, fmt.Errorf("needs the game servers' secret: -auth-secret-file or $%s", auth.EnvSecret))
	} else if err != nil {
		return fail(2, err)
	}
	alloc, err := allocator(*allocURL, *namespace, env)
	if err != nil {
		return fail(2, err)
	}
	l, err := lobby.New(lobby.Config{
		Allocator: alloc, Fleet: *fleet, List: *list, PortName: *portName, Scheme: *scheme,
		Secret: secret, TokenTTL: *ttl, Logger: log,
	})
	if err != nil {
		return fail(2, err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(1, err)
	}
	bound := ln.Addr().String()
	fmt.Fprintf(stdout, "%s lobby serving on http://%s (fleet %s, namespace %s)\n", p.Name, bound, *fleet, alloc.Namespace)
	log.Info("lobby serving", "addr", bound, "fleet", *fleet, "namespace", alloc.Namespace, "allocator", alloc.URL)
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 8 << 10}
	code := serveThenStop(ctx, log, func() error { return srv.Serve(ln) }, srv.Shutdown)
	if code == 0 {
		log.Info("lobby shut down cleanly")
	}
	return code
}

// allocator is the lobby's allocation client: the pod's cluster without url, else url as is
// (no credentials: kubectl proxy adds them), in namespace (default: the service account's,
// else "default").
func allocator(url, namespace string, env func(string) string) (*lobby.Allocator, error) {
	var a *lobby.Allocator
	if url == "" {
		var err error
		if a, err = lobby.InCluster(lobby.ServiceAccountDir, env); err != nil {
			return nil, fmt.Errorf("%w (outside a cluster, pass -allocator-url)", err)
		}
	} else {
		a = &lobby.Allocator{URL: url, Namespace: "default"}
		if ns, err := lobby.Namespace(lobby.ServiceAccountDir); err == nil {
			a.Namespace = ns
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if namespace != "" {
		a.Namespace = namespace
	}
	return a, nil
}

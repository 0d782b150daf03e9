package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// Subprotocol is the WebSocket subprotocol clients must offer.
const Subprotocol = "ticksync.v1"

// readBufferSize is each connection's gws read buffer.
const readBufferSize = 1024

// Server hosts rooms over HTTP and WebSocket. Make one with New, serve it with Serve (or
// mount Handler), stop it with Shutdown.
type Server struct {
	cfg       Config
	log       *slog.Logger
	m         *metrics
	up        *gws.Upgrader
	secret    []byte
	maxInputs int // widest input schema among registered games, before a conn has a room
	started   time.Time

	framesWritten atomic.Uint64 // frames written to sockets (benchmarks wait on it)

	mu       sync.Mutex
	rooms    map[string]*Room
	conns    map[*conn]struct{}
	perIP    map[string]int
	closing  bool
	draining bool // Drain: no new rooms, no new joins (drain.go)
	httpSrvs []*http.Server
	connsWG  sync.WaitGroup

	seatMu  sync.Mutex     // guards seatsBy (rooms charge and release seats concurrently)
	seatsBy map[string]int // anonymous seats held per remote IP (MaxSeatsPerIP)

	violations logLimiter // protocol-violation log lines (close.go)
}

// New validates cfg (zero fields take their defaults) and returns a server.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("server: config: %w", err)
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, m: newMetrics(), secret: cfg.Secret, started: cfg.Now(),
		rooms: map[string]*Room{}, conns: map[*conn]struct{}{}, perIP: map[string]int{}, seatsBy: map[string]int{},
		maxInputs: 64,
	}
	if len(s.secret) == 0 {
		s.secret = auth.RandomSecret() // signs this process's resume tokens only
	}
	s.up = gws.NewUpgrader(handler{srv: s}, &gws.ServerOption{
		Recovery:           gws.Recovery,
		ReadMaxPayloadSize: cfg.MaxMsgBytes,
		// Clients send small messages (an input is ~20 B); gws's 4 KB default per connection
		// is 800 KB of idle buffers at 200 players. Larger messages are read through it.
		ReadBufferSize: readBufferSize,
		NewSession:     newSession,
		// Close reasons (and text frames, refused anyway) must be UTF-8: RFC 6455 §8.1 asks for
		// 1007 otherwise. Binary frames are not checked, so inputs pay nothing for it.
		CheckUtf8Enabled: true,
		SubProtocols:     []string{Subprotocol},
		Logger:           gwsLogger{s.log},
		// ParallelEnabled and PermessageDeflate stay off: parallel handling reorders a
		// connection's inputs, and compression leaks secrets through lengths (CRIME/BREACH).
	})
	return s, nil
}

// gwsLogger routes gws's error log (recovered panics) to slog.
type gwsLogger struct{ l *slog.Logger }

// Error logs gws's message.
func (g gwsLogger) Error(v ...any) { g.l.Error("gws", "err", fmt.Sprint(v...)) }

// CreateRoom creates a room running game with config (JSON; empty: the game's defaults). An
// empty id picks a random one. It is the API behind POST /rooms and join-create, and what a
// fleet manager's allocation hook calls.
func (s *Server) CreateRoom(id, game string, config []byte) (*Room, error) {
	return s.createRoom(id, game, config, nil, nil)
}

// createRoom is CreateRoom with the room's labels (checked by the caller) and a hook run on the
// new room under the server lock, before any join can find it (quick play promises its seat).
// Config.OnRoomCreated runs after, outside the lock.
func (s *Server) createRoom(id, game string, config []byte, labels map[string]string, created func(*Room)) (*Room, error) {
	r, err := s.addRoom(id, game, config, labels, created)
	if err == nil && s.cfg.OnRoomCreated != nil {
		s.cfg.OnRoomCreated(r)
	}
	return r, err
}

// addRoom makes and starts the room under the server lock: createRoom without the hook.
func (s *Server) addRoom(id, game string, config []byte, labels map[string]string, created func(*Room)) (*Room, error) {
	if id == "" {
		id = rand.Text()[:10]
	}
	if !validRoomID(id) {
		return nil, fmt.Errorf("%w: %q", ErrBadRoomID, id)
	}
	f, ok := s.cfg.Games.Lookup(game)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGame, game)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return nil, ErrShutdown
	case s.draining:
		return nil, ErrDraining
	case s.rooms[id] != nil:
		return nil, fmt.Errorf("%w: %q", ErrRoomExists, id)
	case len(s.rooms) >= s.cfg.MaxRooms:
		return nil, ErrServerFull
	}
	r, err := newRoom(s, id, game, config, f, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	r.labels = labels
	if created != nil {
		created(r)
	}
	s.rooms[id] = r
	s.m.rooms.Inc()
	r.log.Info("room created")
	if !s.cfg.ManualTicks {
		r.wk = newWaker()
		go r.wk.run(r.done)
		go r.run()
	}
	return r, nil
}

// Room returns the room with id.
func (s *Server) Room(id string) (*Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	return r, ok
}

// Rooms returns the open rooms.
func (s *Server) Rooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *Server) removeRoom(r *Room) {
	s.mu.Lock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
		s.m.rooms.Dec()
	}
	s.mu.Unlock()
}

// CloseRoom ends a room: its connections get 4002.
func (s *Server) CloseRoom(id string) bool {
	r, ok := s.Room(id)
	if ok {
		r.stop(errRoomClosed)
		if s.cfg.ManualTicks {
			r.Tick()
		}
	}
	return ok
}

// Kick closes player's connection in room with code and reason (the admin call). The seat
// is held for the reconnect grace like any dropped connection. It returns ErrRoomNotFound, or
// ErrNotConnected when the player has no connection in the room (never joined, left, or
// dropped and held).
func (s *Server) Kick(room string, player uint32, code uint16, reason string) error {
	r, ok := s.Room(room)
	if !ok {
		return ErrRoomNotFound
	}
	r.tickMu.Lock() // at most one tick's work: the room's state is its goroutine's
	connected := r.eng.Connected(player)
	r.tickMu.Unlock()
	if !connected {
		return ErrNotConnected
	}
	if !r.enqueue(roomCmd{kind: cmdKick, player: player, err: &CloseError{Code: code, Reason: reason}}) {
		return ErrRoomNotFound // it stopped meanwhile
	}
	return nil
}

// join routes a connection's join (on its read goroutine): checks the token covers the room,
// finds or creates the room (or lets quick play pick it), and queues the join for the room's
// next tick.
func (s *Server) join(c *conn, j *pb.Join) error {
	cl := c.claims
	admin := cl != nil && cl.Role == auth.RoleAdmin
	if err := checkLabels(j.GetLabels()); err != nil {
		return err
	}
	if cl == nil && len(j.GetMeta()) > s.cfg.MaxJoinMeta { // checked before a quick play promises a seat
		return errMetaTooLong
	}
	if s.Draining() && !isResume(cl, j) {
		return ErrDraining
	}
	if isReplayRoom(j.GetRoom()) && !j.GetQuickPlay() {
		if cl != nil && cl.Room != j.GetRoom() && !(admin && cl.Room == auth.AnyRoom) {
			return errWrongRoom // a game-scoped token does not open recordings
		}
		return s.joinReplay(c, j)
	}
	r, err := s.roomFor(cl, j)
	if err != nil {
		return err
	}
	req := joinReq{spectator: j.GetSpectator(), lastTick: j.GetLastTick(), wantStats: j.GetWantStats() && admin, quick: j.GetQuickPlay(),
		views: j.GetViews(), follow: j.GetFollow()}
	if cl == nil && j.GetMeta() != "" { // anonymous mode: the join says who the player is
		req.meta = []byte(j.GetMeta())
	}
	if cl != nil {
		req.player = cl.Player
		if cl.Meta != "" {
			req.meta = []byte(cl.Meta)
		}
		switch {
		case cl.Role == auth.RoleSpectator:
			req.spectator = true
		case cl.Role == auth.RoleAdmin && cl.Player == 0:
			req.spectator = true // an admin watches unless its token names a player
		}
		if cl.Kind == auth.KindResume {
			req.resume, req.session = true, cl.Session
		}
	}
	if !r.enqueue(roomCmd{kind: cmdJoin, c: c, join: req}) {
		return ErrRoomNotFound
	}
	return nil
}

// roomFor finds the room a join goes to, creating it when the join may: a quick play's pick,
// or the room named, checked against the token (room-scoped: that room only; game-scoped: rooms
// of its game; admin: any).
func (s *Server) roomFor(cl *auth.Claims, j *pb.Join) (*Room, error) {
	admin := cl != nil && cl.Role == auth.RoleAdmin
	gameScoped := cl != nil && cl.Room == auth.AnyRoom && !admin
	switch {
	case j.GetQuickPlay() && cl != nil && cl.Room != auth.AnyRoom:
		return nil, errQuickPlayScope
	case !j.GetQuickPlay() && cl != nil && cl.Room != auth.AnyRoom && cl.Room != j.GetRoom():
		return nil, errWrongRoom
	case gameScoped && j.GetGame() != "" && j.GetGame() != cl.Game:
		return nil, errWrongGame
	}
	game := j.GetGame()
	if game == "" && cl != nil {
		game = cl.Game
	}
	if game == "" {
		game = s.defaultGame()
	}
	if j.GetQuickPlay() {
		if j.GetRoom() != "" {
			return nil, fmt.Errorf("%w: quick play picks the room (room must be empty)", errMalformed)
		}
		return s.quickPlay(game, j.GetLabels(), j.GetConfig())
	}
	canCreate := j.GetCreateIfMissing() && (s.cfg.Auth == AuthAnonymous || admin)
	r, ok := s.Room(j.GetRoom())
	if !ok && !canCreate && j.GetRoom() != "" && s.cfg.AwaitRoom != nil && s.cfg.AwaitRoom(j.GetRoom()) {
		r, ok = s.Room(j.GetRoom())
	}
	if !ok {
		if !canCreate || j.GetRoom() == "" {
			return nil, ErrRoomNotFound
		}
		var err error
		r, err = s.createRoom(j.GetRoom(), game, j.GetConfig(), maps.Clone(j.GetLabels()), nil)
		if errors.Is(err, ErrRoomExists) { // another join created it first
			if r, ok = s.Room(j.GetRoom()); !ok {
				return nil, ErrRoomNotFound
			}
		} else if err != nil {
			return nil, err
		}
	}
	if gameScoped && r.game != cl.Game {
		return nil, errWrongGame
	}
	return r, nil
}

// addConn registers an upgraded connection; false when the server is closing.
func (s *Server) addConn(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.connsWG.Add(1)
	s.m.conns.Inc()
	return true
}

func (s *Server) dropConn(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.connsWG.Done()
		s.m.conns.Dec()
	}
	s.releaseIP(c.ip)
	s.mu.Unlock()
}

// chargeSeat counts a new anonymous seat against its address; false when the address holds
// MaxSeatsPerIP already. Held seats count until they are freed (releaseSeat).
func (s *Server) chargeSeat(ip string) bool {
	s.seatMu.Lock()
	defer s.seatMu.Unlock()
	if s.seatsBy[ip] >= s.cfg.MaxSeatsPerIP {
		return false
	}
	s.seatsBy[ip]++
	return true
}

// releaseSeat undoes chargeSeat.
func (s *Server) releaseSeat(ip string) {
	s.seatMu.Lock()
	defer s.seatMu.Unlock()
	if s.seatsBy[ip] <= 1 {
		delete(s.seatsBy, ip)
	} else {
		s.seatsBy[ip]--
	}
}

// seatsOf returns the seats charged to ip (tests).
func (s *Server) seatsOf(ip string) int {
	s.seatMu.Lock()
	defer s.seatMu.Unlock()
	return s.seatsBy[ip]
}

// reserveIP counts a connection against its address's cap; false beyond it.
func (s *Server) reserveIP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

// releaseIP undoes reserveIP; s.mu held.
func (s *Server) releaseIP(ip string) {
	if s.perIP[ip] <= 1 {
		delete(s.perIP, ip)
	} else {
		s.perIP[ip]--
	}
}

// Serve accepts connections on ln until Shutdown: net/http with a header timeout, a header
// size cap and a connection cap (excess connections wait in the backlog).
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, "", "") }

// ServeTLS is Serve with TLS from a certificate and key file (wss://).
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	return s.serve(ln, certFile, keyFile)
}

func (s *Server) serve(ln net.Listener, certFile, keyFile string) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes - netHTTPHeaderSlack, // net/http adds the slack back
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.httpSrvs = append(s.httpSrvs, hs)
	s.mu.Unlock()
	ln = limitListener(ln, s.cfg.MaxConns)
	if certFile != "" {
		return hs.ServeTLS(ln, certFile, keyFile)
	}
	return hs.Serve(ln)
}

// Shutdown stops the server gracefully (docs/operations.md, "Shutdown"): /healthz answers 503 and
// listeners close; each room finishes its tick and stops, recorders first; then every
// connection gets 1001. A write blocked on a client that does not read is given at most
// closeWriteTimeout (1 s) more, not WriteTimeout, so Shutdown takes about that long at worst.
// Whatever is left when ctx ends is closed hard and an error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	srvs := s.httpSrvs
	s.mu.Unlock()
	var errs []error
	for _, hs := range srvs {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range s.Rooms() {
		r.stop(ErrShutdown)
		if s.cfg.ManualTicks {
			r.Tick()
		}
	}
	for _, r := range s.Rooms() {
		select {
		case <-r.done:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	for c := range s.conns {
		c.fail(ErrShutdown) // no-op for connections a room already closed
		c.hurry()           // a writer stuck on a client that does not read gives up within 1 s
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.connsWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			_ = c.ws.NetConn().Close()
		}
		s.mu.Unlock()
		errs = append(errs, fmt.Errorf("server: shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// limitListener caps open connections: Accept waits while n are open.
func limitListener(ln net.Listener, n int) net.Listener {
	return &limited{Listener: ln, sem: make(chan struct{}, n)}
}

type limited struct {
	net.Listener
	sem chan struct{}
}

// Accept waits for a free slot, then accepts.
func (l *limited) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close closes the connection and frees its slot once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// validRoomID: 1..64 bytes of letters, digits, '-', '_' and '.', so ids are safe in logs,
// URLs and file names (recordings).
func validRoomID(id string) bool {
	if id == "" || len(id) > maxRoomIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

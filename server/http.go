package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ticksync/ticksync/auth"
)

// maxCreateBody bounds a POST /rooms body (a game config is small).
const maxCreateBody = 64 << 10

// Handler returns the server's HTTP routes: /ws, /rooms, /replays, /admin/close, /healthz,
// /metrics, and Config.Pages for every other GET (cmd/ticksync: the demo at / and the viewer
// at /replay).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.handleWS)
	mux.HandleFunc("GET /rooms", s.handleListRooms)
	mux.HandleFunc("GET /replays", s.handleListReplays)
	mux.HandleFunc("POST /rooms", s.handleCreateRoom)
	mux.HandleFunc("DELETE /rooms/{id}", s.handleDeleteRoom)
	mux.HandleFunc("GET /rooms/{id}/state", s.handleRoomState)
	mux.HandleFunc("POST /admin/close", s.handleAdminClose)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	// The exposition is a few KB: compressing it saves nothing worth the 1.3 MB compressor
	// each gzip scrape pooled (seen in the heap profile under load).
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{DisableCompression: true}))
	if s.cfg.Pages != nil {
		mux.Handle("GET /", s.cfg.Pages)
	} else {
		mux.HandleFunc("GET /", noPages)
	}
	if s.cfg.Pprof {
		// Method-qualified like "GET /": a bare "/debug/pprof/" conflicts with it (ServeMux panics).
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// noPages answers a GET outside the API when the server mounts no pages: 404, with a line
// naming what does answer, so a person trying the address in a browser learns where to look.
func noPages(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "404 not found: this server has no pages; its endpoints are /ws, /rooms, /replays, /healthz and /metrics", http.StatusNotFound)
}

// reject answers a refused request with a one-line plain-text reason.
func (s *Server) reject(w http.ResponseWriter, status int, reason string) {
	s.m.rejected(status)
	http.Error(w, reason, status)
}

// handleWS checks the WebSocket version (426), Origin (403), subprotocol (400), token (401)
// and the per-IP cap (429) before upgrading: gws would answer every refusal with a bare 400.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		s.reject(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		// RFC 6455 §4.2.2: 426 naming the version we speak (gws would answer a bare 400).
		w.Header().Set("Sec-WebSocket-Version", "13")
		s.reject(w, http.StatusUpgradeRequired, "websocket version 13 required")
		return
	}
	if !s.originAllowed(r) {
		s.reject(w, http.StatusForbidden, "origin not allowed")
		return
	}
	if !offersSubprotocol(r) {
		s.reject(w, http.StatusBadRequest, "subprotocol "+Subprotocol+" required")
		return
	}
	claims, reason := s.authenticate(r.URL.Query().Get("token"))
	if reason != "" {
		s.reject(w, http.StatusUnauthorized, reason)
		return
	}
	ip := remoteIP(r.RemoteAddr)
	if !s.reserveIP(ip) {
		s.reject(w, http.StatusTooManyRequests, "too many connections from this address")
		return
	}
	ws, err := s.up.Upgrade(w, r)
	if err != nil { // gws answered 400 and closed
		s.mu.Lock()
		s.releaseIP(ip)
		s.mu.Unlock()
		return
	}
	c := newConn(s, ws, ip, claims)
	ws.Session().Store("c", c)
	if !s.addConn(c) {
		c.fail(ErrShutdown)
	}
	go ws.ReadLoop()
}

// authenticate checks the ?token= of a handshake. Token mode requires one; anonymous mode
// accepts none, or a valid token (a resume token, or an admin token asking for stats). It
// returns the claims or a 401 reason.
func (s *Server) authenticate(token string) (*auth.Claims, string) {
	if token == "" {
		if s.cfg.Auth == AuthToken {
			return nil, "token required"
		}
		return nil, ""
	}
	cl, err := auth.Verify(s.secret, token, s.cfg.Now())
	switch {
	case errors.Is(err, auth.ErrExpired):
		return nil, "token expired"
	case err != nil:
		return nil, "bad token"
	}
	return &cl, ""
}

// originAllowed: no Origin (a non-browser client), the request's own host, or an exact entry
// of AllowOrigins (RFC 6455 §10.2).
func (s *Server) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	for _, a := range s.cfg.AllowOrigins {
		if strings.EqualFold(o, a) {
			return true
		}
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func offersSubprotocol(r *http.Request) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == Subprotocol {
				return true
			}
		}
	}
	return false
}

// roomJSON is one entry of GET /rooms.
type roomJSON struct {
	ID         string `json:"id"`
	Game       string `json:"game"`
	Players    int    `json:"players"`
	Spectators int    `json:"spectators"`
	Max        int    `json:"max"` // connections (players and spectators): -max-players
	// Seats is the players quick play seats here: the game's room size (sim.Seater), else max.
	Seats int `json:"seats"`
	// Labels are the room's labels (set at creation; quick play matches them).
	Labels map[string]string `json:"labels,omitempty"`
	Tick   uint32            `json:"tick"`
	Uptime float64           `json:"uptime"` // seconds
	// Recording is the room's recording (absent when recording is off).
	Recording *recordingStatus `json:"recording,omitempty"`
}

func (s *Server) handleListRooms(w http.ResponseWriter, _ *http.Request) {
	now := s.cfg.Now()
	out := []roomJSON{}
	for _, r := range s.Rooms() {
		out = append(out, roomJSON{ID: r.id, Game: r.game, Players: int(r.nPlayers.Load()), Spectators: int(r.nSpectators.Load()),
			Max: s.cfg.MaxPlayers, Seats: r.seats, Labels: r.labels, Tick: r.tickNow.Load(), Uptime: now.Sub(r.created).Seconds(),
			Recording: r.recording.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

// createRequest is the body of POST /rooms.
type createRequest struct {
	Game   string            `json:"game"`
	Config json.RawMessage   `json:"config,omitempty"`
	ID     string            `json:"id,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

func (s *Server) handleCreateRoom(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	var req createRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxCreateBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.reject(w, http.StatusBadRequest, "bad request body: want {\"game\": ..., \"config\": {...}, \"id\": ..., \"labels\": {...}}")
		return
	}
	if err := checkLabels(req.Labels); err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Game == "" {
		req.Game = s.defaultGame()
	}
	var cfg []byte
	if len(req.Config) > 0 && string(req.Config) != "null" {
		cfg = req.Config
	}
	room, err := s.createRoom(req.ID, req.Game, cfg, req.Labels, nil)
	switch {
	case errors.Is(err, ErrServerFull), errors.Is(err, ErrShutdown):
		s.reject(w, http.StatusServiceUnavailable, "room limit reached")
	case errors.Is(err, ErrDraining):
		s.reject(w, http.StatusServiceUnavailable, "server draining")
	case errors.Is(err, ErrRoomExists):
		s.reject(w, http.StatusConflict, "room exists")
	case errors.Is(err, ErrUnknownGame):
		s.reject(w, http.StatusBadRequest, "unknown game")
	case errors.Is(err, ErrBadRoomID):
		s.reject(w, http.StatusBadRequest, "bad room id (1-64 of A-Z a-z 0-9 - _ .)")
	case errors.Is(err, errGameRejected):
		s.reject(w, http.StatusBadRequest, oneLine(err.Error()))
	case err != nil:
		s.reject(w, http.StatusServiceUnavailable, oneLine(err.Error()))
	default:
		writeJSON(w, http.StatusCreated, map[string]string{"id": room.id})
	}
}

// defaultGame is the game a create that names none runs: the registry's only game. With none
// or several registered it is "", which CreateRoom refuses as ErrUnknownGame (400 on POST
// /rooms, 4004 on a join-create): the server has no favourite game to guess.
func (s *Server) defaultGame() string {
	if names := s.cfg.Games.Names(); len(names) == 1 {
		return names[0]
	}
	return ""
}

func (s *Server) handleDeleteRoom(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	if !s.CloseRoom(r.PathValue("id")) {
		s.reject(w, http.StatusNotFound, "room not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRoomState answers a room's current world as JSON for humans (sim.StateView): admin
// only, since it shows everything every player could not see.
func (s *Server) handleRoomState(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	room, ok := s.Room(r.PathValue("id"))
	if !ok {
		s.reject(w, http.StatusNotFound, "room not found")
		return
	}
	writeJSON(w, http.StatusOK, room.StateView())
}

// handleAdminClose closes a player's connection: POST /admin/close?room=R&player=P&code=C
// [&reason=…]. code is a close code operators may send (1000, 1001, 1008, 1011, 3000–4999).
func (s *Server) handleAdminClose(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	q := r.URL.Query()
	player, err1 := strconv.ParseUint(q.Get("player"), 10, 32)
	code, err2 := strconv.ParseUint(q.Get("code"), 10, 16)
	if err1 != nil || err2 != nil || !sendableCode(uint16(code)) {
		s.reject(w, http.StatusBadRequest, "want room, player and code (1000, 1001, 1008, 1011 or 3000-4999)")
		return
	}
	reason := q.Get("reason")
	if reason == "" {
		reason = "closed by operator"
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	switch err := s.Kick(q.Get("room"), uint32(player), uint16(code), reason); {
	case errors.Is(err, ErrNotConnected):
		s.reject(w, http.StatusNotFound, "player not connected")
		return
	case err != nil:
		s.reject(w, http.StatusNotFound, "room not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func sendableCode(c uint16) bool {
	return c == 1000 || c == 1001 || c == 1008 || c == 1011 || (c >= 3000 && c <= 4999)
}

// adminAllowed guards operator routes: an admin token (Authorization: Bearer or ?token=) in
// token mode; in anonymous mode, requests from a loopback address only.
func (s *Server) adminAllowed(w http.ResponseWriter, r *http.Request) bool {
	token := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token = strings.TrimPrefix(h, "Bearer ")
	}
	if s.cfg.Auth == AuthAnonymous && token == "" {
		if ip := net.ParseIP(remoteIP(r.RemoteAddr)); ip != nil && ip.IsLoopback() {
			return true
		}
		s.reject(w, http.StatusForbidden, "admin calls need a loopback address or an admin token")
		return false
	}
	cl, reason := s.authenticate(token)
	if reason == "" && cl == nil {
		reason = "token required"
	}
	if reason != "" {
		s.reject(w, http.StatusUnauthorized, reason)
		return false
	}
	if cl.Role != auth.RoleAdmin {
		s.reject(w, http.StatusForbidden, "admin token required")
		return false
	}
	return true
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	closing, draining := s.closing, s.draining
	s.mu.Unlock()
	switch {
	case closing:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	case draining:
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

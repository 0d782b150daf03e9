// Package lobby is the room directory of a ticksync fleet on Agones: a stateless HTTP service
// that creates rooms and finds them again through the Agones allocation API, and hands players
// the address of the game server that holds their room and a token for it.
//
// Every game server keeps the ids of its rooms in an Agones List (default "rooms") whose
// capacity is how many rooms it hosts. POST /v1/rooms allocates a new room: a
// GameServerAllocation that picks an Allocated server with a free slot, else a Ready one,
// fullest first, adds the new room id to its list and puts the room's config in the
// GameServer's annotation config.ticksync.dev/<id>. GET /v1/rooms/{id} finds the Allocated
// server whose list contains the id. The lobby keeps nothing: the GameServers' lists are the
// directory, so any number of lobby replicas can run side by side.
//
// Both answer {"room", "url", "token", "expires"}: url is ws[s]://ADDRESS:PORT/ws of the
// server, token a room-scoped join token for a player (auth.Mint with the fleet's shared
// secret) with a random player id in 1..2^31-1 (two players of a room of n share one with
// probability about n²/2^32; the later join would take the earlier one's seat, 4010).
package lobby

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ticksync/ticksync/auth"
)

// ConfigAnnotationPrefix starts the GameServer annotation that carries a room's config:
// ConfigAnnotationPrefix + room id, the value the config's JSON.
const ConfigAnnotationPrefix = "config.ticksync.dev/"

// FleetLabel is the label Agones puts on a fleet's GameServers.
const FleetLabel = "agones.dev/fleet"

// DrainingLabel is the label a draining game server sets through the SDK (agonesmode; Agones
// prefixes SDK labels with agones.dev/sdk-): new rooms are not allocated on it.
const DrainingLabel = "agones.dev/sdk-draining"

// MaxConfigBytes bounds a room's config (compacted JSON): it rides in an annotation, and every
// room's config stays on its GameServer for the room's life.
const MaxConfigBytes = 4 << 10

// maxBody bounds POST /v1/rooms' body: the config and its wrapping, with whitespace.
const maxBody = 2 * MaxConfigBytes

// roomIDRe is what the lobby accepts as a room id: 1 to 40 of A-Z a-z 0-9 - _ ., starting and
// ending with a letter or digit, so that config.ticksync.dev/<id> is a valid annotation key
// (name part at most 63) and the id a valid ticksync room id.
var roomIDRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,38}[A-Za-z0-9])?$`)

// ValidRoomID reports whether id is a room id the lobby accepts.
func ValidRoomID(id string) bool { return roomIDRe.MatchString(id) }

// NewRoomID returns a fresh room id: 26 lowercase base32 characters (128 bits), so an id
// cannot be guessed (knowing one is what GET /v1/rooms/{id} asks to hand out a token).
func NewRoomID() string { return strings.ToLower(rand.Text()) }

// Config configures a Lobby.
type Config struct {
	// Allocator creates the allocations (required).
	Allocator *Allocator
	// Fleet is the Agones fleet whose GameServers host rooms (default "ticksync").
	Fleet string
	// List is the Agones List of room ids on each GameServer (default "rooms").
	List string
	// PortName is the GameServer port players connect to (default "default"); a server
	// without a port of that name is reached on its first port.
	PortName string
	// Scheme is the players' URL scheme: "ws" (default) or "wss".
	Scheme string
	// Secret signs the players' tokens: the game servers' shared secret (required).
	Secret []byte
	// TokenTTL is a token's life (default 60s).
	TokenTTL time.Duration
	// Timeout bounds one request's allocation, Contention retries included (default 10s).
	Timeout time.Duration
	// Logger logs one line per allocation (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock of token expiries (default time.Now).
	Now func() time.Time
}

// Lobby is the HTTP service: POST /v1/rooms, GET /v1/rooms/{id}, GET /healthz and GET
// /metrics. Create it with New.
type Lobby struct {
	cfg         Config
	mux         *http.ServeMux
	allocations *prometheus.CounterVec
}

// New checks cfg, fills in its defaults and returns the Lobby.
func New(cfg Config) (*Lobby, error) {
	if cfg.Allocator == nil {
		return nil, errors.New("lobby: no allocator")
	}
	if len(cfg.Secret) < auth.MinSecretLen {
		return nil, fmt.Errorf("lobby: %w", auth.ErrWeakSecret)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Fleet, "ticksync")
	def(&cfg.List, "rooms")
	def(&cfg.PortName, "default")
	def(&cfg.Scheme, "ws")
	if cfg.Scheme != "ws" && cfg.Scheme != "wss" {
		return nil, fmt.Errorf("lobby: scheme %q: want ws or wss", cfg.Scheme)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 60 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Lobby{cfg: cfg, mux: http.NewServeMux()}
	l.allocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticksync_lobby_allocations_total",
		Help: "Allocations by operation (create: POST /v1/rooms, find: GET /v1/rooms/{id}) and result (allocated, unallocated, contention, error).",
	}, []string{"op", "result"})
	reg := prometheus.NewRegistry()
	reg.MustRegister(l.allocations)
	l.mux.HandleFunc("POST /v1/rooms", l.handleCreate)
	l.mux.HandleFunc("GET /v1/rooms/{id}", l.handleFind)
	l.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	l.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return l, nil
}

// ServeHTTP serves the lobby's routes.
func (l *Lobby) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.mux.ServeHTTP(w, r) }

// Room is the answer of POST /v1/rooms and GET /v1/rooms/{id}: where to connect and with what.
type Room struct {
	Room    string    `json:"room"`
	URL     string    `json:"url"`     // ws[s]://ADDRESS:PORT/ws: connect to URL?token=TOKEN
	Token   string    `json:"token"`   // a join token for this room, role player
	Expires time.Time `json:"expires"` // the token's expiry: connect before
}

// createRequest is POST /v1/rooms' body; the body is optional.
type createRequest struct {
	Config json.RawMessage `json:"config"`
}

func (l *Lobby) handleCreate(w http.ResponseWriter, r *http.Request) {
	cfg, err := readConfig(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := NewRoomID()
	// A draining server (its SDK label agones.dev/sdk-draining) takes no new room.
	notDraining := []LabelRequirement{{Key: DrainingLabel, Operator: "DoesNotExist"}}
	spec := l.selectorSpec(
		Selector{GameServerState: StateAllocated, MatchExpressions: notDraining, Lists: map[string]ListSelector{l.cfg.List: {MinAvailable: 1}}},
		Selector{GameServerState: "Ready", MatchExpressions: notDraining, Lists: map[string]ListSelector{l.cfg.List: {MinAvailable: 1}}},
	)
	spec.Priorities = []Priority{{Type: "List", Key: l.cfg.List, Order: "Ascending"}}
	spec.Lists = map[string]ListAction{l.cfg.List: {AddValues: []string{id}}}
	if cfg != nil {
		spec.Metadata = &MetaPatch{Annotations: map[string]string{ConfigAnnotationPrefix + id: string(cfg)}}
	}
	l.allocate(w, r, "create", id, spec, http.StatusCreated)
}

func (l *Lobby) handleFind(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !ValidRoomID(id) {
		http.Error(w, "bad room id (1-40 of A-Z a-z 0-9 - _ ., starting and ending with a letter or digit)", http.StatusBadRequest)
		return
	}
	spec := l.selectorSpec(Selector{GameServerState: StateAllocated, Lists: map[string]ListSelector{l.cfg.List: {ContainsValue: id}}})
	l.allocate(w, r, "find", id, spec, http.StatusOK)
}

// selectorSpec is an allocation spec with sels, each restricted to the lobby's fleet.
func (l *Lobby) selectorSpec(sels ...Selector) AllocationSpec {
	for i := range sels {
		sels[i].MatchLabels = map[string]string{FleetLabel: l.cfg.Fleet}
	}
	return AllocationSpec{Selectors: sels}
}

// readConfig reads POST /v1/rooms' optional body and returns the room's config as compact
// JSON, nil when none is given.
func readConfig(body io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %v", err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var req createRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, errors.New(`bad request body: want {"config": {...}} or nothing`)
	}
	cfg := bytes.TrimSpace(req.Config)
	if len(cfg) == 0 || string(cfg) == "null" {
		return nil, nil
	}
	if cfg[0] != '{' {
		return nil, errors.New("config must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, cfg); err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	if buf.Len() > MaxConfigBytes {
		return nil, fmt.Errorf("config larger than %d bytes", MaxConfigBytes)
	}
	return buf.Bytes(), nil
}

// allocate runs spec for room id and answers: status and the Room once allocated, 503 when no
// server matched (create; Retry-After) or 404 (find), 502 when the API server failed.
func (l *Lobby) allocate(w http.ResponseWriter, r *http.Request, op, id string, spec AllocationSpec, status int) {
	ctx, cancel := context.WithTimeout(r.Context(), l.cfg.Timeout)
	defer cancel()
	start := time.Now()
	st, err := l.cfg.Allocator.Allocate(ctx, spec)
	took := time.Since(start)
	var room Room
	if err == nil {
		room, err = l.room(id, st)
	}
	l.allocations.WithLabelValues(op, result(err)).Inc()
	log := l.cfg.Logger.With("op", op, "room", id, "took", took)
	switch {
	case err == nil:
		msg := "room allocated"
		if op == "find" {
			msg = "room found"
		}
		log.Info(msg, "server", st.GameServerName)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(room)
	case errors.Is(err, ErrNoServer) && op == "find":
		log.Info("room not found")
		http.Error(w, "room not found", http.StatusNotFound)
	case errors.Is(err, ErrNoServer):
		log.Warn("no game server available")
		w.Header().Set("Retry-After", "5")
		http.Error(w, "no game server has a free room slot; try again shortly", http.StatusServiceUnavailable)
	case errors.Is(err, ErrContention):
		log.Warn("allocation contention")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the fleet is busy; try again", http.StatusServiceUnavailable)
	default:
		log.Error("allocation failed", "err", err)
		reason := err.Error()
		if _, ok := errors.AsType[*url.Error](err); ok {
			reason = "the Kubernetes API did not answer" // the log has the address; players need not
		}
		http.Error(w, "allocation failed: "+reason, http.StatusBadGateway)
	}
}

// result is an allocation's metric label.
func result(err error) string {
	switch {
	case err == nil:
		return "allocated"
	case errors.Is(err, ErrNoServer):
		return "unallocated"
	case errors.Is(err, ErrContention):
		return "contention"
	}
	return "error"
}

// room builds the answer for room id on the allocated server st: its URL and a fresh token.
func (l *Lobby) room(id string, st AllocationStatus) (Room, error) {
	if st.Address == "" || len(st.Ports) == 0 {
		return Room{}, fmt.Errorf("game server %q has no address or port", st.GameServerName)
	}
	port := st.Ports[0].Port
	for _, p := range st.Ports {
		if p.Name == l.cfg.PortName {
			port = p.Port
			break
		}
	}
	exp := l.cfg.Now().Add(l.cfg.TokenTTL).Truncate(time.Second)
	tok, err := auth.Mint(l.cfg.Secret, auth.Claims{
		Kind: auth.KindJoin, Room: id, Role: auth.RolePlayer, Player: randv2.Uint32N(1<<31-1) + 1, Expiry: exp.Unix(),
	})
	if err != nil {
		return Room{}, err
	}
	return Room{
		Room:    id,
		URL:     l.cfg.Scheme + "://" + net.JoinHostPort(st.Address, strconv.Itoa(int(port))) + "/ws",
		Token:   tok,
		Expires: exp.UTC(),
	}, nil
}

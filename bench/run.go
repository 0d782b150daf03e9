package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// game is the workload's game.
const game = "arena"

// rig is one benchmark's processes: the server (or a target), the load generators, the admin
// connections that receive the rooms' stats.
type rig struct {
	o      *options
	exe    string
	secret []byte // nil: anonymous (a target without a secret)
	stderr io.Writer
	prog   *progress

	srv       *serverProc // nil with -target
	serverCmd string
	wsURL     string // ws://host:port
	httpURL   string // http://host:port

	mu       sync.Mutex
	loadgens []*child
	perProc  []int // clients held by each load generator
	admins   []session
	rooms    []string
	coll     *statsCollector
	player   uint32 // last player id given out
	notes    []string
	parent   *rig   // the floor's rig hands its notes to the run's
	stepping bool   // scenario R: a step's findings go to its capStep, not to the notes
	recDir   string // the server's recordings with -record, removed at the end
	// extraRooms are rooms beyond the scenario's the server must allow (the hostile mix's).
	extraRooms int
}

// runBench is the parent: it runs the scenario and writes the results.
func runBench(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: own executable: %w", err)
	}
	tty := isTerminal(stderr)
	stderr = &syncWriter{w: stderr} // children, the progress bar and notes all write to it
	r := &rig{o: o, exe: exe, stderr: stderr, coll: newStatsCollector()}
	if o.progress {
		r.prog = &progress{w: stderr, plain: !tty}
	}
	defer r.prog.end()
	var res *result
	switch o.sc.Name {
	case "floor":
		res, err = r.runFloorScenario(ctx)
	case "R":
		res, err = r.runCapacity(ctx)
	case "soak":
		res, err = r.runSoak(ctx)
	default:
		res, err = r.runScenario(ctx)
	}
	r.prog.end()
	if err != nil {
		return err
	}
	if err := r.write(res, stdout); err != nil {
		return err
	}
	return res.failure()
}

// newResult fills the fields every run shares.
func (r *rig) newResult() *result {
	sc := r.o.sc
	client := r.o.client
	if client == "go" {
		client = "client-go"
	}
	return &result{
		Server: "ticksync", Version: version(), Scenario: sc.Name, Entities: sc.Entities,
		Clients: sc.Clients, Hz: sc.Hz, DurationS: sc.Duration.Seconds(), WarmupS: sc.Warmup.Seconds(),
		Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Recording: sc.Recording,
		Rooms: sc.Rooms, PlayersPerRoom: sc.PlayersPerRoom, InputHz: sc.InputHz,
		Target: r.o.target, ClientMode: client, World: sc.World, View: sc.View,
	}
}

// write appends res to the JSONL file, prints the markdown table and writes the plot.
func (r *rig) write(res *result, stdout io.Writer) error {
	res.LoadAvg = loadAvg()
	res.Notes = append(res.Notes, r.notes...)
	base := filepath.Join(filepath.Dir(r.o.out), fmt.Sprintf("ticksync-%s-%s", res.Scenario, time.Now().UTC().Format("20060102T150405Z")))
	if r.o.svg != "-" && res.plot != nil {
		path := r.o.svg
		if path == "" {
			path = base + ".svg"
		}
		if err := writePlot(path, res); err != nil {
			fmt.Fprintln(r.stderr, "ticksync bench: plot:", err)
		} else {
			res.Plot = path
		}
	}
	if err := appendJSONL(r.o.out, res); err != nil {
		return err
	}
	var md bytes.Buffer
	writeMarkdown(&md, res)
	_, _ = stdout.Write(md.Bytes())
	fmt.Fprintf(r.stderr, "ticksync bench: appended to %s", r.o.out)
	if r.o.svg != "-" { // the table beside the plot, so a run's files travel together
		if err := os.WriteFile(base+".md", md.Bytes(), 0o644); err == nil {
			fmt.Fprintf(r.stderr, ", table %s", base+".md")
		}
	}
	if res.Plot != "" {
		fmt.Fprintf(r.stderr, ", plot %s", res.Plot)
	}
	fmt.Fprintln(r.stderr)
	return nil
}

// note adds a line to the result's notes and prints it.
func (r *rig) note(format string, args ...any) {
	if r.parent != nil {
		r.parent.note(format, args...)
		return
	}
	s := fmt.Sprintf(format, args...)
	r.mu.Lock()
	if slices.Contains(r.notes, s) {
		r.mu.Unlock()
		return
	}
	r.notes = append(r.notes, s)
	r.mu.Unlock()
	r.prog.end()
	fmt.Fprintln(r.stderr, "ticksync bench:", s)
}

// start brings up the server (or connects to the target).
func (r *rig) start(ctx context.Context, maxRooms, maxPlayers int) error {
	if r.o.target != "" {
		r.wsURL = strings.TrimSuffix(r.o.target, "/")
		r.wsURL = strings.TrimSuffix(r.wsURL, "/ws")
		r.httpURL = "http" + strings.TrimPrefix(r.wsURL, "ws")
		sec, err := auth.LoadSecret(r.o.secretFile, os.Getenv)
		switch {
		case err == nil:
			r.secret = sec
		case errors.Is(err, auth.ErrNoSecret):
			r.note("no token secret for -target: anonymous mode, so no stats messages (tick work, server hold)")
		default:
			return err
		}
		return nil
	}
	sec := make([]byte, 32)
	_, _ = rand.Read(sec)
	r.secret = []byte(hex.EncodeToString(sec))
	bin := r.exe
	if r.o.serverBin != "" {
		bin = r.o.serverBin
	}
	known := serveFlags(bin)
	args := []string{"serve", "-addr", "127.0.0.1:0", "-auth", "token"}
	opt := func(name, value string) { // a flag the binary may not have yet
		if known[name] || len(known) == 0 { // no flag list: pass them all and let serve say
			args = append(args, "-"+name+"="+value)
		} else {
			r.note("server has no -%s flag; running without %s=%s", name, name, value)
		}
	}
	opt("tick-rate", strconv.Itoa(r.o.sc.Hz))
	opt("max-players", strconv.Itoa(maxPlayers+1)) // + the admin's seat
	opt("max-rooms", strconv.Itoa(maxRooms+1+r.extraRooms))
	opt("max-conns-per-ip", "-1")
	opt("max-conns", strconv.Itoa(max(4096, maxRooms*(maxPlayers+1)+64)))
	opt("record", strconv.FormatBool(r.o.sc.Recording))
	if r.o.sc.Recording && known["record-dir"] { // recordings of the bench's own rooms: a temporary directory
		dir, err := os.MkdirTemp("", "ticksync-bench-recordings-")
		if err != nil {
			return fmt.Errorf("bench: recordings dir: %w", err)
		}
		r.recDir = dir
		opt("record-dir", dir)
		if r.o.sc.Name == "soak" { // every recording is verified: none may be pruned
			opt("record-keep", "0")
		}
	}
	opt("log-level", "warn")
	args = append(args, strings.Fields(r.o.serverArgs)...)
	r.serverCmd = bin + " " + strings.Join(args, " ")
	r.prog.end()
	fmt.Fprintf(r.stderr, "ticksync bench: server: %s=… %s\n", auth.EnvSecret, r.serverCmd)
	srv, addr, err := startServer(ctx, bin, args, []string{auth.EnvSecret + "=" + string(r.secret), gctraceEnv()})
	if err != nil {
		return err
	}
	r.srv = srv
	r.wsURL, r.httpURL = "ws://"+addr, "http://"+addr
	return nil
}

// gctraceEnv turns on the runtime's GC trace (one stderr line per cycle: pause and heap).
func gctraceEnv() string {
	if g := os.Getenv("GODEBUG"); g != "" {
		return "GODEBUG=" + g + ",gctrace=1"
	}
	return "GODEBUG=gctrace=1"
}

// close stops everything the rig started.
func (r *rig) close() {
	r.closeClients()
	if r.srv != nil {
		r.srv.stop()
		r.srv = nil
	}
	if r.recDir != "" {
		_ = os.RemoveAll(r.recDir)
		r.recDir = ""
	}
}

// closeClients stops the load generators and closes the admin connections.
func (r *rig) closeClients() {
	r.mu.Lock()
	lgs, admins := r.loadgens, r.admins
	r.loadgens, r.admins = nil, nil
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range lgs {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop() }()
	}
	for _, a := range admins {
		wg.Add(1)
		go func() { defer wg.Done(); a.Close() }()
	}
	wg.Wait()
}

// adminToken mints an admin token for room.
func (r *rig) adminToken(room string) (string, error) {
	if r.secret == nil {
		return "", nil
	}
	return auth.Mint(r.secret, auth.Claims{Kind: auth.KindJoin, Room: room, Game: game, Role: auth.RoleAdmin,
		Expiry: time.Now().Add(24 * time.Hour).Unix()})
}

// addRoom creates a room with entities NPCs and the scenario's world and view (POST /rooms)
// and opens its admin connection, which asks for the stats messages.
func (r *rig) addRoom(ctx context.Context, entities int) (string, error) {
	r.mu.Lock()
	idx := len(r.rooms)
	r.mu.Unlock()
	id, err := r.createRoom(ctx, entities)
	if err != nil {
		if r.secret != nil {
			return "", err
		}
		// Anonymous target: the first join creates the room, with the game's default config.
		id = fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()%1e6, idx)
		r.note("%v: the first join creates room %s with the game's default config", err, id)
	}
	r.mu.Lock()
	r.rooms = append(r.rooms, id)
	r.mu.Unlock()
	if r.secret == nil {
		return id, nil
	}
	tok, err := r.adminToken(id)
	if err != nil {
		return "", err
	}
	dial := dialGo
	if r.o.client == "raw" {
		dial = dialRaw
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s, err := dial(dctx, dialConfig{URL: r.wsURL, Token: tok, Room: id, Game: game, WantStats: true, Follow: r.adminFollow(),
		OnStats: func(s *pb.Stats) { r.coll.add(idx, s) },
		OnClose: func(err error) { r.note("admin connection of room %s closed: %v", id, err) },
	})
	if err != nil {
		return "", fmt.Errorf("bench: admin connection: %w", err)
	}
	r.mu.Lock()
	r.admins = append(r.admins, s)
	r.mu.Unlock()
	return id, nil
}

// adminFollow is the player the admin connection of the next room follows: with views, that
// room's first player (addPlayers numbers them from r.player+1), so the server's work is the
// players' (a spectator of the whole world would add a whole-world frame per tick); without
// views 0, the whole world as before.
func (r *rig) adminFollow() uint32 {
	if r.o.sc.View == 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.player + 1
}

// createRoom calls POST /rooms {game, config} with the admin token and returns the room id.
// The config is the scenario's (scenario.roomConfig).
func (r *rig) createRoom(ctx context.Context, entities int) (string, error) {
	body, _ := json.Marshal(map[string]any{"game": game, "config": r.o.sc.roomConfig(entities)})
	tok, err := r.adminToken(auth.AnyRoom)
	if err != nil {
		return "", err
	}
	u := r.httpURL + "/rooms"
	if tok != "" {
		u += "?token=" + url.QueryEscape(tok)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: POST /rooms: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("bench: POST /rooms: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		return "", fmt.Errorf("bench: POST /rooms: no id in %q", b)
	}
	return out.ID, nil
}

// loadgenArgs are the arguments of a load generator process.
func (r *rig) loadgenArgs(floorAddr string, seed int) []string {
	args := []string{"bench", "-loadgen", "-client", r.o.client, "-decode", strconv.Itoa(r.o.decode),
		"-input-hz", strconv.FormatFloat(r.o.sc.InputHz, 'g', -1, 64), "-seed", strconv.Itoa(seed)}
	if floorAddr != "" {
		return append(args, "-floor-addr", floorAddr, "-input-bytes", strconv.Itoa(r.o.inputBytes))
	}
	return append(args, "-target", r.wsURL)
}

// spawnLoadgen starts one more load generator.
func (r *rig) spawnLoadgen(ctx context.Context, floorAddr string) (*child, error) {
	r.mu.Lock()
	n := len(r.loadgens)
	r.mu.Unlock()
	env := []string{"GOMAXPROCS=" + strconv.Itoa(r.o.lgProcs)}
	if r.secret != nil {
		env = append(env, auth.EnvSecret+"="+string(r.secret))
	}
	args := r.loadgenArgs(floorAddr, n+1)
	r.prog.end()
	fmt.Fprintf(r.stderr, "ticksync bench: load generator %d: %s %s %s\n", n+1, env[0], r.exe, strings.Join(args, " "))
	c, err := startChild(fmt.Sprintf("load generator %d", n+1), r.exe, args, env, r.stderr)
	if err != nil {
		return nil, err
	}
	if _, err := c.await(ctx, evReady, 15*time.Second); err != nil {
		c.stop()
		return nil, err
	}
	r.mu.Lock()
	r.loadgens = append(r.loadgens, c)
	r.perProc = append(r.perProc, 0)
	r.mu.Unlock()
	return c, nil
}

// addPlayers joins n clients to room, filling load generators up to perProc each and starting
// new ones as needed (at most maxProcs, then the least loaded takes them).
func (r *rig) addPlayers(ctx context.Context, room string, n, perProc, maxProcs int, floorAddr string) error {
	for n > 0 {
		r.mu.Lock()
		pick := -1
		for i, k := range r.perProc {
			if k < perProc {
				pick = i
				break
			}
		}
		if pick < 0 && len(r.loadgens) >= maxProcs {
			pick = 0
			for i, k := range r.perProc {
				if k < r.perProc[pick] {
					pick = i
				}
			}
		}
		r.mu.Unlock()
		if pick < 0 {
			if _, err := r.spawnLoadgen(ctx, floorAddr); err != nil {
				return err
			}
			continue
		}
		r.mu.Lock()
		c := r.loadgens[pick]
		k := n
		if r.perProc[pick] < perProc {
			k = min(n, perProc-r.perProc[pick])
		}
		first := r.player + 1
		r.player += uint32(k)
		r.perProc[pick] += k
		r.mu.Unlock()
		if _, err := c.call(ctx, fmt.Sprintf("join %s %d %d", room, k, first), evJoined, 30*time.Second+time.Duration(k)*50*time.Millisecond); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// measured is one window as the parent saw it.
type measured struct {
	wall          time.Duration
	start, end    time.Time
	cpu           time.Duration // the measured server's CPU in the window
	rss, rssPeak  float64       // MB
	reports       []loadReport
	extra         [][]byte // the other children's reports, raw
	m0, m1        metrics  // /metrics before and after (nil if unavailable)
	lgCPU, lgMax  float64  // % of a core: all load generators, the busiest one
	otherCPU      float64  // % of a core used by every other process on the machine (-1: unknown)
	lgLagP99Us    float64
	lgSaturated   bool
	lgDisconnects int
	lgErrors      []string
}

// window opens the measurement window on every load generator (and extra children such as
// the floor server), waits d while sampling the server's RSS, and collects the reports. pid is
// the measured server process (0: use metricsURL's process collector).
func (r *rig) window(ctx context.Context, label string, d time.Duration, pid int, metricsURL string, extra []*child) (*measured, error) {
	r.mu.Lock()
	lgs := append([]*child(nil), r.loadgens...)
	r.mu.Unlock()
	all := append(append([]*child(nil), lgs...), extra...)
	m := &measured{}
	if metricsURL != "" {
		m.m0, _ = scrapeMetrics(ctx, metricsURL)
	}
	var cpu0 time.Duration
	if pid > 0 {
		c, err := procCPU(pid)
		if err != nil {
			return nil, err
		}
		cpu0 = c
	}
	for _, c := range all {
		if err := c.send("start"); err != nil {
			return nil, err
		}
	}
	for _, c := range all {
		if _, err := c.await(ctx, evStarted, 10*time.Second); err != nil {
			return nil, err
		}
	}
	busy0, busyErr := machineBusy()
	m.start = time.Now()
	r.coll.open(m.start)
	r.prog.phase(label, d)
	tick := time.NewTicker(250 * time.Millisecond)
	deadline := time.NewTimer(d)
	var rssMax float64
sampling:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, ctx.Err()
		case <-deadline.C:
			break sampling
		case <-tick.C:
			if pid > 0 {
				if rss, _, err := procMem(pid); err == nil {
					rssMax = max(rssMax, float64(rss)/(1<<20))
				}
			} else if metricsURL != "" {
				if mm, err := scrapeMetrics(ctx, metricsURL); err == nil {
					rssMax = max(rssMax, mm["process_resident_memory_bytes"]/(1<<20))
				}
			}
		}
	}
	tick.Stop()
	m.end = time.Now()
	busy1, busyErr1 := machineBusy()
	r.coll.close(m.end)
	m.wall = m.end.Sub(m.start)
	if pid > 0 {
		c, err := procCPU(pid)
		if err != nil {
			return nil, err
		}
		m.cpu = c - cpu0
		rss, peak, err := procMem(pid)
		if err == nil {
			m.rss, m.rssPeak = float64(rss)/(1<<20), max(float64(peak)/(1<<20), rssMax)
		}
	}
	for _, c := range all {
		if err := c.send("stop"); err != nil {
			return nil, err
		}
	}
	for i, c := range all {
		line, err := c.await(ctx, evReport, 60*time.Second)
		if err != nil {
			return nil, err
		}
		if i >= len(lgs) {
			m.extra = append(m.extra, line)
			continue
		}
		var rep loadReport
		if err := json.Unmarshal(line, &rep); err != nil {
			return nil, fmt.Errorf("bench: %s: report: %w", c.name, err)
		}
		m.reports = append(m.reports, rep)
	}
	r.prog.end()
	if metricsURL != "" {
		m.m1, _ = scrapeMetrics(ctx, metricsURL)
		if pid == 0 && m.m0 != nil && m.m1 != nil {
			m.cpu = time.Duration((m.m1["process_cpu_seconds_total"] - m.m0["process_cpu_seconds_total"]) * float64(time.Second))
			m.rss = m.m1["process_resident_memory_bytes"] / (1 << 20)
			m.rssPeak = max(rssMax, m.rss)
		}
	}
	interval := 1e6 / float64(r.o.sc.Hz)
	for _, rep := range m.reports {
		pct := 100 * rep.CPUS / max(rep.WindowS, 1e-9)
		m.lgCPU += pct
		m.lgMax = max(m.lgMax, pct)
		m.lgLagP99Us = max(m.lgLagP99Us, rep.LagP99Us)
		m.lgDisconnects += rep.Disconnects
		m.lgErrors = append(m.lgErrors, rep.Errors...)
	}
	m.otherCPU = -1
	if busyErr == nil && busyErr1 == nil && pid > 0 {
		m.otherCPU = max(100*(busy1-busy0).Seconds()/m.wall.Seconds()-100*m.cpu.Seconds()/m.wall.Seconds()-m.lgCPU, 0)
	}
	// docs/benchmark.md: saturated at ≥ 90% of a core per process, or an event lag over a quarter
	// of the tick interval.
	m.lgSaturated = m.lgMax >= 90 || m.lgLagP99Us > interval/4
	return m, nil
}

// warm shows the warm-up bar and waits.
func (r *rig) warm(ctx context.Context, d time.Duration) error {
	r.prog.phase("warm-up", d)
	defer r.prog.end()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// procsFor returns how many load generators n clients get.
func (r *rig) procsFor(n int) int {
	if r.o.procs > 0 {
		return r.o.procs
	}
	return max(1, (n+r.o.perProc-1)/r.o.perProc)
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// isTerminal reports whether w is a terminal (the progress bar redraws itself only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

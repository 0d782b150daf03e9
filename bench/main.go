package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ticksync/ticksync/auth"
)

// options are the command line of `ticksync bench`.
type options struct {
	sc scenario

	target     string // ws://host:port of a running server ("" starts one)
	serverBin  string // the binary whose `serve` is benchmarked ("": this one)
	secretFile string
	out        string // JSONL file
	svg        string // plot file ("" beside out; "-" none)
	floor      bool
	floorDur   time.Duration
	client     string // go | raw
	decode     int
	procs      int
	perProc    int
	lgProcs    int // GOMAXPROCS of each load generator
	serverArgs string
	progress   bool
	stepRooms  int
	stepDur    time.Duration
	maxPlayers int
	frameBytes int // floor scenario: frame size when no run measured one
	floorLoop  bool
	compare    string // a peer's JSONL: compare instead of running

	// The hostile mix and the soak (hostile.go, soak.go).
	hostilePct  float64       // hostile clients as a percentage of the honest ones
	soakPlayers int           // soak: honest players (0: 80 % of an R search's count)
	cleanDur    time.Duration // soak: the clean run's window (0: min(-duration, 5m))
	sampleEvery time.Duration // soak: sampling window

	// Hidden modes.
	loadgen     bool
	floorServer bool
	floorAddr   string
	inputBytes  int
	seed        uint64
}

// Main runs `ticksync bench` with args (the arguments after "bench"). It returns the exit
// code: 0 on success, 1 when the run failed, 2 for bad flags.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	switch {
	case o.loadgen:
		err = mainLoadgen(ctx, o, os.Stdin, stdout)
	case o.compare != "":
		err = writeComparison(stdout, o.out, o.compare)
	case o.floorServer:
		err = runFloorServer(ctx, floorConfig{Addr: o.floorAddr, Hz: o.sc.Hz, FrameBytes: o.frameBytes, Loop: o.floorLoop}, os.Stdin, stdout)
	default:
		err = runBench(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "ticksync bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("ticksync bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ticksync bench [-scenario A|B|B60|B128|C|CV|D|R|floor|soak] [flags]\n\n"+
			"Runs the docs/benchmark.md workload against a ticksync server it starts (or -target),\n"+
			"appends one JSON object per run to -out, prints a markdown table and writes an SVG plot.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.sc.Name, "scenario", "B", "scenario: "+scenarioNames)
	fs.IntVar(&o.sc.Entities, "entities", 0, "NPCs per room (0: the scenario's)")
	fs.IntVar(&o.sc.Clients, "clients", 0, "load clients in all rooms (0: the scenario's)")
	fs.IntVar(&o.sc.Hz, "hz", 0, "tick rate (0: the scenario's)")
	fs.IntVar(&o.sc.Rooms, "rooms", 0, "rooms (0: the scenario's, or clients / players-per-room)")
	fs.IntVar(&o.sc.PlayersPerRoom, "players-per-room", 0, "clients per room (0: clients / rooms)")
	fs.IntVar(&o.sc.World, "world", 0, "arena's world side in units (0: the scenario's, else the game's 1000)")
	fs.IntVar(&o.sc.View, "view", 0, "side of the square each player sees, in units (0: the scenario's, else no views)")
	fs.DurationVar(&o.sc.Duration, "duration", 20*time.Second, "measurement window")
	fs.DurationVar(&o.sc.Warmup, "warmup", 3*time.Second, "warm-up after all joins")
	fs.Float64Var(&o.sc.InputHz, "input-hz", 20, "inputs per second per client")
	fs.BoolVar(&o.sc.Recording, "record", false, "run the server with recording on (reports its cost)")
	fs.StringVar(&o.target, "target", "", "benchmark a running server at ws://host:port instead of starting one")
	fs.StringVar(&o.serverBin, "server-bin", "", "binary whose serve command is benchmarked (default: this one), e.g. another build to compare")
	fs.StringVar(&o.secretFile, "auth-secret-file", "", "with -target: the server's token secret (else $"+auth.EnvSecret+"; none: anonymous, no stats)")
	fs.StringVar(&o.out, "out", "bench/results/ticksync.jsonl", "JSONL file the run's result is appended to")
	fs.StringVar(&o.svg, "svg", "", `SVG plot path ("": beside -out, named after the scenario and time; "-": none)`)
	fs.BoolVar(&o.floor, "floor", true, "calibrate with the socket floor after the run (server_cpu_vs_floor)")
	fs.DurationVar(&o.floorDur, "floor-duration", 0, "the floor's window (0: -duration)")
	fs.StringVar(&o.client, "client", "go", "load client: go (client-go) or raw (gws, header-only parse)")
	fs.IntVar(&o.decode, "decode", 10, "clients per load generator that decode frames fully (-1: all; the rest count bytes)")
	fs.IntVar(&o.procs, "loadgen-procs", 0, "load generator processes (0: clients / -clients-per-proc, rounded up)")
	fs.IntVar(&o.perProc, "clients-per-proc", 500, "clients per load generator process when -loadgen-procs is 0")
	fs.IntVar(&o.lgProcs, "loadgen-gomaxprocs", 1, "GOMAXPROCS of each load generator (1: saturation is per core)")
	fs.StringVar(&o.serverArgs, "server-flags", "", "extra flags for the server's serve command, space-separated (e.g. \"-pprof -ring=32\")")
	fs.BoolVar(&o.progress, "progress", true, "draw a progress bar on stderr")
	fs.IntVar(&o.stepRooms, "step-rooms", 10, "scenario R: rooms added per step")
	fs.DurationVar(&o.stepDur, "step-duration", 3*time.Second, "scenario R: window per step")
	fs.IntVar(&o.maxPlayers, "r-max-players", 5000, "scenario R: stop growing at this many players")
	fs.StringVar(&o.compare, "compare", "", "don't run: compare the newest run of each scenario in -out with those in this JSONL file (e.g. bench/results/peer.jsonl)")
	fs.BoolVar(&o.floorLoop, "floor-loop", false, "floor: write every frame from the tick loop (serial) instead of per-connection writers as ticksync does")
	fs.IntVar(&o.frameBytes, "frame-bytes", 2000, "floor: frame payload bytes (a run uses its measured bytes per patch)")
	hostile := fs.String("hostile", "", `hostile clients as a share of the honest ones, e.g. "5%": equal numbers of `+
		"input floods, garbage, oversized messages, never-readers, slowloris and join/close storms, each from its own loopback address "+
		"(127.0.0.2 up), in rooms of their own; each kind's close codes are counted (default: none; soak: 5%)")
	fs.IntVar(&o.soakPlayers, "soak-players", 0, "soak: honest players (0: 80% of the count an R search finds first)")
	fs.DurationVar(&o.cleanDur, "clean-duration", 0, "soak: the clean run's window (0: -duration, at most 5m)")
	fs.DurationVar(&o.sampleEvery, "sample-every", 10*time.Second, "soak: how often RSS, goroutines, fds and the honest clients' figures are sampled")
	// Hidden modes: the processes `ticksync bench` starts.
	fs.BoolVar(&o.loadgen, "loadgen", false, "internal: run as a load generator process")
	fs.BoolVar(&o.floorServer, "floor-server", false, "internal: run as the floor's TCP server")
	fs.StringVar(&o.floorAddr, "floor-addr", "", "internal: floor server address (load generator: TCP mode; floor server: listen address)")
	fs.IntVar(&o.inputBytes, "input-bytes", 20, "internal: floor input payload bytes")
	fs.Uint64Var(&o.seed, "seed", 1, "internal: load generator seed")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if strings.EqualFold(o.sc.Name, "soak") {
		if !set["duration"] {
			o.sc.Duration = 30 * time.Minute
		}
		if !set["warmup"] { // joins settle and the load generators' start-up lag passes
			o.sc.Warmup = 30 * time.Second
		}
		if *hostile == "" {
			*hostile = "5%"
		}
	}
	if *hostile != "" {
		p, err := parsePct(*hostile)
		if err != nil {
			return nil, err
		}
		o.hostilePct = p
	}
	if o.sampleEvery < time.Second {
		return nil, fmt.Errorf("bench: -sample-every %v: want at least 1s", o.sampleEvery)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if o.client != "go" && o.client != "raw" {
		return nil, fmt.Errorf("bench: -client %q, want go or raw", o.client)
	}
	if o.loadgen || o.floorServer {
		if o.sc.Hz == 0 {
			o.sc.Hz = 20
		}
		return o, nil
	}
	sc, err := o.sc.resolve()
	if err != nil {
		return nil, err
	}
	o.sc = sc
	if sc.DecodeAll && !set["decode"] { // every client checks every view hash it gets
		o.decode = -1
	}
	if o.target != "" && !strings.HasPrefix(o.target, "ws://") && !strings.HasPrefix(o.target, "wss://") {
		return nil, fmt.Errorf("bench: -target %q, want ws://host:port", o.target)
	}
	return o, nil
}

// mainLoadgen is the -loadgen mode.
func mainLoadgen(ctx context.Context, o *options, in io.Reader, out io.Writer) error {
	cfg := loadgenConfig{
		Target: o.target, FloorAddr: o.floorAddr, Game: "arena", InputHz: o.sc.InputHz,
		InputBytes: o.inputBytes, Decode: o.decode, Seed: o.seed, Dial: dialGo,
	}
	if o.client == "raw" {
		cfg.Dial = dialRaw
	}
	if s := os.Getenv(auth.EnvSecret); s != "" {
		cfg.Secret = []byte(s)
	}
	return runLoadgen(ctx, cfg, in, out)
}

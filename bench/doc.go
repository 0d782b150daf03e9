// Package bench is `ticksync bench`: the load generator and harness that measures a ticksync
// server on the reference workload of docs/benchmark.md (the arena game) and against the machine's
// socket floor.
//
// A run starts three kinds of process, so that the server's CPU and RSS are its own: the
// server (`ticksync serve` with the scenario's flags, in token mode with a generated secret;
// or a running server given by -target), one or more load generators (`ticksync bench
// -loadgen`, a hidden mode holding the client connections), and, for the floor, a bare TCP
// server (`ticksync bench -floor-server`). The parent drives its children over stdin with
// one-line commands (join, start, stop, quit) and reads one JSON object per line back. It
// reads the server's per-tick work and input holds from the stats messages its admin
// connections ask for, the server's CPU and RSS from /proc (or, with -target, from /metrics),
// and GC pauses from the runtime's gctrace. Each run appends one JSON object to a JSONL file,
// prints a markdown table and writes an SVG plot.
//
// bench imports proto, sim, auth (to mint tokens) and client-go (the load clients). It never
// imports server: the server is reached over its public HTTP and WebSocket API only. The
// peers (bench/peers/…) are separate programs that print the same JSON fields.
package bench

package main

import (
	"context"
	"io"

	"github.com/ticksync/ticksync/bench"
	"github.com/ticksync/ticksync/cli"
)

// benchCommand is `ticksync bench`: the harness and its hidden child modes live in package
// bench. It measures arena, the reference workload (docs/benchmark.md).
var benchCommand = cli.Command{
	Name:    "bench",
	Summary: "measure tick work, input latency, bytes, CPU and memory (docs/benchmark.md)",
	Run: func(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
		return bench.Main(ctx, args, stdout, stderr)
	},
}

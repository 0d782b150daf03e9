package main

import (
	"context"
	"io"

	"github.com/ticksync/ticksync/bench"
)

// runBench is `ticksync bench`: the harness and its hidden child modes live in package bench.
func runBench(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) int {
	return bench.Main(ctx, args, stdout, stderr)
}

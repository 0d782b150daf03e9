// Package arena is ticksync's demo and benchmark game: the "arena" workload of docs/benchmark.md,
// in integers only. NPCs wander a 1000 × 1000 world (the config's "world" sets another side),
// bouncing off its borders; players join, steer with a velocity input and leave. With the
// config's "view" each player sees only the square around it (views.go: a sim.Viewer).
//
// It is written only against package sim's public API, like any third-party game, and follows
// sim's rules: no clock, no goroutines, no I/O, no floats, all randomness from the World's PRNG.
//
//go:generate go run ./internal/gentable
package arena

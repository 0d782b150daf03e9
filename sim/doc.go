// Package sim is ticksync's deterministic core: a game's declared schema, the World that holds
// its entities as integers, the Game interface that steps it, and the diff, encoding and mirror
// that carry it to clients.
//
// sim does no I/O, reads no clock, starts no goroutines and keeps no package-level state; time is
// the tick number and randomness is a PRNG owned by the World. It imports nothing of the project
// but proto. The same seed and the same inputs give the same state hash on every machine, which
// is what recordings and replays stand on.
package sim

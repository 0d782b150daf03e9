package replay

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// FuzzReadRecording: reading any bytes never panics, allocates in proportion to the input, and
// what it returns is a readable prefix: reopening the file cut where reading stopped gives the
// same ticks.
func FuzzReadRecording(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		n, stop, err := readAll(data)
		runtime.ReadMemStats(&after)
		if err != nil {
			return
		}
		// Proto decoding costs a small multiple of the bytes it decodes (a 2-byte empty input
		// is a message of some 60 bytes); a corrupt length must not ask for more.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(data))+4<<20 {
			t.Fatalf("reading %d bytes allocated %d", len(data), alloc)
		}
		if stop < 0 {
			return
		}
		n2, _, err := readAll(data[:stop])
		if err != nil || n2 != n {
			t.Fatalf("prefix up to %d: %d ticks (%v), whole file: %d", stop, n2, err, n)
		}
	})
}

// readAll opens data and reads everything: info, every tick, every keyframe. It returns the
// ticks read and the offset where reading stopped at a bad record (-1: none).
func readAll(data []byte) (ticks uint32, stop int64, err error) {
	r, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if r != nil {
			panic("Open returned a reader and an error")
		}
		return 0, -1, err
	}
	if _, err := r.Info(); err != nil {
		panic(err) // bytes.Reader has no I/O errors
	}
	it := r.Ticks(1)
	for it.Next() {
		ticks++
		if it.Record().GetTick() != ticks {
			panic("ticks out of order")
		}
		_ = it.Inputs()
	}
	if ticks > r.LastTick() {
		panic("more ticks than the reader counted")
	}
	for _, k := range r.Keyframes() {
		if _, _, err := r.Keyframe(k.Tick); err != nil {
			break
		}
	}
	stop = -1
	var ce *CorruptError
	if errors.As(it.Err(), &ce) {
		stop = ce.Offset
	}
	return ticks, stop, nil
}

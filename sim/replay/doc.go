// Package replay is ticksync's recording format: a Writer that appends a match to a file, a
// Reader that opens one (rebuilding its index when the file was not closed cleanly), Info,
// Verify (re-simulate and compare every tick's state hash) and Seek (the world at any tick,
// from the nearest keyframe).
//
// replay is io only: it works on an io.Writer, an io.ReaderAt and the sim core. It starts no
// goroutines, reads no clock, opens no files and keeps no package-level state; the server's
// recorder goroutine (and `ticksync replay`) own the files, the fsyncs and the time. It imports
// sim and proto, never server.
//
// # File layout (format version 1)
//
//	magic    "TSREC1\n" (7 bytes)
//	record   header (always first)
//	record   tick 1, tick 2, … with a keyframe record after every K-th tick (K is the caller's
//	         policy, recorded in the header; DefaultKeyframeEvery is 10 s of game time)
//	record   end       (clean close only)
//	record   index     (clean close only: every keyframe's tick and offset, the tick count)
//	trailer  16 bytes  (clean close only): the end record's offset (u64 LE), CRC32C of those 8
//	         bytes (u32 LE), "TSIX"
//
// Each record is a uvarint payload length, the payload (one ticksync.v1.Record) and a CRC32C
// (Castagnoli, u32 LE) over the length bytes and the payload. A payload is at most
// MaxRecordLen bytes, so a corrupt length never asks for more.
//
// A cleanly closed file opens in O(keyframes): the trailer locates the end record, the index
// follows it. A file without a valid trailer (the process died, the disk filled) is scanned
// from the header; everything up to the first record that overruns the file or fails its
// checksum is readable, and Reader.Err says where and why it stops (*CorruptError, or
// ErrNotClosed when it ends on a record boundary).
package replay

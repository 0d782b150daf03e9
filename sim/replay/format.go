package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/proto"
)

// FormatVersion is the recording format this package writes and reads
// (RecordingHeader.format_version).
const FormatVersion = 1

// MaxRecordLen caps a record's payload. The largest record is a keyframe; 64 MiB holds a world
// of millions of field values, far beyond one room, while a corrupt length can ask for no more.
const MaxRecordLen = 64 << 20

const (
	magic         = "TSREC1\n"
	trailerMagic  = "TSIX"
	trailerLen    = 16 // end offset u64, CRC32C u32, trailerMagic
	maxPrefixLen  = 5  // uvarint of a length ≤ MaxRecordLen (< 2^35)
	crcLen        = 4
	readChunk     = 64 << 10 // a scan reads the file in pieces of this size
	minRecordSize = 1 + crcLen
)

// Errors a Reader reports. A *CorruptError wraps ErrTorn, ErrChecksum or ErrMalformed.
var (
	// ErrNotRecording: the file does not start with the recording magic.
	ErrNotRecording = errors.New("replay: not a recording")
	// ErrVersion: the header names a format version this package cannot read.
	ErrVersion = errors.New("replay: unsupported format version")
	// ErrTorn: a record runs past the end of a file that was not closed cleanly: a write cut
	// short. Everything before it is intact.
	ErrTorn = errors.New("replay: torn record at the end of the file")
	// ErrChecksum: a record's CRC32C does not match, or its length prefix is impossible (over
	// MaxRecordLen, or past the last record of a cleanly closed file): damage, not a cut.
	ErrChecksum = errors.New("replay: record fails its checksum")
	// ErrMalformed: a record's checksum holds but its content does not fit where it stands
	// (not a Record, a tick out of sequence, a second header, data after the index).
	ErrMalformed = errors.New("replay: malformed record")
	// ErrNotClosed: the file ends on a record boundary without an end record (the recorder
	// stopped without closing it). Every record in it is intact.
	ErrNotClosed = errors.New("replay: recording not closed")
)

// CorruptError says where a recording stops being readable. Every record before Offset is
// intact and readable.
type CorruptError struct {
	Offset int64  // byte offset of the bad record's length prefix (or of the trailer)
	Tick   uint32 // the last tick read intact before it (0: none)
	Err    error  // wraps ErrTorn, ErrChecksum or ErrMalformed
}

// Error says where and why.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("replay: record at offset %d (after tick %d): %v", e.Offset, e.Tick, e.Err)
}

// Unwrap returns Err, for errors.Is(err, ErrTorn) and the like.
func (e *CorruptError) Unwrap() error { return e.Err }

func crc(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// recReader reads framed records from an io.ReaderAt through a window it refills in chunks.
type recReader struct {
	ra     io.ReaderAt
	off    int64 // offset of the next record
	limit  int64 // records end here
	sealed bool  // limit is a known record boundary (clean close): an overrun is damage, not a cut
	chunk  int   // read ahead this much (readChunk) when scanning; 0 reads one record at a time
	buf    []byte
	bufOff int64 // file offset of buf[0]
}

// window returns up to n bytes of the file from r.off, fewer only at the limit.
func (r *recReader) window(n int) ([]byte, error) {
	n = int(min(int64(n), r.limit-r.off))
	if n <= 0 {
		return nil, nil
	}
	if r.off >= r.bufOff && r.off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		start := int(r.off - r.bufOff)
		return r.buf[start : start+n], nil
	}
	want := int(min(int64(max(n, r.chunk)), r.limit-r.off))
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.ra.ReadAt(r.buf, r.off)
	if err != nil && !errors.Is(err, io.EOF) {
		r.buf = r.buf[:0]
		return nil, fmt.Errorf("replay: read at offset %d: %w", r.off, err)
	}
	r.buf, r.bufOff = r.buf[:got], r.off
	return r.buf[:min(n, got)], nil
}

// next reads the record at r.off and returns its payload, valid until the next call. It returns
// io.EOF at the limit, an error wrapping ErrTorn or ErrChecksum for a bad record (r.off stays at
// it), or an I/O error.
func (r *recReader) next() ([]byte, error) {
	if r.off >= r.limit {
		return nil, io.EOF
	}
	head, err := r.window(maxPrefixLen)
	if err != nil {
		return nil, err
	}
	length, n := binary.Uvarint(head)
	switch {
	case n == 0 && len(head) >= maxPrefixLen, n < 0:
		return nil, fmt.Errorf("%w: length prefix overflows", ErrChecksum)
	case n == 0:
		return nil, r.overrun("length prefix cut short")
	case length > MaxRecordLen:
		return nil, fmt.Errorf("%w: length %d over the %d-byte cap", ErrChecksum, length, MaxRecordLen)
	}
	total := int64(n) + int64(length) + crcLen
	if r.off+total > r.limit {
		return nil, r.overrun(fmt.Sprintf("%d-byte record, %d bytes left", total, r.limit-r.off))
	}
	rec, err := r.window(int(total))
	if err != nil {
		return nil, err
	}
	if int64(len(rec)) < total { // the file is shorter than its stated size
		return nil, r.overrun(fmt.Sprintf("%d-byte record, %d bytes readable", total, len(rec)))
	}
	body := rec[:total-crcLen]
	if crc(body) != binary.LittleEndian.Uint32(rec[total-crcLen:]) {
		return nil, ErrChecksum
	}
	r.off += total
	return body[n:], nil
}

func (r *recReader) overrun(detail string) error {
	if r.sealed {
		return fmt.Errorf("%w: %s before the end of a closed file", ErrChecksum, detail)
	}
	return fmt.Errorf("%w: %s", ErrTorn, detail)
}

// stream reads records after the header and checks that each fits where it stands.
type stream struct {
	rr       recReader
	rec      *pb.Record // the current record
	recOff   int64      // its offset
	lastTick uint32     // the last tick record read
	lastKF   int64      // the last keyframe's tick, -1 before any
	ended    bool       // an end record was read
	indexed  bool       // an index record was read
}

// next reads the next record. It returns io.EOF at the limit, a *CorruptError for a bad record
// (and keeps returning it), or an I/O error.
func (s *stream) next() error {
	s.recOff = s.rr.off
	payload, err := s.rr.next()
	if err == nil {
		err = s.check(payload)
	}
	switch {
	case err == nil || err == io.EOF:
		return err
	case errors.Is(err, ErrTorn), errors.Is(err, ErrChecksum), errors.Is(err, ErrMalformed):
		s.rr.limit = s.recOff // stop here for good
		return &CorruptError{Offset: s.recOff, Tick: s.lastTick, Err: err}
	}
	return err
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

func (s *stream) check(payload []byte) error {
	rec := &pb.Record{}
	if err := unmarshalRecord(payload, rec); err != nil {
		return malformed("%v", err)
	}
	if s.indexed {
		return malformed("record after the index")
	}
	switch k := rec.Kind.(type) {
	case *pb.Record_Tick:
		t := k.Tick.GetTick()
		if s.ended || t != s.lastTick+1 {
			return malformed("tick %d after tick %d", t, s.lastTick)
		}
		for _, in := range k.Tick.GetInputs() {
			if in.GetKind() < pb.InputKind_INPUT_KIND_MOVE || in.GetKind() > pb.InputKind_INPUT_KIND_LEAVE {
				return malformed("tick %d: input kind %d", t, in.GetKind())
			}
		}
		s.lastTick = t
	case *pb.Record_Keyframe:
		t := k.Keyframe.GetTick()
		if s.ended || t != s.lastTick || int64(t) <= s.lastKF || k.Keyframe.GetWorld() == nil || k.Keyframe.GetWorld().GetTick() != t {
			return malformed("keyframe %d after tick %d", t, s.lastTick)
		}
		s.lastKF = int64(t)
	case *pb.Record_End:
		if s.ended || k.End.GetLastTick() != s.lastTick {
			return malformed("end at tick %d after tick %d", k.End.GetLastTick(), s.lastTick)
		}
		s.ended = true
	case *pb.Record_Index:
		if !s.ended {
			return malformed("index before the end record")
		}
		s.indexed = true
	case *pb.Record_Header:
		return malformed("second header")
	default:
		return malformed("record of no known kind")
	}
	s.rec = rec
	return nil
}

func unmarshalRecord(payload []byte, rec *pb.Record) error {
	return proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(payload, rec)
}

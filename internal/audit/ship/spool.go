// Package ship delivers audit lines to remote sinks — syslog (RFC 5424 over
// TCP or TLS) and HTTP (NDJSON or the Elasticsearch bulk format) — through
// an on-disk spool, so a sink outage delays events rather than losing them.
//
// Delivery is at least once: a batch is acknowledged in the spool only after
// its sink accepted it, and is sent again after any failure, so a sink may
// see an event twice but never miss one the spool accepted.
package ship

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrSpoolFull means the spool stayed full for the whole blocking window;
// the caller keeps the line in its local destination.
var ErrSpoolFull = errors.New("audit spool is full: the sink is behind or down")

const (
	segmentPrefix = "seg-"
	segmentSuffix = ".log"
	ackedFile     = "acked"
	// stampLen is the width of the hex append time that starts each record.
	stampLen = 16
	// sumLen is the width of the hex CRC-32C of the line that follows the
	// stamp, so a record torn or overwritten in the middle is recognised.
	sumLen = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Spool is an append-only queue of lines in segment files. Each segment is
// named by the global byte offset of its first record; the acknowledged
// offset is kept in a small file replaced atomically, so a restart resumes
// where the sink left off.
//
// # Notes
//
// Lines are written without fsync: the spool survives a process crash and a
// sink outage, not a host crash, which may lose the last page-cache writes.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	blockFor     time.Duration

	mu       sync.Mutex
	segments []segment // ascending; the last is being written
	w        segmentWriter
	head     int64 // offset after the last record
	acked    int64
	space    chan struct{} // closed and replaced whenever space is freed
	notify   chan struct{} // holds a token when records wait to be read
	// skipped is the end of the last corrupt record reported, so a record
	// read by several Peeks is counted once.
	skipped   int64
	onCorrupt func(end int64, err error)
}

// segmentWriter is the open last segment; *os.File in production.
type segmentWriter interface {
	io.WriteCloser
	Truncate(size int64) error
}

type segment struct {
	start, size int64
}

// SpoolOptions size a spool.
type SpoolOptions struct {
	// MaxBytes bounds the unacknowledged bytes on disk.
	MaxBytes int64
	// BlockFor is how long Append waits for space before refusing.
	// Defaults to 200ms.
	BlockFor time.Duration
	// OnCorrupt is called once for each record that fails its checksum or
	// cannot be parsed; the record is skipped, never delivered. end is the
	// offset after it.
	OnCorrupt func(end int64, err error)
}

// OpenSpool opens or creates the spool in dir.
func OpenSpool(dir string, opts SpoolOptions) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		return nil, errors.New("spool MaxBytes must be positive")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating spool folder: %w", err)
	}
	s := &Spool{
		dir: dir, maxBytes: opts.MaxBytes, blockFor: opts.BlockFor,
		segmentBytes: max(opts.MaxBytes/8, 4<<10),
		space:        make(chan struct{}), notify: make(chan struct{}, 1),
		onCorrupt: opts.OnCorrupt,
	}
	if s.onCorrupt == nil {
		s.onCorrupt = func(int64, error) {}
	}
	if s.blockFor == 0 {
		s.blockFor = 200 * time.Millisecond
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if s.head > s.acked {
		s.notify <- struct{}{}
	}
	return s, nil
}

func (s *Spool) segmentPath(start int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segmentPrefix, start, segmentSuffix))
}

// load finds the segments and the acknowledged offset left by a previous
// run, and cuts a torn last record so appends start on a line boundary.
func (s *Spool) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("reading spool folder: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, segmentPrefix) || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		start, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, segmentPrefix), segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		s.segments = append(s.segments, segment{start: start})
	}
	slices.SortFunc(s.segments, func(a, b segment) int { return int(a.start - b.start) })
	if b, err := os.ReadFile(filepath.Join(s.dir, ackedFile)); err == nil {
		s.acked, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	for i := range s.segments {
		next := int64(-1)
		if i+1 < len(s.segments) {
			next = s.segments[i+1].start
		}
		if err := s.measure(&s.segments[i], next); err != nil {
			return err
		}
	}
	if len(s.segments) == 0 {
		s.segments = []segment{{start: s.acked}}
	}
	last := s.segments[len(s.segments)-1]
	s.head = last.start + last.size
	s.acked = min(max(s.acked, s.segments[0].start), s.head)
	return s.openWriter()
}

// measure sizes a segment. A segment followed by another ends where the
// next one starts: bytes past that are a torn write that could not be cut
// back and were never counted. The last segment is cut after its last full
// line, so appends start on a record boundary.
func (s *Spool) measure(seg *segment, next int64) error {
	data, err := os.ReadFile(s.segmentPath(seg.start))
	if err != nil {
		return fmt.Errorf("reading spool segment: %w", err)
	}
	if next >= 0 {
		seg.size = min(int64(len(data)), next-seg.start)
		return nil
	}
	seg.size = int64(bytes.LastIndexByte(data, '\n') + 1)
	if err := os.Truncate(s.segmentPath(seg.start), seg.size); err != nil {
		return fmt.Errorf("cutting a torn spool record: %w", err)
	}
	return nil
}

func (s *Spool) openWriter() error { return s.openSegment(0) }

// openSegment opens the last segment for appending, with flag added to the
// open flags.
func (s *Spool) openSegment(flag int) error {
	last := s.segments[len(s.segments)-1]
	f, err := os.OpenFile(s.segmentPath(last.start), os.O_CREATE|os.O_WRONLY|os.O_APPEND|flag, 0o600)
	if err != nil {
		return fmt.Errorf("opening spool segment: %w", err)
	}
	s.w = f
	return nil
}

// Used returns the unacknowledged bytes.
func (s *Spool) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head - s.acked
}

// Append adds one line (without its newline). When the spool is full it
// blocks up to BlockFor for the sink to catch up, then returns ErrSpoolFull.
func (s *Spool) Append(line []byte, now time.Time) error {
	rec := encodeRecord(line, now)

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.waitForSpace(int64(len(rec))); err != nil {
		return err
	}
	if _, err := s.w.Write(rec); err != nil {
		return errors.Join(fmt.Errorf("writing spool: %w", err), s.cutTornWrite())
	}
	s.head += int64(len(rec))
	s.segments[len(s.segments)-1].size += int64(len(rec))
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return s.maybeRoll()
}

// encodeRecord frames line as "STAMP SUM LINE\n": the append time and the
// CRC-32C of the line, both in hex.
func encodeRecord(line []byte, now time.Time) []byte {
	rec := make([]byte, 0, stampLen+sumLen+3+len(line))
	rec = fmt.Appendf(rec, "%016x %08x ", now.UnixNano(), crc32.Checksum(line, castagnoli))
	return append(append(rec, line...), '\n')
}

// cutTornWrite removes what a failed write (a full disk, say) left of its
// record, so the next record starts where the offsets say it does. When the
// cut fails too, the spool moves on to a fresh segment: the torn bytes stay
// past the end of the old one, where nothing reads them.
//
// A writer is opened even when closing the torn one failed: that one is
// unusable either way. When opening fails, the next Append's write fails
// on the closed writer and comes back here to try again.
func (s *Spool) cutTornWrite() error {
	last := s.segments[len(s.segments)-1]
	if err := s.w.Truncate(last.size); err == nil {
		return nil
	}
	var closeErr error
	if err := s.w.Close(); err != nil {
		closeErr = fmt.Errorf("closing torn spool segment: %w", err)
	}
	if last.size == 0 {
		// An empty segment holds nothing but the torn bytes: it is emptied
		// as it is opened again, since a new segment would share its name.
		return errors.Join(closeErr, s.openSegment(os.O_TRUNC))
	}
	s.segments = append(s.segments, segment{start: s.head})
	return errors.Join(closeErr, s.openWriter())
}

// waitForSpace is called and returns with s.mu held.
func (s *Spool) waitForSpace(n int64) error {
	deadline := time.NewTimer(s.blockFor)
	defer deadline.Stop()
	for s.head-s.acked+n > s.maxBytes {
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
			s.mu.Lock()
		case <-deadline.C:
			s.mu.Lock()
			return ErrSpoolFull
		}
	}
	return nil
}

func (s *Spool) maybeRoll() error {
	if s.segments[len(s.segments)-1].size < s.segmentBytes {
		return nil
	}
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("closing spool segment: %w", err)
	}
	s.segments = append(s.segments, segment{start: s.head})
	return s.openWriter()
}

// Record is one spooled line.
type Record struct {
	// End is the offset after the record; acknowledging it acknowledges
	// every record before it.
	End int64
	// Appended is when the line entered the spool.
	Appended time.Time
	// Line is the line without its newline.
	Line []byte
}

// Notify returns a channel that receives when records may be waiting.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Peek returns up to limit unacknowledged records, oldest first, without
// removing them. Corrupt records are reported through OnCorrupt and left
// out; those before the first good record are acknowledged, so one bad
// record never stops the records after it from shipping.
func (s *Spool) Peek(limit int) ([]Record, error) {
	s.mu.Lock()
	from, head := s.acked, s.head
	segs := slices.Clone(s.segments)
	s.mu.Unlock()

	var out []Record
	var bad []corruptRecord
	var err error
	for _, seg := range segs {
		if seg.start+seg.size <= from || len(out) >= limit {
			continue
		}
		var recs []Record
		var segBad []corruptRecord
		recs, segBad, err = s.readSegment(seg, max(from, seg.start), min(head, seg.start+seg.size),
			limit-len(out))
		out, bad = append(out, recs...), append(bad, segBad...)
		if err != nil {
			break
		}
	}
	return out, errors.Join(err, s.skipCorrupt(bad, out))
}

// corruptRecord is a record that failed to parse.
type corruptRecord struct {
	end int64
	err error
}

// skipCorrupt reports each corrupt record once, and acknowledges the ones
// before the first good record: no send will ever acknowledge them.
func (s *Spool) skipCorrupt(bad []corruptRecord, good []Record) error {
	var skipTo int64
	s.mu.Lock()
	for _, b := range bad {
		if b.end > s.skipped {
			s.skipped = b.end
			s.onCorrupt(b.end, b.err)
		}
		if len(good) == 0 || b.end < good[0].End {
			skipTo = b.end
		}
	}
	s.mu.Unlock()
	if skipTo == 0 {
		return nil
	}
	return s.Ack(skipTo)
}

func (s *Spool) readSegment(seg segment, from, to int64, limit int) ([]Record, []corruptRecord, error) {
	f, err := os.Open(s.segmentPath(seg.start))
	if err != nil {
		return nil, nil, fmt.Errorf("opening spool segment: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	r := bufio.NewReader(io.NewSectionReader(f, from-seg.start, to-from))
	var out []Record
	var bad []corruptRecord
	off := from
	for len(out) < limit {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return out, bad, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return out, bad, fmt.Errorf("reading spool segment: %w", err)
		}
		off += int64(len(line))
		rec, err := parseRecord(line, off)
		if err != nil {
			bad = append(bad, corruptRecord{end: off, err: err})
			continue
		}
		out = append(out, rec)
	}
	return out, bad, nil
}

// parseRecord reads "STAMP SUM LINE\n". Records written before checksums
// were added, "STAMP LINE\n" with a JSON line, are still accepted, so a
// backlog survives an upgrade.
func parseRecord(line []byte, end int64) (Record, error) {
	if len(line) < stampLen+2 || line[stampLen] != ' ' || line[len(line)-1] != '\n' {
		return Record{}, fmt.Errorf("spool record ending at offset %d is malformed", end)
	}
	ns, err := strconv.ParseUint(string(line[:stampLen]), 16, 64)
	if err != nil {
		return Record{}, fmt.Errorf("spool record ending at offset %d: %w", end, err)
	}
	body := line[stampLen+1 : len(line)-1]
	if len(body) > 0 && body[0] == '{' {
		return Record{End: end, Appended: time.Unix(0, int64(ns)), Line: body}, nil
	}
	if len(body) < sumLen+1 || body[sumLen] != ' ' {
		return Record{}, fmt.Errorf("spool record ending at offset %d has no checksum", end)
	}
	sum, err := strconv.ParseUint(string(body[:sumLen]), 16, 32)
	if err != nil {
		return Record{}, fmt.Errorf("spool record ending at offset %d: %w", end, err)
	}
	body = body[sumLen+1:]
	if crc32.Checksum(body, castagnoli) != uint32(sum) {
		return Record{}, fmt.Errorf("spool record ending at offset %d fails its checksum", end)
	}
	return Record{End: end, Appended: time.Unix(0, int64(ns)), Line: body}, nil
}

// Ack marks every record up to end as delivered, removes segments no
// longer needed and wakes blocked appenders.
func (s *Spool) Ack(end int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if end <= s.acked {
		return nil
	}
	s.acked = min(end, s.head)
	if err := s.persistAck(); err != nil {
		return err
	}
	for len(s.segments) > 1 && s.segments[0].start+s.segments[0].size <= s.acked {
		if err := os.Remove(s.segmentPath(s.segments[0].start)); err != nil {
			return fmt.Errorf("removing shipped spool segment: %w", err)
		}
		s.segments = s.segments[1:]
	}
	close(s.space)
	s.space = make(chan struct{})
	return nil
}

func (s *Spool) persistAck() error {
	tmp := filepath.Join(s.dir, ackedFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(s.acked, 10)), 0o600); err != nil {
		return fmt.Errorf("writing spool offset: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, ackedFile)); err != nil {
		return fmt.Errorf("replacing spool offset: %w", err)
	}
	return nil
}

// Close closes the segment being written.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Close(); err != nil {
		return fmt.Errorf("closing spool: %w", err)
	}
	return nil
}

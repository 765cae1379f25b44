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
	"errors"
	"fmt"
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
)

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
	w        *os.File
	head     int64 // offset after the last record
	acked    int64
	space    chan struct{} // closed and replaced whenever space is freed
	notify   chan struct{} // holds a token when records wait to be read
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
		if err := s.measure(&s.segments[i], i == len(s.segments)-1); err != nil {
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

func (s *Spool) measure(seg *segment, last bool) error {
	data, err := os.ReadFile(s.segmentPath(seg.start))
	if err != nil {
		return fmt.Errorf("reading spool segment: %w", err)
	}
	size := int64(len(data))
	if last {
		size = int64(strings.LastIndexByte(string(data), '\n') + 1)
		if err := os.Truncate(s.segmentPath(seg.start), size); err != nil {
			return fmt.Errorf("cutting a torn spool record: %w", err)
		}
	}
	seg.size = size
	return nil
}

func (s *Spool) openWriter() error {
	last := s.segments[len(s.segments)-1]
	f, err := os.OpenFile(s.segmentPath(last.start), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
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
	rec := make([]byte, 0, stampLen+2+len(line))
	rec = fmt.Appendf(rec, "%016x ", now.UnixNano())
	rec = append(append(rec, line...), '\n')

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.waitForSpace(int64(len(rec))); err != nil {
		return err
	}
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("writing spool: %w", err)
	}
	s.head += int64(len(rec))
	s.segments[len(s.segments)-1].size += int64(len(rec))
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return s.maybeRoll()
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
// removing them.
func (s *Spool) Peek(limit int) ([]Record, error) {
	s.mu.Lock()
	from, head := s.acked, s.head
	segs := slices.Clone(s.segments)
	s.mu.Unlock()

	var out []Record
	for _, seg := range segs {
		if seg.start+seg.size <= from || len(out) >= limit {
			continue
		}
		recs, err := s.readSegment(seg, max(from, seg.start), min(head, seg.start+seg.size), limit-len(out))
		if err != nil {
			return out, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func (s *Spool) readSegment(seg segment, from, to int64, limit int) ([]Record, error) {
	f, err := os.Open(s.segmentPath(seg.start))
	if err != nil {
		return nil, fmt.Errorf("opening spool segment: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	r := bufio.NewReader(io.NewSectionReader(f, from-seg.start, to-from))
	var out []Record
	off := from
	for len(out) < limit {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("reading spool segment: %w", err)
		}
		off += int64(len(line))
		rec, err := parseRecord(line, off)
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func parseRecord(line []byte, end int64) (Record, error) {
	if len(line) < stampLen+2 || line[stampLen] != ' ' {
		return Record{}, fmt.Errorf("spool record at offset %d is malformed", end)
	}
	ns, err := strconv.ParseInt(string(line[:stampLen]), 16, 64)
	if err != nil {
		return Record{}, fmt.Errorf("spool record at offset %d: %w", end, err)
	}
	return Record{End: end, Appended: time.Unix(0, ns), Line: line[stampLen+1 : len(line)-1]}, nil
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

package ship

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func lines(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Line)
	}
	return out
}

func TestSpoolAppendPeekAckReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSpool(dir, SpoolOptions{MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	var want []string
	for i := range 1000 {
		line := fmt.Sprintf(`{"n":%d}`, i)
		want = append(want, line)
		if err := s.Append([]byte(line), now); err != nil {
			t.Fatal(err)
		}
		if i%300 == 299 { // ack part of the backlog as a shipper would
			recs, err := s.Peek(100)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Ack(recs[len(recs)-1].End); err != nil {
				t.Fatal(err)
			}
			want = want[len(recs):]
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A torn record at the end, as a crash mid-write leaves, is cut.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("00000000000000ff {\"torn"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = OpenSpool(dir, SpoolOptions{MaxBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.Peek(10000)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, lines(recs)); diff != "" {
		t.Errorf("lines after reopen (-want +got):\n%s", diff)
	}
	if !recs[0].Appended.Equal(now) {
		t.Errorf("appended = %v, want %v", recs[0].Appended, now)
	}
	if len(segs) < 2 {
		t.Errorf("expected the spool to roll segments, got %d", len(segs))
	}
}

func TestSpoolFullBlocksThenRefuses(t *testing.T) {
	s, err := OpenSpool(t.TempDir(), SpoolOptions{MaxBytes: 100, BlockFor: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	line := []byte(`{"operation":"tool_call","pad":"xxxxxxxxxxxxxxxxxxx"}`)
	if err := s.Append(line, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(line, time.Now()); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("second append: got %v, want ErrSpoolFull", err)
	}

	// An acknowledgement while the writer waits lets it through.
	done := make(chan error, 1)
	s.blockFor = 10 * time.Second
	go func() { done <- s.Append(line, time.Now()) }()
	recs, err := s.Peek(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(recs[0].End); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("append after ack: %v", err)
	}
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

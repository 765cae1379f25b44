// Package auditreport summarises audit logs of the memory server: the
// JSON-lines events with timestamp, level, operation, client_id, result and
// metadata. It reads what the server writes, so responders can answer "who
// failed to authenticate, who was throttled, what was deleted" without jq.
package auditreport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Event is one audit line.
type Event struct {
	Timestamp time.Time      `json:"timestamp"`
	Level     string         `json:"level"`
	Operation string         `json:"operation"`
	ClientID  string         `json:"client_id"`
	Result    string         `json:"result"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// Filter selects events; empty fields match everything.
type Filter struct {
	Operation string
	ClientID  string
	Result    string
	Since     time.Time
}

// Match reports whether e passes f.
func (f Filter) Match(e Event) bool {
	switch {
	case f.Operation != "" && e.Operation != f.Operation:
		return false
	case f.ClientID != "" && e.ClientID != f.ClientID:
		return false
	case f.Result != "" && e.Result != f.Result:
		return false
	case !f.Since.IsZero() && e.Timestamp.Before(f.Since):
		return false
	}
	return true
}

// Scan calls fn for every event of r that passes f. Lines that are not audit
// events — a log line of another kind interleaved on stdout — are counted
// and skipped rather than failing the whole read.
func Scan(r io.Reader, f Filter, fn func(Event, []byte) error) (skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e Event
		if json.Unmarshal(line, &e) != nil || e.Operation == "" {
			skipped++
			continue
		}
		if !f.Match(e) {
			continue
		}
		if err := fn(e, line); err != nil {
			return skipped, err
		}
	}
	if err := sc.Err(); err != nil {
		return skipped, fmt.Errorf("reading audit log: %w", err)
	}
	return skipped, nil
}

// Count is a number of events under a key.
type Count struct {
	Key   string `json:"key"`
	Count int    `json:"count"`
}

// Report summarises a set of events.
type Report struct {
	Events  int       `json:"events"`
	Skipped int       `json:"skipped_lines"`
	First   time.Time `json:"first,omitzero"`
	Last    time.Time `json:"last,omitzero"`
	// ByOperation counts events per "operation/result".
	ByOperation []Count `json:"by_operation"`
	// FailuresByClient counts events whose result is not success, per client.
	FailuresByClient []Count `json:"failures_by_client"`
	// ConfigChanges lists config_change events in order, the incident
	// timeline.
	ConfigChanges []Event `json:"config_changes,omitempty"`
}

// Summarise reads r and builds a Report of the events that pass f.
func Summarise(r io.Reader, f Filter) (*Report, error) {
	rep := &Report{}
	byOp := map[string]int{}
	failures := map[string]int{}
	skipped, err := Scan(r, f, func(e Event, _ []byte) error {
		rep.Events++
		if rep.First.IsZero() || e.Timestamp.Before(rep.First) {
			rep.First = e.Timestamp
		}
		if e.Timestamp.After(rep.Last) {
			rep.Last = e.Timestamp
		}
		byOp[e.Operation+"/"+e.Result]++
		if e.Result != "success" {
			failures[e.ClientID]++
		}
		if e.Operation == "config_change" {
			rep.ConfigChanges = append(rep.ConfigChanges, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Skipped = skipped
	rep.ByOperation = sorted(byOp)
	rep.FailuresByClient = sorted(failures)
	return rep, nil
}

// sorted orders counts by count, descending, then key.
func sorted(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{Key: k, Count: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

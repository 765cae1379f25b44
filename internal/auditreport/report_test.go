package auditreport

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const sampleLog = `{"timestamp":"2026-12-01T10:00:00Z","level":"warn","operation":"authentication","client_id":"anonymous","result":"failure","metadata":{"reason":"unknown token"}}
{"timestamp":"2026-12-01T10:00:01Z","level":"info","operation":"tool_call","client_id":"planner","result":"success","metadata":{"tool":"query_memory"}}
not json at all
{"timestamp":"2026-12-01T10:00:02Z","level":"warn","operation":"rate_limit_violation","client_id":"planner","result":"denied","metadata":{"class":"write"}}
{"timestamp":"2026-12-01T10:00:03Z","level":"warn","operation":"authentication","client_id":"anonymous","result":"failure","metadata":{}}
{"timestamp":"2026-12-01T10:05:00Z","level":"info","operation":"config_change","client_id":"operator","result":"success","metadata":{"incident_mode":true,"reason":"leak"}}
`

func TestSummarise(t *testing.T) {
	rep, err := Summarise(strings.NewReader(sampleLog), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Report{
		Events:  5,
		Skipped: 1,
		First:   time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Last:    time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC),
		ByOperation: []Count{
			{"authentication/failure", 2}, {"config_change/success", 1},
			{"rate_limit_violation/denied", 1}, {"tool_call/success", 1},
		},
		FailuresByClient: []Count{{"anonymous", 2}, {"planner", 1}},
		ConfigChanges: []Event{{
			Timestamp: time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC), Level: "info",
			Operation: "config_change", ClientID: "operator", Result: "success",
			Metadata: map[string]any{"incident_mode": true, "reason": "leak"},
		}},
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestFilter(t *testing.T) {
	since := time.Date(2026, 12, 1, 10, 0, 2, 0, time.UTC)
	tests := []struct {
		name   string
		filter Filter
		want   int
	}{
		{"everything", Filter{}, 5},
		{"by operation", Filter{Operation: "authentication"}, 2},
		{"by client", Filter{ClientID: "planner"}, 2},
		{"by result", Filter{Result: "success"}, 2},
		{"since", Filter{Since: since}, 3},
		{"combined", Filter{Operation: "authentication", Since: since}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			if _, err := Scan(strings.NewReader(sampleLog), tt.filter, func(Event, []byte) error {
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != tt.want {
				t.Errorf("matched %d events, want %d", n, tt.want)
			}
		})
	}
}

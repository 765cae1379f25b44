package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// hostile are strings an agent or a client can put in a field the audit log
// records: each tries to end the line and start a forged one.
var hostile = map[string]string{
	"newline":         "a\n{\"operation\":\"config_change\",\"client_id\":\"system\"}",
	"carriage return": "a\r{\"operation\":\"config_change\"}",
	"fake fragment":   "x\"}\n{\"operation\":\"config_change\",\"result\":\"success\"",
	"line separator":  "a\u2028b\u2029c",
	"control bytes":   "a\x00b\x1b[2Jc\x7fd\x0be\x0cf",
	"escaped quotes":  `\"},{\"operation\":\"config_change\"`,
	"next line":       "a\u0085b",
}

// TestHostileStringsCannotForgeLines records events whose client, operation
// and metadata (keys, values, nested maps, lists, free text at debug level)
// carry line breaks and fake JSON: every record is one line holding one
// JSON object, and every string reads back unchanged.
func TestHostileStringsCannotForgeLines(t *testing.T) {
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "debug", Destination: "stdout"})
	var want []map[string]any
	for name, s := range hostile {
		ctx := identity.WithClient(context.Background(), &identity.Client{ID: s})
		l.Record(ctx, Event{Level: LevelWarn, Operation: OpSecurityViolation, Result: ResultDenied,
			Metadata: map[string]any{"tool": s, s: name, "nested": map[string]any{"value": s},
				"list": []any{s}, "text": FreeText(s)}})
		want = append(want, map[string]any{"timestamp": "2026-03-01T12:00:00Z", "level": "warn",
			"operation": OpSecurityViolation, "client_id": s, "result": ResultDenied,
			"metadata": map[string]any{"tool": s, s: name, "nested": map[string]any{"value": s},
				"list": []any{s}, "text": s}})
	}

	raw := out.Bytes()
	checkRawLines(t, raw, len(hostile))
	if diff := cmp.Diff(want, strictLines(t, raw)); diff != "" {
		t.Errorf("records read back (-want +got):\n%s", diff)
	}
}

// TestInvalidUTF8CannotForgeLines records bytes that are not UTF-8 next to
// a line break: the line stays one valid JSON object.
func TestInvalidUTF8CannotForgeLines(t *testing.T) {
	l, out := newTestLogger(t, runtimeconfig.Audit{Level: "info", Destination: "stdout"})
	bad := "\xff\xfe\n{\"operation\":\"config_change\"}\xc0"
	l.Record(context.Background(), Event{Level: LevelWarn, Operation: OpAuthentication,
		Result: ResultFailure, Metadata: map[string]any{"reason": bad}})

	raw := out.Bytes()
	checkRawLines(t, raw, 1)
	got := strictLines(t, raw)[0]["metadata"].(map[string]any)["reason"]
	want := "\ufffd\ufffd\n{\"operation\":\"config_change\"}\ufffd"
	if got != want {
		t.Errorf("reason read back as %q, want %q", got, want)
	}
}

// checkRawLines checks that raw is n lines of valid UTF-8 without control
// characters or U+2028/U+2029, which some log readers also take for line
// ends.
func checkRawLines(t *testing.T, raw []byte, n int) {
	t.Helper()
	if got := bytes.Count(raw, []byte("\n")); got != n || !bytes.HasSuffix(raw, []byte("\n")) {
		t.Errorf("%d line ends for %d records:\n%s", got, n, raw)
	}
	if !utf8.Valid(raw) {
		t.Errorf("audit output is not valid UTF-8")
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		for _, r := range string(line) {
			if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
				t.Errorf("raw character %U in line %q", r, line)
			}
		}
	}
}

// strictLines decodes each line as exactly one JSON object.
func strictLines(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
		dec := json.NewDecoder(bytes.NewReader(line))
		var m map[string]any
		if err := dec.Decode(&m); err != nil || dec.More() {
			t.Fatalf("line %q is not one JSON object: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// FuzzRecordIsOneLine records events whose client, metadata keys, values
// and free text are arbitrary strings: each is written as exactly one line
// of one JSON object, whatever bytes the strings hold.
func FuzzRecordIsOneLine(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Add("\xff\xfe\n\xc2\x85\xe2\x80\xa8")
	f.Fuzz(func(t *testing.T, s string) {
		l, out := newTestLogger(t, runtimeconfig.Audit{Level: "debug", Destination: "stdout"})
		ctx := identity.WithClient(context.Background(), &identity.Client{ID: s})
		l.Record(ctx, Event{Level: LevelWarn, Operation: s, Result: ResultDenied,
			Metadata: map[string]any{s: s, "list": []any{s}, "text": FreeText(s)}})
		raw := out.Bytes()
		checkRawLines(t, raw, 1)
		// An empty ID reads as "anonymous"; invalid UTF-8 reads back replaced.
		if got := strictLines(t, raw)[0]["client_id"]; s != "" && utf8.ValidString(s) && got != s {
			t.Errorf("client_id read back as %q, want %q", got, s)
		}
	})
}

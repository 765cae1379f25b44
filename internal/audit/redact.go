package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// builtinRedacted are key fragments that always mark a secret: a metadata
// key containing one of them, in any case, is redacted.
var builtinRedacted = []string{"token", "password", "secret", "authorization", "api_key", "apikey"}

// Redacted replaces the value of a secret-like metadata field.
const Redacted = "[REDACTED]"

type redactor struct {
	fragments []string
	rawText   bool
}

func newRedactor(extra []string, rawText bool) redactor {
	f := append([]string(nil), builtinRedacted...)
	for _, e := range extra {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			f = append(f, e)
		}
	}
	return redactor{fragments: f, rawText: rawText}
}

func (r redactor) secret(key string) bool {
	k := strings.ToLower(key)
	for _, f := range r.fragments {
		if strings.Contains(k, f) {
			return true
		}
	}
	return false
}

// apply returns a copy of m with secrets and free text replaced; the
// caller's map is never modified, since it may be shared.
func (r redactor) apply(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if r.secret(k) {
			out[k] = Redacted
			continue
		}
		out[k] = r.value(v)
	}
	return out
}

func (r redactor) value(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return r.apply(t)
	case FreeText:
		if r.rawText {
			return string(t)
		}
		return TextSummary(string(t))
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = r.value(e)
		}
		return out
	default:
		return v
	}
}

// TextSummary describes free text without repeating it: enough to match two
// records of the same text, not enough to read it.
func TextSummary(s string) map[string]any {
	sum := sha256.Sum256([]byte(s))
	return map[string]any{"length": len(s), "sha256": hex.EncodeToString(sum[:])}
}

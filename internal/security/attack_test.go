package security

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestToolNameDecoderDifferential sends bodies that encoding/json and the
// SDK's case-sensitive decoder read as different tools. The HTTP layer must
// not let its checks of one tool stand for the call of the other: a
// read-only client stays refused the write tool, and a write counts in the
// write bucket.
func TestToolNameDecoderDifferential(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"second key in another case", `{"jsonrpc":"2.0","id":3,"method":"tools/call",` +
			`"params":{"name":"delete_episode","arguments":{},"NAME":"query_memory"}}`},
		{"params object in another case", `{"jsonrpc":"2.0","id":3,"method":"tools/call",` +
			`"params":{"name":"delete_episode","arguments":{}},"Params":{"name":"query_memory"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigConfig(), testCredentials())
			w := r.post(readerToken, tt.body, nil)

			want := `{"jsonrpc":"2.0","id":3,"error":{"code":-32030,"message":"tool \"delete_episode\" ` +
				`needs scope \"mcp:write\", which this credential does not hold"}}`
			if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != want {
				t.Errorf("got %d %s, want 200 %s", w.Code, w.Body, want)
			}
			if diff := cmp.Diff([]toolSeen(nil), r.seen()); diff != "" {
				t.Errorf("tool handlers ran (-want +got):\n%s", diff)
			}
		})
	}
}

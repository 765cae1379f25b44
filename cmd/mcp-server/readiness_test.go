package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
)

// TestCredentialsFileOnly starts the server with credentials and no
// runtime config source: the default config is in force, so the server
// reports ready (startServer waits for /readyz) and serves its clients.
func TestCredentialsFileOnly(t *testing.T) {
	token, client := newToken(t, "reader", identity.ScopeRead)
	creds := filepath.Join(t.TempDir(), "credentials.json")
	if err := os.WriteFile(creds, renderCredentials(t, client), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, "--credentials-file="+creds)
	if res := p.post(t, token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); res.status != http.StatusOK {
		t.Errorf("ping with a listed token: status %d, want 200", res.status)
	}
}

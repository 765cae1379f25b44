package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// tokenTable is the decoded credentials document.
type tokenTable struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash     [sha256.Size]byte
	notAfter *time.Time
	client   string
	scopes   []string
}

func newTokenTable(c *runtimeconfig.Credentials) *tokenTable {
	t := &tokenTable{}
	if c == nil {
		return t
	}
	for _, cl := range c.Clients {
		for _, th := range cl.Tokens {
			var e tokenEntry
			// ParseCredentials validated the digests; a bad one is skipped.
			if n, err := hex.Decode(e.hash[:], []byte(th.SHA256)); err != nil || n != sha256.Size {
				continue
			}
			e.notAfter, e.client, e.scopes = th.NotAfter, cl.Name, cl.Scopes
			t.entries = append(t.entries, e)
		}
	}
	return t
}

// lookup compares the token's digest with every entry in constant time, so
// neither the position of a match nor a near miss shows in the timing.
func (t *tokenTable) lookup(token string, now time.Time) (*identity.Client, time.Time, error) {
	sum := sha256.Sum256([]byte(token))
	match := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil, time.Time{}, &Error{Reason: "unknown bearer token", Method: "token"}
	}
	e := t.entries[match]
	if e.notAfter != nil && !now.Before(*e.notAfter) {
		return nil, time.Time{}, &Error{Reason: "bearer token was rotated and its grace period ended; " +
			"use the client's current token", Method: "token"}
	}
	var exp time.Time
	if e.notAfter != nil {
		exp = *e.notAfter
	}
	return &identity.Client{ID: e.client, Scopes: e.scopes, Method: "token"}, exp, nil
}

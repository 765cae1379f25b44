// Package auth authenticates callers of the memory server: operator-issued
// bearer tokens checked against the hashes in the credentials Secret, and
// OAuth 2.0 access tokens (JWTs) verified against the issuer's JWKS.
//
// The authenticated identity comes from the credential alone. It is set on
// the request context with identity.WithClient and nothing a client sends
// in a body or in MCP _meta can change it.
package auth

import (
	"fmt"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
)

// Error refuses a credential. It unwraps to the SDK's ErrInvalidToken so the
// SDK's middleware answers 401 with a WWW-Authenticate challenge.
type Error struct {
	// Reason is safe to show the caller: it names what to fix, never a
	// secret or a key.
	Reason string
	// Method is "token" or "oauth" once the credential's kind is known.
	Method string
}

func (e *Error) Error() string { return fmt.Sprintf("authentication failed: %s", e.Reason) }

// Unwrap lets the SDK map the refusal to 401.
func (e *Error) Unwrap() error { return sdkauth.ErrInvalidToken }

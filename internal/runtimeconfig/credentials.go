package runtimeconfig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CredentialsKey is the Secret key, and the file name under the mount, that
// holds the server's view of the client credentials.
const CredentialsKey = "credentials.json"

// ClientTokenKey is the key of a per-client Secret holding the client's
// current bearer token.
const ClientTokenKey = "token"

// TokenPrefix starts every bearer token the operator generates, so leaked
// tokens are easy to recognise by secret scanners.
const TokenPrefix = "mmcp_"

// Credentials is what the server knows of its clients: only hashes of their
// tokens, never the tokens.
type Credentials struct {
	// SchemaVersion must equal SchemaVersion.
	SchemaVersion string `json:"schemaVersion"`
	// Clients are the named identities.
	Clients []ClientCredentials `json:"clients"`
}

// ClientCredentials are the valid token hashes of one client.
type ClientCredentials struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	// Tokens holds the current token and, during a rotation's grace period,
	// the previous one.
	Tokens []TokenHash `json:"tokens"`
}

// TokenHash is the SHA-256 of a bearer token.
type TokenHash struct {
	// SHA256 is the hex digest of the token.
	SHA256 string `json:"sha256"`
	// NotAfter ends the token's validity; unset for the current token.
	NotAfter *time.Time `json:"notAfter,omitempty"`
}

// ValidAt reports whether the token may be used at t.
func (h TokenHash) ValidAt(t time.Time) bool {
	return h.NotAfter == nil || t.Before(*h.NotAfter)
}

// HashToken returns the hex SHA-256 of token. Tokens carry 256 bits of
// randomness, so a fast hash is enough: there is nothing to brute-force.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a fresh bearer token.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseCredentials reads and validates a credentials document.
func ParseCredentials(data []byte) (*Credentials, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Credentials
	if err := dec.Decode(&c); err != nil {
		return nil, &InvalidError{Errs: []error{fmt.Errorf("decoding credentials: %w", err)}}
	}
	var errs []error
	if c.SchemaVersion != SchemaVersion {
		errs = append(errs, fmt.Errorf("credentials schemaVersion %q is not supported", c.SchemaVersion))
	}
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		if cl.Name == "" || seen[cl.Name] {
			errs = append(errs, fmt.Errorf("clients[%d]: name must be set and unique", i))
		}
		seen[cl.Name] = true
		for _, t := range cl.Tokens {
			if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
				errs = append(errs, fmt.Errorf("clients[%d]: token hash must be a hex SHA-256", i))
			}
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidError{Errs: errs}
	}
	return &c, nil
}

// MarshalCredentials writes c deterministically.
func MarshalCredentials(c *Credentials) ([]byte, error) {
	if c.SchemaVersion == "" {
		return nil, errors.New("credentials schemaVersion is required")
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding credentials: %w", err)
	}
	return append(b, '\n'), nil
}

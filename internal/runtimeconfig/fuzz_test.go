package runtimeconfig

import (
	"bytes"
	"testing"
)

// FuzzParse checks that no input panics the parsers, and that a document
// they accept survives a round trip unchanged.
func FuzzParse(f *testing.F) {
	def, err := Marshal(Default())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(`{"schemaVersion":"memorymcp.io/runtime-config/v1","clients":[{"name":"a","scopes":["mcp:read"],` +
		`"tokens":[{"sha256":"` + HashToken("mmcp_x") + `","notAfter":"2026-03-01T12:00:00Z"}]}]}`))
	f.Add([]byte(`{"schemaVersion":"v0"}`))
	f.Add([]byte(`{}{}`))
	f.Add([]byte(`{"sandbox":{"timeout":"5"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := Parse(data); err == nil {
			again, err := Marshal(c)
			if err != nil {
				t.Fatalf("Marshal of an accepted document: %v", err)
			}
			c2, err := Parse(again)
			if err != nil {
				t.Fatalf("re-Parse of a marshalled document: %v", err)
			}
			if third, _ := Marshal(c2); !bytes.Equal(again, third) {
				t.Fatalf("round trip changed the document:\n%s\n%s", again, third)
			}
		}
		if c, err := ParseCredentials(data); err == nil {
			if _, err := MarshalCredentials(c); err != nil {
				t.Fatalf("MarshalCredentials of accepted credentials: %v", err)
			}
		}
	})
}

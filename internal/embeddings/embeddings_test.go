package embeddings

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	t.Setenv("TEST_EMBEDDINGS_API_KEY", "sk-test")
	t.Setenv("TEST_DATABASE_URL", "postgres://user:secret@db/memory")
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		wantIs  error
	}{
		{name: "key variable set", cfg: Config{BaseURL: "https://api.example", Model: "m",
			APIKeyEnv: "TEST_EMBEDDINGS_API_KEY"}},
		{name: "no key", cfg: Config{BaseURL: "http://localhost:8080", Model: "m"}},
		{name: "key variable unset", cfg: Config{BaseURL: "https://api.example", Model: "m",
			APIKeyEnv: "TEST_UNSET_API_KEY"}, wantErr: true, wantIs: ErrKeyMissing},
		// Any other variable could carry a secret to a host the caller chose.
		{name: "not an API key variable", cfg: Config{BaseURL: "https://attacker.example", Model: "m",
			APIKeyEnv: "TEST_DATABASE_URL"}, wantErr: true},
		{name: "not a variable name", cfg: Config{BaseURL: "https://api.example", Model: "m",
			APIKeyEnv: "$(id)_API_KEY"}, wantErr: true},
		{name: "no scheme", cfg: Config{BaseURL: "api.example", Model: "m"}, wantErr: true},
		{name: "no model", cfg: Config{BaseURL: "https://api.example"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Validate() = %v, want it to wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestEmbedSendsKeyAndOrdersVectors(t *testing.T) {
	t.Setenv("TEST_EMBEDDINGS_API_KEY", "sk-test")
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		if r.URL.Path != "/v1/embeddings" {
			http.NotFound(w, r)
			return
		}
		// Out of order on purpose: the client must place vectors by index.
		_ = json.NewEncoder(w).Encode(map[string]any{"data": []map[string]any{
			{"index": 1, "embedding": []float32{0, 1}},
			{"index": 0, "embedding": []float32{1, 0}},
		}})
	}))
	t.Cleanup(srv.Close)

	c := New(Config{BaseURL: srv.URL + "/", Model: "m", APIKeyEnv: "TEST_EMBEDDINGS_API_KEY"}, srv.Client())
	got, err := c.Embed(t.Context(), []string{"a", "b"})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if diff := cmp.Diff([][]float32{{1, 0}, {0, 1}}, got); diff != "" {
		t.Errorf("vectors (-want +got):\n%s", diff)
	}
	if gotAuth != "Bearer sk-test" {
		t.Errorf("Authorization = %q, want the key from the environment", gotAuth)
	}
}

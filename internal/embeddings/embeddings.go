// Package embeddings calls an OpenAI-compatible /v1/embeddings endpoint.
package embeddings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config names a provider. The API key itself is never part of it: only
// the name of the environment variable that holds the key, so the key is
// neither stored, nor echoed back, nor written to the audit log.
type Config struct {
	// BaseURL is the provider root, e.g. https://api.openai.com; the client
	// appends /v1/embeddings.
	BaseURL string `json:"base_url"`
	Model   string `json:"model"`
	// APIKeyEnv names the environment variable holding the bearer token;
	// the name must end in APIKeySuffix. Empty means the provider needs no
	// key.
	APIKeyEnv string `json:"api_key_env,omitempty"`
}

// APIKeySuffix ends every name APIKeyEnv may take. The caller chooses both
// the variable and the URL its value is sent to, so without a bound on the
// name any secret in the server's environment (the PostgreSQL URL, cloud
// credentials) could be sent to a host of the caller's choosing.
const APIKeySuffix = "_API_KEY"

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ErrKeyMissing is returned when the named environment variable is unset.
var ErrKeyMissing = errors.New("api key environment variable is not set")

// Validate checks the config and that the key variable is set.
func (c Config) Validate() error {
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url %q must be an http or https URL", c.BaseURL)
	}
	if strings.TrimSpace(c.Model) == "" {
		return errors.New("model must not be empty")
	}
	if c.APIKeyEnv == "" {
		return nil
	}
	if !envName.MatchString(c.APIKeyEnv) {
		return fmt.Errorf("api_key_env %q is not an environment variable name", c.APIKeyEnv)
	}
	if !strings.HasSuffix(c.APIKeyEnv, APIKeySuffix) {
		return fmt.Errorf("api_key_env %q must name a variable ending in %s, such as OPENAI%s",
			c.APIKeyEnv, APIKeySuffix, APIKeySuffix)
	}
	if os.Getenv(c.APIKeyEnv) == "" {
		return fmt.Errorf("%s: %w", c.APIKeyEnv, ErrKeyMissing)
	}
	return nil
}

// Client computes embeddings.
type Client struct {
	cfg  Config
	http *http.Client
}

// requestTimeout bounds one provider call; a slow provider must not stall
// episode creation or queries for long.
const requestTimeout = 10 * time.Second

// New returns a client for cfg; hc may be nil.
func New(cfg Config, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: requestTimeout}
	}
	return &Client{cfg: cfg, http: hc}
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

type request struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type response struct {
	Data []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// Embed returns one vector per text, in order.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(request{Model: c.cfg.Model, Input: texts})
	if err != nil {
		return nil, fmt.Errorf("encoding embeddings request: %w", err)
	}
	endpoint := strings.TrimSuffix(c.cfg.BaseURL, "/") + "/v1/embeddings"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building embeddings request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKeyEnv != "" {
		req.Header.Set("Authorization", "Bearer "+os.Getenv(c.cfg.APIKeyEnv))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling embeddings provider: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		// The provider's body may echo the request; only the status is kept.
		return nil, fmt.Errorf("embeddings provider answered %s", resp.Status)
	}
	return decode(resp.Body, len(texts))
}

func decode(r io.Reader, n int) ([][]float32, error) {
	var out response
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding embeddings response: %w", err)
	}
	vecs := make([][]float32, n)
	for _, d := range out.Data {
		if d.Index < 0 || d.Index >= n {
			return nil, fmt.Errorf("embeddings response has index %d for %d inputs", d.Index, n)
		}
		vecs[d.Index] = d.Embedding
	}
	for i, v := range vecs {
		if len(v) == 0 {
			return nil, fmt.Errorf("embeddings response lacks input %d", i)
		}
	}
	return vecs, nil
}

package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// HTTPSink posts batches as NDJSON or as an Elasticsearch bulk request.
type HTTPSink struct {
	URL    string
	Format string
	Index  string
	// AuthorizationFile, when set, holds the Authorization header value;
	// it is read on every send so a rotated credential is picked up.
	AuthorizationFile string
	Client            *http.Client
}

// Send posts the batch; a non-2xx status, or any failed item of a bulk
// response, fails the whole batch.
func (s *HTTPSink) Send(ctx context.Context, batch []Record) error {
	body, contentType := s.body(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building audit request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	if s.AuthorizationFile != "" {
		v, err := os.ReadFile(s.AuthorizationFile)
		if err != nil {
			return fmt.Errorf("reading sink authorization: %w", err)
		}
		req.Header.Set("Authorization", strings.TrimSpace(string(v)))
	}

	resp, err := s.client().Do(req)
	if err != nil {
		return fmt.Errorf("posting audit events: %w", err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading sink response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sink answered %s", resp.Status)
	}
	if s.Format == runtimeconfig.FormatElasticsearch {
		return bulkErrors(respBody)
	}
	return nil
}

func (s *HTTPSink) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

func (s *HTTPSink) body(batch []Record) ([]byte, string) {
	var b bytes.Buffer
	if s.Format != runtimeconfig.FormatElasticsearch {
		for _, r := range batch {
			b.Write(r.Line)
			b.WriteByte('\n')
		}
		return b.Bytes(), "application/x-ndjson"
	}
	action, _ := json.Marshal(map[string]any{"create": map[string]string{"_index": s.Index}})
	for _, r := range batch {
		b.Write(action)
		b.WriteByte('\n')
		b.Write(r.Line)
		b.WriteByte('\n')
	}
	return b.Bytes(), "application/x-ndjson"
}

// bulkErrors reads an Elasticsearch bulk response, where a 200 may still
// carry failed items.
func bulkErrors(body []byte) error {
	var resp struct {
		Errors bool                        `json:"errors"`
		Items  []map[string]bulkItemResult `json:"items"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return fmt.Errorf("reading bulk response: %w", err)
	}
	if !resp.Errors {
		return nil
	}
	failed := 0
	var first string
	for _, item := range resp.Items {
		for _, r := range item {
			if r.Status/100 != 2 {
				failed++
				if first == "" {
					first = fmt.Sprintf("status %d: %s", r.Status, r.Error)
				}
			}
		}
	}
	return fmt.Errorf("bulk request had %d failed items (first: %s)", failed, first)
}

type bulkItemResult struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// Close has nothing to release.
func (s *HTTPSink) Close() error { return nil }

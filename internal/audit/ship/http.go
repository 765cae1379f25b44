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

// DefaultIndex is the Elasticsearch index events go to when none is set.
// An empty "_index" would fail every item of every bulk request.
const DefaultIndex = "memory-mcp-audit"

// HTTPSink posts batches as NDJSON or as an Elasticsearch bulk request.
type HTTPSink struct {
	URL    string
	Format string
	// Index is the Elasticsearch index; defaults to DefaultIndex.
	Index string
	// AuthorizationFile, when set, holds the Authorization header value;
	// it is read on every send so a rotated credential is picked up.
	AuthorizationFile string
	Client            *http.Client
}

// Send posts the batch; a non-2xx status fails the whole batch. Failed
// items of a bulk response are reported in a *PartialError.
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
		return bulkErrors(respBody, len(batch))
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
	index := s.Index
	if index == "" {
		index = DefaultIndex
	}
	action, _ := json.Marshal(map[string]any{"create": map[string]string{"_index": index}})
	for _, r := range batch {
		b.Write(action)
		b.WriteByte('\n')
		b.Write(r.Line)
		b.WriteByte('\n')
	}
	return b.Bytes(), "application/x-ndjson"
}

// bulkErrors reads an Elasticsearch bulk response, where a 200 may still
// carry failed items. Items throttled (429) or failed on the server (5xx)
// are to be sent again; other failures (a 400 mapping error, say) would
// fail the same way every time, so they are refused for good.
func bulkErrors(body []byte, sent int) error {
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
	if len(resp.Items) != sent {
		return fmt.Errorf("bulk response has %d items for %d events", len(resp.Items), sent)
	}
	partial := &PartialError{}
	for i, item := range resp.Items {
		for _, r := range item {
			switch {
			case r.Status/100 == 2:
			case r.Status == http.StatusTooManyRequests || r.Status/100 == 5:
				partial.Retry = append(partial.Retry, i)
			default:
				partial.Rejected = append(partial.Rejected,
					Rejection{Index: i, Reason: fmt.Sprintf("status %d: %s", r.Status, r.Error)})
			}
		}
	}
	if len(partial.Retry) == 0 && len(partial.Rejected) == 0 {
		return nil
	}
	return partial
}

type bulkItemResult struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// Close has nothing to release.
func (s *HTTPSink) Close() error { return nil }

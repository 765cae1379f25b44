package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
)

// serverFlags say how to reach a memory server.
type serverFlags struct {
	endpoint  string
	tokenFile string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.endpoint, "endpoint", envOr("MEMORY_MCP_ENDPOINT", "http://127.0.0.1:8080/mcp"),
		"MCP endpoint of the server (env MEMORY_MCP_ENDPOINT)")
	cmd.PersistentFlags().StringVar(&f.tokenFile, "token-file", "",
		"file holding the bearer token; the MEMORY_MCP_TOKEN environment variable otherwise")
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func (f *serverFlags) token() (string, error) {
	if f.tokenFile == "" {
		return os.Getenv("MEMORY_MCP_TOKEN"), nil
	}
	b, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return "", fmt.Errorf("reading token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// bearer adds the token to every request of the MCP transport.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// call connects, calls one tool and prints its result. A result with isError
// is returned as an error so scripts see a non-zero exit code.
func (f *serverFlags) call(ctx context.Context, out io.Writer, tool string, args any) error {
	token, err := f.token()
	if err != nil {
		return err
	}
	httpClient := http.DefaultClient
	if token != "" {
		httpClient = &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	}
	transport := &mcp.StreamableClientTransport{Endpoint: f.endpoint, HTTPClient: httpClient, MaxRetries: -1}
	client := mcp.NewClient(&mcp.Implementation{Name: "memory-cli", Version: "v0.1.0"}, nil)
	session, err := client.Connect(ctx, transport, nil)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", f.endpoint, err)
	}
	defer session.Close() //nolint:errcheck // the call's outcome is what matters

	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return fmt.Errorf("calling %s: %w", tool, err)
	}
	return printResult(out, res)
}

func printResult(out io.Writer, res *mcp.CallToolResult) error {
	if res.StructuredContent != nil && !res.IsError {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res.StructuredContent)
	}
	var text []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			text = append(text, t.Text)
		}
	}
	if res.IsError {
		return errors.New(strings.Join(text, "\n"))
	}
	_, err := fmt.Fprintln(out, strings.Join(text, "\n"))
	return err
}

func toolCommand() *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{Use: "tool", Short: "Call the server's MCP tools"}
	flags.register(cmd)
	var args string
	call := &cobra.Command{
		Use:     "call TOOL",
		Short:   "Call one tool with JSON arguments",
		Example: `  memory-cli tool call health_check`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			var parsed map[string]any
			if err := json.Unmarshal([]byte(args), &parsed); err != nil {
				return fmt.Errorf("--args must be a JSON object: %w", err)
			}
			return flags.call(cmd.Context(), cmd.OutOrStdout(), pos[0], parsed)
		},
	}
	call.Flags().StringVar(&args, "args", "{}", "tool arguments as a JSON object")
	cmd.AddCommand(call)
	return cmd
}

func episodesCommand() *cobra.Command {
	var flags serverFlags
	cmd := &cobra.Command{Use: "episodes", Short: "Read episodes"}
	flags.register(cmd)
	var limit int
	query := &cobra.Command{
		Use:   "query TEXT",
		Short: "Rank episodes by relevance, context, recency and reward",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			return flags.call(cmd.Context(), cmd.OutOrStdout(), "query_memory",
				map[string]any{"query": pos[0], "limit": limit})
		},
	}
	query.Flags().IntVar(&limit, "limit", 10, "maximum results")
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show one episode with its steps, outcome and reflection",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			return flags.call(cmd.Context(), cmd.OutOrStdout(), "get_episode", map[string]any{"episode_id": pos[0]})
		},
	}
	export := &cobra.Command{
		Use:   "export ID...",
		Short: "Export up to 100 episodes as JSON, for incident evidence",
		Args:  cobra.RangeArgs(1, 100),
		RunE: func(cmd *cobra.Command, pos []string) error {
			return flags.call(cmd.Context(), cmd.OutOrStdout(), "bulk_episodes", map[string]any{"episode_ids": pos})
		},
	}
	cmd.AddCommand(query, get, export)
	return cmd
}

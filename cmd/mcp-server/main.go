// Command mcp-server serves episodic memory to agents over the Model
// Context Protocol, on streamable HTTP or stdio.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/server"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
	"github.com/memorymcp/memory-mcp-operator/internal/store/postgres"
	"github.com/memorymcp/memory-mcp-operator/internal/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// postgresURLEnv is read when --postgres-url-file is not given.
const postgresURLEnv = "MEMORY_MCP_POSTGRES_URL"

type config struct {
	transport       string
	listenAddr      string
	metricsAddr     string
	storage         string
	sqlitePath      string
	postgresURLFile string
	logLevel        string

	// Where the runtime config and credentials come from; see sources.
	namespace         string
	configMap         string
	configFile        string
	credentialsSecret string
	credentialsFile   string
	kubeconfig        string
	// auditDir re-bases the audit file and spool of the runtime config.
	auditDir  string
	publicURL string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.transport, "transport", "http", "http (streamable HTTP on --listen-addr) or stdio")
	fs.StringVar(&c.listenAddr, "listen-addr", ":8080", "address of the MCP endpoint /mcp")
	fs.StringVar(&c.metricsAddr, "metrics-addr", ":9090", "address of /healthz, /readyz and /metrics")
	fs.StringVar(&c.storage, "storage", "sqlite", "sqlite or postgres")
	fs.StringVar(&c.sqlitePath, "sqlite-path", "memory.db", "SQLite database file")
	fs.StringVar(&c.postgresURLFile, "postgres-url-file", "",
		"file holding the PostgreSQL URL; defaults to $"+postgresURLEnv)
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	addSourceFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if (c.configMap != "" || c.credentialsSecret != "") && c.namespace == "" {
		return c, errors.New("--config-map and --credentials-secret need --namespace")
	}
	if c.transport != "http" && c.transport != "stdio" {
		return c, fmt.Errorf("--transport must be http or stdio, got %q", c.transport)
	}
	if c.storage != "sqlite" && c.storage != "postgres" {
		return c, fmt.Errorf("--storage must be sqlite or postgres, got %q", c.storage)
	}
	return c, nil
}

func addSourceFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.namespace, "namespace", "", "namespace of --config-map and --credentials-secret")
	fs.StringVar(&c.configMap, "config-map", "", "ConfigMap holding the runtime config, watched through the API")
	fs.StringVar(&c.configFile, "config-file", "",
		"runtime config file; the fallback when the API is not reachable, or the only source")
	fs.StringVar(&c.credentialsSecret, "credentials-secret", "",
		"Secret holding the client token hashes, watched through the API")
	fs.StringVar(&c.credentialsFile, "credentials-file", "",
		"credentials file; the fallback when the API is not reachable, or the only source")
	fs.StringVar(&c.kubeconfig, "kubeconfig", "",
		"kubeconfig for the API; defaults to the in-cluster config inside a pod")
	fs.StringVar(&c.auditDir, "audit-dir", "",
		"put the audit file and spool of the runtime config under this folder (runs outside a pod)")
	fs.StringVar(&c.publicURL, "public-url", "",
		"public URL of the MCP endpoint, for OAuth metadata; defaults to http://<listen-addr>/mcp")
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mcp-server:", err)
		}
		os.Exit(1)
	}
}

// run is main without process exits. Logs go to stderr in both transports:
// in stdio mode stdout carries only protocol messages.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.logLevel, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing store", "error", err)
		}
	}()
	auditOut := stdout
	if cfg.transport == "stdio" {
		auditOut = stderr // stdout carries only protocol messages
	}
	stk, err := newStack(ctx, cfg, log, auditOut)
	if err != nil {
		return err
	}
	defer stk.close(log)
	srv, err := server.New(stk.serverOptions(engine.New(st, log), log))
	if err != nil {
		return err
	}
	if err := stk.follow(ctx, cfg, srv, log); err != nil {
		return err
	}
	if cfg.transport == "stdio" {
		log.Info("serving stdio", "storage", cfg.storage)
		return srv.ServeStdio(ctx, &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
	}
	return serveHTTP(ctx, srv, cfg)
}

func serveHTTP(ctx context.Context, srv *server.Server, cfg config) error {
	mcpLn, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listenAddr, err)
	}
	opsLn, err := net.Listen("tcp", cfg.metricsAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("listening on %s: %w", cfg.metricsAddr, err), mcpLn.Close())
	}
	return srv.ServeHTTP(ctx, mcpLn, opsLn)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func openStore(ctx context.Context, cfg config) (store.Store, error) {
	if cfg.storage == "sqlite" {
		return sqlite.Open(ctx, cfg.sqlitePath)
	}
	url, err := postgresURL(cfg.postgresURLFile)
	if err != nil {
		return nil, err
	}
	return postgres.Open(ctx, url, postgres.Options{})
}

func postgresURL(file string) (string, error) {
	if file == "" {
		if url := os.Getenv(postgresURLEnv); url != "" {
			return url, nil
		}
		return "", fmt.Errorf("--storage postgres needs --postgres-url-file or $%s", postgresURLEnv)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading --postgres-url-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Package localrun runs a memory server outside Kubernetes exactly as the
// operator rendered it: the arguments of the Deployment's server container,
// its runtime config watched through the API server, and the credentials
// of its ServiceAccount, so the server gets no more access than in a pod.
//
// The quickstart and the end-to-end tests use it; no kubelet is needed.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// Server is a rendered server ready to start.
type Server struct {
	// Args are the server's arguments, rewritten for this machine.
	Args []string
	// Endpoint is the MCP endpoint.
	Endpoint string
	// OpsURL serves /healthz, /readyz and /metrics.
	OpsURL string
}

// Options say which MemoryMCP to run and where its files go.
type Options struct {
	Namespace string
	Name      string
	// StateDir holds the server's kubeconfig, fallback config files,
	// SQLite database and audit files.
	StateDir string
}

// Prepare reads what the controller rendered for a MemoryMCP and returns
// the server's command line. cfg must be allowed to read the Deployment and
// to request tokens for the server's ServiceAccount.
func Prepare(ctx context.Context, cfg *rest.Config, opts Options) (*Server, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating client: %w", err)
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", opts.StateDir, err)
	}
	deploy, err := cs.AppsV1().Deployments(opts.Namespace).Get(ctx, opts.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the server deployment: %w", err)
	}
	container, err := serverContainer(deploy)
	if err != nil {
		return nil, err
	}
	kubeconfig, err := writeServiceAccountKubeconfig(ctx, cs, cfg, deploy, opts.StateDir)
	if err != nil {
		return nil, err
	}
	mcpPort, opsPort, err := freePorts()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d/mcp", mcpPort),
		OpsURL:   fmt.Sprintf("http://127.0.0.1:%d", opsPort),
	}
	s.Args, err = rewriteArgs(container.Args, rewrite{
		namespace:  opts.Namespace,
		listen:     fmt.Sprintf("127.0.0.1:%d", mcpPort),
		ops:        fmt.Sprintf("127.0.0.1:%d", opsPort),
		stateDir:   opts.StateDir,
		kubeconfig: kubeconfig,
	})
	return s, err
}

func serverContainer(d *appsv1.Deployment) (*corev1.Container, error) {
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "server" {
			return &d.Spec.Template.Spec.Containers[i], nil
		}
	}
	if len(d.Spec.Template.Spec.Containers) == 1 {
		return &d.Spec.Template.Spec.Containers[0], nil
	}
	return nil, errors.New("the deployment has no server container")
}

type rewrite struct {
	namespace, listen, ops, stateDir, kubeconfig string
}

// rewriteArgs keeps every argument the controller rendered and replaces
// only what names the pod's own network and filesystem. Files the pod would
// find mounted are left out: the server reads those objects through the API.
func rewriteArgs(args []string, rw rewrite) ([]string, error) {
	out := make([]string, 0, len(args)+2)
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--listen-addr":
			a = "--listen-addr=" + rw.listen
		case "--metrics-addr":
			a = "--metrics-addr=" + rw.ops
		case "--namespace":
			a = "--namespace=" + rw.namespace
		case "--config-file", "--credentials-file":
			continue
		case "--sqlite-path":
			a = "--sqlite-path=" + filepath.Join(rw.stateDir, "memory.db")
		case "--postgres-url-file":
			return nil, errors.New("running a Postgres-backed server locally is not supported; use the SQLite sample")
		}
		out = append(out, a)
	}
	return append(out, "--kubeconfig="+rw.kubeconfig, "--audit-dir="+filepath.Join(rw.stateDir, "audit")), nil
}

// writeServiceAccountKubeconfig issues a token for the server's
// ServiceAccount, so the local server reads the API with exactly the Role
// the operator granted it.
func writeServiceAccountKubeconfig(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config,
	d *appsv1.Deployment, dir string) (string, error) {
	sa := d.Spec.Template.Spec.ServiceAccountName
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To[int64](24 * 3600),
	}}
	tok, err := cs.CoreV1().ServiceAccounts(d.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for service account %s: %w", sa, err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["server"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: sa, Namespace: d.Namespace}
	kc.CurrentContext = "server"
	path := filepath.Join(dir, "server.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", fmt.Errorf("writing the server kubeconfig: %w", err)
	}
	return path, nil
}

// ClientToken reads a client's current bearer token from the Secret the
// operator keeps for it.
func ClientToken(ctx context.Context, cfg *rest.Config, namespace, name, client string) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	secret, err := cs.CoreV1().Secrets(namespace).Get(ctx, name+"-client-"+client, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading the token of client %s: %w", client, err)
	}
	token := string(secret.Data[runtimeconfig.ClientTokenKey])
	if token == "" {
		return "", fmt.Errorf("secret %s has no %q key", secret.Name, runtimeconfig.ClientTokenKey)
	}
	return token, nil
}

func freePorts() (int, int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("finding a free port: %w", err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			return 0, 0, err
		}
	}
	return ports[0], ports[1], nil
}

// WaitReady polls the server's /readyz until it answers 200 or the timeout
// passes.
func WaitReady(ctx context.Context, s *Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.OpsURL+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("server not ready: %w", errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}

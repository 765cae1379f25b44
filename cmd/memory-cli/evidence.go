package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

type evidenceFlags struct {
	namespace string
	out       string
	auditFile string
}

func evidenceCommand() *cobra.Command {
	var flags evidenceFlags
	cmd := &cobra.Command{
		Use:   "evidence NAME",
		Short: "Collect a MemoryMCP's state for an incident record, without any secret",
		Long: `Writes the MemoryMCP, its runtime config, a summary of its credentials
(client names and token validity, never tokens or hashes), its Deployment,
NetworkPolicy and Events, and optionally an audit log, into a folder with a
SHA256SUMS file so the evidence can be shown unaltered later.`,
		Example: `  memory-cli evidence agent-memory -n agents --out evidence-$(date +%Y%m%d)`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, pos []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			if flags.out == "" {
				flags.out = fmt.Sprintf("evidence-%s-%s", pos[0], time.Now().UTC().Format("20060102T150405Z"))
			}
			if err := collectEvidence(cmd.Context(), c, flags, pos[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "evidence written to", flags.out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&flags.namespace, "namespace", "n", "default", "namespace of the MemoryMCP")
	cmd.Flags().StringVar(&flags.out, "out", "", "folder to write; evidence-NAME-TIME by default")
	cmd.Flags().StringVar(&flags.auditFile, "audit-file", "", "an audit log to include")
	return cmd
}

func newClient() (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := mcpv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	cfg, err := config.GetConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

func collectEvidence(ctx context.Context, c client.Client, flags evidenceFlags, name string) error {
	if err := os.MkdirAll(flags.out, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", flags.out, err)
	}
	key := client.ObjectKey{Namespace: flags.namespace, Name: name}
	var mmcp mcpv1alpha1.MemoryMCP
	if err := c.Get(ctx, key, &mmcp); err != nil {
		return fmt.Errorf("reading MemoryMCP %s: %w", key, err)
	}
	files := map[string]any{"memorymcp.yaml": &mmcp}

	var cm corev1.ConfigMap
	cmKey := client.ObjectKey{Namespace: key.Namespace, Name: name + "-runtime-config"}
	if err := getOptional(ctx, c, cmKey, &cm); err != nil {
		return err
	}
	files["runtime-config.json"] = json.RawMessage(cm.Data[runtimeconfig.ConfigKey])

	summary, err := credentialsSummary(ctx, c, client.ObjectKey{Namespace: key.Namespace, Name: name + "-credentials"})
	if err != nil {
		return err
	}
	files["credentials-summary.json"] = summary

	var deploy appsv1.Deployment
	if err := getOptional(ctx, c, key, &deploy); err != nil {
		return err
	}
	files["deployment.yaml"] = &deploy
	var policy networkingv1.NetworkPolicy
	if err := getOptional(ctx, c, key, &policy); err != nil {
		return err
	}
	files["networkpolicy.yaml"] = &policy

	var events corev1.EventList
	if err := c.List(ctx, &events, client.InNamespace(key.Namespace)); err != nil {
		return fmt.Errorf("listing events: %w", err)
	}
	files["events.yaml"] = eventsOf(events.Items, mmcp.UID)

	if err := writeFiles(flags.out, files); err != nil {
		return err
	}
	if flags.auditFile != "" {
		if err := copyFile(flags.auditFile, filepath.Join(flags.out, "audit.log")); err != nil {
			return err
		}
	}
	return writeChecksums(flags.out)
}

// getOptional reads an object that may not exist yet; a missing object
// leaves obj empty so the evidence says so rather than failing.
func getOptional(ctx context.Context, c client.Client, key client.ObjectKey, obj client.Object) error {
	if err := c.Get(ctx, key, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading %T %s: %w", obj, key, err)
	}
	return nil
}

type clientValidity struct {
	Name     string       `json:"name"`
	Scopes   []string     `json:"scopes"`
	Tokens   int          `json:"tokens"`
	NotAfter []*time.Time `json:"not_after"`
}

func credentialsSummary(ctx context.Context, c client.Client, key client.ObjectKey) ([]clientValidity, error) {
	var secret corev1.Secret
	if err := getOptional(ctx, c, key, &secret); err != nil {
		return nil, err
	}
	raw, ok := secret.Data[runtimeconfig.CredentialsKey]
	if !ok {
		return nil, nil
	}
	creds, err := runtimeconfig.ParseCredentials(raw)
	if err != nil {
		return nil, fmt.Errorf("reading credentials of %s: %w", key, err)
	}
	out := make([]clientValidity, 0, len(creds.Clients))
	for _, cl := range creds.Clients {
		v := clientValidity{Name: cl.Name, Scopes: cl.Scopes, Tokens: len(cl.Tokens)}
		for _, t := range cl.Tokens {
			v.NotAfter = append(v.NotAfter, t.NotAfter)
		}
		out = append(out, v)
	}
	return out, nil
}

func eventsOf(all []corev1.Event, uid types.UID) []corev1.Event {
	var out []corev1.Event
	for _, e := range all {
		if e.InvolvedObject.UID == uid {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastTimestamp.Before(&out[j].LastTimestamp) })
	return out
}

func writeFiles(dir string, files map[string]any) error {
	for name, v := range files {
		var data []byte
		var err error
		if strings.HasSuffix(name, ".yaml") {
			data, err = yaml.Marshal(v)
		} else {
			data, err = json.MarshalIndent(v, "", "  ")
		}
		if err != nil {
			return fmt.Errorf("encoding %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening %s: %w", src, err)
	}
	defer in.Close() //nolint:errcheck // read-only
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		return errors.Join(fmt.Errorf("copying %s: %w", src, err), out.Close())
	}
	return out.Close()
}

// writeChecksums records the SHA-256 of every file, in sha256sum's format.
func writeChecksums(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range entries {
		if e.IsDir() || e.Name() == "SHA256SUMS" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), e.Name())
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o600)
}

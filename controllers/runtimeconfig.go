package controllers

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// renderedConfig is the runtime config as written into the ConfigMap.
type renderedConfig struct {
	Config *runtimeconfig.Config
	Data   []byte
	Hash   string
}

// renderRuntimeConfig renders the effective runtime config of m: with the
// emergency profile folded in while incident mode is on, so the server never
// needs to know the MemoryMCP API.
func renderRuntimeConfig(m *mcpv1alpha1.MemoryMCP) (*renderedConfig, error) {
	c := buildRuntimeConfig(m)
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("validating runtime config: %w", err)
	}
	data, err := runtimeconfig.Marshal(c)
	if err != nil {
		return nil, err
	}
	return &renderedConfig{Config: c, Data: data, Hash: runtimeconfig.Hash(data)}, nil
}

func buildRuntimeConfig(m *mcpv1alpha1.MemoryMCP) *runtimeconfig.Config {
	s := &m.Spec
	c := runtimeconfig.Default()
	c.Generation = m.Generation

	c.RateLimits = runtimeconfig.RateLimits{
		Enabled: enabled(s.RateLimits.Enabled),
		Read:    bucket(s.RateLimits.Read, c.RateLimits.Read),
		Write:   bucket(s.RateLimits.Write, c.RateLimits.Write),
	}
	c.BlockedClients = runtimeconfig.Blocklist{Names: sortedUnique(s.BlockedClients.Names)}
	for _, cidr := range s.BlockedClients.CIDRs {
		c.BlockedClients.CIDRs = append(c.BlockedClients.CIDRs, string(cidr))
	}
	c.BlockedClients.CIDRs = sortedUnique(c.BlockedClients.CIDRs)
	c.DisabledTools = toolNames(s.DisabledTools)
	c.Audit = buildAudit(&s.Audit, c.Audit)
	c.Sandbox = buildSandbox(&s.Sandbox, c.Sandbox)
	c.Auth.OIDC = buildOIDC(s.Auth.OIDC)

	if s.IncidentMode {
		applyIncidentProfile(c, &s.Incident)
	}
	return c
}

// applyIncidentProfile folds the emergency profile into c. Limits only
// tighten (the API's validation guarantees it), tools are disabled in
// addition to the normal ones.
func applyIncidentProfile(c *runtimeconfig.Config, p *mcpv1alpha1.IncidentSpec) {
	c.Incident = &runtimeconfig.Incident{Reason: p.Reason, NetworkLockdown: p.NetworkLockdown}
	c.RateLimits.Enabled = true
	c.RateLimits.Read = bucket(p.RateLimits.Read, runtimeconfig.Bucket{RequestsPerSecond: 10, Burst: 20})
	c.RateLimits.Write = bucket(p.RateLimits.Write, runtimeconfig.Bucket{RequestsPerSecond: 1, Burst: 2})
	c.DisabledTools = sortedUnique(append(c.DisabledTools, toolNames(p.DisabledTools)...))
	if p.AuditLevel != "" {
		c.Audit.Level = string(p.AuditLevel)
	}
	if p.AuditDestination != "" {
		c.Audit.Destination = string(p.AuditDestination)
	}
}

func bucket(b mcpv1alpha1.TokenBucket, def runtimeconfig.Bucket) runtimeconfig.Bucket {
	if b.RequestsPerSecond == 0 {
		return def
	}
	return runtimeconfig.Bucket{RequestsPerSecond: float64(b.RequestsPerSecond), Burst: int(b.Burst)}
}

func buildAudit(a *mcpv1alpha1.AuditSpec, def runtimeconfig.Audit) runtimeconfig.Audit {
	out := def
	if a.Level != "" {
		out.Level = string(a.Level)
	}
	if a.Destination != "" {
		out.Destination = string(a.Destination)
	}
	if a.File.MaxSizeMiB > 0 {
		out.File.MaxSizeMiB = int(a.File.MaxSizeMiB)
	}
	if a.File.MaxBackups > 0 {
		out.File.MaxBackups = int(a.File.MaxBackups)
	}
	out.File.Path = path.Join(auditMountDir, "audit.log")
	out.Spool.Dir = path.Join(auditMountDir, "spool")
	if !a.SpoolSize.IsZero() {
		out.Spool.MaxBytes = a.SpoolSize.Value()
	}
	out.RedactedFields = sortedUnique(a.RedactedFields)
	for _, sink := range a.Sinks {
		out.Sinks = append(out.Sinks, buildSink(sink))
	}
	return out
}

// buildSink references every secret by the path the Deployment mounts it
// at (see sinkSecretNames), never by value.
func buildSink(s mcpv1alpha1.AuditSink) runtimeconfig.Sink {
	out := runtimeconfig.Sink{Name: s.Name, Type: string(s.Type)}
	switch {
	case s.Syslog != nil:
		out.Syslog = &runtimeconfig.SyslogSink{
			Address: s.Syslog.Address,
			AppName: s.Syslog.AppName,
			TLS:     buildTLS(s.Syslog.TLS),
		}
	case s.HTTP != nil:
		format := string(s.HTTP.Format)
		if format == "" {
			format = runtimeconfig.FormatNDJSON
		}
		out.HTTP = &runtimeconfig.HTTPSink{
			URL:    s.HTTP.URL,
			Format: format,
			Index:  s.HTTP.Index,
			TLS:    buildTLS(s.HTTP.TLS),
		}
		if ref := s.HTTP.AuthorizationSecret; ref != nil {
			out.HTTP.AuthorizationFile = secretFilePath(ref.Name, secretKey(*ref))
		}
	}
	return out
}

func buildTLS(t *mcpv1alpha1.TLSSpec) *runtimeconfig.TLS {
	if t == nil {
		return nil
	}
	out := &runtimeconfig.TLS{ServerName: t.ServerName}
	if t.CASecret != nil {
		out.CAFile = secretFilePath(t.CASecret.Name, secretKey(*t.CASecret))
	}
	if t.ClientCertSecret != "" {
		out.CertFile = secretFilePath(t.ClientCertSecret, corev1.TLSCertKey)
		out.KeyFile = secretFilePath(t.ClientCertSecret, corev1.TLSPrivateKeyKey)
	}
	return out
}

func buildSandbox(s *mcpv1alpha1.SandboxSpec, def runtimeconfig.Sandbox) runtimeconfig.Sandbox {
	out := def
	out.Enabled = enabled(s.Enabled)
	if !s.Memory.IsZero() {
		out.MemoryBytes = s.Memory.Value() &^ (64<<10 - 1)
	}
	if s.Timeout.Duration > 0 {
		out.Timeout = runtimeconfig.Duration{Duration: s.Timeout.Duration}
	}
	if !s.MaxOutput.IsZero() {
		out.MaxOutputBytes = s.MaxOutput.Value()
	}
	if !s.MaxModuleSize.IsZero() {
		out.MaxModuleBytes = s.MaxModuleSize.Value()
	}
	if s.MaxConcurrency > 0 {
		out.MaxConcurrency = int(s.MaxConcurrency)
	}
	return out
}

func buildOIDC(o *mcpv1alpha1.OIDCSpec) *runtimeconfig.OIDC {
	if o == nil {
		return nil
	}
	out := &runtimeconfig.OIDC{
		Issuer:        o.Issuer,
		Audience:      o.Audience,
		JWKSURL:       o.JWKSURL,
		ClientIDClaim: o.ClientIDClaim,
	}
	if out.JWKSURL == "" {
		out.JWKSURL = strings.TrimSuffix(o.Issuer, "/") + "/.well-known/jwks.json"
	}
	if out.ClientIDClaim == "" {
		out.ClientIDClaim = "sub"
	}
	return out
}

// buildConfigMap holds the rendered runtime config. It is mounted as a
// fallback and watched by the server through the API; it is not referenced
// by a hash in the pod template, so changing it never restarts a pod.
func buildConfigMap(m *mcpv1alpha1.MemoryMCP, rc *renderedConfig) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(m, configMapName(m), "runtime-config"),
		Data:       map[string]string{runtimeconfig.ConfigKey: string(rc.Data)},
	}
}

func secretKey(ref mcpv1alpha1.SecretKeyRef) string {
	if ref.Key == "" {
		return "uri"
	}
	return ref.Key
}

func secretFilePath(secret, key string) string {
	return path.Join(secretsMountDir, secret, key)
}

func toolNames(tools []mcpv1alpha1.ToolName) []string {
	out := make([]string, 0, len(tools))
	for _, t := range tools {
		out = append(out, string(t))
	}
	return sortedUnique(out)
}

// sortedUnique returns the distinct elements of in, sorted; nil when none.
func sortedUnique[T cmp.Ordered](in []T) []T {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

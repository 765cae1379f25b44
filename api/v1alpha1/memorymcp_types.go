/*
Copyright 2026 The memory-mcp-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MemoryMCPSpec declares a secured memory-MCP server.
//
// +kubebuilder:validation:XValidation:rule="!has(self.storage) || !has(self.storage.type) || self.storage.type != 'SQLite' || !has(self.replicas) || self.replicas <= 1",message="storage.type SQLite supports at most one replica; use storage.type Postgres to run more"
// +kubebuilder:validation:XValidation:rule="!(has(self.incident) && has(self.incident.rateLimits) && has(self.incident.rateLimits.read) && has(self.rateLimits) && has(self.rateLimits.read)) || (self.incident.rateLimits.read.requestsPerSecond <= self.rateLimits.read.requestsPerSecond && self.incident.rateLimits.read.burst <= self.rateLimits.read.burst)",message="incident.rateLimits.read must not exceed rateLimits.read in requestsPerSecond or burst: the emergency profile may only tighten limits"
// +kubebuilder:validation:XValidation:rule="!(has(self.incident) && has(self.incident.rateLimits) && has(self.incident.rateLimits.write) && has(self.rateLimits) && has(self.rateLimits.write)) || (self.incident.rateLimits.write.requestsPerSecond <= self.rateLimits.write.requestsPerSecond && self.incident.rateLimits.write.burst <= self.rateLimits.write.burst)",message="incident.rateLimits.write must not exceed rateLimits.write in requestsPerSecond or burst: the emergency profile may only tighten limits"
// +kubebuilder:validation:XValidation:rule="!has(self.incident) || !has(self.incident.rotateCredentials) || !self.incident.rotateCredentials || (has(self.auth) && has(self.auth.clients) && size(self.auth.clients) > 0)",message="incident.rotateCredentials needs at least one client in auth.clients"
type MemoryMCPSpec struct {
	// image is the memory MCP server image. Defaults to the server image the
	// operator was released with.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// imagePullPolicy for the server container.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// replicas is the number of server pods. SQLite storage allows at most one.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	Replicas *int32 `json:"replicas,omitempty"`

	// resources of the server container. Defaults to a request of 100m CPU
	// and 128Mi memory and a limit of 512Mi memory.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// storage selects where episodes are kept.
	// +optional
	// +kubebuilder:default={}
	Storage StorageSpec `json:"storage,omitzero"`

	// auth declares the clients allowed to call the server and how their
	// credentials rotate.
	// +optional
	// +kubebuilder:default={}
	Auth AuthSpec `json:"auth,omitzero"`

	// rateLimits are token buckets per authenticated client.
	// +optional
	// +kubebuilder:default={}
	RateLimits RateLimitsSpec `json:"rateLimits,omitzero"`

	// blockedClients are refused by the server and, for CIDRs, by the
	// NetworkPolicy.
	// +optional
	BlockedClients BlockedClientsSpec `json:"blockedClients,omitzero"`

	// disabledTools are hidden from tools/list and refused on call.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	DisabledTools []ToolName `json:"disabledTools,omitempty"`

	// audit configures the structured audit log and its shipping.
	// +optional
	// +kubebuilder:default={}
	Audit AuditSpec `json:"audit,omitzero"`

	// sandbox limits the WebAssembly sandbox behind execute_agent_code.
	// +optional
	// +kubebuilder:default={}
	Sandbox SandboxSpec `json:"sandbox,omitzero"`

	// network restricts who may connect to the server and where it may
	// connect to.
	// +optional
	Network NetworkSpec `json:"network,omitzero"`

	// monitoring configures the ServiceMonitor and PrometheusRule.
	// +optional
	// +kubebuilder:default={}
	Monitoring MonitoringSpec `json:"monitoring,omitzero"`

	// incidentMode switches the server into its emergency profile, described
	// by incident, without restarting a pod.
	// +optional
	// +kubebuilder:default=false
	IncidentMode bool `json:"incidentMode,omitempty"`

	// incident is the emergency profile applied while incidentMode is true.
	// +optional
	// +kubebuilder:default={}
	Incident IncidentSpec `json:"incident,omitzero"`
}

// StorageType names a storage engine.
// +kubebuilder:validation:Enum=SQLite;Postgres
type StorageType string

// Storage engines.
const (
	StorageSQLite   StorageType = "SQLite"
	StoragePostgres StorageType = "Postgres"
)

// StorageSpec selects where episodes are kept.
//
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != 'Postgres' || has(self.postgres)",message="storage.postgres is required when storage.type is Postgres"
// +kubebuilder:validation:XValidation:rule="!has(self.postgres) || (has(self.type) && self.type == 'Postgres')",message="storage.postgres is only allowed when storage.type is Postgres"
type StorageSpec struct {
	// type is SQLite (embedded, on a PersistentVolumeClaim, one replica) or
	// Postgres (external, several replicas).
	// +optional
	// +kubebuilder:default=SQLite
	Type StorageType `json:"type,omitempty"`

	// sqlite configures the embedded store.
	// +optional
	// +kubebuilder:default={}
	SQLite SQLiteStorage `json:"sqlite,omitzero"`

	// postgres configures the PostgreSQL store.
	// +optional
	Postgres *PostgresStorage `json:"postgres,omitempty"`
}

// SQLiteStorage configures the embedded store's volume.
type SQLiteStorage struct {
	// size of the PersistentVolumeClaim.
	// +optional
	// +kubebuilder:default="1Gi"
	Size resource.Quantity `json:"size,omitzero"`

	// storageClassName of the PersistentVolumeClaim; the cluster default
	// when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// PostgresStorage points the server at a PostgreSQL database.
type PostgresStorage struct {
	// uriSecret names the Secret key holding the connection URI, such as the
	// "uri" key of a CloudNativePG app Secret.
	// +required
	URISecret SecretKeyRef `json:"uriSecret"`

	// port the database listens on, opened in the egress NetworkPolicy.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// egressTo are the peers the server may reach the database at. Any
	// destination on port when empty.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	EgressTo []networkingv1.NetworkPolicyPeer `json:"egressTo,omitempty"`
}

// SecretKeyRef names one key of a Secret in the MemoryMCP's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret.
	// +optional
	// +kubebuilder:default=uri
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// Scope is a permission a client holds.
// +kubebuilder:validation:Enum="mcp:read";"mcp:write"
type Scope string

// Scopes.
const (
	ScopeRead  Scope = "mcp:read"
	ScopeWrite Scope = "mcp:write"
)

// AuthSpec declares the clients allowed to call the server.
type AuthSpec struct {
	// clients are named identities with bearer tokens the operator generates
	// and keeps in one Secret per client, named <memorymcp>-client-<name>.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Clients []ClientSpec `json:"clients,omitempty"`

	// rotation sets how often client tokens are replaced.
	// +optional
	// +kubebuilder:default={}
	Rotation RotationSpec `json:"rotation,omitzero"`

	// oidc accepts OAuth 2.0 access tokens (JWTs) from an issuer in addition
	// to bearer tokens.
	// +optional
	OIDC *OIDCSpec `json:"oidc,omitempty"`
}

// ClientSpec is one named client identity.
type ClientSpec struct {
	// name identifies the client in audit events, rate limits and blocklists.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// scopes granted to the client's token.
	// +optional
	// +listType=set
	// +kubebuilder:default={"mcp:read"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	Scopes []Scope `json:"scopes,omitempty"`
}

// RotationSpec sets how often client tokens are replaced.
//
// +kubebuilder:validation:XValidation:rule="!has(self.gracePeriod) || !has(self.interval) || duration(self.gracePeriod) < duration(self.interval)",message="auth.rotation.gracePeriod must be shorter than auth.rotation.interval"
type RotationSpec struct {
	// interval between rotations. At least one hour.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="auth.rotation.interval must be at least 1h"
	Interval metav1.Duration `json:"interval,omitzero"`

	// gracePeriod during which the previous token stays valid.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="auth.rotation.gracePeriod must not be negative"
	GracePeriod metav1.Duration `json:"gracePeriod,omitzero"`
}

// OIDCSpec accepts JWT access tokens from an OAuth 2.0 issuer.
type OIDCSpec struct {
	// issuer URL; tokens must carry it in their iss claim.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="auth.oidc.issuer must be an https URL"
	Issuer string `json:"issuer"`

	// audience tokens must carry in their aud claim.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Audience string `json:"audience"`

	// jwksURL to fetch signing keys from; <issuer>/.well-known/jwks.json
	// when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="auth.oidc.jwksURL must be an https URL"
	JWKSURL string `json:"jwksURL,omitempty"`

	// clientIDClaim names the claim that identifies the client.
	// +optional
	// +kubebuilder:default=sub
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	ClientIDClaim string `json:"clientIDClaim,omitempty"`
}

// RateLimitsSpec are token buckets per authenticated client. Each tool is
// classed as a read or a write.
type RateLimitsSpec struct {
	// enabled turns rate limiting on.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// read is the bucket for read tools.
	// +optional
	// +kubebuilder:default={requestsPerSecond:50,burst:100}
	Read TokenBucket `json:"read,omitzero"`

	// write is the bucket for write tools.
	// +optional
	// +kubebuilder:default={requestsPerSecond:10,burst:20}
	Write TokenBucket `json:"write,omitzero"`
}

// TokenBucket refills at requestsPerSecond up to burst.
//
// +kubebuilder:validation:XValidation:rule="self.burst >= self.requestsPerSecond",message="burst must not be below requestsPerSecond"
type TokenBucket struct {
	// requestsPerSecond is the refill rate.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerSecond int32 `json:"requestsPerSecond"`

	// burst is the bucket size.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Burst int32 `json:"burst"`
}

// CIDR is an IPv4 or IPv6 network in CIDR notation.
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32"
type CIDR string

// BlockedClientsSpec lists refused callers.
type BlockedClientsSpec struct {
	// names of clients refused after authentication.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=256
	Names []string `json:"names,omitempty"`

	// cidrs refused by source address, in the server and the NetworkPolicy.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	CIDRs []CIDR `json:"cidrs,omitempty"`
}

// ToolName names an MCP tool of the memory server.
// +kubebuilder:validation:Enum=create_episode;add_episode_step;complete_episode;get_episode;get_episode_timeline;query_memory;analyze_patterns;search_patterns;recommend_patterns;add_episode_tags;remove_episode_tags;search_episodes_by_tags;delete_episode;bulk_episodes;configure_embeddings;execute_agent_code;health_check;get_metrics
type ToolName string

// Tools named in the emergency profile's defaults.
const (
	ToolExecuteAgentCode    ToolName = "execute_agent_code"
	ToolConfigureEmbeddings ToolName = "configure_embeddings"
)

// AuditLevel is the least severe audit event written.
// +kubebuilder:validation:Enum=debug;info;warn;error
type AuditLevel string

// Audit levels.
const (
	AuditDebug AuditLevel = "debug"
	AuditInfo  AuditLevel = "info"
	AuditWarn  AuditLevel = "warn"
	AuditError AuditLevel = "error"
)

// AuditDestination is where the server writes audit events locally.
// +kubebuilder:validation:Enum=stdout;file;both
type AuditDestination string

// Audit destinations.
const (
	AuditStdout AuditDestination = "stdout"
	AuditFile   AuditDestination = "file"
	AuditBoth   AuditDestination = "both"
)

// AuditSpec configures the audit log.
type AuditSpec struct {
	// level is the least severe event written.
	// +optional
	// +kubebuilder:default=info
	Level AuditLevel `json:"level,omitempty"`

	// destination is stdout, a rotated file on the audit volume, or both.
	// +optional
	// +kubebuilder:default=stdout
	Destination AuditDestination `json:"destination,omitempty"`

	// file sets the rotation of the audit file.
	// +optional
	// +kubebuilder:default={}
	File AuditFileSpec `json:"file,omitzero"`

	// redactedFields are metadata keys whose values are replaced before an
	// event is written or shipped, in addition to the built-in secret-like
	// keys (token, password, secret, authorization, api_key).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	RedactedFields []string `json:"redactedFields,omitempty"`

	// sinks receive every event through an on-disk spool.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Sinks []AuditSink `json:"sinks,omitempty"`

	// spoolSize bounds the on-disk spool that holds events not yet shipped.
	// At least 1Mi.
	// +optional
	// +kubebuilder:default="256Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Mi')) >= 0",message="audit.spoolSize must be at least 1Mi"
	SpoolSize resource.Quantity `json:"spoolSize,omitzero"`
}

// AuditFileSpec sets size-based rotation of the audit file.
type AuditFileSpec struct {
	// maxSizeMiB a file reaches before it is rotated.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10240
	MaxSizeMiB int32 `json:"maxSizeMiB,omitempty"`

	// maxBackups is how many rotated files are kept.
	// +optional
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxBackups int32 `json:"maxBackups,omitempty"`
}

// AuditSinkType names a shipping protocol.
// +kubebuilder:validation:Enum=syslog;http
type AuditSinkType string

// Sink types.
const (
	SinkSyslog AuditSinkType = "syslog"
	SinkHTTP   AuditSinkType = "http"
)

// AuditSink is one destination audit events are shipped to.
//
// +kubebuilder:validation:XValidation:rule="self.type != 'syslog' || (has(self.syslog) && !has(self.http))",message="a syslog sink needs the syslog field and no http field"
// +kubebuilder:validation:XValidation:rule="self.type != 'http' || (has(self.http) && !has(self.syslog))",message="an http sink needs the http field and no syslog field"
type AuditSink struct {
	// name identifies the sink in metrics and status.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// type is syslog (RFC 5424 over TCP or TLS) or http (NDJSON or the
	// Elasticsearch bulk format).
	// +required
	Type AuditSinkType `json:"type"`

	// syslog configures a syslog sink.
	// +optional
	Syslog *SyslogSink `json:"syslog,omitempty"`

	// http configures an HTTP sink.
	// +optional
	HTTP *HTTPSink `json:"http,omitempty"`
}

// SyslogSink ships RFC 5424 messages over TCP, octet-counted.
type SyslogSink struct {
	// address is host:port of the collector.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:Pattern=`^[^:\s]+:[0-9]{1,5}$`
	Address string `json:"address"`

	// tls encrypts the connection when set.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// appName is the APP-NAME of each message.
	// +optional
	// +kubebuilder:default=memory-mcp
	// +kubebuilder:validation:MaxLength=48
	AppName string `json:"appName,omitempty"`
}

// HTTPFormat is the body format of an HTTP sink.
// +kubebuilder:validation:Enum=ndjson;elasticsearch
type HTTPFormat string

// HTTP sink formats.
const (
	FormatNDJSON        HTTPFormat = "ndjson"
	FormatElasticsearch HTTPFormat = "elasticsearch"
)

// HTTPSink ships batches of events over HTTP POST.
type HTTPSink struct {
	// url the batches are posted to, such as https://es:9200/_bulk.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="audit sink url must be an http or https URL"
	URL string `json:"url"`

	// format of the body.
	// +optional
	// +kubebuilder:default=ndjson
	Format HTTPFormat `json:"format,omitempty"`

	// index for the Elasticsearch bulk format.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	Index string `json:"index,omitempty"`

	// authorizationSecret names a Secret key whose value is sent as the
	// Authorization header.
	// +optional
	AuthorizationSecret *SecretKeyRef `json:"authorizationSecret,omitempty"`

	// tls configures the client for https URLs.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// TLSSpec configures a TLS client.
type TLSSpec struct {
	// caSecret names a Secret key holding PEM CA certificates to trust; the
	// system roots when empty.
	// +optional
	CASecret *SecretKeyRef `json:"caSecret,omitempty"`

	// clientCertSecret names a kubernetes.io/tls Secret presented as the
	// client certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClientCertSecret string `json:"clientCertSecret,omitempty"`

	// serverName overrides the name checked in the server's certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
}

// SandboxSpec limits the WebAssembly sandbox.
type SandboxSpec struct {
	// enabled offers execute_agent_code; when false the tool is disabled.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// memory a module may use, rounded down to 64KiB pages. At most 4Gi.
	// +optional
	// +kubebuilder:default="64Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('64Ki')) >= 0 && quantity(string(self)).compareTo(quantity('4Gi')) <= 0",message="sandbox.memory must be between 64Ki and 4Gi"
	Memory resource.Quantity `json:"memory,omitzero"`

	// timeout of one run.
	// +optional
	// +kubebuilder:default="5s"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('5m')",message="sandbox.timeout must be above 0s and at most 5m"
	Timeout metav1.Duration `json:"timeout,omitzero"`

	// maxOutput bounds stdout and stderr of one run, each. At least 1Ki.
	// +optional
	// +kubebuilder:default="1Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Ki')) >= 0",message="sandbox.maxOutput must be at least 1Ki"
	MaxOutput resource.Quantity `json:"maxOutput,omitzero"`

	// maxModuleSize bounds the module an agent may send.
	// +optional
	// +kubebuilder:default="10Mi"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity('1Ki')) >= 0 && quantity(string(self)).compareTo(quantity('100Mi')) <= 0",message="sandbox.maxModuleSize must be between 1Ki and 100Mi"
	MaxModuleSize resource.Quantity `json:"maxModuleSize,omitzero"`

	// maxConcurrency is how many runs a server pod executes at once.
	// +optional
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	MaxConcurrency int32 `json:"maxConcurrency,omitempty"`
}

// NetworkSpec restricts traffic to and from the server.
type NetworkSpec struct {
	// allowedNamespaces may connect to the MCP port, by name. The
	// MemoryMCP's own namespace is always allowed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	AllowedNamespaces []string `json:"allowedNamespaces,omitempty"`

	// allowedPods, when set, narrows callers in the allowed namespaces to the
	// pods it selects.
	// +optional
	AllowedPods *metav1.LabelSelector `json:"allowedPods,omitempty"`

	// metricsNamespaces may scrape the metrics port; all namespaces when
	// empty.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	MetricsNamespaces []string `json:"metricsNamespaces,omitempty"`

	// extraEgress rules are added to the egress the server needs: DNS, the
	// Kubernetes API server, storage, audit sinks and the OIDC key set.
	// Embedding providers set with configure_embeddings need a rule here.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ExtraEgress []networkingv1.NetworkPolicyEgressRule `json:"extraEgress,omitempty"`
}

// MonitoringSpec configures Prometheus Operator objects. They are skipped,
// with a condition saying so, when their CRDs are absent.
type MonitoringSpec struct {
	// serviceMonitor scrapes the server's metrics.
	// +optional
	// +kubebuilder:default={}
	ServiceMonitor ServiceMonitorSpec `json:"serviceMonitor,omitzero"`

	// prometheusRule holds the security alerts.
	// +optional
	// +kubebuilder:default={}
	PrometheusRule PrometheusRuleSpec `json:"prometheusRule,omitzero"`
}

// ServiceMonitorSpec configures the ServiceMonitor.
type ServiceMonitorSpec struct {
	// enabled creates the ServiceMonitor.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// interval between scrapes.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Pattern=`^([0-9]+(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=16
	Interval string `json:"interval,omitempty"`

	// labels added to the ServiceMonitor, for a Prometheus selector.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Labels map[string]string `json:"labels,omitempty"`
}

// PrometheusRuleSpec configures the security alerts.
type PrometheusRuleSpec struct {
	// enabled creates the PrometheusRule.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// labels added to the PrometheusRule, for a Prometheus rule selector.
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Labels map[string]string `json:"labels,omitempty"`

	// thresholds of the alerts.
	// +optional
	// +kubebuilder:default={}
	Thresholds AlertThresholds `json:"thresholds,omitzero"`
}

// AlertThresholds are the levels at which security alerts fire.
type AlertThresholds struct {
	// failedAuthPerMinute fires HighFailedAuthRate above it.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=1
	FailedAuthPerMinute int32 `json:"failedAuthPerMinute,omitempty"`

	// rateLimitViolationsPerMinute fires RateLimitViolationSpike above it.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	RateLimitViolationsPerMinute int32 `json:"rateLimitViolationsPerMinute,omitempty"`

	// bulkOperationsPerHour fires UnusualBulkQueries above it.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=1
	BulkOperationsPerHour int32 `json:"bulkOperationsPerHour,omitempty"`

	// sandboxViolationsPerHour fires SandboxViolations above it.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	SandboxViolationsPerHour int32 `json:"sandboxViolationsPerHour,omitempty"`

	// auditShippingLagSeconds fires AuditShippingFailing above it.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=1
	AuditShippingLagSeconds int32 `json:"auditShippingLagSeconds,omitempty"`
}

// IncidentSpec is the emergency profile.
type IncidentSpec struct {
	// reason is recorded in the audit log and status when incident mode is
	// switched.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason,omitempty"`

	// rateLimits replace the normal rate limits.
	// +optional
	// +kubebuilder:default={}
	RateLimits IncidentRateLimits `json:"rateLimits,omitzero"`

	// disabledTools are disabled in addition to spec.disabledTools.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:default={"execute_agent_code","configure_embeddings"}
	DisabledTools []ToolName `json:"disabledTools,omitempty"`

	// auditLevel replaces audit.level.
	// +optional
	// +kubebuilder:default=debug
	AuditLevel AuditLevel `json:"auditLevel,omitempty"`

	// auditDestination replaces audit.destination.
	// +optional
	// +kubebuilder:default=both
	AuditDestination AuditDestination `json:"auditDestination,omitempty"`

	// rotateCredentials rotates every client token when incident mode turns
	// on; the previous tokens stay valid only for auth.rotation.gracePeriod.
	// +optional
	RotateCredentials bool `json:"rotateCredentials,omitempty"`

	// networkLockdown narrows ingress to network.allowedNamespaces and
	// allowedPods, dropping the MemoryMCP's own namespace and the metrics
	// scrapers outside metricsNamespaces.
	// +optional
	NetworkLockdown bool `json:"networkLockdown,omitempty"`
}

// IncidentRateLimits are the emergency token buckets.
type IncidentRateLimits struct {
	// read is the emergency bucket for read tools.
	// +optional
	// +kubebuilder:default={requestsPerSecond:10,burst:20}
	Read TokenBucket `json:"read,omitzero"`

	// write is the emergency bucket for write tools.
	// +optional
	// +kubebuilder:default={requestsPerSecond:1,burst:2}
	Write TokenBucket `json:"write,omitzero"`
}

// Condition types of a MemoryMCP.
const (
	// ConditionReady is true when the server runs the declared
	// configuration with every replica ready.
	ConditionReady = "Ready"
	// ConditionProgressing is true while a change rolls out.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is true when a child object cannot be applied or
	// pods fail.
	ConditionDegraded = "Degraded"
	// ConditionIncidentModeActive is true while the emergency profile is
	// applied.
	ConditionIncidentModeActive = "IncidentModeActive"
	// ConditionMonitoringReady tells whether the ServiceMonitor and
	// PrometheusRule exist, or why they were skipped.
	ConditionMonitoringReady = "MonitoringReady"
)

// MemoryMCPStatus is the observed state of a MemoryMCP.
type MemoryMCPStatus struct {
	// conditions are Ready, Progressing, Degraded, IncidentModeActive and
	// MonitoringReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of server pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of ready server pods. It is written even
	// when zero, so `kubectl get` shows 0 rather than nothing while pods
	// start.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// endpoint is the in-cluster URL of the MCP endpoint.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Endpoint string `json:"endpoint,omitempty"`

	// incidentSince is when the current incident began; unset while
	// incident mode is off.
	// +optional
	IncidentSince *metav1.Time `json:"incidentSince,omitempty"`

	// lastRotationTime is when client tokens last rotated.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// nextRotationTime is when client tokens rotate next.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// configGeneration is the runtime-config generation the operator
	// rendered; servers export the one they enforce as a metric.
	// +optional
	ConfigGeneration int64 `json:"configGeneration,omitempty"`

	// configHash is a digest of the rendered runtime config.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ConfigHash string `json:"configHash,omitempty"`
}

// MemoryMCP is a secured memory-MCP server.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mmcp,categories=all
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Incident",type=boolean,JSONPath=`.spec.incidentMode`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 40",message="metadata.name must be at most 40 characters, so the names of the objects derived from it stay valid"
type MemoryMCP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the server.
	// +optional
	// +kubebuilder:default={}
	Spec MemoryMCPSpec `json:"spec,omitzero"`

	// status is the observed state.
	// +optional
	Status MemoryMCPStatus `json:"status,omitzero"`
}

// MemoryMCPList is a list of MemoryMCP.
//
// +kubebuilder:object:root=true
type MemoryMCPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MemoryMCP `json:"items"`
}

// Package controllers reconciles MemoryMCP objects into a hardened memory
// server: its identity, runtime config, credentials, workload, network policy
// and monitoring objects.
//
// Every owned object is built by a pure function of the MemoryMCP (and, for
// credentials, of the token state read from the cluster), applied with
// server-side apply under one field manager and owned through an owner
// reference.
package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// FieldManager is the server-side apply field manager of every write the
// operator makes.
const FieldManager = "memory-mcp-operator"

// DefaultServerImage is the server image used when neither the MemoryMCP nor
// the manager's --server-image flag names one.
const DefaultServerImage = "ghcr.io/memorymcp/mcp-server:v0.1.0"

// Annotations and labels the operator reads and writes.
const (
	// AnnotationRotateCredentials on a MemoryMCP rotates every client token
	// once per new value.
	AnnotationRotateCredentials = "memorymcp.io/rotate-credentials"
	// AnnotationAppliedHash on a child is the digest of the object the
	// operator last applied; an equal digest means the apply can be skipped.
	AnnotationAppliedHash = "memorymcp.io/applied-hash"
	// AnnotationClient on a client Secret names the client.
	AnnotationClient = "memorymcp.io/client"
	// AnnotationRotatedAt on a client Secret is when its token was issued.
	AnnotationRotatedAt = "memorymcp.io/rotated-at"
	// AnnotationLastRotation on the credentials Secret is when every client
	// token last rotated.
	AnnotationLastRotation = "memorymcp.io/last-rotation"
	// AnnotationRotationHandled on the credentials Secret is the last value
	// of AnnotationRotateCredentials acted upon.
	AnnotationRotationHandled = "memorymcp.io/rotate-credentials-handled"
	// AnnotationIncidentRotated on the credentials Secret is the start of the
	// incident whose credential rotation already happened.
	AnnotationIncidentRotated = "memorymcp.io/incident-rotated"

	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"

	// ManagedByValue marks every object the operator writes; the manager's
	// cache only holds Secrets and ConfigMaps with this label.
	ManagedByValue = "memory-mcp-operator"

	serverName = "memory-mcp-server"
)

// Ports and paths of the server contract.
const (
	PortMCP     = 8080
	PortMetrics = 9090

	configMountDir      = "/etc/memory-mcp/config"
	credentialsMountDir = "/etc/memory-mcp/credentials"
	postgresMountDir    = "/etc/memory-mcp/postgres"
	secretsMountDir     = "/etc/memory-mcp/secrets"
	dataMountDir        = "/var/lib/memory-mcp/data"
	auditMountDir       = "/var/lib/memory-mcp/audit"
)

// Names of the objects derived from a MemoryMCP.
func serverAccountName(m *mcpv1alpha1.MemoryMCP) string { return m.Name + "-server" }
func configMapName(m *mcpv1alpha1.MemoryMCP) string     { return m.Name + "-runtime-config" }
func credentialsName(m *mcpv1alpha1.MemoryMCP) string   { return m.Name + "-credentials" }
func dataClaimName(m *mcpv1alpha1.MemoryMCP) string     { return m.Name + "-data" }

func clientSecretName(m *mcpv1alpha1.MemoryMCP, client string) string {
	return m.Name + "-client-" + client
}

// selectorLabels select the server pods; they never change, as a Deployment
// selector is immutable.
func selectorLabels(m *mcpv1alpha1.MemoryMCP) map[string]string {
	return map[string]string{LabelName: serverName, LabelInstance: m.Name}
}

// objectMeta is the metadata every child shares.
func objectMeta(m *mcpv1alpha1.MemoryMCP, name, component string) metav1.ObjectMeta {
	labels := selectorLabels(m)
	labels[LabelComponent] = component
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelPartOf] = "memory-mcp"
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       m.Namespace,
		Labels:          labels,
		OwnerReferences: []metav1.OwnerReference{ownerReference(m)},
	}
}

func ownerReference(m *mcpv1alpha1.MemoryMCP) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         mcpv1alpha1.GroupVersion.String(),
		Kind:               "MemoryMCP",
		Name:               m.Name,
		UID:                m.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// desiredReplicas is spec.replicas with its default.
func desiredReplicas(m *mcpv1alpha1.MemoryMCP) int32 {
	if m.Spec.Replicas == nil {
		return 1
	}
	return *m.Spec.Replicas
}

func storageType(m *mcpv1alpha1.MemoryMCP) mcpv1alpha1.StorageType {
	if m.Spec.Storage.Type == "" {
		return mcpv1alpha1.StorageSQLite
	}
	return m.Spec.Storage.Type
}

func enabled(b *bool) bool { return b == nil || *b }

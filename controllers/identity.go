package controllers

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// buildServiceAccount is the server pods' identity. Its token is mounted:
// the server watches its ConfigMap and credentials Secret through the API.
func buildServiceAccount(m *mcpv1alpha1.MemoryMCP) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(m, serverAccountName(m), "server"),
		AutomountServiceAccountToken: ptr.To(true),
	}
}

// buildRole lets the server read exactly its two objects, by name.
func buildRole(m *mcpv1alpha1.MemoryMCP) *rbacv1.Role {
	verbs := []string{"get", "list", "watch"}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: objectMeta(m, serverAccountName(m), "server"),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"},
				ResourceNames: []string{configMapName(m)}, Verbs: verbs},
			{APIGroups: []string{""}, Resources: []string{"secrets"},
				ResourceNames: []string{credentialsName(m)}, Verbs: verbs},
		},
	}
}

func buildRoleBinding(m *mcpv1alpha1.MemoryMCP) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: objectMeta(m, serverAccountName(m), "server"),
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName, Kind: "Role", Name: serverAccountName(m),
		},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: serverAccountName(m), Namespace: m.Namespace,
		}},
	}
}

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// buildService exposes the MCP endpoint and the metrics port. The port
// names are what the ServiceMonitor and the NetworkPolicy refer to.
func buildService(m *mcpv1alpha1.MemoryMCP) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(m, m.Name, "server"),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(m),
			Ports: []corev1.ServicePort{
				{Name: "mcp", Port: PortMCP, TargetPort: intstr.FromString("mcp"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: PortMetrics, TargetPort: intstr.FromString("metrics"),
					Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

// buildPodDisruptionBudget keeps all but one server pod through voluntary
// disruptions. It exists only with more than one replica: with one, a
// budget would block node drains forever.
func buildPodDisruptionBudget(m *mcpv1alpha1.MemoryMCP) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: policyv1.SchemeGroupVersion.String(), Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(m, m.Name, "server"),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(m)},
		},
	}
}

// needsPodDisruptionBudget tells whether buildPodDisruptionBudget applies.
func needsPodDisruptionBudget(m *mcpv1alpha1.MemoryMCP) bool {
	return desiredReplicas(m) > 1
}

// buildDataClaim is the SQLite volume. The operator never deletes it on a
// spec change (switching to Postgres leaves it in place); it goes with the
// MemoryMCP through its owner reference.
func buildDataClaim(m *mcpv1alpha1.MemoryMCP) *corev1.PersistentVolumeClaim {
	size := m.Spec.Storage.SQLite.Size
	if size.IsZero() {
		size = defaultDataSize
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: objectMeta(m, dataClaimName(m), "data"),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: m.Spec.Storage.SQLite.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
		},
	}
}

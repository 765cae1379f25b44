package controllers

import (
	"fmt"
	"path"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

var (
	defaultDataSize  = resource.MustParse("1Gi")
	defaultResources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
)

// nonRootUID is the distroless "nonroot" user of the server image.
const nonRootUID = 65532

// buildDeployment runs the server pods.
//
// Note: the pod template holds only what needs a restart to change (image,
// storage flags and volumes, resources, sink secret mounts). The runtime
// config and credentials reach running pods through the API and the mounted
// files, so no digest of them is placed in the template: an incident flip or
// a rotation never rolls pods.
func buildDeployment(m *mcpv1alpha1.MemoryMCP, image string) *appsv1.Deployment {
	podLabels := selectorLabels(m)
	podLabels[LabelComponent] = "server"
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: appsv1.SchemeGroupVersion.String(), Kind: "Deployment"},
		ObjectMeta: objectMeta(m, m.Name, "server"),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(desiredReplicas(m)),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(m)},
			Strategy: deploymentStrategy(m),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       buildPodSpec(m, image),
			},
		},
	}
}

// deploymentStrategy is Recreate for SQLite, one writer on a ReadWriteOnce
// volume, so the old pod is gone before the new one mounts it; a rolling
// update otherwise.
//
// Note: the rolling update's parameters are the API server's defaults, set
// here so the operator owns them: a field it does not own would outlive a
// switch to Recreate, and the API server refuses rollingUpdate on Recreate.
func deploymentStrategy(m *mcpv1alpha1.MemoryMCP) appsv1.DeploymentStrategy {
	if storageType(m) == mcpv1alpha1.StorageSQLite {
		return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr.To(intstr.FromString("25%")),
			MaxSurge:       ptr.To(intstr.FromString("25%")),
		},
	}
}

func buildPodSpec(m *mcpv1alpha1.MemoryMCP, image string) corev1.PodSpec {
	if m.Spec.Image != "" {
		image = m.Spec.Image
	}
	mounts, volumes := serverVolumes(m)
	return corev1.PodSpec{
		ServiceAccountName:           serverAccountName(m),
		AutomountServiceAccountToken: ptr.To(true),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](nonRootUID),
			RunAsGroup:     ptr.To[int64](nonRootUID),
			FSGroup:        ptr.To[int64](nonRootUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:            "server",
			Image:           image,
			ImagePullPolicy: m.Spec.ImagePullPolicy,
			Args:            serverArgs(m),
			Env: []corev1.EnvVar{{
				Name: "POD_NAMESPACE",
				ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
				},
			}},
			Ports: []corev1.ContainerPort{
				{Name: "mcp", ContainerPort: PortMCP, Protocol: corev1.ProtocolTCP},
				{Name: "metrics", ContainerPort: PortMetrics, Protocol: corev1.ProtocolTCP},
			},
			LivenessProbe:  httpProbe("/healthz", 3),
			ReadinessProbe: httpProbe("/readyz", 1),
			Resources:      serverResources(m),
			VolumeMounts:   mounts,
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				ReadOnlyRootFilesystem:   ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
		Volumes: volumes,
	}
}

// serverArgs are the static settings: addresses, the objects to watch, and
// storage.
func serverArgs(m *mcpv1alpha1.MemoryMCP) []string {
	args := []string{
		fmt.Sprintf("--listen-addr=:%d", PortMCP),
		fmt.Sprintf("--metrics-addr=:%d", PortMetrics),
		"--namespace=$(POD_NAMESPACE)",
		"--config-map=" + configMapName(m),
		"--config-file=" + path.Join(configMountDir, runtimeconfig.ConfigKey),
		"--credentials-secret=" + credentialsName(m),
		"--credentials-file=" + path.Join(credentialsMountDir, runtimeconfig.CredentialsKey),
	}
	if storageType(m) == mcpv1alpha1.StoragePostgres && m.Spec.Storage.Postgres != nil {
		key := secretKey(m.Spec.Storage.Postgres.URISecret)
		return append(args, "--storage=postgres", "--postgres-url-file="+path.Join(postgresMountDir, key))
	}
	return append(args, "--storage=sqlite", "--sqlite-path="+path.Join(dataMountDir, "memory.db"))
}

func httpProbe(path string, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("metrics")},
		},
		PeriodSeconds:    10,
		TimeoutSeconds:   2,
		FailureThreshold: failures,
	}
}

// serverResources is spec.resources, each missing request and limit taken
// from the defaults.
func serverResources(m *mcpv1alpha1.MemoryMCP) corev1.ResourceRequirements {
	out := *defaultResources.DeepCopy()
	if m.Spec.Resources == nil {
		return out
	}
	for name, q := range m.Spec.Resources.Requests {
		out.Requests[name] = q
	}
	for name, q := range m.Spec.Resources.Limits {
		out.Limits[name] = q
	}
	// A request above the default limit would make the pod invalid.
	for name, req := range out.Requests {
		if lim, ok := out.Limits[name]; ok && req.Cmp(lim) > 0 {
			if _, set := m.Spec.Resources.Limits[name]; !set {
				out.Limits[name] = req
			}
		}
	}
	return out
}

// serverVolumes lists the mounts of the server container and their volumes.
func serverVolumes(m *mcpv1alpha1.MemoryMCP) ([]corev1.VolumeMount, []corev1.Volume) {
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: configMountDir, ReadOnly: true},
		{Name: "credentials", MountPath: credentialsMountDir, ReadOnly: true},
		{Name: "audit", MountPath: auditMountDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configMapName(m)},
		}}},
		{Name: "credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: credentialsName(m),
		}}},
		{Name: "audit", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: auditVolumeSize(m),
		}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("64Mi")),
		}}},
	}

	if storageType(m) == mcpv1alpha1.StoragePostgres && m.Spec.Storage.Postgres != nil {
		ref := m.Spec.Storage.Postgres.URISecret
		mounts = append(mounts, corev1.VolumeMount{Name: "postgres", MountPath: postgresMountDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "postgres", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{
				SecretName: ref.Name,
				Items:      []corev1.KeyToPath{{Key: secretKey(ref), Path: secretKey(ref)}},
			},
		}})
	} else {
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: dataMountDir})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: dataClaimName(m)},
		}})
	}

	for i, name := range sinkSecretNames(m) {
		vol := fmt.Sprintf("sink-secret-%d", i)
		mounts = append(mounts, corev1.VolumeMount{
			Name: vol, MountPath: path.Join(secretsMountDir, name), ReadOnly: true,
		})
		volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: name},
		}})
	}
	return mounts, volumes
}

// auditVolumeSize bounds the audit emptyDir: the spool plus the rotated
// files, so a sink outage cannot fill the node's disk.
func auditVolumeSize(m *mcpv1alpha1.MemoryMCP) *resource.Quantity {
	rc := buildAudit(&m.Spec.Audit, runtimeconfig.Default().Audit)
	files := int64(rc.File.MaxSizeMiB) * int64(rc.File.MaxBackups+1) << 20
	return resource.NewQuantity(rc.Spool.MaxBytes+files, resource.BinarySI)
}

// sinkSecretNames are the Secrets the audit sinks reference, sorted, each
// mounted whole under secretsMountDir/<name>.
func sinkSecretNames(m *mcpv1alpha1.MemoryMCP) []string {
	var names []string
	addTLS := func(t *mcpv1alpha1.TLSSpec) {
		if t == nil {
			return
		}
		if t.CASecret != nil {
			names = append(names, t.CASecret.Name)
		}
		if t.ClientCertSecret != "" {
			names = append(names, t.ClientCertSecret)
		}
	}
	for _, s := range m.Spec.Audit.Sinks {
		if s.Syslog != nil {
			addTLS(s.Syslog.TLS)
		}
		if s.HTTP != nil {
			addTLS(s.HTTP.TLS)
			if s.HTTP.AuthorizationSecret != nil {
				names = append(names, s.HTTP.AuthorizationSecret.Name)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

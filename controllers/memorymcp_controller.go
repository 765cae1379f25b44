package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// MemoryMCPReconciler turns a MemoryMCP into its server deployment.
type MemoryMCPReconciler struct {
	// Client reads from the manager's cache and writes to the API.
	Client client.Client
	// APIReader reads kinds the manager does not watch.
	APIReader client.Reader
	// Recorder emits Events on the MemoryMCP.
	Recorder events.EventRecorder
	// Clock tells the time of rotations and transitions; tests inject a
	// fake one.
	Clock clock.PassiveClock
	// ServerImage runs when the MemoryMCP names no image.
	ServerImage string
	// NewToken issues bearer tokens; runtimeconfig.NewToken when nil.
	NewToken func() (string, error)
	// MaxConcurrentReconciles bounds parallel reconciles; 1 when zero.
	MaxConcurrentReconciles int

	// apiService holds the kubernetes Service's addresses once read.
	apiService atomic.Pointer[egressTarget]
	// apiServerFallback is set while the API server addresses are unknown.
	apiServerFallback atomic.Bool
}

// scope carries one reconcile's object and findings between phases.
type scope struct {
	m    *mcpv1alpha1.MemoryMCP
	orig *mcpv1alpha1.MemoryMCP
	now  time.Time
	ap   *applier

	incidentSince *time.Time
	// config is the runtime config the ConfigMap holds; nil when this
	// reconcile could not render or apply it.
	config        *renderedConfig
	credentials   *credentialState
	rotation      string
	deployment    *appsv1.Deployment
	monitoringCRD bool
	monitoringErr error
	applyErrs     []error
	requeueAt     time.Time
}

// +kubebuilder:rbac:groups=memorymcp.io,resources=memorymcps,verbs=get;list;watch
// +kubebuilder:rbac:groups=memorymcp.io,resources=memorymcps/status,verbs=get;patch
// +kubebuilder:rbac:groups=memorymcp.io,resources=memorymcps/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=serviceaccounts;services;persistentvolumeclaims,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors;prometheusrules,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// Reconcile runs the phases in order and patches the status once, at the
// end, when it changed.
func (r *MemoryMCPReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	m := &mcpv1alpha1.MemoryMCP{}
	if err := r.Client.Get(ctx, req.NamespacedName, m); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !m.DeletionTimestamp.IsZero() {
		// Owner references take the children with it.
		return ctrl.Result{}, nil
	}
	log := log.FromContext(ctx).WithValues("memorymcp", klog.KObj(m))
	ctx = ctrl.LoggerInto(ctx, log)

	s := &scope{
		m:    m,
		orig: m.DeepCopy(),
		now:  r.Clock.Now().UTC().Truncate(time.Second),
		ap:   &applier{cached: r.Client, live: r.APIReader},
	}
	defer func() {
		if err := r.patchStatus(ctx, s); err != nil {
			retErr = errors.Join(retErr, err)
		}
	}()

	phases := []func(context.Context, *scope) error{
		r.reconcileIdentity,
		r.reconcileRuntimeConfig,
		r.reconcileCredentials,
		r.reconcileWorkload,
		r.reconcileNetworkPolicy,
		r.reconcileMonitoring,
	}
	// Note: a failing phase does not stop the later ones, so a broken child
	// never holds back an incident profile or a rotation.
	for _, phase := range phases {
		if err := phase(ctx, s); err != nil {
			s.applyErrs = append(s.applyErrs, err)
		}
	}
	if err := errors.Join(s.applyErrs...); err != nil {
		return ctrl.Result{}, err
	}
	if s.requeueAt.IsZero() {
		return ctrl.Result{}, nil
	}
	after := max(s.requeueAt.Sub(s.now), time.Second)
	log.V(1).Info("credentials change scheduled", "after", after)
	return ctrl.Result{RequeueAfter: after}, nil
}

func (r *MemoryMCPReconciler) reconcileIdentity(ctx context.Context, s *scope) error {
	return applyAll(ctx, s.ap,
		buildServiceAccount(s.m), buildRole(s.m), buildRoleBinding(s.m))
}

// reconcileRuntimeConfig renders the effective runtime config. It runs
// before everything else that can fail slowly, so an incident profile
// reaches the servers in the reconcile that sees the flip.
func (r *MemoryMCPReconciler) reconcileRuntimeConfig(ctx context.Context, s *scope) error {
	s.incidentSince = incidentSince(s.m, s.now)
	rc, err := renderRuntimeConfig(s.m)
	if err != nil {
		return err
	}
	res, err := s.ap.apply(ctx, buildConfigMap(s.m, rc), true)
	if err != nil {
		return err
	}
	s.config = rc
	if res == applied {
		log.FromContext(ctx).Info("runtime config applied",
			"configHash", rc.Hash, "incidentMode", rc.Config.IncidentMode())
	}
	return nil
}

func (r *MemoryMCPReconciler) reconcileWorkload(ctx context.Context, s *scope) error {
	var errs []error
	if storageType(s.m) == mcpv1alpha1.StorageSQLite {
		errs = append(errs, applyAll(ctx, s.ap, buildDataClaim(s.m)))
	}
	image := r.ServerImage
	if image == "" {
		image = DefaultServerImage
	}
	errs = append(errs, applyAll(ctx, s.ap, buildDeployment(s.m, image), buildService(s.m)))
	if needsPodDisruptionBudget(s.m) {
		errs = append(errs, applyAll(ctx, s.ap, buildPodDisruptionBudget(s.m)))
	} else if _, err := s.ap.deleteIfPresent(ctx, buildPodDisruptionBudget(s.m), true); err != nil {
		errs = append(errs, err)
	}

	d := &appsv1.Deployment{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.m.Namespace, Name: s.m.Name}, d); err == nil {
		s.deployment = d
	} else if client.IgnoreNotFound(err) != nil {
		errs = append(errs, fmt.Errorf("reading deployment: %w", err))
	}
	return errors.Join(errs...)
}

func (r *MemoryMCPReconciler) reconcileNetworkPolicy(ctx context.Context, s *scope) error {
	return applyAll(ctx, s.ap, buildNetworkPolicy(s.m, r.apiServerTargets(ctx)))
}

// Monitoring kinds, found through the RESTMapper at reconcile time so the
// Prometheus Operator may be installed after the operator.
var (
	serviceMonitorKind = schema.GroupKind{Group: monitoringv1.SchemeGroupVersion.Group, Kind: "ServiceMonitor"}
	prometheusRuleKind = schema.GroupKind{Group: monitoringv1.SchemeGroupVersion.Group, Kind: "PrometheusRule"}
)

func (r *MemoryMCPReconciler) reconcileMonitoring(ctx context.Context, s *scope) error {
	installed, err := r.monitoringInstalled()
	if err != nil {
		s.monitoringErr = err
		return err
	}
	s.monitoringCRD = installed
	if !installed {
		log.FromContext(ctx).V(1).Info("prometheus operator CRDs absent, monitoring skipped")
		return nil
	}
	var errs []error
	for _, o := range []struct {
		on  bool
		obj client.Object
	}{
		{enabled(s.m.Spec.Monitoring.ServiceMonitor.Enabled), buildServiceMonitor(s.m)},
		{enabled(s.m.Spec.Monitoring.PrometheusRule.Enabled), buildPrometheusRule(s.m)},
	} {
		var err error
		if o.on {
			_, err = s.ap.apply(ctx, o.obj, false)
		} else {
			_, err = s.ap.deleteIfPresent(ctx, o.obj, false)
		}
		errs = append(errs, err)
	}
	s.monitoringErr = errors.Join(errs...)
	return s.monitoringErr
}

func (r *MemoryMCPReconciler) monitoringInstalled() (bool, error) {
	for _, gk := range []schema.GroupKind{serviceMonitorKind, prometheusRuleKind} {
		_, err := r.Client.RESTMapper().RESTMapping(gk, monitoringv1.SchemeGroupVersion.Version)
		if meta.IsNoMatchError(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("discovering %s: %w", gk, err)
		}
	}
	return true, nil
}

// applyAll applies objects of watched kinds, collecting every error.
func applyAll(ctx context.Context, ap *applier, objs ...client.Object) error {
	var errs []error
	for _, obj := range objs {
		if _, err := ap.apply(ctx, obj, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetupWithManager registers the controller. The MemoryMCP is watched for
// spec and annotation changes only, so the controller's own status patches
// do not wake it. The Prometheus Operator CRDs are watched by their
// metadata, so installing them later brings every MemoryMCP its
// ServiceMonitor and PrometheusRule without waiting for another change.
// The API server's EndpointSlices are watched too, so every NetworkPolicy
// follows the API server's addresses.
func (r *MemoryMCPReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.NewToken == nil {
		r.NewToken = runtimeconfig.NewToken
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&mcpv1alpha1.MemoryMCP{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&rbacv1.Role{}).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.Service{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		WatchesMetadata(&apiextensionsv1.CustomResourceDefinition{},
			handler.EnqueueRequestsFromMapFunc(r.everyMemoryMCP),
			builder.WithPredicates(predicate.NewPredicateFuncs(isMonitoringCRD))).
		Watches(&discoveryv1.EndpointSlice{},
			handler.EnqueueRequestsFromMapFunc(r.everyMemoryMCP),
			builder.WithPredicates(predicate.NewPredicateFuncs(isAPIServerSlice))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1)}).
		Named("memorymcp").
		Complete(r)
}

// isMonitoringCRD tells whether obj is the CRD of a kind the monitoring
// phase applies.
func isMonitoringCRD(obj client.Object) bool {
	switch obj.GetName() {
	case "servicemonitors." + serviceMonitorKind.Group, "prometheusrules." + prometheusRuleKind.Group:
		return true
	}
	return false
}

// isAPIServerSlice tells whether obj is an EndpointSlice of the kubernetes
// Service.
func isAPIServerSlice(obj client.Object) bool {
	return obj.GetNamespace() == apiServiceNamespace &&
		obj.GetLabels()[discoveryv1.LabelServiceName] == apiServiceName
}

// everyMemoryMCP requests a reconcile of every MemoryMCP in the cache.
func (r *MemoryMCPReconciler) everyMemoryMCP(ctx context.Context, _ client.Object) []reconcile.Request {
	var list mcpv1alpha1.MemoryMCPList
	if err := r.Client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "listing MemoryMCPs to reconcile after a change they all depend on")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// newMemoryMCP creates a namespace and a MemoryMCP in it with two clients,
// leaving every other field to the API server's defaults.
func newMemoryMCP(t *testing.T, mutate func(*mcpv1alpha1.MemoryMCP)) *mcpv1alpha1.MemoryMCP {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "mmcp-"}}
	if err := env.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	m := &mcpv1alpha1.MemoryMCP{ObjectMeta: metav1.ObjectMeta{Name: "memory", Namespace: ns.Name}}
	m.Spec.Auth.Clients = []mcpv1alpha1.ClientSpec{
		{Name: "planner", Scopes: []mcpv1alpha1.Scope{mcpv1alpha1.ScopeRead, mcpv1alpha1.ScopeWrite}},
		{Name: "viewer"},
	}
	if mutate != nil {
		mutate(m)
	}
	if err := env.client.Create(ctx, withoutZeroFields(t, m)); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, m)
	return m
}

// withoutZeroFields leaves unset fields out of the request, as kubectl
// would, so the API server applies its defaults: the Go types would send
// zero values for the required fields of defaulted structs.
func withoutZeroFields(t *testing.T, m *mcpv1alpha1.MemoryMCP) *unstructured.Unstructured {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(m)
	if err != nil {
		t.Fatal(err)
	}
	dropZero(obj)
	u := &unstructured.Unstructured{Object: obj}
	u.SetGroupVersionKind(mcpv1alpha1.GroupVersion.WithKind("MemoryMCP"))
	return u
}

func dropZero(m map[string]any) {
	for k, v := range m {
		switch val := v.(type) {
		case map[string]any:
			dropZero(val)
			if len(val) == 0 {
				delete(m, k)
			}
		case []any:
			for _, item := range val {
				if mm, ok := item.(map[string]any); ok {
					dropZero(mm)
				}
			}
		case nil:
			delete(m, k)
		default:
			if v == "" || v == int64(0) || v == false || v == "0s" || v == "0" {
				delete(m, k)
			}
		}
	}
}

// waitSettled waits until the status describes the current generation.
func waitSettled(t *testing.T, m *mcpv1alpha1.MemoryMCP) {
	t.Helper()
	eventually(t, "status of the current generation", func(ctx context.Context) (bool, error) {
		if err := env.client.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, err
		}
		return m.Status.ObservedGeneration == m.Generation && m.Status.ConfigGeneration == m.Generation, nil
	})
}

func get(t *testing.T, m *mcpv1alpha1.MemoryMCP, name string, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s", obj, name), func(ctx context.Context) (bool, error) {
		return true, env.client.Get(ctx, types.NamespacedName{Namespace: m.Namespace, Name: name}, obj)
	})
}

// poke changes an unrelated annotation so the controller reconciles.
func poke(t *testing.T, m *mcpv1alpha1.MemoryMCP) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"test.memorymcp.io/poke":"%d"}}}`, time.Now().UnixNano())
	if err := env.client.Patch(context.Background(), m, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

func mergePatch(t *testing.T, m *mcpv1alpha1.MemoryMCP, patch string) {
	t.Helper()
	if err := env.client.Patch(context.Background(), m, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

func checkOwned(t *testing.T, m *mcpv1alpha1.MemoryMCP, obj client.Object) {
	t.Helper()
	if !metav1.IsControlledBy(obj, m) {
		t.Errorf("%T %s is not controlled by the MemoryMCP: %+v", obj, obj.GetName(), obj.GetOwnerReferences())
	}
}

func TestOwnedObjects(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, nil)

	sa, role, binding := &corev1.ServiceAccount{}, &rbacv1.Role{}, &rbacv1.RoleBinding{}
	get(t, m, "memory-server", sa)
	get(t, m, "memory-server", role)
	get(t, m, "memory-server", binding)
	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"memory-runtime-config"},
			Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"memory-credentials"},
			Verbs: []string{"get", "list", "watch"}},
	}
	if diff := cmp.Diff(wantRules, role.Rules); diff != "" {
		t.Errorf("role rules (-want +got):\n%s", diff)
	}

	cm := &corev1.ConfigMap{}
	get(t, m, "memory-runtime-config", cm)
	rc, err := runtimeconfig.Parse([]byte(cm.Data[runtimeconfig.ConfigKey]))
	if err != nil {
		t.Fatalf("runtime config does not parse: %v", err)
	}
	if rc.Generation != m.Generation || rc.IncidentMode() || m.Status.ConfigHash != runtimeconfig.Hash(
		[]byte(cm.Data[runtimeconfig.ConfigKey])) {
		t.Errorf("runtime config generation %d incident %v, status hash %s", rc.Generation, rc.IncidentMode(),
			m.Status.ConfigHash)
	}

	creds := &corev1.Secret{}
	get(t, m, "memory-credentials", creds)
	doc, err := runtimeconfig.ParseCredentials(creds.Data[runtimeconfig.CredentialsKey])
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []string{"planner", "viewer"} {
		sec := &corev1.Secret{}
		get(t, m, "memory-client-"+c, sec)
		checkOwned(t, m, sec)
		tok := string(sec.Data[runtimeconfig.ClientTokenKey])
		if !strings.HasPrefix(tok, runtimeconfig.TokenPrefix) || sec.Annotations[AnnotationClient] != c {
			t.Errorf("client secret %s: token %q annotations %v", c, tok[:5], sec.Annotations)
		}
		if doc.Clients[i].Name != c || doc.Clients[i].Tokens[0].SHA256 != runtimeconfig.HashToken(tok) {
			t.Errorf("credentials of %s do not hold the hash of its token: %+v", c, doc.Clients[i])
		}
		if strings.Contains(string(creds.Data[runtimeconfig.CredentialsKey]), tok) {
			t.Error("the server's credentials must hold hashes only")
		}
	}

	d, svc, np, pvc := &appsv1.Deployment{}, &corev1.Service{}, &networkingv1.NetworkPolicy{},
		&corev1.PersistentVolumeClaim{}
	get(t, m, "memory", d)
	get(t, m, "memory", svc)
	get(t, m, "memory", np)
	get(t, m, "memory-data", pvc)
	for _, obj := range []client.Object{sa, role, binding, cm, creds, d, svc, np, pvc} {
		checkOwned(t, m, obj)
	}
	c := d.Spec.Template.Spec.Containers[0]
	for _, arg := range []string{"--config-map=memory-runtime-config", "--credentials-secret=memory-credentials",
		"--storage=sqlite", "--sqlite-path=/var/lib/memory-mcp/data/memory.db"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("container args %v lack %s", c.Args, arg)
		}
	}
	if c.Image != DefaultServerImage || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("image %s, security context %+v", c.Image, c.SecurityContext)
	}
	if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Name != "mcp" || svc.Spec.Ports[1].Port != PortMetrics {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
	err = env.client.Get(context.Background(), types.NamespacedName{Namespace: m.Namespace, Name: "memory"},
		&policyv1.PodDisruptionBudget{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("one replica must have no PodDisruptionBudget, got %v", err)
	}

	if m.Status.Endpoint != "http://memory."+m.Namespace+".svc:8080/mcp" || m.Status.NextRotationTime == nil {
		t.Errorf("status endpoint %q next rotation %v", m.Status.Endpoint, m.Status.NextRotationTime)
	}
	mon := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionMonitoringReady)
	if mon == nil || mon.Status != metav1.ConditionFalse || mon.Reason != ReasonPrometheusOperatorMissing {
		t.Errorf("MonitoringReady = %+v, want False/%s", mon, ReasonPrometheusOperatorMissing)
	}
	waitEvent(t, m, "MonitoringSkipped")
}

// TestNetworkPolicyNamesAPIServer checks that the API egress names the
// kubernetes Service's address and the API server endpoints, and follows a
// change of the endpoints.
func TestNetworkPolicyNamesAPIServer(t *testing.T) {
	needEnv(t)
	ctx := context.Background()
	svc := &corev1.Service{}
	if err := env.client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, svc); err != nil {
		t.Fatal(err)
	}
	var list discoveryv1.EndpointSliceList
	if err := env.client.List(ctx, &list, client.InNamespace("default"),
		client.MatchingLabels{discoveryv1.LabelServiceName: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]int32{hostCIDR(svc.Spec.ClusterIP): {443}}
	for _, s := range list.Items {
		for _, ep := range s.Endpoints {
			want[hostCIDR(ep.Addresses[0])] = []int32{*s.Ports[0].Port}
		}
	}
	if len(want) < 2 {
		t.Fatalf("the control plane has no API server endpoints: %+v", list.Items)
	}
	t.Logf("API server peers: %v", want)
	m := newMemoryMCP(t, nil)
	waitAPIEgress(t, m, want)

	extra := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes-test-extra",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.44"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](6443)}},
	}
	if err := env.client.Create(ctx, extra); err != nil {
		t.Fatal(err)
	}
	// Removed on failure too: every later NetworkPolicy would name it.
	t.Cleanup(func() { _ = client.IgnoreNotFound(env.client.Delete(context.Background(), extra)) })
	waitAPIEgress(t, m, mapWith(want, "192.0.2.44/32", 6443))
	if err := env.client.Delete(ctx, extra); err != nil {
		t.Fatal(err)
	}
	waitAPIEgress(t, m, want)
}

func mapWith(m map[string][]int32, k string, p int32) map[string][]int32 {
	out := maps.Clone(m)
	out[k] = []int32{p}
	return out
}

// waitAPIEgress waits until the NetworkPolicy's ipBlock egress peers and
// their ports are want, and no egress rule admits any destination.
func waitAPIEgress(t *testing.T, m *mcpv1alpha1.MemoryMCP, want map[string][]int32) {
	t.Helper()
	eventually(t, "API server egress", func(ctx context.Context) (bool, error) {
		np := &networkingv1.NetworkPolicy{}
		key := client.ObjectKey{Namespace: m.Namespace, Name: m.Name}
		if err := env.client.Get(ctx, key, np); err != nil {
			return false, err
		}
		got := map[string][]int32{}
		for _, r := range np.Spec.Egress {
			if len(r.To) == 0 {
				got["any"] = append(got["any"], r.Ports[0].Port.IntVal)
			}
			for _, peer := range r.To {
				if peer.IPBlock != nil {
					got[peer.IPBlock.CIDR] = []int32{r.Ports[0].Port.IntVal}
				}
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			return false, fmt.Errorf("egress peers (-want +got):\n%s", diff)
		}
		return true, nil
	})
}

func waitEvent(t *testing.T, m *mcpv1alpha1.MemoryMCP, reason string) {
	t.Helper()
	eventually(t, "event "+reason, func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := env.client.List(ctx, list, client.InNamespace(m.Namespace)); err != nil {
			return false, err
		}
		return slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool { return e.Reason == reason }), nil
	})
}

func templateDigest(t *testing.T, m *mcpv1alpha1.MemoryMCP) string {
	t.Helper()
	d := &appsv1.Deployment{}
	get(t, m, m.Name, d)
	b, err := json.Marshal(d.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

func TestIncidentModeFlip(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.Network.AllowedNamespaces = []string{"agents"}
		m.Spec.Incident.NetworkLockdown = true
		m.Spec.Incident.Reason = "credential leak"
	})
	before := templateDigest(t, m)

	mergePatch(t, m, `{"spec":{"incidentMode":true}}`)
	waitSettled(t, m)
	cm := &corev1.ConfigMap{}
	get(t, m, "memory-runtime-config", cm)
	rc, err := runtimeconfig.Parse([]byte(cm.Data[runtimeconfig.ConfigKey]))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Generation != m.Generation || !rc.IncidentMode() || rc.RateLimits.Write.RequestsPerSecond != 1 ||
		!slices.Contains(rc.DisabledTools, "execute_agent_code") || rc.Audit.Level != "debug" {
		t.Errorf("runtime config of the incident generation: %+v", rc)
	}
	c := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionIncidentModeActive)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonIncidentDeclared ||
		!strings.Contains(c.Message, "credential leak") || m.Status.IncidentSince == nil ||
		!c.LastTransitionTime.Equal(m.Status.IncidentSince) {
		t.Errorf("IncidentModeActive = %+v, since %v", c, m.Status.IncidentSince)
	}
	waitEvent(t, m, "IncidentModeActivated")
	np := &networkingv1.NetworkPolicy{}
	get(t, m, "memory", np)
	if vals := np.Spec.Ingress[0].From[0].NamespaceSelector.MatchExpressions[0].Values; !cmp.Equal(vals,
		[]string{"agents"}) {
		t.Errorf("locked-down MCP ingress from %v, want only the allowed list", vals)
	}
	if after := templateDigest(t, m); after != before {
		t.Error("an incident flip must leave the pod template alone")
	}

	mergePatch(t, m, `{"spec":{"incidentMode":false}}`)
	waitSettled(t, m)
	get(t, m, "memory-runtime-config", cm)
	if rc, _ := runtimeconfig.Parse([]byte(cm.Data[runtimeconfig.ConfigKey])); rc == nil || rc.IncidentMode() ||
		rc.RateLimits.Write.RequestsPerSecond != 10 {
		t.Errorf("normal profile not restored: %+v", rc)
	}
	waitEvent(t, m, "IncidentModeDeactivated")
	if err := env.client.Get(context.Background(), client.ObjectKeyFromObject(m), m); err != nil {
		t.Fatal(err)
	}
	if m.Status.IncidentSince != nil {
		t.Errorf("incidentSince %v after the incident, want it cleared", m.Status.IncidentSince)
	}
	get(t, m, "memory", np)
	if vals := np.Spec.Ingress[0].From[0].NamespaceSelector.MatchExpressions[0].Values; !cmp.Equal(vals,
		sortedUnique([]string{"agents", m.Namespace})) {
		t.Errorf("MCP ingress from %v after the incident, want the own namespace back", vals)
	}
	if after := templateDigest(t, m); after != before {
		t.Error("leaving incident mode must leave the pod template alone")
	}
}

// tokens returns the current token of planner and the hashes the server
// accepts for it.
func tokens(t *testing.T, m *mcpv1alpha1.MemoryMCP) (string, []runtimeconfig.TokenHash) {
	t.Helper()
	sec, creds := &corev1.Secret{}, &corev1.Secret{}
	get(t, m, "memory-client-planner", sec)
	get(t, m, "memory-credentials", creds)
	doc, err := runtimeconfig.ParseCredentials(creds.Data[runtimeconfig.CredentialsKey])
	if err != nil {
		t.Fatal(err)
	}
	return string(sec.Data[runtimeconfig.ClientTokenKey]), doc.Clients[0].Tokens
}

// accepts tells whether the server would accept token at when.
func accepts(hashes []runtimeconfig.TokenHash, token string, when time.Time) bool {
	return slices.ContainsFunc(hashes, func(h runtimeconfig.TokenHash) bool {
		return h.SHA256 == runtimeconfig.HashToken(token) && h.ValidAt(when)
	})
}

func waitToken(t *testing.T, m *mcpv1alpha1.MemoryMCP, differentFrom string) (string, []runtimeconfig.TokenHash) {
	t.Helper()
	var tok string
	var hashes []runtimeconfig.TokenHash
	eventually(t, "a rotated token", func(context.Context) (bool, error) {
		tok, hashes = tokens(t, m)
		return tok != differentFrom, nil
	})
	return tok, hashes
}

func TestRotationKeepsPreviousTokenForGrace(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.Auth.Rotation.Interval = metav1.Duration{Duration: 2 * time.Hour}
		m.Spec.Auth.Rotation.GracePeriod = metav1.Duration{Duration: 30 * time.Minute}
	})
	first, _ := tokens(t, m)
	checkRequeue(t, m, 2*time.Hour, "the next rotation")

	env.clock.Step(2 * time.Hour)
	poke(t, m)
	second, hashes := waitToken(t, m, first)
	now := env.clock.Now()
	if !accepts(hashes, first, now) || !accepts(hashes, second, now) {
		t.Fatalf("during the grace period both tokens must be valid: %+v", hashes)
	}
	waitEvent(t, m, "CredentialsRotated")
	checkRequeue(t, m, 30*time.Minute, "the end of the grace period")

	env.clock.Step(31 * time.Minute)
	poke(t, m)
	eventually(t, "the previous hash to drop out", func(context.Context) (bool, error) {
		_, hashes = tokens(t, m)
		return len(hashes) == 1, nil
	})
	if accepts(hashes, first, env.clock.Now()) || !accepts(hashes, second, env.clock.Now()) {
		t.Errorf("after the grace period only the new token is valid: %+v", hashes)
	}
	checkRequeue(t, m, 89*time.Minute, "the next rotation")
}

// checkRequeue reconciles m and checks it asks to come back exactly when
// its credentials next change.
func checkRequeue(t *testing.T, m *mcpv1alpha1.MemoryMCP, want time.Duration, what string) {
	t.Helper()
	res, err := reconcileNow(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != want {
		t.Errorf("reconcile result %+v, want RequeueAfter %s (%s)", res, want, what)
	}
}

// reconcileNow runs one reconcile of m in the test's goroutine once the
// manager is done with m's credentials and its cache holds what the API
// holds, so the reconcile decides on the current state. Note: the manager
// may still reconcile m at the same time (a retry after a failure, say);
// the tests that use this rely on reconciles being idempotent.
func reconcileNow(t *testing.T, m *mcpv1alpha1.MemoryMCP) (ctrl.Result, error) {
	t.Helper()
	waitCredentialsAgree(t, m)
	waitCached(t, m)
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(m)}
	return env.reconciler.Reconcile(context.Background(), req)
}

// waitCredentialsAgree waits until every client Secret holds the token the
// server knows as current: a reconcile writes the credentials Secret first
// and the client Secrets after it.
func waitCredentialsAgree(t *testing.T, m *mcpv1alpha1.MemoryMCP) {
	t.Helper()
	eventually(t, "the client Secrets to hold the current tokens", func(ctx context.Context) (bool, error) {
		creds := &corev1.Secret{}
		key := types.NamespacedName{Namespace: m.Namespace, Name: credentialsName(m)}
		if err := env.client.Get(ctx, key, creds); err != nil {
			return false, err
		}
		doc, err := runtimeconfig.ParseCredentials(creds.Data[runtimeconfig.CredentialsKey])
		if err != nil {
			return false, err
		}
		for _, c := range doc.Clients {
			sec := &corev1.Secret{}
			key.Name = clientSecretName(m, c.Name)
			if err := env.client.Get(ctx, key, sec); err != nil {
				return false, err
			}
			if c.Tokens[0].SHA256 != runtimeconfig.HashToken(string(sec.Data[runtimeconfig.ClientTokenKey])) {
				return false, nil
			}
		}
		return true, nil
	})
}

// waitCached waits until the manager's cache holds the API's version of m
// and of its credential Secrets.
func waitCached(t *testing.T, m *mcpv1alpha1.MemoryMCP) {
	t.Helper()
	objs := []client.Object{&mcpv1alpha1.MemoryMCP{}, &corev1.Secret{}}
	names := []string{m.Name, credentialsName(m)}
	for _, c := range m.Spec.Auth.Clients {
		objs, names = append(objs, &corev1.Secret{}), append(names, clientSecretName(m, c.Name))
	}
	for i, obj := range objs {
		key := types.NamespacedName{Namespace: m.Namespace, Name: names[i]}
		cached := obj.DeepCopyObject().(client.Object)
		eventually(t, "the cache to hold "+names[i], func(ctx context.Context) (bool, error) {
			if err := env.client.Get(ctx, key, obj); err != nil {
				return false, err
			}
			if err := env.reconciler.Client.Get(ctx, key, cached); err != nil {
				return false, err
			}
			return obj.GetResourceVersion() == cached.GetResourceVersion(), nil
		})
	}
}

func TestRotationAnnotationForcesRotation(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, nil)
	first, _ := tokens(t, m)

	mergePatch(t, m, `{"metadata":{"annotations":{"memorymcp.io/rotate-credentials":"r1"}}}`)
	second, hashes := waitToken(t, m, first)
	if !accepts(hashes, first, env.clock.Now()) || !accepts(hashes, second, env.clock.Now()) {
		t.Errorf("a forced rotation keeps the grace period: %+v", hashes)
	}

	// The handled value is remembered: reconciling again does not rotate.
	poke(t, m)
	if _, err := reconcileNow(t, m); err != nil {
		t.Fatal(err)
	}
	if again, _ := tokens(t, m); again != second {
		t.Error("an annotation value must rotate once only")
	}
}

// TestRotationSurvivesFailedClientWrite puts back a client Secret as it was
// before a rotation, as if its write had failed after the credentials
// Secret's.
func TestRotationSurvivesFailedClientWrite(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, nil)
	before := &corev1.Secret{}
	get(t, m, "memory-client-planner", before)
	first, _ := tokens(t, m)
	mergePatch(t, m, `{"metadata":{"annotations":{"memorymcp.io/rotate-credentials":"r1"}}}`)
	lost, _ := waitToken(t, m, first)

	sec := &corev1.Secret{}
	get(t, m, "memory-client-planner", sec)
	sec.Data, sec.Annotations = before.Data, before.Annotations
	if err := env.client.Update(context.Background(), sec); err != nil {
		t.Fatal(err)
	}
	// The update wakes the manager, as the next reconcile after a failed
	// write would.
	now := env.clock.Now()
	var tok string
	var hashes []runtimeconfig.TokenHash
	eventually(t, "the client to get a token of its own", func(context.Context) (bool, error) {
		tok, hashes = tokens(t, m)
		return tok != first && tok != lost && accepts(hashes, tok, now), nil
	})
	if !accepts(hashes, first, now) || accepts(hashes, lost, now) || len(hashes) != 2 {
		t.Errorf("want the new token and the replaced one in its grace period only: %+v", hashes)
	}
}

func TestQuietObjectCausesNoWrites(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.Replicas = new(int32(1))
	})
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(m)}
	ctx := context.Background()

	// Converged once the cache has caught up with the controller's writes.
	writes := func() int64 { return env.writes.inNamespace(m.Namespace) }
	eventually(t, "a reconcile without writes", func(ctx context.Context) (bool, error) {
		before := writes()
		_, err := env.reconciler.Reconcile(ctx, req)
		return writes() == before, err
	})
	versions := childVersions(t, m)
	before := writes()
	// A quiet period: time passes, short of any rotation.
	for range 3 {
		env.clock.Step(10 * time.Minute)
		if _, err := env.reconciler.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes() - before; n != 0 {
		t.Errorf("a quiet object caused %d writes", n)
	}
	if diff := cmp.Diff(versions, childVersions(t, m)); diff != "" {
		t.Errorf("resource versions changed (-before +after):\n%s", diff)
	}
}

// childVersions maps every child and the MemoryMCP to its resourceVersion.
func childVersions(t *testing.T, m *mcpv1alpha1.MemoryMCP) map[string]string {
	t.Helper()
	out := map[string]string{}
	ctx := context.Background()
	for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{},
		&corev1.ServiceAccountList{}, &rbacv1.RoleList{}, &rbacv1.RoleBindingList{}, &appsv1.DeploymentList{},
		&corev1.ServiceList{}, &networkingv1.NetworkPolicyList{}, &corev1.PersistentVolumeClaimList{},
		&mcpv1alpha1.MemoryMCPList{}} {
		if err := env.client.List(ctx, list, client.InNamespace(m.Namespace)); err != nil {
			t.Fatal(err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range items {
			o := item.(client.Object)
			out[fmt.Sprintf("%T/%s", list, o.GetName())] = o.GetResourceVersion()
		}
	}
	return out
}

func TestIncidentRotatesCredentialsAtOnce(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) { m.Spec.Incident.RotateCredentials = true })
	first, _ := tokens(t, m)

	env.clock.Step(time.Minute)
	mergePatch(t, m, `{"spec":{"incidentMode":true}}`)
	waitSettled(t, m)
	second, hashes := tokens(t, m)
	if second == first {
		t.Fatal("the reconcile that applied the incident profile did not rotate the tokens")
	}
	if now := env.clock.Now(); !accepts(hashes, first, now) || !accepts(hashes, second, now) {
		t.Errorf("an incident rotation keeps the grace period: %+v", hashes)
	}
	waitEvent(t, m, "CredentialsRotated")

	// The incident rotates once, not on every reconcile while it lasts.
	env.clock.Step(time.Minute)
	if _, err := reconcileNow(t, m); err != nil {
		t.Fatal(err)
	}
	if again, _ := tokens(t, m); again != second {
		t.Error("an incident must rotate the tokens once only")
	}
}

// TestIncidentWaitsForItsRuntimeConfig makes the ConfigMap refuse the
// incident profile, as a quota or an admission webhook could.
func TestIncidentWaitsForItsRuntimeConfig(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) { m.Spec.Incident.RotateCredentials = true })
	t.Cleanup(func() {
		// Stops the retries, which later tests would count as writes.
		if err := env.client.Delete(context.Background(), m); err != nil {
			t.Logf("deleting %s: %v", m.Name, err)
		}
	})
	first, _ := tokens(t, m)
	cm := &corev1.ConfigMap{}
	get(t, m, "memory-runtime-config", cm)
	if err := env.client.Patch(context.Background(), cm,
		client.RawPatch(types.MergePatchType, []byte(`{"immutable":true}`))); err != nil {
		t.Fatal(err)
	}

	env.clock.Step(time.Minute)
	mergePatch(t, m, `{"spec":{"incidentMode":true}}`)
	eventually(t, "Degraded for the incident generation", func(ctx context.Context) (bool, error) {
		if err := env.client.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, err
		}
		c := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionDegraded)
		return c != nil && c.ObservedGeneration == m.Generation && c.Status == metav1.ConditionTrue, nil
	})
	if meta.IsStatusConditionTrue(m.Status.Conditions, mcpv1alpha1.ConditionIncidentModeActive) ||
		m.Status.ConfigGeneration == m.Generation {
		t.Errorf("status claims a profile the ConfigMap does not hold: config generation %d of %d, %+v",
			m.Status.ConfigGeneration, m.Generation, m.Status.Conditions)
	}
	waitEvent(t, m, "Degraded")
	second, _ := tokens(t, m)
	if second == first {
		t.Error("the incident rotation must not wait for the runtime config")
	}

	// Retries belong to the same incident and do not rotate again.
	env.clock.Step(time.Minute)
	if _, err := reconcileNow(t, m); err == nil {
		t.Error("reconcile succeeded, want the ConfigMap's refusal")
	}
	if again, _ := tokens(t, m); again != second {
		t.Error("a retry of the incident's reconcile rotated the tokens again")
	}
}

// TestWorkloadChanges changes settings of each kind on a replicated server
// and then moves it to SQLite.
func TestWorkloadChanges(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.Replicas = new(int32(2))
		m.Spec.Storage.Type = mcpv1alpha1.StoragePostgres
		m.Spec.Storage.Postgres = &mcpv1alpha1.PostgresStorage{URISecret: mcpv1alpha1.SecretKeyRef{Name: "db"}}
	})
	pdb := &policyv1.PodDisruptionBudget{}
	get(t, m, "memory", pdb)
	checkOwned(t, m, pdb)

	steps := []struct {
		name, patch string
		rolls       bool
	}{
		{"live settings", `{"spec":{"rateLimits":{"read":{"requestsPerSecond":60,"burst":120}},` +
			`"disabledTools":["bulk_episodes"],"blockedClients":{"names":["mallory"]}}}`, false},
		{"image", `{"spec":{"image":"registry.example/mcp-server:v2"}}`, true},
		{"resources", `{"spec":{"resources":{"requests":{"memory":"256Mi"}}}}`, true},
		{"storage", `{"spec":{"replicas":1,"storage":{"type":"SQLite","postgres":null}}}`, true},
	}
	for _, step := range steps {
		before := templateDigest(t, m)
		mergePatch(t, m, step.patch)
		waitSettled(t, m)
		if rolled := templateDigest(t, m) != before; rolled != step.rolls {
			t.Errorf("%s: pod template changed %v, want %v", step.name, rolled, step.rolls)
		}
		if c := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionDegraded); c == nil ||
			c.Status != metav1.ConditionFalse {
			t.Errorf("%s: Degraded = %+v", step.name, c)
		}
	}

	d := &appsv1.Deployment{}
	get(t, m, "memory", d)
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType ||
		!slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--storage=sqlite") {
		t.Errorf("after the move to SQLite: strategy %+v, args %v", d.Spec.Strategy,
			d.Spec.Template.Spec.Containers[0].Args)
	}
	get(t, m, "memory-data", &corev1.PersistentVolumeClaim{})
	eventually(t, "the PodDisruptionBudget of one replica to go", func(ctx context.Context) (bool, error) {
		err := env.client.Get(ctx, client.ObjectKeyFromObject(pdb), &policyv1.PodDisruptionBudget{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// TestMonitoringInstalledLater installs the Prometheus Operator CRDs into
// the running control plane; it runs last, as later tests would see them.
func TestMonitoringInstalledLater(t *testing.T) {
	needEnv(t)
	m := newMemoryMCP(t, func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.Monitoring.PrometheusRule.Thresholds.FailedAuthPerMinute = 42
	})
	if c := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionMonitoringReady); c == nil ||
		c.Reason != ReasonPrometheusOperatorMissing {
		t.Fatalf("before the CRDs: MonitoringReady = %+v, want reason %s", c, ReasonPrometheusOperatorMissing)
	}
	if _, err := envtest.InstallCRDs(env.cfg, envtest.CRDInstallOptions{
		Paths: []string{crdDir("monitoring")}, ErrorIfPathMissing: true,
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing else changes: the CRDs' arrival alone must bring the objects.
	eventually(t, "MonitoringReady", func(ctx context.Context) (bool, error) {
		if err := env.client.Get(ctx, client.ObjectKeyFromObject(m), m); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(m.Status.Conditions, mcpv1alpha1.ConditionMonitoringReady), nil
	})
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("monitoring.coreos.com/v1")
		u.SetKind(kind)
		get(t, m, "memory", u)
		checkOwned(t, m, u)
		if kind == "PrometheusRule" {
			b, _ := json.Marshal(u.Object["spec"])
			if !strings.Contains(string(b), AlertHighFailedAuthRate) || !strings.Contains(string(b), "\\u003e 42") &&
				!strings.Contains(string(b), "> 42") {
				t.Errorf("rule group lacks the configured threshold: %s", b)
			}
		}
	}
}

package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

func TestSetConditionKeepsTransitionTime(t *testing.T) {
	t0, t1 := goldenTime, goldenTime.Add(time.Hour)
	tests := []struct {
		name     string
		existing []metav1.Condition
		set      metav1.Condition
		want     metav1.Time
	}{
		{"new condition takes now", nil,
			metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A"}, metav1.NewTime(t1)},
		{"same status keeps the old time",
			[]metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A",
				LastTransitionTime: metav1.NewTime(t0)}},
			metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "B"}, metav1.NewTime(t0)},
		{"changed status takes now",
			[]metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "A",
				LastTransitionTime: metav1.NewTime(t0)}},
			metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A"}, metav1.NewTime(t1)},
		{"an explicit transition time wins",
			nil,
			metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "A",
				LastTransitionTime: metav1.NewTime(t0)}, metav1.NewTime(t0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conds := tt.existing
			setCondition(&conds, tt.set, t1)
			if len(conds) != 1 || !conds[0].LastTransitionTime.Equal(&tt.want) || conds[0].Reason != tt.set.Reason {
				t.Errorf("got %+v, want reason %s at %v", conds, tt.set.Reason, tt.want)
			}
		})
	}
}

func TestWorkloadConditions(t *testing.T) {
	m := fixture("memory", nil)
	rolled := func(ready int32) *appsv1.Deployment {
		return &appsv1.Deployment{Status: appsv1.DeploymentStatus{
			Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: ready}}
	}
	type reasons struct{ Ready, Progressing, Degraded string }
	tests := []struct {
		name string
		d    *appsv1.Deployment
		err  error
		want reasons
	}{
		{"no deployment yet", nil, nil, reasons{ReasonPodsNotReady, ReasonRollingOut, ReasonAsExpected}},
		{"pods not ready", rolled(0), nil, reasons{ReasonPodsNotReady, ReasonAvailable, ReasonAsExpected}},
		{"ready", rolled(1), nil, reasons{ReasonAvailable, ReasonAvailable, ReasonAsExpected}},
		{"apply failed", rolled(1), errors.New("boom"), reasons{ReasonApplyFailed, ReasonAvailable, ReasonApplyFailed}},
		{"replica failure", withCondition(rolled(0), appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, "FailedCreate"),
			nil, reasons{ReasonPodsNotReady, ReasonAvailable, ReasonReplicaFailure}},
		{"pods never ready", withCondition(rolled(0), appsv1.DeploymentProgressing, corev1.ConditionFalse,
			"ProgressDeadlineExceeded"), nil, reasons{ReasonPodsNotReady, ReasonAvailable, ReasonProgressDeadlineExceeded}},
		{"rollout still progressing", withCondition(rolled(0), appsv1.DeploymentProgressing, corev1.ConditionTrue,
			"ReplicaSetUpdated"), nil, reasons{ReasonPodsNotReady, ReasonAvailable, ReasonAsExpected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := workloadConditions(m, tt.d, tt.err)
			got := reasons{c[0].Reason, c[1].Reason, c[2].Reason}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			for _, cond := range c {
				if cond.ObservedGeneration != m.Generation {
					t.Errorf("%s: observedGeneration %d, want %d", cond.Type, cond.ObservedGeneration, m.Generation)
				}
			}
		})
	}
}

func withCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType, s corev1.ConditionStatus,
	reason string) *appsv1.Deployment {
	d.Status.Conditions = append(d.Status.Conditions,
		appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: reason})
	return d
}

func TestIncidentCondition(t *testing.T) {
	since := goldenTime
	on := fixture("memory", func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.IncidentMode = true
		m.Spec.Incident.Reason = "leak"
	})
	tests := []struct {
		name  string
		m     *mcpv1alpha1.MemoryMCP
		since *time.Time
		want  metav1.Condition
	}{
		{"off", fixture("memory", nil), nil, metav1.Condition{Type: mcpv1alpha1.ConditionIncidentModeActive,
			Status: metav1.ConditionFalse, Reason: ReasonNormalProfile, Message: "the normal profile is in force",
			ObservedGeneration: 3}},
		{"on", on, &since, metav1.Condition{Type: mcpv1alpha1.ConditionIncidentModeActive,
			Status: metav1.ConditionTrue, Reason: ReasonIncidentDeclared, Message: "incident mode active: leak",
			LastTransitionTime: metav1.NewTime(since), ObservedGeneration: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, incidentCondition(tt.m, tt.since)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIncidentSince(t *testing.T) {
	t0, t1, now := goldenTime, goldenTime.Add(time.Hour), goldenTime.Add(2*time.Hour)
	cond := func(s metav1.ConditionStatus, at time.Time) []metav1.Condition {
		return []metav1.Condition{{Type: mcpv1alpha1.ConditionIncidentModeActive, Status: s,
			LastTransitionTime: metav1.NewTime(at)}}
	}
	tests := []struct {
		name  string
		on    bool
		conds []metav1.Condition
		since *time.Time
		want  *time.Time
	}{
		{"off", false, cond(metav1.ConditionTrue, t1), &t1, nil},
		{"just declared", true, cond(metav1.ConditionFalse, t0), nil, &now},
		{"in force", true, cond(metav1.ConditionTrue, t1), &t1, &t1},
		{"declared, profile not applied yet", true, cond(metav1.ConditionFalse, t0), &t1, &t1},
		{"declared on a new object, profile not applied yet", true, nil, &t1, &t1},
		{"declared again after the normal profile returned", true, cond(metav1.ConditionFalse, t1), &t0, &now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture("memory", func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.IncidentMode = tt.on
				m.Status.Conditions = tt.conds
				if tt.since != nil {
					m.Status.IncidentSince = &metav1.Time{Time: *tt.since}
				}
			})
			if diff := cmp.Diff(tt.want, incidentSince(m, now)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A MemoryMCP deleted while it was reconciled leaves no status to patch;
// that is not an error.
func TestPatchStatusOfDeletedObject(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(testScheme()).
		WithStatusSubresource(&mcpv1alpha1.MemoryMCP{}).Build()
	r := &MemoryMCPReconciler{Client: c}
	m := fixture("memory", nil)
	s := &scope{m: m, orig: m.DeepCopy(), now: goldenTime}
	if err := r.patchStatus(context.Background(), s); err != nil {
		t.Errorf("patchStatus = %v, want nil", err)
	}
}

func TestMonitoringCondition(t *testing.T) {
	m := fixture("memory", nil)
	tests := []struct {
		name      string
		installed bool
		err       error
		status    metav1.ConditionStatus
		reason    string
	}{
		{"installed", true, nil, metav1.ConditionTrue, ReasonMonitoringApplied},
		{"missing CRDs", false, nil, metav1.ConditionFalse, ReasonPrometheusOperatorMissing},
		{"apply failed", true, errors.New("denied"), metav1.ConditionFalse, ReasonApplyFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := monitoringCondition(m, tt.installed, tt.err)
			if c.Status != tt.status || c.Reason != tt.reason {
				t.Errorf("got %s/%s, want %s/%s", c.Status, c.Reason, tt.status, tt.reason)
			}
		})
	}
}

func TestRotationReason(t *testing.T) {
	last := goldenTime
	base := func() *credentialState {
		return &credentialState{Tokens: map[string]clientToken{"a": {Token: "t"}}, LastRotation: &last}
	}
	policy := rotationPolicy{Now: last.Add(time.Hour), Interval: 24 * time.Hour, Grace: time.Hour}
	tests := []struct {
		name   string
		mutate func(*rotationPolicy, *credentialState)
		want   string
	}{
		{"quiet", nil, ""},
		{"interval elapsed", func(p *rotationPolicy, _ *credentialState) { p.Now = last.Add(24 * time.Hour) },
			RotationInterval},
		{"annotation set", func(p *rotationPolicy, _ *credentialState) { p.Requested = "1" }, RotationRequested},
		{"annotation already handled", func(p *rotationPolicy, st *credentialState) {
			p.Requested, st.RotationHandled = "1", "1"
		}, ""},
		{"incident asks", func(p *rotationPolicy, _ *credentialState) { p.IncidentSince = "x" }, RotationIncident},
		{"incident already rotated", func(p *rotationPolicy, st *credentialState) {
			p.IncidentSince, st.IncidentRotated = "x", "x"
		}, ""},
		{"first issue is no rotation", func(p *rotationPolicy, st *credentialState) {
			st.LastRotation, p.Requested = nil, "1"
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, st := policy, base()
			if tt.mutate != nil {
				tt.mutate(&p, st)
			}
			if got := rotationReason(p, st); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNextCredentialsKeepsPreviousDuringGrace(t *testing.T) {
	m := fixture("memory", nil)
	p := newRotationPolicy(m, goldenTime, nil)
	first, err := nextCredentials(m, p, readCredentialState(nil, nil), "", fixedTokens())
	if err != nil {
		t.Fatal(err)
	}
	if first.LastRotation == nil || !first.LastRotation.Equal(goldenTime) {
		t.Fatalf("first issue must start the interval, got %v", first.LastRotation)
	}

	p.Now = goldenTime.Add(p.Interval)
	rotated, err := nextCredentials(m, p, first, rotationReason(p, first), fixedTokens())
	if err != nil {
		t.Fatal(err)
	}
	prev := rotated.Previous["planner"]
	want := []runtimeconfig.TokenHash{{
		SHA256:   runtimeconfig.HashToken(first.Tokens["planner"].Token),
		NotAfter: ptrTime(p.Now.Add(time.Hour)),
	}}
	if diff := cmp.Diff(want, prev); diff != "" {
		t.Errorf("previous hashes (-want +got):\n%s", diff)
	}
	if next := nextCredentialEvent(p, rotated); !next.Equal(p.Now.Add(time.Hour)) {
		t.Errorf("next event %v, want the end of the grace period", next)
	}

	p.Now = p.Now.Add(time.Hour)
	after, err := nextCredentials(m, p, rotated, rotationReason(p, rotated), fixedTokens())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string][]runtimeconfig.TokenHash{}, after.Previous, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("expired hashes must drop out (-want +got):\n%s", diff)
	}
	if after.Tokens["planner"] != rotated.Tokens["planner"] {
		t.Error("the current token must not change when the grace period ends")
	}
}

func TestReadCredentialStateUndelivered(t *testing.T) {
	m := fixture("memory", nil)
	st, err := nextCredentials(m, newRotationPolicy(m, goldenTime, nil), readCredentialState(nil, nil), "",
		fixedTokens())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := buildCredentialsSecret(m, st)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*corev1.Secret{}
	for _, c := range m.Spec.Auth.Clients {
		clients[c.Name] = buildClientSecret(m, c.Name, st.Tokens[c.Name])
	}
	clients["viewer"].Data[runtimeconfig.ClientTokenKey] = []byte("mmcp_an-older-token")

	got := readCredentialState(clients, creds)
	if diff := cmp.Diff([]string{"viewer"}, got.Undelivered); diff != "" {
		t.Errorf("undelivered (-want +got):\n%s", diff)
	}
	if _, ok := got.Tokens["viewer"]; ok || got.Tokens["planner"] != st.Tokens["planner"] {
		t.Errorf("tokens %+v: want planner's kept and viewer's left out for a new one", got.Tokens)
	}
}

func TestRuntimeConfigIncidentProfile(t *testing.T) {
	normal := fixture("memory", func(m *mcpv1alpha1.MemoryMCP) {
		m.Spec.DisabledTools = []mcpv1alpha1.ToolName{"bulk_episodes"}
	})
	incident := normal.DeepCopy()
	incident.Spec.IncidentMode = true
	incident.Spec.Incident.Reason = "leak"

	n, i := buildRuntimeConfig(normal), buildRuntimeConfig(incident)
	if n.Incident != nil || n.Audit.Level != "info" {
		t.Errorf("normal profile: incident %+v, audit level %q", n.Incident, n.Audit.Level)
	}
	want := &runtimeconfig.Config{
		Incident: &runtimeconfig.Incident{Reason: "leak"},
		RateLimits: runtimeconfig.RateLimits{Enabled: true,
			Read:  runtimeconfig.Bucket{RequestsPerSecond: 10, Burst: 20},
			Write: runtimeconfig.Bucket{RequestsPerSecond: 1, Burst: 2}},
		DisabledTools: []string{"bulk_episodes", "configure_embeddings", "execute_agent_code"},
	}
	got := &runtimeconfig.Config{Incident: i.Incident, RateLimits: i.RateLimits, DisabledTools: i.DisabledTools}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("incident profile (-want +got):\n%s", diff)
	}
	if i.Audit.Level != "debug" || i.Audit.Destination != "both" {
		t.Errorf("incident audit %s/%s, want debug/both", i.Audit.Level, i.Audit.Destination)
	}
}

func TestNetworkPolicyLockdown(t *testing.T) {
	tests := []struct {
		name        string
		allowed     []string
		lockdown    bool
		wantMCPFrom []string
	}{
		{"own namespace always", nil, false, []string{"agents"}},
		{"allowed added", []string{"apps"}, false, []string{"agents", "apps"}},
		{"lockdown keeps only the allowed list", []string{"apps"}, true, []string{"apps"}},
		{"lockdown with nobody allowed closes the port", nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture("memory", func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Network.AllowedNamespaces = tt.allowed
				m.Spec.IncidentMode = tt.lockdown
				m.Spec.Incident.NetworkLockdown = tt.lockdown
			})
			var got []string
			for _, r := range buildNetworkPolicy(m, goldenAPIServer).Spec.Ingress {
				if len(r.From) == 0 {
					t.Fatalf("an ingress rule without peers admits everyone: %+v", r)
				}
				if r.Ports[0].Port.IntVal == PortMCP {
					got = r.From[0].NamespaceSelector.MatchExpressions[0].Values
				}
			}
			if diff := cmp.Diff(tt.wantMCPFrom, got); diff != "" {
				t.Errorf("MCP port namespaces (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecurityAlertRuleGroupNames(t *testing.T) {
	g := SecurityAlertRuleGroup(fixture("memory", nil))
	var got []string
	for _, r := range g.Rules {
		got = append(got, r.Alert)
	}
	want := []string{AlertHighFailedAuthRate, AlertRateLimitViolationSpike, AlertSecurityViolation,
		AlertUnusualBulkQueries, AlertSandboxViolations, AlertAuditShippingFailing, AlertAuditEventsUndelivered,
		AlertIncidentModeActive}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

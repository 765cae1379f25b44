package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// patchStatus computes the status from the reconcile's findings, emits
// Events for transitions and patches the status if anything changed.
func (r *MemoryMCPReconciler) patchStatus(ctx context.Context, s *scope) error {
	computeStatus(s)
	r.recordTransitions(s)
	if equality.Semantic.DeepEqual(s.orig.Status, s.m.Status) {
		return nil
	}
	// A MemoryMCP deleted during the reconcile has no status left to write.
	err := r.Client.Status().Patch(ctx, s.m, client.MergeFrom(s.orig), client.FieldOwner(FieldManager))
	if client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	log.FromContext(ctx).V(1).Info("status updated")
	return nil
}

// computeStatus sets every status field from the scope. Fields a failed
// phase could not compute keep their previous value.
func computeStatus(s *scope) {
	st := &s.m.Status
	st.ObservedGeneration = s.m.Generation
	st.Endpoint = endpoint(s.m)
	st.Replicas = desiredReplicas(s.m)
	st.ReadyReplicas = readyReplicas(s.deployment)
	// Note: incidentSince is cleared when incident mode is off, so the next
	// incident starts afresh (and rotates, when asked) even if the last one
	// ended before its profile could be applied.
	st.IncidentSince = nil
	if s.incidentSince != nil {
		st.IncidentSince = &metav1.Time{Time: *s.incidentSince}
	}
	// Note: s.config is set only once the ConfigMap holds it, so the config
	// generation and IncidentModeActive never claim a profile the servers
	// cannot read yet; until then they keep their previous values.
	if s.config != nil {
		st.ConfigGeneration = s.config.Config.Generation
		st.ConfigHash = s.config.Hash
	}
	if c := s.credentials; c != nil {
		st.LastRotationTime = nil
		st.NextRotationTime = nil
		if c.LastRotation != nil && len(c.Tokens) > 0 {
			policy := newRotationPolicy(s.m, s.now, s.incidentSince)
			st.LastRotationTime = &metav1.Time{Time: *c.LastRotation}
			st.NextRotationTime = &metav1.Time{Time: c.LastRotation.Add(policy.Interval)}
		}
	}

	conds := workloadConditions(s.m, s.deployment, errors.Join(s.applyErrs...))
	if s.config != nil {
		conds = append(conds, incidentCondition(s.m, s.incidentSince))
	}
	conds = append(conds, monitoringCondition(s.m, s.monitoringCRD, s.monitoringErr))
	for _, c := range conds {
		setCondition(&st.Conditions, c, s.now)
	}
}

// recordTransitions emits an Event for each change worth a human's
// attention: incident mode on or off, degraded or recovered, a rotation,
// monitoring skipped.
func (r *MemoryMCPReconciler) recordTransitions(s *scope) {
	if r.Recorder == nil {
		return
	}
	was := func(t, reason string) bool {
		c := meta.FindStatusCondition(s.orig.Status.Conditions, t)
		return c != nil && c.Reason == reason
	}
	is := func(t, reason string) bool {
		c := meta.FindStatusCondition(s.m.Status.Conditions, t)
		return c != nil && c.Reason == reason
	}
	const incident = mcpv1alpha1.ConditionIncidentModeActive
	switch {
	case is(incident, ReasonIncidentDeclared) && !was(incident, ReasonIncidentDeclared):
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeWarning, "IncidentModeActivated", "ActivateIncidentMode",
			"incident mode activated: %s", s.m.Spec.Incident.Reason)
	case is(incident, ReasonNormalProfile) && was(incident, ReasonIncidentDeclared):
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeNormal, "IncidentModeDeactivated", "RestoreNormalProfile",
			"incident mode deactivated, normal profile restored")
	}
	r.recordDegraded(s)
	if s.rotation != "" {
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeNormal, "CredentialsRotated", "RotateCredentials",
			"client tokens rotated (%s); previous tokens stay valid for the grace period", s.rotation)
	}
	const mon = mcpv1alpha1.ConditionMonitoringReady
	if is(mon, ReasonPrometheusOperatorMissing) && !was(mon, ReasonPrometheusOperatorMissing) {
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeWarning, "MonitoringSkipped", "SkipMonitoring",
			"ServiceMonitor and PrometheusRule skipped: the Prometheus Operator CRDs are not installed")
	}
}

// recordDegraded emits an Event when Degraded turns true, with its cause,
// and when it turns false again.
func (r *MemoryMCPReconciler) recordDegraded(s *scope) {
	const t = mcpv1alpha1.ConditionDegraded
	was := meta.IsStatusConditionTrue(s.orig.Status.Conditions, t)
	is := meta.IsStatusConditionTrue(s.m.Status.Conditions, t)
	switch {
	case is && !was:
		c := meta.FindStatusCondition(s.m.Status.Conditions, t)
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeWarning, "Degraded", "Reconcile", "%s", c.Message)
	case was && !is:
		r.Recorder.Eventf(s.m, nil, corev1.EventTypeNormal, "Recovered", "Reconcile",
			"every object applied and no replica failing")
	}
}

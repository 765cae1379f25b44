package controllers

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// Condition reasons.
const (
	ReasonAvailable                 = "Available"
	ReasonScaledToZero              = "ScaledToZero"
	ReasonRollingOut                = "RollingOut"
	ReasonPodsNotReady              = "PodsNotReady"
	ReasonApplyFailed               = "ApplyFailed"
	ReasonReplicaFailure            = "ReplicaFailure"
	ReasonProgressDeadlineExceeded  = "ProgressDeadlineExceeded"
	ReasonAsExpected                = "AsExpected"
	ReasonIncidentDeclared          = "IncidentDeclared"
	ReasonNormalProfile             = "NormalProfile"
	ReasonMonitoringApplied         = "Applied"
	ReasonMonitoringDisabled        = "Disabled"
	ReasonPrometheusOperatorMissing = "PrometheusOperatorNotInstalled"
)

// setCondition sets c on conds, keeping lastTransitionTime unless the status
// changes; c.LastTransitionTime, when set, is the time of a transition.
func setCondition(conds *[]metav1.Condition, c metav1.Condition, now time.Time) {
	if c.LastTransitionTime.IsZero() {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	if old := meta.FindStatusCondition(*conds, c.Type); old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	}
	meta.SetStatusCondition(conds, c)
}

// deploymentProgressDeadlineExceeded is the reason of a Deployment's
// Progressing=False condition once its rollout stalled past its deadline.
const deploymentProgressDeadlineExceeded = "ProgressDeadlineExceeded"

// workloadConditions derives Ready, Progressing and Degraded from the
// Deployment (nil when absent) and the errors of this reconcile.
func workloadConditions(m *mcpv1alpha1.MemoryMCP, d *appsv1.Deployment, applyErr error) []metav1.Condition {
	cond := func(t string, s bool, reason, msg string) metav1.Condition {
		st := metav1.ConditionFalse
		if s {
			st = metav1.ConditionTrue
		}
		return metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: m.Generation}
	}
	want := desiredReplicas(m)

	degraded := cond(mcpv1alpha1.ConditionDegraded, false, ReasonAsExpected, "all objects applied")
	if applyErr != nil {
		degraded = cond(mcpv1alpha1.ConditionDegraded, true, ReasonApplyFailed, truncate(applyErr.Error()))
	} else if f := deploymentCondition(d, appsv1.DeploymentReplicaFailure); f != nil &&
		f.Status == corev1.ConditionTrue {
		degraded = cond(mcpv1alpha1.ConditionDegraded, true, ReasonReplicaFailure, truncate(f.Message))
	} else if p := deploymentCondition(d, appsv1.DeploymentProgressing); p != nil &&
		p.Status == corev1.ConditionFalse && p.Reason == deploymentProgressDeadlineExceeded {
		// Pods that crash, or whose image cannot be pulled, never become
		// ready; the Deployment gives up after progressDeadlineSeconds.
		degraded = cond(mcpv1alpha1.ConditionDegraded, true, ReasonProgressDeadlineExceeded, truncate(p.Message))
	}

	rolledOut := d != nil && d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas >= want && d.Status.Replicas == d.Status.UpdatedReplicas
	ready := d != nil && d.Status.ReadyReplicas >= want
	progressing := cond(mcpv1alpha1.ConditionProgressing, false, ReasonAvailable, "rollout complete")
	if !rolledOut {
		progressing = cond(mcpv1alpha1.ConditionProgressing, true, ReasonRollingOut,
			fmt.Sprintf("waiting for %d updated replicas", want))
	}

	readyCond := cond(mcpv1alpha1.ConditionReady, true, ReasonAvailable,
		fmt.Sprintf("%d of %d replicas ready", readyReplicas(d), want))
	switch {
	case applyErr != nil:
		readyCond = cond(mcpv1alpha1.ConditionReady, false, ReasonApplyFailed, "objects could not be applied")
	case want == 0:
		readyCond = cond(mcpv1alpha1.ConditionReady, true, ReasonScaledToZero, "scaled to zero replicas")
	case !ready || !rolledOut:
		readyCond = cond(mcpv1alpha1.ConditionReady, false, ReasonPodsNotReady,
			fmt.Sprintf("%d of %d replicas ready", readyReplicas(d), want))
	}
	return []metav1.Condition{readyCond, progressing, degraded}
}

// incidentCondition is IncidentModeActive; since is when incident mode
// turned on, nil when it is off.
func incidentCondition(m *mcpv1alpha1.MemoryMCP, since *time.Time) metav1.Condition {
	if !m.Spec.IncidentMode || since == nil {
		return metav1.Condition{
			Type: mcpv1alpha1.ConditionIncidentModeActive, Status: metav1.ConditionFalse,
			Reason: ReasonNormalProfile, Message: "the normal profile is in force",
			ObservedGeneration: m.Generation,
		}
	}
	msg := "incident mode active"
	if m.Spec.Incident.Reason != "" {
		msg += ": " + m.Spec.Incident.Reason
	}
	return metav1.Condition{
		Type: mcpv1alpha1.ConditionIncidentModeActive, Status: metav1.ConditionTrue,
		Reason: ReasonIncidentDeclared, Message: truncate(msg),
		LastTransitionTime: metav1.NewTime(*since), ObservedGeneration: m.Generation,
	}
}

// incidentSince is when the current incident began: kept from the status
// unless the normal profile came into force after it, now when incident
// mode just turned on.
//
// Note: an incident whose profile could not be applied yet leaves the
// condition false from before it began; it is still the same incident, so
// retries do not rotate credentials again.
func incidentSince(m *mcpv1alpha1.MemoryMCP, now time.Time) *time.Time {
	if !m.Spec.IncidentMode {
		return nil
	}
	since := m.Status.IncidentSince
	if since == nil {
		return &now
	}
	c := meta.FindStatusCondition(m.Status.Conditions, mcpv1alpha1.ConditionIncidentModeActive)
	if c != nil && c.Status != metav1.ConditionTrue && !c.LastTransitionTime.Before(since) {
		return &now
	}
	t := since.Time
	return &t
}

// monitoringCondition is MonitoringReady for the outcome of the monitoring
// phase.
func monitoringCondition(m *mcpv1alpha1.MemoryMCP, crdsInstalled bool, err error) metav1.Condition {
	c := metav1.Condition{
		Type: mcpv1alpha1.ConditionMonitoringReady, Status: metav1.ConditionTrue,
		Reason: ReasonMonitoringApplied, Message: "ServiceMonitor and PrometheusRule applied",
		ObservedGeneration: m.Generation,
	}
	mon := m.Spec.Monitoring
	switch {
	case !enabled(mon.ServiceMonitor.Enabled) && !enabled(mon.PrometheusRule.Enabled):
		c.Reason, c.Message = ReasonMonitoringDisabled, "monitoring objects are disabled"
	case !crdsInstalled:
		c.Status, c.Reason = metav1.ConditionFalse, ReasonPrometheusOperatorMissing
		c.Message = "the monitoring.coreos.com ServiceMonitor and PrometheusRule CRDs are not installed"
	case err != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonApplyFailed, truncate(err.Error())
	}
	return c
}

// endpoint is the in-cluster URL of the MCP endpoint.
func endpoint(m *mcpv1alpha1.MemoryMCP) string {
	return fmt.Sprintf("http://%s.%s.svc:%d/mcp", m.Name, m.Namespace, PortMCP)
}

func readyReplicas(d *appsv1.Deployment) int32 {
	if d == nil {
		return 0
	}
	return d.Status.ReadyReplicas
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	if d == nil {
		return nil
	}
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// truncate keeps condition messages within the API's bound.
func truncate(s string) string {
	const maxLen = 1024
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen-3] + "..."
}

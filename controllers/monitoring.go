package controllers

import (
	"fmt"
	"maps"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// Alert names of the security rule group.
const (
	AlertHighFailedAuthRate      = "MemoryMCPHighFailedAuthRate"
	AlertRateLimitViolationSpike = "MemoryMCPRateLimitViolationSpike"
	AlertSecurityViolation       = "MemoryMCPSecurityViolation"
	AlertUnusualBulkQueries      = "MemoryMCPUnusualBulkQueries"
	AlertSandboxViolations       = "MemoryMCPSandboxViolations"
	AlertAuditShippingFailing    = "MemoryMCPAuditShippingFailing"
	AlertAuditEventsUndelivered  = "MemoryMCPAuditEventsUndelivered"
	AlertIncidentModeActive      = "MemoryMCPIncidentModeActive"
	defaultScrapeInterval        = "30s"
	defaultFailedAuthPerMinute   = 10
	defaultRateLimitPerMinute    = 100
	defaultBulkPerHour           = 20
	defaultSandboxPerHour        = 3
	defaultShippingLagSeconds    = 300
)

// buildServiceMonitor scrapes the Service's metrics port. Prometheus labels
// the series with namespace, service and job (the Service name), which the
// alert expressions select on.
func buildServiceMonitor(m *mcpv1alpha1.MemoryMCP) *monitoringv1.ServiceMonitor {
	spec := m.Spec.Monitoring.ServiceMonitor
	interval := spec.Interval
	if interval == "" {
		interval = defaultScrapeInterval
	}
	meta := objectMeta(m, m.Name, "monitoring")
	meta.Labels = mergeLabels(spec.Labels, meta.Labels)
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "ServiceMonitor"},
		ObjectMeta: meta,
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: selectorLabels(m)},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{m.Namespace}},
			Endpoints: []monitoringv1.Endpoint{{
				Port:     "metrics",
				Path:     "/metrics",
				Interval: monitoringv1.Duration(interval),
			}},
		},
	}
}

// buildPrometheusRule holds the security alerts of one server deployment.
func buildPrometheusRule(m *mcpv1alpha1.MemoryMCP) *monitoringv1.PrometheusRule {
	meta := objectMeta(m, m.Name, "monitoring")
	meta.Labels = mergeLabels(m.Spec.Monitoring.PrometheusRule.Labels, meta.Labels)
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: "PrometheusRule"},
		ObjectMeta: meta,
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{SecurityAlertRuleGroup(m)}},
	}
}

// SecurityAlertRuleGroup renders the security alerts of m, selecting its
// series by namespace and service. Each alert keeps the namespace and
// service labels, so a responder sees which server fired it, and links its
// section of the security operations runbook.
func SecurityAlertRuleGroup(m *mcpv1alpha1.MemoryMCP) monitoringv1.RuleGroup {
	t := thresholds(m.Spec.Monitoring.PrometheusRule.Thresholds)
	sel := fmt.Sprintf(`{namespace=%q,service=%q}`, m.Namespace, m.Name)
	by := func(agg, inner string) string {
		return fmt.Sprintf("%s by (namespace, service) (\n  %s\n)", agg, inner)
	}
	where := "{{ $labels.namespace }}/{{ $labels.service }}"
	rules := []alertSpec{
		{AlertHighFailedAuthRate, "warning", "2m",
			by("sum", "rate(audit_authentication_failures_total"+sel+"[5m])") +
				fmt.Sprintf(" * 60 > %d", t.FailedAuthPerMinute),
			"Failed authentications on " + where,
			fmt.Sprintf("{{ $value | humanize }} failed authentications per minute, above %d: "+
				"a credential may be guessed or leaked.", t.FailedAuthPerMinute)},
		{AlertRateLimitViolationSpike, "warning", "2m",
			by("sum", "rate(audit_rate_limit_violations_total"+sel+"[5m])") +
				fmt.Sprintf(" * 60 > %d", t.RateLimitViolationsPerMinute),
			"Rate-limit violations spike on " + where,
			fmt.Sprintf("{{ $value | humanize }} calls per minute refused by rate limits, above %d.",
				t.RateLimitViolationsPerMinute)},
		{AlertSecurityViolation, "critical", "",
			by("sum", "increase(audit_security_violations_total"+sel+"[5m])") + " > 0",
			"Security violation on " + where,
			"{{ $value | humanize }} calls refused by a security policy in the last 5 minutes."},
		{AlertUnusualBulkQueries, "warning", "5m",
			by("sum", "increase(audit_bulk_operations_total"+sel+"[1h])") +
				fmt.Sprintf(" > %d", t.BulkOperationsPerHour),
			"Unusual bulk queries on " + where,
			fmt.Sprintf("{{ $value | humanize }} bulk episode operations in the last hour, above %d: "+
				"possible data exfiltration.", t.BulkOperationsPerHour)},
		{AlertSandboxViolations, "warning", "",
			by("sum", "increase(sandbox_failures_total"+sel+"[1h])") +
				fmt.Sprintf(" > %d", t.SandboxViolationsPerHour),
			"Sandbox violations on " + where,
			fmt.Sprintf("{{ $value | humanize }} agent code runs failed in the sandbox in the last hour, above %d.",
				t.SandboxViolationsPerHour)},
		{AlertAuditShippingFailing, "critical", "5m",
			fmt.Sprintf("max by (namespace, service, sink) (\n  audit_shipping_lag_seconds%s\n) > %d\nor\n",
				sel, t.AuditShippingLagSeconds) +
				"sum by (namespace, service, sink) (\n  rate(audit_shipping_failures_total" + sel + "[5m])\n) > 0",
			"Audit shipping to {{ $labels.sink }} failing on " + where,
			fmt.Sprintf("Audit events are not reaching sink {{ $labels.sink }}: lag above %ds or sends failing "+
				"for 5 minutes. Events wait in the spool until it is full.", t.AuditShippingLagSeconds)},
		{AlertAuditEventsUndelivered, "critical", "",
			undelivered(sel),
			"Audit events undelivered on " + where,
			"{{ $value | humanize }} audit events in the last 5 minutes missed a destination: kept only " +
				"in the local log (spool full, refused by a sink), refused by the local destination, or " +
				"skipped as damaged spool records. Find the cause in the server log before evidence is lost."},
		{AlertIncidentModeActive, "info", "",
			by("max", "memory_mcp_incident_mode"+sel) + " == 1",
			"Incident mode active on " + where,
			"The server enforces its emergency profile. Turn it off with spec.incidentMode: false " +
				"once the incident is closed."},
	}
	group := monitoringv1.RuleGroup{Name: "memory-mcp-security." + m.Namespace + "." + m.Name}
	for _, r := range rules {
		group.Rules = append(group.Rules, r.rule())
	}
	return group
}

// RunbookURL is where each alert's runbook_url points, followed by an anchor
// named after the alert.
const RunbookURL = "https://github.com/memorymcp/memory-mcp-operator/blob/main/docs/runbook.md"

type alertSpec struct {
	name, severity, forDuration, expr, summary, description string
}

// undelivered is the expression of AlertAuditEventsUndelivered: any of the
// counters of events that missed a destination grew. Note: each counter is
// summed and compared on its own, since "or" between the raw series would
// hide one counter behind another of the same labels.
func undelivered(sel string) string {
	var parts []string
	for _, metric := range []string{"audit_spool_overflow_total", "audit_write_failures_total",
		"audit_shipping_rejected_events_total", "audit_spool_corrupt_records_total"} {
		parts = append(parts, fmt.Sprintf("sum by (namespace, service) (\n  increase(%s%s[5m])\n) > 0",
			metric, sel))
	}
	return strings.Join(parts, "\nor\n")
}

func (a alertSpec) rule() monitoringv1.Rule {
	r := monitoringv1.Rule{
		Alert:  a.name,
		Expr:   intstr.FromString(a.expr),
		Labels: map[string]string{"severity": a.severity},
		Annotations: map[string]string{
			"summary":     a.summary,
			"description": a.description,
			"runbook_url": RunbookURL + "#" + strings.ToLower(a.name),
		},
	}
	if a.forDuration != "" {
		r.For = ptr.To(monitoringv1.Duration(a.forDuration))
	}
	return r
}

// thresholds fills unset thresholds with the API defaults.
func thresholds(t mcpv1alpha1.AlertThresholds) mcpv1alpha1.AlertThresholds {
	def := func(v *int32, d int32) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.FailedAuthPerMinute, defaultFailedAuthPerMinute)
	def(&t.RateLimitViolationsPerMinute, defaultRateLimitPerMinute)
	def(&t.BulkOperationsPerHour, defaultBulkPerHour)
	def(&t.SandboxViolationsPerHour, defaultSandboxPerHour)
	def(&t.AuditShippingLagSeconds, defaultShippingLagSeconds)
	return t
}

// mergeLabels adds the user's labels without letting them replace the
// operator's own.
func mergeLabels(user, own map[string]string) map[string]string {
	out := maps.Clone(user)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, own)
	return out
}

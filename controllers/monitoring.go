package controllers

import (
	"fmt"
	"maps"

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
// series by namespace and service. It is exported so rule tests can render
// the group and check it with promtool.
func SecurityAlertRuleGroup(m *mcpv1alpha1.MemoryMCP) monitoringv1.RuleGroup {
	t := thresholds(m.Spec.Monitoring.PrometheusRule.Thresholds)
	sel := fmt.Sprintf(`namespace=%q,service=%q`, m.Namespace, m.Name)
	rate := func(metric, window string) string {
		return fmt.Sprintf("sum(increase(%s{%s}[%s]))", metric, sel, window)
	}
	return monitoringv1.RuleGroup{
		Name: "memory-mcp-security." + m.Namespace + "." + m.Name,
		Rules: []monitoringv1.Rule{
			alert(m, AlertHighFailedAuthRate, "warning", "5m",
				fmt.Sprintf("sum(rate(audit_authentication_failures_total{%s}[5m])) * 60 > %d",
					sel, t.FailedAuthPerMinute),
				fmt.Sprintf("More than %d failed authentications per minute.", t.FailedAuthPerMinute)),
			alert(m, AlertRateLimitViolationSpike, "warning", "5m",
				fmt.Sprintf("sum(rate(audit_rate_limit_violations_total{%s}[5m])) * 60 > %d",
					sel, t.RateLimitViolationsPerMinute),
				fmt.Sprintf("More than %d rate limit violations per minute.", t.RateLimitViolationsPerMinute)),
			alert(m, AlertSecurityViolation, "critical", "",
				rate("audit_security_violations_total", "5m")+" > 0",
				"A security violation was audited."),
			alert(m, AlertUnusualBulkQueries, "warning", "",
				fmt.Sprintf("%s > %d", rate("audit_bulk_operations_total", "1h"), t.BulkOperationsPerHour),
				fmt.Sprintf("More than %d bulk operations in an hour.", t.BulkOperationsPerHour)),
			alert(m, AlertSandboxViolations, "warning", "",
				fmt.Sprintf("%s > %d", rate("sandbox_failures_total", "1h"), t.SandboxViolationsPerHour),
				fmt.Sprintf("More than %d sandbox failures in an hour.", t.SandboxViolationsPerHour)),
			alert(m, AlertAuditShippingFailing, "critical", "10m",
				fmt.Sprintf("max(audit_shipping_lag_seconds{%s}) > %d or %s > 0",
					sel, t.AuditShippingLagSeconds, rate("audit_shipping_failures_total", "10m")),
				"Audit events are not reaching their sinks."),
			alert(m, AlertIncidentModeActive, "info", "",
				fmt.Sprintf("max(memory_mcp_incident_mode{%s}) == 1", sel),
				"Incident mode is active."),
		},
	}
}

func alert(m *mcpv1alpha1.MemoryMCP, name, severity, forDuration, expr, summary string) monitoringv1.Rule {
	r := monitoringv1.Rule{
		Alert:  name,
		Expr:   intstr.FromString(expr),
		Labels: map[string]string{"severity": severity, "memorymcp": m.Name},
		Annotations: map[string]string{
			"summary":     summary,
			"description": fmt.Sprintf("MemoryMCP %s/%s: %s", m.Namespace, m.Name, summary),
		},
	}
	if forDuration != "" {
		r.For = ptr.To(monitoringv1.Duration(forDuration))
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

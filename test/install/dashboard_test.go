package install

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exportedMetrics are the series the server exports, by the package that
// registers them. A dashboard query naming anything else shows "No data".
var exportedMetrics = []string{
	// internal/audit and internal/audit/ship
	"audit_authentication_failures_total",
	"audit_rate_limit_violations_total",
	"audit_security_violations_total",
	"audit_bulk_operations_total",
	"audit_spool_overflow_total",
	"audit_write_failures_total",
	"audit_shipping_lag_seconds",
	"audit_shipping_failures_total",
	"audit_shipped_events_total",
	// internal/sandbox
	"sandbox_runs_total",
	"sandbox_failures_total",
	"sandbox_run_duration_seconds",
	"sandbox_cache_hits_total",
	"sandbox_cache_misses_total",
	// internal/security, which counts refused calls too
	"memory_mcp_tool_calls_total",
	"memory_mcp_tool_duration_seconds",
	// the runtime-config watcher: the generation enforced and whether the
	// emergency profile is on.
	"memory_mcp_config_generation",
	"memory_mcp_incident_mode",
}

// histograms expose _bucket, _sum and _count series.
var histograms = []string{"sandbox_run_duration_seconds", "memory_mcp_tool_duration_seconds"}

// dashboardMetrics must each appear in some panel: they are the signals the
// security dashboard exists to show.
var dashboardMetrics = []string{
	"audit_authentication_failures_total",
	"audit_rate_limit_violations_total",
	"audit_security_violations_total",
	"audit_bulk_operations_total",
	"sandbox_failures_total",
	"memory_mcp_tool_calls_total",
	"memory_mcp_tool_duration_seconds_bucket",
	"audit_shipping_lag_seconds",
	"memory_mcp_config_generation",
	"memory_mcp_incident_mode",
}

var (
	labelMatchers = regexp.MustCompile(`\{[^}]*\}`)
	grouping      = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	rangeOrString = regexp.MustCompile(`\[[^\]]*\]|"[^"]*"`)
	identifier    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlWords   = []string{"and", "or", "unless", "bool", "offset"}
)

// metricNames returns the metric names a PromQL expression reads: what is
// left once label matchers, groupings, ranges, strings, functions and
// keywords are removed.
func metricNames(expr string) []string {
	expr = labelMatchers.ReplaceAllString(expr, " ")
	expr = grouping.ReplaceAllString(expr, " ")
	expr = rangeOrString.ReplaceAllString(expr, " ")
	var names []string
	for _, m := range identifier.FindAllString(expr, -1) {
		if strings.HasSuffix(m, "(") || slices.Contains(promqlWords, m) {
			continue
		}
		names = append(names, m)
	}
	return names
}

func isExported(name string) bool {
	if slices.Contains(exportedMetrics, name) {
		return true
	}
	for _, h := range histograms {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if name == h+suffix {
				return true
			}
		}
	}
	return false
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func TestDashboardQueriesUseExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(repoPath("config", "grafana", "memory-mcp-security.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if dashboard.UID == "" || dashboard.Title == "" {
		t.Error("the dashboard needs a uid and a title, so provisioning updates it in place")
	}

	var exprs []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dashboard.Panels)
	for _, v := range dashboard.Templating.List {
		if inner, ok := strings.CutPrefix(v.Definition, "label_values("); ok {
			exprs = append(exprs, strings.TrimSuffix(strings.SplitN(inner, ",", 2)[0], ")"))
		}
	}

	used := map[string]bool{}
	for _, expr := range exprs {
		for _, name := range metricNames(expr) {
			used[name] = true
			if !isExported(name) {
				t.Errorf("query %q reads %s, which the server does not export", expr, name)
			}
		}
	}
	for _, name := range dashboardMetrics {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

func TestMetricNames(t *testing.T) {
	expr := `histogram_quantile(0.99, sum by (le, tool) (rate(` +
		`memory_mcp_tool_duration_seconds_bucket{namespace=~"$namespace"}[5m]))) ` +
		`or max(audit_shipping_lag_seconds) > 300`
	got := metricNames(expr)
	want := []string{"memory_mcp_tool_duration_seconds_bucket", "audit_shipping_lag_seconds"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}

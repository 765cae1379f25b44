// Package rules runs promtool over the MemoryMCP security alerts: the rules
// must load (`promtool check rules`) and pass the unit tests in
// memorymcp_alerts_test.yaml (`promtool test rules`), in which each alert has
// a series that fires it and one that does not.
package rules

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/controllers"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// contractAlerts are the alerts every MemoryMCP's PrometheusRule carries.
var contractAlerts = []string{
	"MemoryMCPHighFailedAuthRate",
	"MemoryMCPRateLimitViolationSpike",
	"MemoryMCPSecurityViolation",
	"MemoryMCPUnusualBulkQueries",
	"MemoryMCPSandboxViolations",
	"MemoryMCPAuditShippingFailing",
	"MemoryMCPAuditEventsUndelivered",
	"MemoryMCPIncidentModeActive",
}

const unitTestFile = "memorymcp_alerts_test.yaml"

// ruleSource renders the rules the operator ships, through the controller's
// PrometheusRule builder, for a MemoryMCP named agent-memory in namespace
// default with the default thresholds.
func ruleSource(t *testing.T) []byte {
	t.Helper()
	m := &mcpv1alpha1.MemoryMCP{ObjectMeta: metav1.ObjectMeta{Name: "agent-memory", Namespace: "default"}}
	group := controllers.SecurityAlertRuleGroup(m)
	data, err := yaml.Marshal(map[string]any{"groups": []any{group}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type ruleGroup struct {
	Name  string           `json:"name"`
	Rules []map[string]any `json:"rules"`
}

// ruleGroups decodes either accepted form of ruleSource.
func ruleGroups(t *testing.T, data []byte) []ruleGroup {
	t.Helper()
	var doc struct {
		Groups []ruleGroup `json:"groups"`
		Spec   struct {
			Groups []ruleGroup `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("decoding the rules: %v", err)
	}
	groups := append(doc.Groups, doc.Spec.Groups...)
	if len(groups) == 0 {
		t.Fatal("the rule source has no groups")
	}
	return groups
}

func writeYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(testtools.Promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s failed: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRulesPassPromtool(t *testing.T) {
	groups := ruleGroups(t, ruleSource(t))
	dir := t.TempDir()

	writeYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	promtool(t, dir, "check", "rules", "rules.yaml")

	// The unit tests pin names, labels and thresholds; annotation wording is
	// the builder's to choose and is checked by TestAlertAnnotations.
	for _, g := range groups {
		for _, r := range g.Rules {
			delete(r, "annotations")
		}
	}
	writeYAML(t, filepath.Join(dir, "rules-without-annotations.yaml"), map[string]any{"groups": groups})

	unitTests := readUnitTests(t)
	unitTests["rule_files"] = []string{"rules-without-annotations.yaml"}
	writeYAML(t, filepath.Join(dir, unitTestFile), unitTests)
	promtool(t, dir, "test", "rules", unitTestFile)
}

func readUnitTests(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(unitTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var tests map[string]any
	if err := yaml.Unmarshal(data, &tests); err != nil {
		t.Fatalf("decoding %s: %v", unitTestFile, err)
	}
	return tests
}

func TestRulesCoverTheContract(t *testing.T) {
	var alerts []string
	for _, g := range ruleGroups(t, ruleSource(t)) {
		for _, r := range g.Rules {
			if name, ok := r["alert"].(string); ok {
				alerts = append(alerts, name)
			}
		}
	}
	for _, want := range contractAlerts {
		if !slices.Contains(alerts, want) {
			t.Errorf("the rules lack alert %s", want)
		}
	}
}

// Each contract alert needs a case that fires it and one that stays silent:
// a test that only ever expects silence passes for a broken expression too.
func TestUnitTestsFireAndStaySilent(t *testing.T) {
	var doc struct {
		Tests []struct {
			Name        string `json:"name"`
			InputSeries []struct {
				Series string `json:"series"`
			} `json:"input_series"`
			AlertRuleTest []struct {
				Alertname string           `json:"alertname"`
				ExpAlerts []map[string]any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	data, err := os.ReadFile(unitTestFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	// A silent case counts only when it feeds the same series as a case
	// that fires, so only the values keep it silent: one that feeds another
	// server's or metric's series stays silent for any values.
	fires, silent := map[string][]string{}, map[string][]string{}
	for _, tc := range doc.Tests {
		var series []string
		for _, in := range tc.InputSeries {
			series = append(series, seriesKey(t, in.Series))
		}
		slices.Sort(series)
		key := strings.Join(series, " ")
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = append(fires[a.Alertname], key)
			} else {
				silent[a.Alertname] = append(silent[a.Alertname], key)
			}
		}
	}
	for _, name := range contractAlerts {
		if len(fires[name]) == 0 {
			t.Errorf("no unit test fires %s", name)
		}
		if !slices.ContainsFunc(silent[name], func(k string) bool { return slices.Contains(fires[name], k) }) {
			t.Errorf("no unit test keeps %s silent on the series of a test that fires it", name)
		}
	}
}

var seriesSelector = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}$`)

// seriesKey is a series' metric name with the labels the alerts select on
// (namespace and service); other labels, such as pod or cause, are summed
// away by the rules.
func seriesKey(t *testing.T, series string) string {
	t.Helper()
	m := seriesSelector.FindStringSubmatch(strings.TrimSpace(series))
	if m == nil {
		t.Fatalf("cannot read input series %q", series)
	}
	key := []string{m[1]}
	for _, l := range strings.Split(m[2], ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(l), "=")
		if name == "namespace" || name == "service" {
			key = append(key, strings.TrimSpace(l))
		}
	}
	slices.Sort(key[1:])
	return strings.Join(key, ",")
}

// Every alert tells the responder what happened and links its runbook
// section, which must exist.
func TestAlertAnnotations(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join(envtestutil.RepoRoot(), "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(runbook))
	for _, g := range ruleGroups(t, ruleSource(t)) {
		for _, r := range g.Rules {
			name, _ := r["alert"].(string)
			annotations, _ := r["annotations"].(map[string]any)
			for _, key := range []string{"summary", "description", "runbook_url"} {
				if s, _ := annotations[key].(string); s == "" {
					t.Errorf("alert %s has no %s annotation", name, key)
				}
			}
			url, _ := annotations["runbook_url"].(string)
			_, anchor, _ := strings.Cut(url, "#")
			if url != "" && !anchors[anchor] {
				t.Errorf("alert %s links runbook section #%s, which docs/runbook.md lacks", name, anchor)
			}
		}
	}
}

var heading = regexp.MustCompile(`(?m)^#+ +(.+)$`)

// markdownAnchors returns the anchors GitHub derives from headings.
func markdownAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	strip := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		a := strip.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), "")
		anchors[strings.ReplaceAll(a, " ", "-")] = true
	}
	return anchors
}

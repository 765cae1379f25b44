package install

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/memorymcp/memory-mcp-operator/internal/testtools"
)

// permission is one verb on one resource: rules compared this way are equal
// however controller-gen and the chart group them.
type permission struct {
	group, resource, resourceName, nonResourceURL, verb string
}

func (p permission) String() string {
	if p.nonResourceURL != "" {
		return p.verb + " " + p.nonResourceURL
	}
	s := p.verb + " " + p.resource
	if p.group != "" {
		s += "." + p.group
	}
	if p.resourceName != "" {
		s += "/" + p.resourceName
	}
	return s
}

func permissions(rules []rbacv1.PolicyRule) map[permission]bool {
	set := map[permission]bool{}
	orAll := func(xs []string) []string {
		if len(xs) == 0 {
			return []string{""}
		}
		return xs
	}
	for _, r := range rules {
		for _, verb := range r.Verbs {
			for _, url := range r.NonResourceURLs {
				set[permission{nonResourceURL: url, verb: verb}] = true
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, name := range orAll(r.ResourceNames) {
						set[permission{group: g, resource: res, resourceName: name, verb: verb}] = true
					}
				}
			}
		}
	}
	return set
}

// The chart's ClusterRole is written by hand; the kustomize bundle uses the
// one controller-gen derives from the controller's markers. They must grant
// the same, or one install path would break where the other works.
func TestChartClusterRoleMatchesGeneratedRole(t *testing.T) {
	rolePath := requireRoleYAML(t)
	testtools.Helm(t)

	data, err := os.ReadFile(rolePath)
	if err != nil {
		t.Fatal(err)
	}
	var generated rbacv1.ClusterRole
	if err := yaml.Unmarshal(data, &generated); err != nil {
		t.Fatalf("decoding %s: %v", rolePath, err)
	}

	objs := renderChart(t, "mmcp-system")
	rendered := find(objs, "ClusterRole", "-manager")
	if rendered == nil {
		t.Fatal("the chart renders no ClusterRole named *-manager")
	}
	var chartRole rbacv1.ClusterRole
	if err := yaml.Unmarshal(mustJSON(t, rendered.Object), &chartRole); err != nil {
		t.Fatal(err)
	}

	want, got := permissions(generated.Rules), permissions(chartRole.Rules)
	if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
		t.Errorf("chart ClusterRole differs from config/rbac/role.yaml (-generated +chart):\n%s", diff)
	}
}

func sorted(set map[permission]bool) []string {
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p.String())
	}
	slices.SortFunc(out, strings.Compare)
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// grants are the permissions objs give the ServiceAccount named sa, keyed
// by where they apply: "cluster" through ClusterRoleBindings, "namespace"
// through RoleBindings in the ServiceAccount's namespace.
func grants(t *testing.T, objs []*unstructured.Unstructured, sa string) map[string][]string {
	t.Helper()
	rules := map[string][]rbacv1.PolicyRule{}
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" || o.GetKind() == "Role" {
			var r rbacv1.ClusterRole
			if err := yaml.Unmarshal(mustJSON(t, o.Object), &r); err != nil {
				t.Fatal(err)
			}
			rules[o.GetKind()+"/"+o.GetName()] = r.Rules
		}
	}
	bound := map[string]map[permission]bool{"cluster": {}, "namespace": {}}
	for _, o := range objs {
		scope := map[string]string{"ClusterRoleBinding": "cluster", "RoleBinding": "namespace"}[o.GetKind()]
		if scope == "" {
			continue
		}
		var b rbacv1.RoleBinding
		if err := yaml.Unmarshal(mustJSON(t, o.Object), &b); err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == "ServiceAccount" && s.Name == sa
		}) {
			continue
		}
		role, ok := rules[b.RoleRef.Kind+"/"+b.RoleRef.Name]
		if !ok {
			t.Errorf("%s %s binds %s %s, which is not rendered", o.GetKind(), o.GetName(),
				b.RoleRef.Kind, b.RoleRef.Name)
		}
		for p := range permissions(role) {
			bound[scope][p] = true
		}
	}
	return map[string][]string{"cluster": sorted(bound["cluster"]), "namespace": sorted(bound["namespace"])}
}

// Everything bound to the manager's ServiceAccount, leader election and
// metrics authentication included, is the same in the chart and in
// config/rbac, cluster-wide and in the manager's namespace.
func TestChartManagerGrantsMatchConfigRBAC(t *testing.T) {
	requireRoleYAML(t)
	out, err := run(testtools.Kustomize(t), "build", "config/rbac")
	if err != nil {
		t.Fatal(err)
	}
	want := grants(t, decodeAll(t, out), "controller-manager")
	got := grants(t, renderChart(t, "mmcp-system"), "mmcp-memory-mcp-operator")
	if len(want["cluster"]) == 0 || len(want["namespace"]) == 0 {
		t.Fatalf("config/rbac grants the manager nothing in some scope: %v", want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the chart grants its manager other permissions than config/rbac (-config +chart):\n%s", diff)
	}
}

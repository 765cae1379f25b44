package controllers

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// namespaceNameLabel is set by the API server on every namespace.
const namespaceNameLabel = "kubernetes.io/metadata.name"

// buildNetworkPolicy limits who reaches the server and where it connects.
//
// Ingress to the MCP port comes only from pods of the own namespace and of
// network.allowedNamespaces (narrowed by allowedPods); to the metrics port
// only from metricsNamespaces. Under incident mode with networkLockdown the
// own namespace is dropped from the MCP port and outside scrapers from the
// metrics port.
//
// Egress is DNS, the Kubernetes API (the server watches its objects), the
// storage endpoint, the audit sinks' ports and extraEgress.
func buildNetworkPolicy(m *mcpv1alpha1.MemoryMCP) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(m, m.Name, "server"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(m)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingressRules(m),
			Egress:      egressRules(m),
		},
	}
}

func lockedDown(m *mcpv1alpha1.MemoryMCP) bool {
	return m.Spec.IncidentMode && m.Spec.Incident.NetworkLockdown
}

func ingressRules(m *mcpv1alpha1.MemoryMCP) []networkingv1.NetworkPolicyIngressRule {
	var rules []networkingv1.NetworkPolicyIngressRule

	// Note: a rule with no peers admits every source, so a rule is left out
	// rather than written empty when nobody may connect.
	namespaces := slices.Clone(m.Spec.Network.AllowedNamespaces)
	if !lockedDown(m) {
		namespaces = append(namespaces, m.Namespace)
	}
	if namespaces = sortedUnique(namespaces); len(namespaces) > 0 {
		peer := networkingv1.NetworkPolicyPeer{NamespaceSelector: namespacesSelector(namespaces)}
		if sel := m.Spec.Network.AllowedPods; sel != nil {
			peer.PodSelector = sel.DeepCopy()
		}
		rules = append(rules, networkingv1.NetworkPolicyIngressRule{
			Ports: tcpPorts(PortMCP),
			From:  []networkingv1.NetworkPolicyPeer{peer},
		})
	}

	rules = append(rules, networkingv1.NetworkPolicyIngressRule{
		Ports: tcpPorts(PortMetrics),
		From:  metricsPeers(m),
	})
	return rules
}

// metricsPeers are the scrapers. With no metricsNamespaces every pod may
// scrape, and so may addresses outside the cluster except the blocked
// CIDRs: this is the one rule with an ipBlock, so the only one where a
// blocked CIDR can be subtracted. Selector peers cannot be narrowed by
// address; the server refuses blocked addresses among them itself.
func metricsPeers(m *mcpv1alpha1.MemoryMCP) []networkingv1.NetworkPolicyPeer {
	if ns := sortedUnique(m.Spec.Network.MetricsNamespaces); len(ns) > 0 {
		return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: namespacesSelector(ns)}}
	}
	peers := []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
	if lockedDown(m) {
		return peers
	}
	v4, v6 := splitCIDRs(m.Spec.BlockedClients.CIDRs)
	return append(peers,
		networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0", Except: v4}},
		networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "::/0", Except: v6}},
	)
}

func egressRules(m *mcpv1alpha1.MemoryMCP) []networkingv1.NetworkPolicyEgressRule {
	rules := []networkingv1.NetworkPolicyEgressRule{
		{
			Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, 53), port(corev1.ProtocolTCP, 53)},
			To: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: namespacesSelector([]string{"kube-system"}),
			}},
		},
		// The API server's addresses are not pods, so no selector names
		// them: 443 (the kubernetes Service) and 6443 (its endpoints after
		// the Service address is translated) are open to any destination.
		{Ports: tcpPorts(443, 6443)},
	}

	if pg := m.Spec.Storage.Postgres; storageType(m) == mcpv1alpha1.StoragePostgres && pg != nil {
		p := pg.Port
		if p == 0 {
			p = 5432
		}
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(p), To: pg.EgressTo})
	}
	if ports := sinkPorts(m); len(ports) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(ports...)})
	}
	return append(rules, m.Spec.Network.ExtraEgress...)
}

// sinkPorts are the TCP ports of the audit sinks, sorted. Sinks are named
// by host, not address, so their rule admits any destination on the port.
func sinkPorts(m *mcpv1alpha1.MemoryMCP) []int32 {
	var ports []int32
	for _, s := range m.Spec.Audit.Sinks {
		var p int32
		switch {
		case s.Syslog != nil:
			_, ps, err := net.SplitHostPort(s.Syslog.Address)
			if err == nil {
				p = parsePort(ps)
			}
		case s.HTTP != nil:
			p = urlPort(s.HTTP.URL)
		}
		if p > 0 {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

func urlPort(raw string) int32 {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	if p := u.Port(); p != "" {
		return parsePort(p)
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

func parsePort(s string) int32 {
	p, err := strconv.ParseInt(s, 10, 32)
	if err != nil || p < 1 || p > 65535 {
		return 0
	}
	return int32(p)
}

func splitCIDRs(cidrs []mcpv1alpha1.CIDR) (v4, v6 []string) {
	for _, c := range cidrs {
		if strings.Contains(string(c), ":") {
			v6 = append(v6, string(c))
		} else {
			v4 = append(v4, string(c))
		}
	}
	return sortedUnique(v4), sortedUnique(v6)
}

func namespacesSelector(names []string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: namespaceNameLabel, Operator: metav1.LabelSelectorOpIn, Values: names,
	}}}
}

func tcpPorts(ports ...int32) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, port(corev1.ProtocolTCP, p))
	}
	return out
}

func port(proto corev1.Protocol, p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(proto), Port: ptr.To(intstr.FromInt32(p))}
}

package controllers

import (
	"maps"
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
// Egress is DNS, the Kubernetes API at apiServer (the server watches its
// objects; any destination on the API ports when empty), the storage
// endpoint, the audit sinks, the OIDC JWKS endpoint and extraEgress.
func buildNetworkPolicy(m *mcpv1alpha1.MemoryMCP, apiServer []egressTarget) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: networkingv1.SchemeGroupVersion.String(), Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(m, m.Name, "server"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(m)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress:     ingressRules(m),
			Egress:      egressRules(m, apiServer),
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

func egressRules(m *mcpv1alpha1.MemoryMCP, apiServer []egressTarget) []networkingv1.NetworkPolicyEgressRule {
	rules := []networkingv1.NetworkPolicyEgressRule{{
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolUDP, 53), port(corev1.ProtocolTCP, 53)},
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: namespacesSelector([]string{"kube-system"}),
		}},
	}}
	rules = append(rules, apiServerRules(apiServer)...)

	if pg := m.Spec.Storage.Postgres; storageType(m) == mcpv1alpha1.StoragePostgres && pg != nil {
		p := pg.Port
		if p == 0 {
			p = 5432
		}
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(p), To: pg.EgressTo})
	}
	for _, t := range endpointTargets(remoteEndpoints(m)) {
		rules = append(rules, t.rule())
	}
	return append(rules, m.Spec.Network.ExtraEgress...)
}

// apiServerRules admit the Kubernetes API, which the server watches for its
// ConfigMap and Secret: the kubernetes Service's addresses and the API
// server endpoints behind them, as the reconciler found them.
func apiServerRules(targets []egressTarget) []networkingv1.NetworkPolicyEgressRule {
	// Note: with no addresses known, the API ports are open to any
	// destination, as a policy that cut the server off its config would
	// stop every runtime change. The reconciler logs when this happens.
	if len(targets) == 0 {
		return []networkingv1.NetworkPolicyEgressRule{{Ports: tcpPorts(443, 6443)}}
	}
	rules := make([]networkingv1.NetworkPolicyEgressRule, 0, len(targets))
	for _, t := range targets {
		rules = append(rules, t.rule())
	}
	return rules
}

// egressTarget is a set of IP addresses reached on a set of TCP ports. No
// addresses means any destination on the ports.
type egressTarget struct {
	addresses []string
	ports     []int32
}

func (t egressTarget) rule() networkingv1.NetworkPolicyEgressRule {
	r := networkingv1.NetworkPolicyEgressRule{Ports: tcpPorts(t.ports...)}
	for _, a := range t.addresses {
		r.To = append(r.To, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: hostCIDR(a)}})
	}
	return r
}

// hostCIDR is the single-address CIDR of an IP literal.
func hostCIDR(ip string) string {
	if strings.Contains(ip, ":") {
		return ip + "/128"
	}
	return ip + "/32"
}

// remoteEndpoint is a host and TCP port the server connects to.
type remoteEndpoint struct {
	host string
	port int32
}

// remoteEndpoints are the audit sinks and the OIDC issuer's JWKS endpoint.
func remoteEndpoints(m *mcpv1alpha1.MemoryMCP) []remoteEndpoint {
	var eps []remoteEndpoint
	for _, s := range m.Spec.Audit.Sinks {
		switch {
		case s.Syslog != nil:
			host, ps, err := net.SplitHostPort(s.Syslog.Address)
			if err == nil {
				eps = append(eps, remoteEndpoint{host: host, port: parsePort(ps)})
			}
		case s.HTTP != nil:
			eps = append(eps, urlEndpoint(s.HTTP.URL))
		}
	}
	if o := buildOIDC(m.Spec.Auth.OIDC); o != nil {
		eps = append(eps, urlEndpoint(o.JWKSURL))
	}
	return eps
}

// endpointTargets narrows the endpoints named by an IP literal to that
// address. Endpoints named by host cannot be narrowed, as a NetworkPolicy
// matches addresses and the name resolves at connect time, so their ports
// are open to any destination (and then cover IP literals on the same port).
// Targets come sorted: the open ports first, then one per narrowed port.
func endpointTargets(eps []remoteEndpoint) []egressTarget {
	var open []int32
	byPort := map[int32][]string{}
	for _, ep := range eps {
		if ep.port == 0 {
			continue
		}
		if ip := net.ParseIP(ep.host); ip != nil {
			byPort[ep.port] = append(byPort[ep.port], ip.String())
		} else {
			open = append(open, ep.port)
		}
	}
	open = sortedUnique(open)

	var targets []egressTarget
	if len(open) > 0 {
		targets = append(targets, egressTarget{ports: open})
	}
	for _, p := range slices.Sorted(maps.Keys(byPort)) {
		if !slices.Contains(open, p) {
			targets = append(targets, egressTarget{addresses: sortedUnique(byPort[p]), ports: []int32{p}})
		}
	}
	return targets
}

// urlEndpoint is the host and port of an http or https URL; port 0 when
// the URL does not parse.
func urlEndpoint(raw string) remoteEndpoint {
	u, err := url.Parse(raw)
	if err != nil {
		return remoteEndpoint{}
	}
	return remoteEndpoint{host: u.Hostname(), port: urlPort(u)}
}

func urlPort(u *url.URL) int32 {
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

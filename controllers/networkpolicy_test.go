package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// goldenAPIServer is the API server of the rendering tests: a ClusterIP on
// 443 and two endpoints on 6443.
var goldenAPIServer = []egressTarget{
	{addresses: []string{"10.96.0.1"}, ports: []int32{443}},
	{addresses: []string{"172.18.0.2", "172.18.0.3"}, ports: []int32{6443}},
}

// egressSummary is one egress rule as "ports -> peers", with "any" for a
// rule without peers and "selector" for peers that select pods.
type egressSummary struct {
	Ports []int32
	To    []string
}

func summarizeEgress(m *mcpv1alpha1.MemoryMCP, api []egressTarget) []egressSummary {
	var out []egressSummary
	for _, r := range buildNetworkPolicy(m, api).Spec.Egress {
		s := egressSummary{}
		for _, p := range r.Ports {
			if *p.Protocol == corev1.ProtocolTCP {
				s.Ports = append(s.Ports, p.Port.IntVal)
			}
		}
		for _, peer := range r.To {
			if peer.IPBlock != nil {
				s.To = append(s.To, peer.IPBlock.CIDR)
			} else {
				s.To = append(s.To, "selector")
			}
		}
		if len(r.To) == 0 {
			s.To = []string{"any"}
		}
		out = append(out, s)
	}
	return out
}

var dnsEgress = egressSummary{Ports: []int32{53}, To: []string{"selector"}}

func TestNetworkPolicyEgress(t *testing.T) {
	syslog := func(addr string) mcpv1alpha1.AuditSink {
		return mcpv1alpha1.AuditSink{Name: addr, Type: mcpv1alpha1.SinkSyslog,
			Syslog: &mcpv1alpha1.SyslogSink{Address: addr}}
	}
	httpSink := func(url string) mcpv1alpha1.AuditSink {
		return mcpv1alpha1.AuditSink{Name: url, Type: mcpv1alpha1.SinkHTTP, HTTP: &mcpv1alpha1.HTTPSink{URL: url}}
	}
	apiRules := []egressSummary{
		{Ports: []int32{443}, To: []string{"10.96.0.1/32"}},
		{Ports: []int32{6443}, To: []string{"172.18.0.2/32", "172.18.0.3/32"}},
	}
	tests := []struct {
		name   string
		api    []egressTarget
		mutate func(*mcpv1alpha1.MemoryMCP)
		want   []egressSummary
	}{
		{name: "API server narrowed to its addresses", api: goldenAPIServer,
			want: append([]egressSummary{dnsEgress}, apiRules...)},
		{name: "API server unknown opens its ports to any destination",
			want: []egressSummary{dnsEgress, {Ports: []int32{443, 6443}, To: []string{"any"}}}},
		{name: "dual-stack API server",
			api: []egressTarget{
				{addresses: []string{"10.96.0.1", "fd00:10:96::1"}, ports: []int32{443}},
				{addresses: []string{"fd00::2"}, ports: []int32{6443}},
			},
			want: []egressSummary{dnsEgress,
				{Ports: []int32{443}, To: []string{"10.96.0.1/32", "fd00:10:96::1/128"}},
				{Ports: []int32{6443}, To: []string{"fd00::2/128"}},
			}},
		{name: "sinks by host stay open on their ports", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Audit.Sinks = []mcpv1alpha1.AuditSink{
					syslog("siem.example:6514"), httpSink("https://es.example/_bulk"), httpSink("http://logs:9200/x")}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{443, 6514, 9200}, To: []string{"any"}})...)},
		{name: "sinks by IP literal narrowed to the address", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Audit.Sinks = []mcpv1alpha1.AuditSink{syslog("192.0.2.10:6514"),
					syslog("192.0.2.9:6514"), httpSink("https://[2001:db8::5]:9200/_bulk")}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{6514}, To: []string{"192.0.2.10/32", "192.0.2.9/32"}},
				egressSummary{Ports: []int32{9200}, To: []string{"2001:db8::5/128"}})...)},
		{name: "a sink by host opens a port an IP literal shares", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Audit.Sinks = []mcpv1alpha1.AuditSink{syslog("192.0.2.10:6514"), syslog("siem:6514")}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{6514}, To: []string{"any"}})...)},
		{name: "OIDC keys endpoint reachable", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Auth.OIDC = &mcpv1alpha1.OIDCSpec{Issuer: "https://login.example", Audience: "mcp"}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{443}, To: []string{"any"}})...)},
		{name: "OIDC keys endpoint by IP literal", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Auth.OIDC = &mcpv1alpha1.OIDCSpec{Issuer: "https://login.example", Audience: "mcp",
					JWKSURL: "https://198.51.100.7:8443/keys"}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{8443}, To: []string{"198.51.100.7/32"}})...)},
		{name: "postgres to its peers", api: goldenAPIServer,
			mutate: func(m *mcpv1alpha1.MemoryMCP) {
				m.Spec.Storage = mcpv1alpha1.StorageSpec{Type: mcpv1alpha1.StoragePostgres,
					Postgres: &mcpv1alpha1.PostgresStorage{Port: 5433}}
			},
			want: append([]egressSummary{dnsEgress}, append(apiRules,
				egressSummary{Ports: []int32{5433}, To: []string{"any"}})...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture("memory", tt.mutate)
			if diff := cmp.Diff(tt.want, summarizeEgress(m, tt.api)); diff != "" {
				t.Errorf("egress (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceTarget(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		want egressTarget
	}{
		{"single stack", corev1.ServiceSpec{ClusterIPs: []string{"10.96.0.1"},
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}},
			egressTarget{addresses: []string{"10.96.0.1"}, ports: []int32{443}}},
		{"dual stack, UDP port left out", corev1.ServiceSpec{ClusterIPs: []string{"fd00::1", "10.96.0.1"},
			Ports: []corev1.ServicePort{{Port: 443}, {Port: 53, Protocol: corev1.ProtocolUDP}}},
			egressTarget{addresses: []string{"10.96.0.1", "fd00::1"}, ports: []int32{443}}},
		{"headless has no address", corev1.ServiceSpec{ClusterIPs: []string{corev1.ClusterIPNone},
			Ports: []corev1.ServicePort{{Port: 443}}},
			egressTarget{ports: []int32{443}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := serviceTarget(&corev1.Service{Spec: tt.spec})
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(egressTarget{})); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSliceTargets(t *testing.T) {
	slice := func(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort,
		addrs ...string) discoveryv1.EndpointSlice {
		s := discoveryv1.EndpointSlice{AddressType: at, Ports: ports}
		for _, a := range addrs {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}})
		}
		return s
	}
	https := []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To[int32](6443),
		Protocol: ptr.To(corev1.ProtocolTCP)}}
	tests := []struct {
		name  string
		items []discoveryv1.EndpointSlice
		want  []egressTarget
	}{
		{"none", nil, nil},
		{"one slice", []discoveryv1.EndpointSlice{slice(discoveryv1.AddressTypeIPv4, https, "172.18.0.3",
			"172.18.0.2")},
			[]egressTarget{{addresses: []string{"172.18.0.2", "172.18.0.3"}, ports: []int32{6443}}}},
		{"families with the same ports merge", []discoveryv1.EndpointSlice{
			slice(discoveryv1.AddressTypeIPv4, https, "172.18.0.2"),
			slice(discoveryv1.AddressTypeIPv6, https, "fd00::2")},
			[]egressTarget{{addresses: []string{"172.18.0.2", "fd00::2"}, ports: []int32{6443}}}},
		{"different ports stay apart", []discoveryv1.EndpointSlice{
			slice(discoveryv1.AddressTypeIPv4, https, "172.18.0.2"),
			slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Port: ptr.To[int32](443)}}, "10.0.0.5")},
			[]egressTarget{
				{addresses: []string{"10.0.0.5"}, ports: []int32{443}},
				{addresses: []string{"172.18.0.2"}, ports: []int32{6443}},
			}},
		{"FQDN, portless, UDP and empty slices left out", []discoveryv1.EndpointSlice{
			slice(discoveryv1.AddressTypeFQDN, https, "api.example"),
			slice(discoveryv1.AddressTypeIPv4, nil, "172.18.0.2"),
			slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Port: ptr.To[int32](6443),
				Protocol: ptr.To(corev1.ProtocolUDP)}}, "172.18.0.2"),
			slice(discoveryv1.AddressTypeIPv4, https)},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sliceTargets(tt.items)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(egressTarget{})); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
}

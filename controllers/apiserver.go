package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// The Service through which pods reach the Kubernetes API, and the label
// the API server puts on the EndpointSlices behind it.
const (
	apiServiceNamespace = "default"
	apiServiceName      = "kubernetes"
)

// apiServerSliceLabels select the EndpointSlices of the kubernetes Service.
var apiServerSliceLabels = labels.Set{discoveryv1.LabelServiceName: apiServiceName}

// errNoAPIServerAddresses means the kubernetes Service or its endpoints
// hold no address the NetworkPolicy can name.
var errNoAPIServerAddresses = errors.New("no addresses found")

// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch

// apiServerTargets are where the Kubernetes API answers: the kubernetes
// Service's ClusterIPs on its ports, and the API server endpoints on
// theirs. Traffic to the ClusterIP is translated to an endpoint, and
// network plugins differ in which of the two addresses a policy sees, so
// the policy names both.
//
// When they cannot be read it returns nil, which leaves the API ports open
// to any destination, and logs the change of state at V(0).
func (r *MemoryMCPReconciler) apiServerTargets(ctx context.Context) []egressTarget {
	targets, err := r.readAPIServerTargets(ctx)
	if err != nil {
		if !r.apiServerFallback.Swap(true) {
			log.FromContext(ctx).Info("API server addresses unknown, NetworkPolicies open the API ports "+
				"to any destination", "service", apiServiceNamespace+"/"+apiServiceName, "reason", err.Error())
		}
		return nil
	}
	if r.apiServerFallback.Swap(false) {
		log.FromContext(ctx).Info("API server addresses found, NetworkPolicies narrow the API ports to them")
	}
	return targets
}

func (r *MemoryMCPReconciler) readAPIServerTargets(ctx context.Context) ([]egressTarget, error) {
	svc, err := r.apiServiceTarget(ctx)
	if err != nil {
		return nil, err
	}

	// The slices come from the manager's cache, which holds only these
	// (CacheByObject), so they are watched rather than read per reconcile.
	var list discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &list, client.InNamespace(apiServiceNamespace),
		client.MatchingLabels(apiServerSliceLabels)); err != nil {
		return nil, fmt.Errorf("listing the API server endpoints: %w", err)
	}
	eps := sliceTargets(list.Items)
	if len(eps) == 0 {
		return nil, fmt.Errorf("reading the API server endpoints: %w", errNoAPIServerAddresses)
	}
	return append([]egressTarget{svc}, eps...), nil
}

// apiServiceTarget reads the kubernetes Service once and keeps its
// addresses for the life of the process.
//
// Note: a Service's ClusterIPs are immutable, so the kept copy stays true
// unless the Service is deleted and recreated on another service range.
// It is read live, not cached, as the cache may not cover the default
// namespace and holds the Services the operator owns.
func (r *MemoryMCPReconciler) apiServiceTarget(ctx context.Context) (egressTarget, error) {
	if t := r.apiService.Load(); t != nil {
		return *t, nil
	}
	svc := &corev1.Service{}
	key := client.ObjectKey{Namespace: apiServiceNamespace, Name: apiServiceName}
	if err := r.APIReader.Get(ctx, key, svc); err != nil {
		return egressTarget{}, fmt.Errorf("reading the kubernetes service: %w", err)
	}
	t := serviceTarget(svc)
	if len(t.addresses) == 0 || len(t.ports) == 0 {
		return egressTarget{}, fmt.Errorf("reading the kubernetes service: %w", errNoAPIServerAddresses)
	}
	r.apiService.Store(&t)
	return t, nil
}

// serviceTarget is a Service's ClusterIPs on its TCP ports.
func serviceTarget(svc *corev1.Service) egressTarget {
	var t egressTarget
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			t.addresses = append(t.addresses, ip)
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			t.ports = append(t.ports, p.Port)
		}
	}
	t.addresses, t.ports = sortedUnique(t.addresses), sortedUnique(t.ports)
	return t
}

// sliceTargets are the IP addresses of EndpointSlices on their TCP ports,
// one target per distinct set of ports, sorted.
//
// Note: endpoints count whatever their conditions say, so an API server
// that is starting or terminating stays reachable.
func sliceTargets(items []discoveryv1.EndpointSlice) []egressTarget {
	byPorts := map[string]*egressTarget{}
	for _, s := range items {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		ports := slicePorts(s.Ports)
		if len(ports) == 0 {
			continue
		}
		key := fmt.Sprint(ports)
		if byPorts[key] == nil {
			byPorts[key] = &egressTarget{ports: ports}
		}
		for _, ep := range s.Endpoints {
			byPorts[key].addresses = append(byPorts[key].addresses, ep.Addresses...)
		}
	}

	var targets []egressTarget
	for _, key := range slices.Sorted(maps.Keys(byPorts)) {
		t := byPorts[key]
		if t.addresses = sortedUnique(t.addresses); len(t.addresses) > 0 {
			targets = append(targets, *t)
		}
	}
	return targets
}

func slicePorts(ports []discoveryv1.EndpointPort) []int32 {
	var out []int32
	for _, p := range ports {
		if p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			out = append(out, *p.Port)
		}
	}
	return sortedUnique(out)
}

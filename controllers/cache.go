package controllers

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheByObject narrows the manager's cache of Secrets and ConfigMaps to
// those the operator writes, so it never holds the cluster's other secrets
// in memory. Its readers only ever read objects carrying the label.
//
// EndpointSlices are cached for the kubernetes Service only, in its
// namespace whatever namespaces the manager watches, as the NetworkPolicy
// names the API server's addresses.
func CacheByObject() map[client.Object]cache.ByObject {
	managed := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedByValue})
	return map[client.Object]cache.ByObject{
		&corev1.Secret{}:    {Label: managed},
		&corev1.ConfigMap{}: {Label: managed},
		&discoveryv1.EndpointSlice{}: {
			Namespaces: map[string]cache.Config{apiServiceNamespace: {}},
			Label:      labels.SelectorFromSet(apiServerSliceLabels),
		},
	}
}

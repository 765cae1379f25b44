package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// reconcileCredentials issues, rotates and expires client tokens.
//
// Note: the server's credentials Secret is written before the client
// Secrets, so a client never reads a token the server does not know yet.
func (r *MemoryMCPReconciler) reconcileCredentials(ctx context.Context, s *scope) error {
	current, err := r.readCredentialState(ctx, s.m)
	if err != nil {
		return err
	}
	policy := newRotationPolicy(s.m, s.now, s.incidentSince)
	s.rotation = rotationReason(policy, current)
	next, err := nextCredentials(s.m, policy, current, s.rotation, r.NewToken)
	if err != nil {
		return err
	}
	s.credentials = next
	if s.rotation != "" {
		log.FromContext(ctx).Info("rotating client credentials", "reason", s.rotation)
	}
	if len(current.Undelivered) > 0 {
		log.FromContext(ctx).Info("reissuing tokens a failed write kept from their clients",
			"clients", current.Undelivered)
	}

	creds, err := buildCredentialsSecret(s.m, next)
	if err != nil {
		return err
	}
	if _, err := s.ap.apply(ctx, creds, true); err != nil {
		return err
	}
	var errs []error
	for _, c := range s.m.Spec.Auth.Clients {
		if _, err := s.ap.apply(ctx, buildClientSecret(s.m, c.Name, next.Tokens[c.Name]), true); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, r.pruneClientSecrets(ctx, s.m))
	if at := nextCredentialEvent(policy, next); !at.IsZero() {
		s.requeueAt = at
	}
	return errors.Join(errs...)
}

// readCredentialState reads the credential Secrets from the cache and,
// when they disagree, from the API.
//
// Note: the client Secrets are written after the credentials Secret, so a
// cache that lags shows the same disagreement as a failed write of a client
// Secret; only the API tells them apart, and only the second needs a new
// token.
func (r *MemoryMCPReconciler) readCredentialState(
	ctx context.Context, m *mcpv1alpha1.MemoryMCP,
) (*credentialState, error) {
	st, err := readCredentialSecrets(ctx, r.Client, m)
	if err != nil || len(st.Undelivered) == 0 {
		return st, err
	}
	return readCredentialSecrets(ctx, r.APIReader, m)
}

func readCredentialSecrets(
	ctx context.Context, reader client.Reader, m *mcpv1alpha1.MemoryMCP,
) (*credentialState, error) {
	clients := map[string]*corev1.Secret{}
	for _, c := range m.Spec.Auth.Clients {
		sec := &corev1.Secret{}
		err := reader.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: clientSecretName(m, c.Name)}, sec)
		switch {
		case err == nil:
			clients[c.Name] = sec
		case client.IgnoreNotFound(err) != nil:
			return nil, fmt.Errorf("reading client secret: %w", err)
		}
	}
	creds := &corev1.Secret{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: credentialsName(m)}, creds)
	if client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("reading credentials secret: %w", err)
	}
	if err != nil {
		creds = nil
	}
	return readCredentialState(clients, creds), nil
}

// pruneClientSecrets deletes the Secrets of clients removed from the spec.
func (r *MemoryMCPReconciler) pruneClientSecrets(ctx context.Context, m *mcpv1alpha1.MemoryMCP) error {
	list := &corev1.SecretList{}
	if err := r.Client.List(ctx, list, client.InNamespace(m.Namespace), client.MatchingLabels{
		LabelInstance: m.Name, LabelComponent: "client-credentials", LabelManagedBy: ManagedByValue,
	}); err != nil {
		return fmt.Errorf("listing client secrets: %w", err)
	}
	keep := map[string]bool{}
	for _, c := range m.Spec.Auth.Clients {
		keep[clientSecretName(m, c.Name)] = true
	}
	var errs []error
	for i := range list.Items {
		sec := &list.Items[i]
		if keep[sec.Name] || !metav1.IsControlledBy(sec, m) {
			continue
		}
		if err := r.Client.Delete(ctx, sec); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting client secret %s: %w", sec.Name, err))
		}
	}
	return errors.Join(errs...)
}

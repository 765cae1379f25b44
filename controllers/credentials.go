package controllers

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// Reasons a rotation happens, also the reasons of its Event.
const (
	RotationInterval  = "IntervalElapsed"
	RotationRequested = "RotationRequested"
	RotationIncident  = "IncidentDeclared"
)

const (
	defaultRotationInterval = 720 * time.Hour
)

// clientToken is the current bearer token of one client.
type clientToken struct {
	Token    string
	IssuedAt time.Time
}

// credentialState is what the cluster holds of the credentials of one
// MemoryMCP: the client Secrets' tokens, the previous token hashes still in
// their grace period, and the markers that make each rotation happen once.
type credentialState struct {
	Tokens       map[string]clientToken
	Previous     map[string][]runtimeconfig.TokenHash
	LastRotation *time.Time
	// RotationHandled is the last rotate-credentials annotation value acted on.
	RotationHandled string
	// IncidentRotated is the start of the incident whose rotation happened.
	IncidentRotated string
	// Undelivered names the clients whose Secret does not hold the token
	// the server knows as current; they are left out of Tokens, so they are
	// issued a new one.
	Undelivered []string
}

// rotationPolicy holds the inputs of a rotation decision.
type rotationPolicy struct {
	Now             time.Time
	Interval, Grace time.Duration
	// Requested is the current value of the rotate-credentials annotation.
	Requested string
	// IncidentSince is the start of the active incident that asks for a
	// rotation, empty when none does.
	IncidentSince string
}

func newRotationPolicy(m *mcpv1alpha1.MemoryMCP, now time.Time, incidentSince *time.Time) rotationPolicy {
	p := rotationPolicy{
		Now:       now,
		Interval:  m.Spec.Auth.Rotation.Interval.Duration,
		Grace:     m.Spec.Auth.Rotation.GracePeriod.Duration,
		Requested: m.Annotations[AnnotationRotateCredentials],
	}
	if p.Interval <= 0 {
		p.Interval = defaultRotationInterval
	}
	if p.Grace < 0 {
		p.Grace = 0
	}
	if m.Spec.IncidentMode && m.Spec.Incident.RotateCredentials && incidentSince != nil {
		p.IncidentSince = incidentSince.UTC().Format(time.RFC3339)
	}
	return p
}

// rotationReason tells why every token must rotate now, or "" when none
// must. A first issue of tokens is not a rotation.
func rotationReason(p rotationPolicy, st *credentialState) string {
	switch {
	case st.LastRotation == nil || len(st.Tokens) == 0:
		return ""
	case p.Requested != "" && p.Requested != st.RotationHandled:
		return RotationRequested
	case p.IncidentSince != "" && p.IncidentSince != st.IncidentRotated:
		return RotationIncident
	case !p.Now.Before(st.LastRotation.Add(p.Interval)):
		return RotationInterval
	}
	return ""
}

// nextCredentials returns the state after this reconcile: tokens issued for
// new clients, every token replaced when reason is set (the replaced hash
// stays valid for the grace period), expired previous hashes dropped, and
// removed clients forgotten.
func nextCredentials(
	m *mcpv1alpha1.MemoryMCP, p rotationPolicy, st *credentialState, reason string, newToken func() (string, error),
) (*credentialState, error) {
	out := &credentialState{
		Tokens:          map[string]clientToken{},
		Previous:        map[string][]runtimeconfig.TokenHash{},
		LastRotation:    st.LastRotation,
		RotationHandled: st.RotationHandled,
		IncidentRotated: st.IncidentRotated,
	}
	for _, c := range m.Spec.Auth.Clients {
		for _, h := range st.Previous[c.Name] {
			if h.ValidAt(p.Now) {
				out.Previous[c.Name] = append(out.Previous[c.Name], h)
			}
		}
		cur, ok := st.Tokens[c.Name]
		if ok && reason == "" {
			out.Tokens[c.Name] = cur
			continue
		}
		if ok && p.Grace > 0 {
			notAfter := p.Now.Add(p.Grace)
			out.Previous[c.Name] = append(out.Previous[c.Name],
				runtimeconfig.TokenHash{SHA256: runtimeconfig.HashToken(cur.Token), NotAfter: &notAfter})
		}
		tok, err := newToken()
		if err != nil {
			return nil, fmt.Errorf("issuing token of client %q: %w", c.Name, err)
		}
		out.Tokens[c.Name] = clientToken{Token: tok, IssuedAt: p.Now}
	}

	// A first issue starts the interval and settles pending requests, so a
	// MemoryMCP created with the annotation or in incident mode does not
	// rotate its brand-new tokens at once.
	if reason != "" || (out.LastRotation == nil && len(out.Tokens) > 0) {
		now := p.Now
		out.LastRotation = &now
		out.RotationHandled = p.Requested
		if p.IncidentSince != "" {
			out.IncidentRotated = p.IncidentSince
		}
	}
	return out, nil
}

// nextCredentialEvent is when the credentials next change without a spec
// change: the next rotation or the end of a grace period, whichever comes
// first. Zero when nothing is scheduled.
func nextCredentialEvent(p rotationPolicy, st *credentialState) time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if st.LastRotation != nil && len(st.Tokens) > 0 {
		earlier(st.LastRotation.Add(p.Interval))
	}
	for _, hs := range st.Previous {
		for _, h := range hs {
			if h.NotAfter != nil {
				earlier(*h.NotAfter)
			}
		}
	}
	return next
}

// buildClientSecret holds one client's current bearer token, for the
// client to mount or read.
func buildClientSecret(m *mcpv1alpha1.MemoryMCP, client string, tok clientToken) *corev1.Secret {
	meta := objectMeta(m, clientSecretName(m, client), "client-credentials")
	meta.Annotations = map[string]string{
		AnnotationClient:    client,
		AnnotationRotatedAt: tok.IssuedAt.UTC().Format(time.RFC3339),
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{runtimeconfig.ClientTokenKey: []byte(tok.Token)},
	}
}

// buildCredentialsSecret holds the server's view of the clients: token
// hashes only, the current one first, then previous ones with NotAfter.
func buildCredentialsSecret(m *mcpv1alpha1.MemoryMCP, st *credentialState) (*corev1.Secret, error) {
	doc := &runtimeconfig.Credentials{
		SchemaVersion: runtimeconfig.SchemaVersion,
		Clients:       []runtimeconfig.ClientCredentials{},
	}
	for _, c := range m.Spec.Auth.Clients {
		cur, ok := st.Tokens[c.Name]
		if !ok {
			continue
		}
		tokens := []runtimeconfig.TokenHash{{SHA256: runtimeconfig.HashToken(cur.Token)}}
		doc.Clients = append(doc.Clients, runtimeconfig.ClientCredentials{
			Name:   c.Name,
			Scopes: scopes(c.Scopes),
			Tokens: append(tokens, st.Previous[c.Name]...),
		})
	}
	data, err := runtimeconfig.MarshalCredentials(doc)
	if err != nil {
		return nil, err
	}

	meta := objectMeta(m, credentialsName(m), "server-credentials")
	meta.Annotations = map[string]string{}
	if st.LastRotation != nil {
		meta.Annotations[AnnotationLastRotation] = st.LastRotation.UTC().Format(time.RFC3339)
	}
	if st.RotationHandled != "" {
		meta.Annotations[AnnotationRotationHandled] = st.RotationHandled
	}
	if st.IncidentRotated != "" {
		meta.Annotations[AnnotationIncidentRotated] = st.IncidentRotated
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{runtimeconfig.CredentialsKey: data},
	}, nil
}

func scopes(in []mcpv1alpha1.Scope) []string {
	if len(in) == 0 {
		return []string{string(mcpv1alpha1.ScopeRead)}
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		out = append(out, string(s))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// readCredentialState recovers the state from the Secrets in the cluster;
// nil Secrets are absent ones.
func readCredentialState(clientSecrets map[string]*corev1.Secret, creds *corev1.Secret) *credentialState {
	st := &credentialState{Tokens: map[string]clientToken{}, Previous: map[string][]runtimeconfig.TokenHash{}}
	for name, s := range clientSecrets {
		tok := string(s.Data[runtimeconfig.ClientTokenKey])
		if tok == "" {
			continue
		}
		issued, _ := time.Parse(time.RFC3339, s.Annotations[AnnotationRotatedAt])
		st.Tokens[name] = clientToken{Token: tok, IssuedAt: issued}
	}
	if creds == nil {
		return st
	}
	if t, err := time.Parse(time.RFC3339, creds.Annotations[AnnotationLastRotation]); err == nil {
		st.LastRotation = &t
	}
	st.RotationHandled = creds.Annotations[AnnotationRotationHandled]
	st.IncidentRotated = creds.Annotations[AnnotationIncidentRotated]
	// Note: a document that does not parse keeps no previous hashes; the
	// current tokens live in the client Secrets and are never lost with it.
	doc, err := runtimeconfig.ParseCredentials(creds.Data[runtimeconfig.CredentialsKey])
	if err != nil {
		return st
	}
	for _, c := range doc.Clients {
		for _, h := range c.Tokens {
			if h.NotAfter != nil {
				st.Previous[c.Name] = append(st.Previous[c.Name], h)
				continue
			}
			// A rotation reached the credentials Secret but not the
			// client's: keeping the client's token would undo the rotation.
			if tok, ok := st.Tokens[c.Name]; ok && runtimeconfig.HashToken(tok.Token) != h.SHA256 {
				delete(st.Tokens, c.Name)
				st.Undelivered = append(st.Undelivered, c.Name)
			}
		}
	}
	return st
}

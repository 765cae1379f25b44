package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// stallableJWKS serves one signing key; while stall is set, each request
// reports on arrived and waits for stall to close.
type stallableJWKS struct {
	fetches atomic.Int32

	mu             sync.Mutex
	kid            string
	stall, arrived chan struct{}
}

func (j *stallableJWKS) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	kid, stall, arrived := j.kid, j.stall, j.arrived
	j.mu.Unlock()
	if stall != nil {
		arrived <- struct{}{}
		<-stall
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"}}})
}

// TestSlowJWKSFetchDoesNotHoldBackCachedKeys rotates the issuer's key and
// stalls the fetch the new key ID starts: a cached key is still served
// meanwhile, a second caller for the new key starts no fetch of its own,
// and both get the new key once the stalled fetch ends.
func TestSlowJWKSFetchDoesNotHoldBackCachedKeys(t *testing.T) {
	issuer := &stallableJWKS{kid: "k1"}
	srv := httptest.NewServer(issuer)
	defer srv.Close()
	var clock atomic.Int64
	c := &jwksCache{url: srv.URL, client: srv.Client(), minRefresh: time.Minute, maxAge: time.Hour,
		now: func() time.Time { return now.Add(time.Duration(clock.Load())) }}
	ctx := context.Background()
	if _, err := c.key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}

	stall := make(chan struct{})
	release := sync.OnceFunc(func() { close(stall) })
	defer release() // before srv.Close, which waits for the held request
	issuer.mu.Lock()
	issuer.kid, issuer.stall, issuer.arrived = "k2", stall, make(chan struct{}, 2)
	issuer.mu.Unlock()
	clock.Store(int64(time.Minute))
	rotated := make(chan error, 2)
	lookUp := func() {
		_, err := c.key(ctx, "k2")
		rotated <- err
	}
	go lookUp()
	<-issuer.arrived

	cached := make(chan error, 1)
	go func() {
		_, err := c.key(ctx, "k1")
		cached <- err
	}()
	select {
	case err := <-cached:
		if err != nil {
			t.Errorf("cached key during a fetch: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cached key waited for the JWKS fetch")
	}

	go lookUp()
	release()
	for range 2 {
		if err := <-rotated; err != nil {
			t.Errorf("rotated key: %v", err)
		}
	}
	if got := issuer.fetches.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}

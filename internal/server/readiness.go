package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Check is one named readiness condition.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// checkTimeout bounds each check, so one hung dependency makes the pod
// unready instead of making the probe time out without saying why.
const checkTimeout = 2 * time.Second

// Readiness is a list of named checks; the server is ready when all pass.
type Readiness struct {
	mu     sync.RWMutex
	checks []Check
}

// NewReadiness returns an empty list.
func NewReadiness() *Readiness { return &Readiness{} }

// Add adds or replaces the check with c.Name.
func (r *Readiness) Add(c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.checks, func(x Check) bool { return x.Name == c.Name })
	if i >= 0 {
		r.checks[i] = c
		return
	}
	r.checks = append(r.checks, c)
}

// Run runs every check concurrently and returns each one's error.
func (r *Readiness) Run(ctx context.Context) map[string]error {
	r.mu.RLock()
	checks := slices.Clone(r.checks)
	r.mu.RUnlock()
	out := make(map[string]error, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			err := c.Check(cctx)
			mu.Lock()
			out[c.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// ServeHTTP answers 200 when every check passes and 503 otherwise, with
// each check's result in a JSON body.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body := map[string]string{}
	status := http.StatusOK
	for name, err := range r.Run(req.Context()) {
		body[name] = "ok"
		if err != nil {
			body[name], status = err.Error(), http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

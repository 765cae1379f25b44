package controllers

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
)

// TestScaleDriver reconciles many MemoryMCP objects against the local API
// server and reports how long it takes until every child exists, and the
// peak memory of the process running the manager. It is a load driver, not
// an assertion on time: opt in with MEMORYMCP_SCALE=<objects>, such as
//
//	MEMORYMCP_SCALE=500 go test ./controllers -run ScaleDriver -v
func TestScaleDriver(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MEMORYMCP_SCALE"))
	if n <= 0 {
		t.Skip("set MEMORYMCP_SCALE=<objects> to run the scale driver")
	}
	needEnv(t)
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "scale-"}}
	if err := env.client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}

	var peakHeap atomic.Uint64
	stop := sampleHeap(&peakHeap)
	writesBefore := env.writes.n.Load()
	start := time.Now()
	createMany(t, ns.Name, n)
	created := time.Since(start)

	eventually := func(what string, done func() (bool, error)) {
		err := pollUntil(10*time.Minute, done)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	eventually("every child", func() (bool, error) {
		return countAll(ctx, ns.Name) >= n, nil
	})
	elapsed := time.Since(start)
	stop()

	t.Logf("objects=%d created_in=%s all_children_in=%s writes=%d peak_heap_inuse=%dMiB vm_hwm=%s",
		n, created.Round(time.Millisecond), elapsed.Round(time.Millisecond),
		env.writes.n.Load()-writesBefore, peakHeap.Load()>>20, vmHWM())
}

func createMany(t *testing.T, namespace string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := &mcpv1alpha1.MemoryMCP{ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("mmcp-%d", i), Namespace: namespace}}
			m.Spec.Auth.Clients = []mcpv1alpha1.ClientSpec{{Name: "agent"}}
			if err := env.client.Create(context.Background(), withoutZeroFields(t, m)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// countAll is the number of MemoryMCPs whose children exist: the
// Deployment, the Service (the one child the API server may refuse for want
// of a ClusterIP) and the NetworkPolicy, and the status written after them.
func countAll(ctx context.Context, namespace string) int {
	var deps appsv1.DeploymentList
	var svcs corev1.ServiceList
	var nps networkingv1.NetworkPolicyList
	var mms mcpv1alpha1.MemoryMCPList
	for _, l := range []client.ObjectList{&deps, &svcs, &nps, &mms} {
		if err := env.client.List(ctx, l, client.InNamespace(namespace)); err != nil {
			return 0
		}
	}
	withStatus := 0
	for _, m := range mms.Items {
		if m.Status.ObservedGeneration == m.Generation {
			withStatus++
		}
	}
	return min(len(deps.Items), len(svcs.Items), len(nps.Items), withStatus)
}

func pollUntil(timeout time.Duration, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not done within %s", timeout)
}

// sampleHeap records the peak in-use heap until the returned func is
// called.
func sampleHeap(peak *atomic.Uint64) func() {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done) }
}

// vmHWM is the peak resident set size of the process, from procfs.
func vmHWM() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return "unknown"
}

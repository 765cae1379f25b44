package controllers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

// env is the control plane shared by the controller tests; nil when the
// envtest binaries are not built.
var env struct {
	cfg        *rest.Config
	testEnv    *envtest.Environment
	client     client.Client // the test's own client, not counted
	writes     *writeCounter
	clock      *clocktesting.FakeClock
	reconciler *MemoryMCPReconciler
	stop       context.CancelFunc
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	if !testing.Short() {
		if err := startControlPlane(); err != nil {
			if errors.Is(err, envtestutil.ErrNoAssets) {
				fmt.Fprintln(os.Stderr, "controller envtests skipped:", err)
			} else {
				fmt.Fprintln(os.Stderr, "starting the control plane:", err)
				return 1
			}
		}
	}
	code := m.Run()
	if env.stop != nil {
		env.stop()
	}
	if env.testEnv != nil {
		if err := env.testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}
	return code
}

func startControlPlane() error {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	testEnv, err := envtestutil.New(envtestutil.Options{})
	if err != nil {
		return err
	}
	cfg, err := testEnv.Start()
	if err != nil {
		return err
	}
	env.testEnv, env.cfg = testEnv, cfg
	scheme := testScheme()
	if env.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	env.clock = clocktesting.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	env.stop = cancel
	r, err := startManager(ctx, cfg, scheme, env.clock, 2)
	if err != nil {
		return err
	}
	env.reconciler = r
	env.writes = r.Client.(*writeCounter)
	return nil
}

// startManager runs the reconciler in-process against cfg, its writes
// counted.
func startManager(
	ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, clk clock.PassiveClock, workers int,
) (*MemoryMCPReconciler, error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: CacheByObject()},
	})
	if err != nil {
		return nil, err
	}
	writes := &writeCounter{Client: mgr.GetClient()}
	r := &MemoryMCPReconciler{
		Client:                  writes,
		APIReader:               mgr.GetAPIReader(),
		Recorder:                &eventCounter{EventRecorder: mgr.GetEventRecorder(FieldManager), w: writes},
		Clock:                   clk,
		ServerImage:             DefaultServerImage,
		MaxConcurrentReconciles: workers,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped:", err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return nil, errors.New("cache did not sync")
	}
	return r, nil
}

func testScheme() *runtime.Scheme {
	s, err := envtestutil.Scheme()
	if err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -2
	}
	return 2
}

// needEnv skips a test when the control plane is not available.
func needEnv(t *testing.T) {
	t.Helper()
	if env.cfg == nil {
		t.Skip("envtest control plane not available (run hack/envtest-assets.sh)")
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true,
		func(ctx context.Context) (bool, error) {
			ok, err := cond(ctx)
			last = err
			return ok && err == nil, nil
		})
	if err != nil {
		t.Fatalf("timed out waiting for %s (last error: %v)", what, last)
	}
}

func crdDir(name string) string {
	return filepath.Join(envtestutil.RepoRoot(), "test", "crds", name)
}

// eventCounter counts the Events the reconciler emits: each is an API
// write too, so a quiet object must emit none.
type eventCounter struct {
	events.EventRecorder
	w *writeCounter
}

func (e *eventCounter) Eventf(
	regarding, related runtime.Object, eventtype, reason, action, note string, args ...any,
) {
	e.w.count(regarding)
	e.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

// writeCounter counts every write the reconciler makes, in all and by
// namespace: tests of one object compare its namespace's count, which the
// reconciles of other tests' objects cannot move.
type writeCounter struct {
	client.Client
	n    atomic.Int64
	byNS sync.Map // namespace -> *atomic.Int64
}

// count records a write of obj, an object or an apply configuration.
func (w *writeCounter) count(obj any) {
	w.n.Add(1)
	o, ok := obj.(interface{ GetNamespace() string })
	if !ok {
		return
	}
	n, _ := w.byNS.LoadOrStore(o.GetNamespace(), new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
}

// inNamespace is the number of writes to objects in namespace ns.
func (w *writeCounter) inNamespace(ns string) int64 {
	if n, ok := w.byNS.Load(ns); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

func (w *writeCounter) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	w.count(obj)
	return w.Client.Create(ctx, obj, opts...)
}

func (w *writeCounter) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	w.count(obj)
	return w.Client.Update(ctx, obj, opts...)
}

func (w *writeCounter) Patch(
	ctx context.Context, obj client.Object, p client.Patch, opts ...client.PatchOption,
) error {
	w.count(obj)
	return w.Client.Patch(ctx, obj, p, opts...)
}

func (w *writeCounter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	w.count(obj)
	return w.Client.Apply(ctx, obj, opts...)
}

func (w *writeCounter) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	w.count(obj)
	return w.Client.Delete(ctx, obj, opts...)
}

func (w *writeCounter) Status() client.SubResourceWriter {
	return &statusCounter{SubResourceWriter: w.Client.Status(), w: w}
}

type statusCounter struct {
	client.SubResourceWriter
	w *writeCounter
}

func (s *statusCounter) Patch(
	ctx context.Context, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption,
) error {
	s.w.count(obj)
	return s.SubResourceWriter.Patch(ctx, obj, p, opts...)
}

func (s *statusCounter) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.w.count(obj)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

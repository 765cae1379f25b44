// Command manager runs the memory-mcp-operator: the MemoryMCP controller
// with leader election, health probes and authenticated metrics.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	mcpv1alpha1 "github.com/memorymcp/memory-mcp-operator/api/v1alpha1"
	"github.com/memorymcp/memory-mcp-operator/controllers"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

type options struct {
	metricsAddr      string
	metricsSecure    bool
	enableHTTP2      bool
	probeAddr        string
	leaderElection   bool
	leaderElectionNS string
	watchNamespaces  string
	serverImage      string
	workers          int
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443",
		"address the metrics endpoint binds to; 0 disables it")
	flag.BoolVar(&o.metricsSecure, "metrics-secure", true,
		"serve metrics over HTTPS, for authenticated and authorized clients only")
	flag.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"allow HTTP/2 on the metrics server (off by default against HTTP/2 rapid-reset attacks)")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address the health probes bind to")
	flag.BoolVar(&o.leaderElection, "leader-elect", true, "elect a leader so only one manager reconciles")
	flag.StringVar(&o.leaderElectionNS, "leader-election-namespace", "",
		"namespace of the leader election lease; the manager's own when empty")
	flag.StringVar(&o.watchNamespaces, "watch-namespaces", "",
		"comma-separated namespaces to watch; all namespaces when empty")
	flag.StringVar(&o.serverImage, "server-image", controllers.DefaultServerImage,
		"memory MCP server image for MemoryMCPs that name none")
	flag.IntVar(&o.workers, "max-concurrent-reconciles", 4, "MemoryMCP objects reconciled in parallel")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(o); err != nil {
		ctrl.Log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(o options) error {
	log := ctrl.Log.WithName("setup")
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, mcpv1alpha1.AddToScheme,
		monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return fmt.Errorf("building scheme: %w", err)
		}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(o),
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElection,
		LeaderElectionID:        "memory-mcp-operator.memorymcp.io",
		LeaderElectionNamespace: o.leaderElectionNS,
		Cache:                   cacheOptions(o.watchNamespaces),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}

	r := &controllers.MemoryMCPReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Recorder:                mgr.GetEventRecorder(controllers.FieldManager),
		Clock:                   clock.RealClock{},
		ServerImage:             o.serverImage,
		NewToken:                runtimeconfig.NewToken,
		MaxConcurrentReconciles: o.workers,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the MemoryMCP controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding ready check: %w", err)
	}

	log.Info("starting manager", "serverImage", o.serverImage, "watchNamespaces", o.watchNamespaces)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// metricsOptions serves metrics over HTTPS to clients the API server
// authenticates (TokenReview) and authorizes (SubjectAccessReview).
func metricsOptions(o options) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: o.metricsAddr, SecureServing: o.metricsSecure}
	if !o.enableHTTP2 {
		opts.TLSOpts = append(opts.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if o.metricsSecure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}

func cacheOptions(watchNamespaces string) cache.Options {
	opts := cache.Options{ByObject: controllers.CacheByObject()}
	for _, ns := range strings.Split(watchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			if opts.DefaultNamespaces == nil {
				opts.DefaultNamespaces = map[string]cache.Config{}
			}
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return opts
}

package configwatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// syncTimeout bounds the wait for the first list from the API server before
// falling back to the mounted files.
const syncTimeout = 15 * time.Second

// watchAPI follows the ConfigMap and the Secret by name. The field selector
// on metadata.name is what lets a Role with resourceNames grant list and
// watch on just these two objects.
func (w *Watcher) watchAPI(ctx context.Context) error {
	var synced []cache.InformerSynced
	if w.opts.ConfigMap != "" {
		synced = append(synced, w.inform(ctx, "configmaps", &corev1.ConfigMap{}, w.opts.ConfigMap,
			func(obj any) {
				if cm, ok := obj.(*corev1.ConfigMap); ok {
					w.applyKey(ctx, "config", cm.Namespace+"/"+cm.Name, cm.Data[runtimeconfig.ConfigKey])
				}
			}))
	}
	if w.opts.Secret != "" {
		synced = append(synced, w.inform(ctx, "secrets", &corev1.Secret{}, w.opts.Secret,
			func(obj any) {
				if s, ok := obj.(*corev1.Secret); ok {
					w.applyKey(ctx, "credentials", s.Namespace+"/"+s.Name, string(s.Data[runtimeconfig.CredentialsKey]))
				}
			}))
	}
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		return errors.New("the API server did not answer the first list in time")
	}
	return nil
}

func (w *Watcher) inform(ctx context.Context, resource string, obj runtime.Object, name string,
	apply func(any)) cache.InformerSynced {
	lw := cache.NewListWatchFromClient(w.opts.Client.CoreV1().RESTClient(), resource, w.opts.Namespace,
		fields.OneTermEqualSelector("metadata.name", name))
	inf := cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{})
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    apply,
		UpdateFunc: func(_, obj any) { apply(obj) },
		DeleteFunc: func(any) {
			w.log.Warn("watched object deleted; the last good document stays in force",
				"resource", resource, "name", name)
		},
	})
	if err != nil {
		// Only a stopped informer refuses handlers, and this one has not started.
		panic(fmt.Sprintf("adding a handler to a new informer: %v", err))
	}
	go inf.RunWithContext(ctx)
	return inf.HasSynced
}

// applyKey applies one document; a missing key is refused like an invalid one.
func (w *Watcher) applyKey(ctx context.Context, doc, source, data string) {
	var err error
	switch {
	case data == "":
		err = fmt.Errorf("%s has no %s document", source, doc)
		w.refused(ctx, doc, source, err)
	case doc == "config":
		err = w.ApplyConfigData(ctx, []byte(data), source)
	default:
		err = w.ApplyCredentialsData(ctx, []byte(data), source)
	}
	if err != nil {
		w.log.Debug("document not applied", "source", source, "error", err)
	}
}

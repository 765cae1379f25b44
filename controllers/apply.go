package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// applier writes children with server-side apply, skipping those whose
// applied digest is unchanged.
//
// Note: the digest of the rendered object, kept in AnnotationAppliedHash,
// decides whether to apply. Comparing the rendered object with the live one
// instead would trip over every field the API server defaults and flap; the
// digest changes exactly when the operator's intent does. The cost: an edit
// by someone else to a field the operator owns is reverted only on the next
// change of the MemoryMCP (or when the annotation is removed).
type applier struct {
	// cached reads the kinds the manager watches.
	cached client.Client
	// live reads kinds that may not exist in the cluster, and so are not
	// watched; only their metadata is fetched.
	live client.Reader
}

// applyResult tells what apply did.
type applyResult bool

const (
	applied   applyResult = true
	unchanged applyResult = false
)

// apply writes desired unless the live object carries its digest. Objects
// of watched kinds are looked up in the cache, others with a metadata GET.
func (a *applier) apply(ctx context.Context, desired client.Object, watched bool) (applyResult, error) {
	digest, err := objectDigest(desired)
	if err != nil {
		return unchanged, err
	}
	current, err := a.currentDigest(ctx, desired, watched)
	if err != nil {
		return unchanged, err
	}
	if current == digest {
		return unchanged, nil
	}

	obj, err := applyObject(desired, digest)
	if err != nil {
		return unchanged, err
	}
	if err := a.cached.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj),
		client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return unchanged, fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return applied, nil
}

func (a *applier) currentDigest(ctx context.Context, desired client.Object, watched bool) (string, error) {
	key := client.ObjectKeyFromObject(desired)
	var existing client.Object
	var reader client.Reader = a.cached
	if watched {
		existing = desired.DeepCopyObject().(client.Object)
	} else {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(desired.GetObjectKind().GroupVersionKind())
		existing, reader = meta, a.live
	}
	if err := reader.Get(ctx, key, existing); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading %s: %w", key, err)
	}
	return existing.GetAnnotations()[AnnotationAppliedHash], nil
}

// deleteIfPresent removes a child that is no longer wanted, reading the
// cache (watched kinds) or the API first so a quiet object issues no write.
func (a *applier) deleteIfPresent(ctx context.Context, obj client.Object, watched bool) (bool, error) {
	var reader client.Reader = a.cached
	probe := obj.DeepCopyObject().(client.Object)
	if !watched {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
		probe, reader = meta, a.live
	}
	if err := reader.Get(ctx, client.ObjectKeyFromObject(obj), probe); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	if err := a.cached.Delete(ctx, probe); client.IgnoreNotFound(err) != nil {
		return false, fmt.Errorf("deleting %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	return true, nil
}

// objectDigest is a short digest of the rendered object.
func objectDigest(obj client.Object) (string, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("encoding %s: %w", obj.GetName(), err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// applyObject turns a typed object into the apply request body: the digest
// annotation added, status and unset (null) fields left out so the operator
// claims only the fields it means.
func applyObject(desired client.Object, digest string) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", desired.GetName(), err)
	}
	delete(m, "status")
	dropNulls(m)
	u := &unstructured.Unstructured{Object: m}
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationAppliedHash] = digest
	u.SetAnnotations(annotations)
	return u, nil
}

func dropNulls(m map[string]any) {
	for k, v := range m {
		switch val := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(val)
		case []any:
			for _, item := range val {
				if mm, ok := item.(map[string]any); ok {
					dropNulls(mm)
				}
			}
		}
	}
}

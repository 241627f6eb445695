package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// secretNamesIndex indexes policies by the names of the Secrets they reference, so a
// Secret event finds its policies without listing them all.
const secretNamesIndex = ".spec.secretNames"

// missingSecretKeys reads each referenced Secret's key names (secretKeys) and describes
// those that are absent or lack the key. It returns an error only when the API server
// could not answer.
func missingSecretKeys(ctx context.Context, secrets *secretKeys, namespace string, refs []v1alpha1.SecretKeyReference) ([]string, error) {
	var missing []string
	for _, ref := range refs {
		secret, found, err := secrets.get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name})
		switch {
		case err != nil:
			return nil, err
		case !found:
			missing = append(missing, fmt.Sprintf("Secret %q does not exist", ref.Name))
		case !secret.keys[ref.Key]:
			missing = append(missing, fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key))
		}
	}
	sort.Strings(missing)
	return compact(missing), nil
}

// secretKeys tells the key names and resourceVersion of the Secrets policies reference,
// never keeping their data. The operator does not cache every Secret of the cluster, only
// their metadata: while a Secret's resourceVersion there is the one last read, the key
// names read then still hold; otherwise (or when the metadata is not there yet) it is
// read again, uncached. So reconciles of many instances sharing a policy ask the API
// server nothing until one of its Secrets changes. A nil *secretKeys, or one without a
// cache, reads every time.
type secretKeys struct {
	cache, reader client.Reader

	mu   sync.Mutex
	seen map[types.NamespacedName]secretKeyNames
}

// secretKeyNames is what a read of a Secret left: its resourceVersion and key names.
type secretKeyNames struct {
	resourceVersion string
	keys            map[string]bool
}

func newSecretKeys(cache, reader client.Reader) *secretKeys {
	return &secretKeys{cache: cache, reader: reader, seen: map[types.NamespacedName]secretKeyNames{}}
}

// get returns the Secret's key names and resourceVersion; found is false when it does
// not exist.
func (s *secretKeys) get(ctx context.Context, key types.NamespacedName) (secretKeyNames, bool, error) {
	if s.cache != nil {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := s.cache.Get(ctx, key, meta); err == nil {
			s.mu.Lock()
			known, ok := s.seen[key]
			s.mu.Unlock()
			if ok && known.resourceVersion == meta.ResourceVersion {
				return known, true, nil
			}
		}
	}
	secret := &corev1.Secret{}
	err := s.reader.Get(ctx, key, secret)
	switch {
	case apierrors.IsNotFound(err):
		s.forget(key)
		return secretKeyNames{}, false, nil
	case err != nil:
		return secretKeyNames{}, false, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	names := secretKeyNames{resourceVersion: secret.ResourceVersion, keys: map[string]bool{}}
	for k := range secret.Data {
		names.keys[k] = true
	}
	for k := range secret.StringData {
		names.keys[k] = true
	}
	if s.cache != nil {
		s.mu.Lock()
		s.seen[key] = names
		s.mu.Unlock()
	}
	return names, true, nil
}

func (s *secretKeys) forget(key types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seen, key)
}

func compact(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// missingReferencesMessage is the Ready message for missing references, in the namespace.
func missingReferencesMessage(namespace string, missing []string) string {
	return fmt.Sprintf("%s in namespace %s: create it or fix the reference", strings.Join(missing, "; "), namespace)
}

func secretNames(refs []v1alpha1.SecretKeyReference) []string {
	names := make([]string, 0, len(refs))
	for _, ref := range refs {
		names = append(names, ref.Name)
	}
	sort.Strings(names)
	return compact(names)
}

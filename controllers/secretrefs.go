package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// secretNamesIndex indexes policies by the names of the Secrets they reference, so a
// Secret event finds its policies without listing them all.
const secretNamesIndex = ".spec.secretNames"

// missingSecretKeys reads each referenced Secret (uncached: the operator never keeps
// every Secret of the cluster in memory) and describes those that are absent or lack
// the key. It returns an error only when the API server could not answer.
func missingSecretKeys(ctx context.Context, reader client.Reader, namespace string, refs []v1alpha1.SecretKeyReference) ([]string, error) {
	var missing []string
	secrets := map[string]*corev1.Secret{}
	for _, ref := range refs {
		secret, seen := secrets[ref.Name]
		if !seen {
			secret = &corev1.Secret{}
			err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret)
			switch {
			case apierrors.IsNotFound(err):
				secret = nil
			case err != nil:
				return nil, fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
			}
			secrets[ref.Name] = secret
		}
		switch {
		case secret == nil:
			missing = append(missing, fmt.Sprintf("Secret %q does not exist", ref.Name))
		case !hasKey(secret, ref.Key):
			missing = append(missing, fmt.Sprintf("Secret %q has no key %q", ref.Name, ref.Key))
		}
	}
	sort.Strings(missing)
	return compact(missing), nil
}

func hasKey(secret *corev1.Secret, key string) bool {
	if _, ok := secret.Data[key]; ok {
		return true
	}
	_, ok := secret.StringData[key]
	return ok
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

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/proc"
	"github.com/privatedesk/helpdesk-operator/test/e2e/framework"
)

// sharedNamespaces hold the instances several tests share; TestMain deletes them after
// the last test, while Vault still runs.
var sharedNamespaces struct {
	sync.Mutex
	names []string
}

// createSharedNamespace creates a namespace that TestMain deletes at the end.
func createSharedNamespace(ctx context.Context, name string) error {
	if err := cluster.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		return err
	}
	sharedNamespaces.Lock()
	defer sharedNamespaces.Unlock()
	sharedNamespaces.names = append(sharedNamespaces.names, name)
	return nil
}

// testNamespace creates a namespace prefix-<random> that goes when the test ends.
func testNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + proc.RandomHex(3)}}
	if err := cluster.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.Delete(context.Background(), ns) })
	return ns.Name
}

// deleteSharedNamespaces deletes the instances in the shared namespaces and the
// namespaces, and waits until the instances are gone, that is until their finalizers have
// cleaned up their Vault state, which needs Vault to run. The rest of the namespaces
// (PostgreSQL's shutdown) goes in the background.
//
// The instances are deleted first, by name: the namespace controller deletes a
// namespace's pods first and everything else only once they are gone, and it looks again
// only after its estimate or its resync (minutes) when the PostgreSQL pods take their
// time to stop, which left instances undeleted past the wait below.
func deleteSharedNamespaces(ctx context.Context) error {
	sharedNamespaces.Lock()
	names := append([]string(nil), sharedNamespaces.names...)
	sharedNamespaces.Unlock()
	for _, name := range names {
		if err := cluster.Client.DeleteAllOf(ctx, &v1alpha1.HelpdeskInstance{}, client.InNamespace(name)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the instances in %s: %w", name, err)
		}
		err := cluster.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting namespace %s: %w", name, err)
		}
	}
	err := framework.Eventually(ctx, 5*time.Minute, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		var left []string
		for _, name := range names {
			list := &v1alpha1.HelpdeskInstanceList{}
			if err := cluster.Client.List(ctx, list, client.InNamespace(name)); err != nil {
				return false, "", err
			}
			for _, inst := range list.Items {
				left = append(left, name+"/"+inst.Name)
			}
		}
		return len(left) == 0, "instances still being deleted: " + strings.Join(left, ", "), nil
	})
	if err != nil {
		return fmt.Errorf("the tests' instances: %w", err)
	}
	return nil
}

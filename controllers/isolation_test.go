package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/resources"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// TestNoPodStartsOutsideThePerimeter: while the instance's NetworkPolicies cannot be
// applied, no phase that starts pods runs: no database, no Job, no app, no backup CronJob.
func TestNoPodStartsOutsideThePerimeter(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, backupVolumeClaim(ns))
	mustCreate(t, pvcBackupPolicy(ns, "local"))
	remove := faults.add(func(r *http.Request) bool {
		return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/namespaces/"+ns+"/networkpolicies/")
	})
	defer remove()
	inst := newInstance(ns, "fenced", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.BackupPolicyRef = &v1alpha1.LocalObjectReference{Name: "local"}
	})
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionNetworkIsolated, metav1.ConditionFalse, v1alpha1.ReasonApplyFailed))
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionDatabaseReady, metav1.ConditionFalse, v1alpha1.ReasonBlockedBy))
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionAppReady, metav1.ConditionFalse, v1alpha1.ReasonBlockedBy))
	// A few more (failing, backed-off) reconciles: still nothing that runs a pod.
	time.Sleep(3 * time.Second)
	for _, list := range []client.ObjectList{&cnpgv1.ClusterList{}, &batchv1.JobList{}, &batchv1.CronJobList{}, &appsv1.DeploymentList{}} {
		if err := k8sClient.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if n := meta.LenList(list); n != 0 {
			t.Errorf("%d %T exist although the perimeter could not be applied", n, list)
		}
	}
	remove()
	eventually(t, 60*time.Second, conditionIs(inst, v1alpha1.ConditionNetworkIsolated, metav1.ConditionTrue, v1alpha1.ReasonNetworkPoliciesReady))
	eventually(t, wait, exists(&cnpgv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(inst).DatabaseCluster}}))
	eventually(t, wait, exists(&batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.BackupNamesFor(inst).BackupCronJob}}))
}

// TestDeletionDuringVaultOutage: the deletion waits, says why and how to finish it, and an
// administrator's annotation finishes it with an Event listing what stays in Vault.
func TestDeletionDuringVaultOutage(t *testing.T) {
	ctx := context.Background()
	inst := newInstance(newNamespace(t), "stuck", func(i *v1alpha1.HelpdeskInstance) { i.Spec.DeletionPolicy = v1alpha1.DeletionPolicyShred })
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
	keyName := inst.Status.Encryption.KeyName

	if err := vaultSrv.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = vaultSrv.Restart()
		}
	}()
	if err := k8sClient.Delete(ctx, inst); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		if err := get(inst); err != nil {
			return err
		}
		c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionEncryptionReady)
		if c == nil || c.Reason != vault.ReasonUnavailable || !strings.Contains(c.Message, v1alpha1.AnnotationSkipVaultCleanup) {
			return fmt.Errorf("EncryptionReady during a deletion with Vault down: %+v", c)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if err := get(inst); err != nil {
		t.Fatalf("the instance went without its Vault cleanup and without being told to: %v", err)
	}

	update(t, inst, func() {
		inst.Annotations = map[string]string{v1alpha1.AnnotationSkipVaultCleanup: "Vault cluster decommissioned, ticket OPS-42"}
	})
	eventually(t, wait, gone(inst))
	var skipped *recordedEvent
	for _, e := range recorder.of(inst.Namespace, inst.Name) {
		if e.reason == v1alpha1.ReasonVaultCleanupSkipped {
			skipped = &e
		}
	}
	if skipped == nil || skipped.eventType != corev1.EventTypeWarning || !strings.Contains(skipped.message, "transit key transit/keys/"+keyName) ||
		!strings.Contains(skipped.message, "OPS-42") {
		t.Fatalf("no Warning event listing the Vault leftovers and the reason: %+v", skipped)
	}

	if err := vaultSrv.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if key, err := vaultSrv.Client(t).Logical().ReadWithContext(ctx, "transit/keys/"+keyName); err != nil || key == nil {
		t.Errorf("the key the Event lists as left behind is not there (err %v)", err)
	}
}

// TestReusedNameDoesNotInheritRetainedState: a new instance with the namespace and name of
// one deleted with Retain gets neither its key nor its secrets unless it restores from
// itself, which is the documented way to take them over.
func TestReusedNameDoesNotInheritRetainedState(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	first := newInstance(ns, "desk")
	bringUp(t, first)
	firstSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(first).AppSecret}}
	if err := get(firstSecret); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, gone(first))

	second := newInstance(ns, "desk")
	mustCreate(t, second)
	eventually(t, wait, conditionIs(second, v1alpha1.ConditionEncryptionReady, metav1.ConditionFalse, vault.ReasonRetainedState))
	if msg := meta.FindStatusCondition(second.Status.Conditions, v1alpha1.ConditionEncryptionReady).Message; !strings.Contains(msg, "restoreFrom") {
		t.Errorf("the condition does not say how to take the state over: %s", msg)
	}
	// (No garbage collector runs here, so the first instance's Secret may linger: what
	// matters is that nothing was written for the second one.)
	secondSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(second).AppSecret}}
	if err := get(secondSecret); client.IgnoreNotFound(err) != nil || (err == nil && metav1.IsControlledBy(secondSecret, second)) {
		t.Errorf("the new instance got an app Secret from the retained state (err %v)", err)
	}
	if err := k8sClient.Delete(ctx, second); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, gone(second))
	if key, err := vaultSrv.Client(t).Logical().ReadWithContext(ctx, "transit/keys/"+vault.KeyName("helpdesk", ns, "desk")); err != nil || key == nil {
		t.Fatalf("deleting the refused instance removed the retained key (err %v)", err)
	}

	heir := newInstance(ns, "desk", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.RestoreFrom = &v1alpha1.RestoreSource{BackupPolicyName: "local"}
	})
	mustCreate(t, heir)
	eventually(t, wait, conditionIs(heir, v1alpha1.ConditionEncryptionReady, metav1.ConditionTrue, v1alpha1.ReasonKeyReady))
	heirSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.NamesFor(heir).AppSecret}}
	eventually(t, wait, func() error {
		if err := get(heirSecret); err != nil {
			return err
		}
		if !metav1.IsControlledBy(heirSecret, heir) {
			return fmt.Errorf("the app Secret is not the heir's yet")
		}
		return nil
	})
	if string(heirSecret.Data["SECRET_KEY_BASE"]) != string(firstSecret.Data["SECRET_KEY_BASE"]) {
		t.Error("the instance restoring itself did not take over the retained secrets")
	}
	found := false
	for _, e := range recorder.of(ns, "desk") {
		found = found || e.reason == "AdoptedRetainedKey"
	}
	if !found {
		t.Error("no AdoptedRetainedKey event")
	}
}

// TestHostnameBelongsToItsFirstInstance: a second instance, in another namespace, asking
// for a hostname another instance serves gets no Ingress and says so; once the first
// goes, it takes over.
func TestHostnameBelongsToItsFirstInstance(t *testing.T) {
	first := newInstance(newNamespace(t), "first", func(i *v1alpha1.HelpdeskInstance) { i.Spec.Hostname = "shared.example.com" })
	mustCreate(t, first)
	eventually(t, wait, exists(&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: first.Namespace, Name: resources.NamesFor(first).App}}))
	// Creation times have one-second resolution; the older instance keeps the hostname.
	time.Sleep(1100 * time.Millisecond)
	thief := newInstance(newNamespace(t), "thief", func(i *v1alpha1.HelpdeskInstance) { i.Spec.Hostname = "shared.example.com" })
	mustCreate(t, thief)
	eventually(t, wait, conditionIs(thief, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonHostnameConflict))
	if msg := meta.FindStatusCondition(thief.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, first.Namespace+"/first") {
		t.Errorf("the conflict does not name the instance serving the hostname: %s", msg)
	}
	thiefIngress := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: thief.Namespace, Name: resources.NamesFor(thief).App}}
	if err := get(thiefIngress); !apierrors.IsNotFound(err) {
		t.Errorf("the second instance got an Ingress for a taken hostname (err %v)", err)
	}
	if err := k8sClient.Delete(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, exists(thiefIngress))
}

// TestRefusedEgressIsReported: egress the operator's bounds refuse stays closed, and Ready
// says which field.
func TestRefusedEgressIsReported(t *testing.T) {
	inst := newInstance(newNamespace(t), "metadata", func(i *v1alpha1.HelpdeskInstance) {
		i.Spec.Network.AdditionalEgress = []v1alpha1.EgressRule{{CIDR: "169.254.169.254/32", Ports: []int32{80}}}
	})
	mustCreate(t, inst)
	eventually(t, wait, conditionIs(inst, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonEgressNotAllowed))
	if msg := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "spec.network.additionalEgress[0].cidr") {
		t.Errorf("Ready message %q does not name the field", msg)
	}
	policy := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: inst.Namespace, Name: resources.NamesFor(inst).PolicyApp}}
	eventually(t, wait, exists(policy))
	for _, rule := range policy.Spec.Egress {
		for _, to := range rule.To {
			if to.IPBlock != nil && strings.HasPrefix(to.IPBlock.CIDR, "169.254.") {
				t.Errorf("the refused CIDR reached the NetworkPolicy: %+v", to.IPBlock)
			}
		}
	}
}

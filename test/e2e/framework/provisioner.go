package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Storage of the e2e cluster: hack/cluster.sh creates the default StorageClass, and
// RunProvisioner provisions its claims while the tests run.
const (
	StorageClass = "helpdesk-e2e-hostpath"
	Provisioner  = "helpdesk-e2e.invalid/hostpath"
)

const (
	annSelectedNode = "volume.kubernetes.io/selected-node"
	annProvisioner  = "volume.kubernetes.io/storage-provisioner"
	annProvisioned  = "pv.kubernetes.io/provisioned-by"
)

// RunProvisioner provisions the claims of StorageClass as host folders under VolumesDir
// (hostPath volumes, writable by any user, as a test cluster's storage may be) and removes
// a volume's folder and object once its claim is gone. It returns when ctx ends; errors
// go to report. Sizes are recorded, not enforced.
func (c *Cluster) RunProvisioner(ctx context.Context, report func(error)) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := c.provisionOnce(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Cluster) provisionOnce(ctx context.Context) error {
	claims := &corev1.PersistentVolumeClaimList{}
	if err := c.Client.List(ctx, claims); err != nil {
		return err
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if pvc.Spec.VolumeName != "" || pvc.Annotations[annProvisioner] != Provisioner || pvc.Annotations[annSelectedNode] == "" || !pvc.DeletionTimestamp.IsZero() {
			continue
		}
		if err := c.provision(ctx, pvc); err != nil {
			return fmt.Errorf("provisioning %s/%s: %w", pvc.Namespace, pvc.Name, err)
		}
	}
	volumes := &corev1.PersistentVolumeList{}
	if err := c.Client.List(ctx, volumes); err != nil {
		return err
	}
	for i := range volumes.Items {
		pv := &volumes.Items[i]
		if pv.Annotations[annProvisioned] != Provisioner || pv.Status.Phase != corev1.VolumeReleased || pv.Spec.HostPath == nil {
			continue
		}
		if filepath.Dir(pv.Spec.HostPath.Path) != c.VolumesDir {
			return fmt.Errorf("volume %s points outside %s; not deleting it", pv.Name, c.VolumesDir)
		}
		if err := os.RemoveAll(pv.Spec.HostPath.Path); err != nil {
			return err
		}
		if err := c.Client.Delete(ctx, pv); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (c *Cluster) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(pvc.UID)
	dir := filepath.Join(c.VolumesDir, name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	// MkdirAll applies the umask.
	if err := os.Chmod(dir, 0o777); err != nil {
		return err
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisioned: Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ptr.Deref(pvc.Spec.StorageClassName, StorageClass),
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
				Path: dir, Type: ptr.To(corev1.HostPathDirectory),
			}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{pvc.Annotations[annSelectedNode]},
				}}}},
			}},
		},
	}
	if err := c.Client.Create(ctx, pv); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

package resources

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// AttachmentsPVC is the volume of uploaded files. Its access mode comes from the
// operator's options, not from the replica count: access modes are immutable, and
// scaling must not require a new volume. See Deployment for how the app pods are placed
// for each mode. Only the size may change later (growing, where the class allows it).
func AttachmentsPVC(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *corev1.PersistentVolumeClaim {
	mode := opts.AttachmentsAccessMode
	if mode == "" {
		mode = corev1.ReadWriteOnce
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: objectMeta(inst, NamesFor(inst).Attachments, Labels(inst, prof, opts, ComponentStorage)),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: quantityOr(inst.Spec.Attachments.Size, "5Gi"),
			}},
			StorageClassName: inst.Spec.Attachments.StorageClassName,
		},
	}
}

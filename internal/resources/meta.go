package resources

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// objectMeta is the metadata every child shares.
func objectMeta(inst *v1alpha1.HelpdeskInstance, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       inst.Namespace,
		Labels:          labels,
		OwnerReferences: []metav1.OwnerReference{OwnerReference(inst)},
	}
}

// OwnerReference makes inst the controller of a child, so garbage collection removes the
// child with the instance and foreground deletion waits for it.
func OwnerReference(inst *v1alpha1.HelpdeskInstance) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "HelpdeskInstance",
		Name:               inst.Name,
		UID:                inst.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// The schema defaults these fields; the fallbacks only matter for instances built in Go
// (tests, or a controller reading an object the API server has not defaulted).

func appReplicas(inst *v1alpha1.HelpdeskInstance) int32 {
	if inst.Spec.App.Replicas == nil {
		return 1
	}
	return *inst.Spec.App.Replicas
}

func dbInstances(inst *v1alpha1.HelpdeskInstance) int32 {
	if inst.Spec.Database.Instances < 1 {
		return 1
	}
	return inst.Spec.Database.Instances
}

func postgresMajor(inst *v1alpha1.HelpdeskInstance) int32 {
	if inst.Spec.Database.PostgresVersion == 0 {
		return 16
	}
	return inst.Spec.Database.PostgresVersion
}

func quantityOr(q *resource.Quantity, def string) resource.Quantity {
	if q == nil || q.IsZero() {
		return resource.MustParse(def)
	}
	return q.DeepCopy()
}

func secretDelivery(inst *v1alpha1.HelpdeskInstance) v1alpha1.SecretDelivery {
	if inst.Spec.Encryption.SecretDelivery == "" {
		return v1alpha1.SecretDeliverySecret
	}
	return inst.Spec.Encryption.SecretDelivery
}

func appProfile(inst *v1alpha1.HelpdeskInstance) v1alpha1.AppProfile {
	if inst.Spec.App.Profile == "" {
		return v1alpha1.AppProfileHelpy
	}
	return inst.Spec.App.Profile
}

// AppImage is the image the instance runs: spec.app.image, else the operator's image for
// the profile, else the profile's default.
func AppImage(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) string {
	if inst.Spec.App.Image != "" {
		return inst.Spec.App.Image
	}
	if img := opts.Images[appProfile(inst)]; img != "" {
		return img
	}
	return prof.DefaultImage
}

// SiteURL is the URL the instance is served on.
func SiteURL(inst *v1alpha1.HelpdeskInstance) string {
	if inst.Spec.TLS != nil {
		return "https://" + inst.Spec.Hostname
	}
	return "http://" + inst.Spec.Hostname
}

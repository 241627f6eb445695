package resources

import (
	"fmt"

	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

func dbStorageSize(inst *v1alpha1.HelpdeskInstance) string {
	q := quantityOr(inst.Spec.Database.Storage.Size, "10Gi")
	return q.String()
}

// PostgresImage is the PostgreSQL image for the instance's major version.
func PostgresImage(inst *v1alpha1.HelpdeskInstance, opts Options) string {
	major := postgresMajor(inst)
	if img := opts.PostgresImages[major]; img != "" {
		return img
	}
	return fmt.Sprintf("%s:%d", opts.PostgresImageRepository, major)
}

// Cluster is the instance's own CloudNativePG cluster. CloudNativePG creates the app
// database and its owner and writes their credentials to <cluster>-app, which the
// pods reference; the operator never copies them.
//
// The database pods inherit only the operator's own labels: CloudNativePG sets the
// app.kubernetes.io/* labels of its pods itself, and two writers of one label would
// fight. Those inherited labels are what the NetworkPolicies select.
//
// With more than one instance the pods are required to run on different nodes (a
// replica next to its primary protects from nothing); a single instance only prefers
// it, so that it can always be scheduled. spec.restoreFrom is not a CloudNativePG
// bootstrap: the operator's own backups restore into the database initdb creates.
func Cluster(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options) *cnpgv1.Cluster {
	n := NamesFor(inst)
	instances := dbInstances(inst)
	antiAffinity := cnpgv1.PodAntiAffinityTypePreferred
	if instances > 1 {
		antiAffinity = cnpgv1.PodAntiAffinityTypeRequired
	}
	inherited := SelectorLabels(inst, RoleDatabase)

	return &cnpgv1.Cluster{
		TypeMeta:   metav1.TypeMeta{APIVersion: cnpgv1.SchemeGroupVersion.String(), Kind: cnpgv1.ClusterKind},
		ObjectMeta: objectMeta(inst, n.DatabaseCluster, Labels(inst, prof, opts, ComponentDatabase)),
		Spec: cnpgv1.ClusterSpec{
			Description:       fmt.Sprintf("Database of HelpdeskInstance %s", inst.Name),
			Instances:         int(instances),
			ImageName:         PostgresImage(inst, opts),
			ImagePullSecrets:  clusterImagePullSecrets(opts),
			InheritedMetadata: &cnpgv1.EmbeddedObjectMetadata{Labels: inherited},
			Bootstrap: &cnpgv1.BootstrapConfiguration{InitDB: &cnpgv1.BootstrapInitDB{
				Database: prof.Database,
				Owner:    prof.DatabaseOwner,
				// Checksums can only be chosen at initdb; they turn silent storage
				// corruption into an error.
				DataChecksums: ptr.To(true),
				// No CREATEDB for the internet-facing app role: restore drills restore into
				// a throwaway server inside the drill pod, never next to the real database.
			}},
			EnableSuperuserAccess: ptr.To(false),
			// CloudNativePG's budget for a lone primary would block every node drain, as
			// the app's would; with replicas it lets a drain wait for a switchover.
			EnablePDB: ptr.To(instances > 1),
			StorageConfiguration: cnpgv1.StorageConfiguration{
				Size:         dbStorageSize(inst),
				StorageClass: inst.Spec.Database.Storage.StorageClassName,
			},
			Resources: *inst.Spec.Database.Resources.DeepCopy(),
			Affinity: cnpgv1.AffinityConfiguration{
				EnablePodAntiAffinity: ptr.To(true),
				TopologyKey:           "kubernetes.io/hostname",
				PodAntiAffinityType:   antiAffinity,
			},
		},
	}
}

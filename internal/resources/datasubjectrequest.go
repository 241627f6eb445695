package resources

import (
	"path"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// Labels and annotations of a data-subject request's objects.
const (
	// LabelDataSubjectRequest is the request a Job, its pods and its egress policy
	// belong to (as a label value).
	LabelDataSubjectRequest = "helpdesk.privatedesk.io/data-subject-request"
	// LabelDataSubjectRun is DataSubjectRunRequest or DataSubjectRunDeleteExport.
	LabelDataSubjectRun = "helpdesk.privatedesk.io/data-subject-run"
	// AnnotationSubjectHash on the request's Job holds the subject's salted hash, which
	// the controller computed from the Secret when it created the Job and copies into
	// the request's status once it finished (the Secret may be gone by then).
	AnnotationSubjectHash = "helpdesk.privatedesk.io/subject-hash"
)

// ComponentDataSubjectRequest is the app.kubernetes.io/component of request objects.
const ComponentDataSubjectRequest = "data-subject-request"

// The runs of a request, the LabelDataSubjectRun values.
const (
	DataSubjectRunRequest      = "request"
	DataSubjectRunDeleteExport = "delete-export"
)

// Paths and bounds of the request pods.
const (
	// dsrInputDir holds the subject's address (subject) and the new values of a
	// rectification (set/<field>), projected from the Secrets the request names.
	dsrInputDir   = "/etc/helpdesk/dsr"
	dsrSubjectKey = "subject"
	dsrSetDir     = "set"

	dsrActiveDeadline  = 2 * time.Hour
	dsrBackoffLimit    = 2
	cleanupDeadline    = 30 * time.Minute
	cleanupBackoff     = 5
	dsrContainer       = "dsr"
	cleanupContainer   = "delete-export"
	dsrInputVolumeName = "request"

	// ExportFolder is the folder of Access exports inside an instance's folder of the
	// backup destination, beside backups/, manifests/ and drills/, which the backup
	// catalog never lists (internal/backup: ExportObjectName).
	ExportFolder = "exports/"
	// ExportObjectSuffix is the suffix of an export's encrypted archive.
	ExportObjectSuffix = ".tar.zst.age"
)

// DataSubjectRequestNames are the names of a request's objects.
type DataSubjectRequestNames struct {
	Job          string
	CleanupJob   string
	EgressPolicy string
}

// DataSubjectRequestNamesFor returns the names of req's objects.
func DataSubjectRequestNamesFor(req *v1alpha1.DataSubjectRequest) DataSubjectRequestNames {
	return DataSubjectRequestNames{
		Job:          childName(req.Name, "dsr", maxName),
		CleanupJob:   childName(req.Name, "dsr-delete-export", maxName),
		EgressPolicy: childName(req.Name, "dsr-egress", maxName),
	}
}

// DataSubjectExportID is the ID of a request's export inside the instance's exports/
// folder: the request's UID, so two requests never share one, and no name a user chose
// becomes part of a path.
func DataSubjectExportID(req *v1alpha1.DataSubjectRequest) string { return string(req.UID) }

// DataSubjectExportLocation says where the export of req is, for people: an s3:// URL of
// the object or a pvc:// path inside the claim.
func DataSubjectExportLocation(req *v1alpha1.DataSubjectRequest, policy *v1alpha1.BackupPolicy) string {
	object := req.Namespace + "/" + req.Spec.InstanceName + "/" + ExportFolder + DataSubjectExportID(req) + ExportObjectSuffix
	if s3 := policy.Spec.Destination.S3; s3 != nil {
		return "s3://" + s3.Bucket + "/" + s3.Prefix + object
	}
	pvc := policy.Spec.Destination.PersistentVolumeClaim
	return "pvc://" + path.Join(pvc.ClaimName, pvc.SubPath, object)
}

// DataSubjectRequestJob carries req out once: `helpdesk-operator dsr` (docs/retention.md)
// in a pod built like the backup pods. The subject's address and a rectification's new
// values reach it as files projected from the Secrets the request names, never as
// arguments or environment. An Access request runs as the backup workload, whose Vault
// role may encrypt with the instance's key (never decrypt), and streams the export
// through the backup envelope into exports/ of the instance's folder on policy's
// destination; the other types need no Vault and run as the app. policy is only read for
// Access. subjectHash is recorded as an annotation (see AnnotationSubjectHash).
func DataSubjectRequestJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, req *v1alpha1.DataSubjectRequest, policy *v1alpha1.BackupPolicy, subjectHash string) *batchv1.Job {
	n := NamesFor(inst)
	vols, mounts := jobBaseVolumes()
	dbVols, dbMounts := databaseClientVolumes(inst, true)
	vols, mounts = append(vols, dbVols...), append(mounts, dbMounts...)
	vols = append(vols, dsrInputVolume(req))
	mounts = append(mounts, corev1.VolumeMount{Name: dsrInputVolumeName, MountPath: dsrInputDir, ReadOnly: true})

	args := append(databaseArgs(inst, prof),
		"--app-profile="+string(appProfile(inst)),
		"--type="+string(req.Spec.Type),
		"--subject-file="+dsrInputDir+"/"+dsrSubjectKey,
	)
	serviceAccount := n.App
	var affinity *corev1.Affinity
	switch req.Spec.Type {
	case v1alpha1.DataSubjectAccess:
		serviceAccount = n.BackupServiceAccount
		vols = append(vols, vaultTokenVolume(opts))
		mounts = append(mounts, corev1.VolumeMount{Name: vaultTokenVolumeName, MountPath: vaultTokenDir, ReadOnly: true})
		if opts.Vault.CABundle != "" {
			vols = append(vols, vaultCAVolume(inst))
			mounts = append(mounts, corev1.VolumeMount{Name: "vault-ca", MountPath: vaultCADir, ReadOnly: true})
		}
		destVols, destMounts := destinationVolumes(policy, false)
		vols, mounts = append(vols, destVols...), append(mounts, destMounts...)
		// An export only reads the files.
		vols = append(vols, attachmentsVolumeOf(inst, true))
		mounts = append(mounts, corev1.VolumeMount{Name: attachmentsVolume, MountPath: prof.UploadsPath, ReadOnly: true})
		args = append(args, "--attachments-dir="+prof.UploadsPath, "--export-id="+DataSubjectExportID(req))
		args = append(args, vaultArgs(inst, opts, vault.WorkloadBackup, inst.Name)...)
		args = append(args, destinationArgs(policy)...)
		affinity = attachmentsAffinity(inst, opts)
	case v1alpha1.DataSubjectErasure:
		vols = append(vols, attachmentsVolumeOf(inst, false))
		mounts = append(mounts, corev1.VolumeMount{Name: attachmentsVolume, MountPath: prof.UploadsPath})
		args = append(args, "--attachments-dir="+prof.UploadsPath)
		affinity = attachmentsAffinity(inst, opts)
	case v1alpha1.DataSubjectRectification:
		for _, f := range sortedFields(req) {
			args = append(args, "--set-file="+f.Field+"="+path.Join(dsrInputDir, dsrSetDir, f.Field))
		}
	}
	names := DataSubjectRequestNamesFor(req)
	meta := dsrObjectMeta(inst, req, names.Job, dsrLabels(inst, prof, opts, req, DataSubjectRunRequest, false))
	meta.Annotations = map[string]string{AnnotationSubjectHash: subjectHash}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta,
		Spec: jobSpec(inst, prof, opts, jobPod{
			container:      dsrContainer,
			subcommand:     "dsr",
			args:           args,
			labels:         dsrLabels(inst, prof, opts, req, DataSubjectRunRequest, true),
			serviceAccount: serviceAccount,
			volumes:        vols,
			mounts:         mounts,
			backoffLimit:   dsrBackoffLimit,
			deadline:       dsrActiveDeadline,
			affinity:       affinity,
		}),
	}
}

// DataSubjectExportCleanupJob deletes the export of req from policy's destination:
// `helpdesk-operator dsr --delete-export`. It touches neither the database nor Vault, so
// it also runs after the instance is gone; serviceAccount is then the namespace's default.
func DataSubjectExportCleanupJob(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, req *v1alpha1.DataSubjectRequest, policy *v1alpha1.BackupPolicy, serviceAccount string) *batchv1.Job {
	vols, mounts := jobBaseVolumes()
	destVols, destMounts := destinationVolumes(policy, false)
	vols, mounts = append(vols, destVols...), append(mounts, destMounts...)
	args := append([]string{
		"--delete-export=" + DataSubjectExportID(req),
		"--instance-namespace=" + req.Namespace,
		"--instance-name=" + req.Spec.InstanceName,
	}, destinationArgs(policy)...)
	names := DataSubjectRequestNamesFor(req)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: dsrObjectMeta(inst, req, names.CleanupJob, dsrLabels(inst, prof, opts, req, DataSubjectRunDeleteExport, false)),
		Spec: jobSpec(inst, prof, opts, jobPod{
			container:      cleanupContainer,
			subcommand:     "dsr",
			args:           args,
			labels:         dsrLabels(inst, prof, opts, req, DataSubjectRunDeleteExport, true),
			serviceAccount: serviceAccount,
			volumes:        vols,
			mounts:         mounts,
			backoffLimit:   cleanupBackoff,
			deadline:       cleanupDeadline,
		}),
	}
}

// DataSubjectRequestNetworkPolicy lets the pods of req reach policy's S3 destination, as
// BackupNetworkPolicy does for the backup pods; nil for a volume destination and when no
// CIDR is left (the BackupPolicy reports that).
func DataSubjectRequestNetworkPolicy(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, req *v1alpha1.DataSubjectRequest, policy *v1alpha1.BackupPolicy) *networkingv1.NetworkPolicy {
	s3 := policy.Spec.Destination.S3
	to := tenantPeers(opts.TenantEgress, BackupEgressCIDRs(s3))
	if len(to) == 0 {
		return nil
	}
	selector := SelectorLabels(inst, RoleJob)
	selector[LabelDataSubjectRequest] = labelValue(req.Name)
	p := networkPolicy(inst, prof, opts, DataSubjectRequestNamesFor(req).EgressPolicy, selector, networkingv1.PolicyTypeEgress)
	p.ObjectMeta = dsrObjectMeta(inst, req, p.Name, dsrLabels(inst, prof, opts, req, "", false))
	p.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
		To:    to,
		Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, s3Port(s3.Endpoint))},
	}}
	return p
}

// dsrLabels are the labels of a request's object, or of its pods (with the jobs'
// network role, so the instance's perimeter applies to them).
func dsrLabels(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile, opts Options, req *v1alpha1.DataSubjectRequest, run string, pod bool) map[string]string {
	var l map[string]string
	if pod {
		l = PodLabels(inst, prof, opts, ComponentDataSubjectRequest, RoleJob)
	} else {
		l = Labels(inst, prof, opts, ComponentDataSubjectRequest)
	}
	l[LabelDataSubjectRequest] = labelValue(req.Name)
	if run != "" {
		l[LabelDataSubjectRun] = run
	}
	return l
}

// dsrObjectMeta makes the request, not the instance, the controller of its objects:
// deleting the request removes them, and the instance's own reconciles never see them.
func dsrObjectMeta(inst *v1alpha1.HelpdeskInstance, req *v1alpha1.DataSubjectRequest, name string, labels map[string]string) metav1.ObjectMeta {
	m := objectMeta(inst, name, labels)
	m.OwnerReferences = []metav1.OwnerReference{{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "DataSubjectRequest",
		Name:               req.Name,
		UID:                req.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}}
	return m
}

// dsrInputVolume projects the subject's address and a rectification's new values from
// the Secrets the request names.
func dsrInputVolume(req *v1alpha1.DataSubjectRequest) corev1.Volume {
	subject := req.Spec.Subject.SecretKeyRef
	sources := []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
		LocalObjectReference: corev1.LocalObjectReference{Name: subject.Name},
		Items:                []corev1.KeyToPath{{Key: subject.Key, Path: dsrSubjectKey}},
	}}}
	// One source per Secret, in a stable order.
	bySecret := map[string][]corev1.KeyToPath{}
	var secrets []string
	for _, f := range sortedFields(req) {
		name := f.ValueFrom.Name
		if _, seen := bySecret[name]; !seen {
			secrets = append(secrets, name)
		}
		bySecret[name] = append(bySecret[name], corev1.KeyToPath{Key: f.ValueFrom.Key, Path: path.Join(dsrSetDir, f.Field)})
	}
	for _, name := range secrets {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: name},
			Items:                bySecret[name],
		}})
	}
	return corev1.Volume{Name: dsrInputVolumeName, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: sources, DefaultMode: ptr.To[int32](0o440),
	}}}
}

func sortedFields(req *v1alpha1.DataSubjectRequest) []v1alpha1.RectificationField {
	fields := append([]v1alpha1.RectificationField(nil), req.Spec.Rectification...)
	sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	return fields
}

func attachmentsVolumeOf(inst *v1alpha1.HelpdeskInstance, readOnly bool) corev1.Volume {
	return corev1.Volume{Name: attachmentsVolume, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: NamesFor(inst).Attachments, ReadOnly: readOnly},
	}}
}

func vaultCAVolume(inst *v1alpha1.HelpdeskInstance) corev1.Volume {
	return corev1.Volume{Name: "vault-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: NamesFor(inst).VaultCA},
		Items:                []corev1.KeyToPath{{Key: VaultCAKey, Path: VaultCAKey}},
	}}}
}

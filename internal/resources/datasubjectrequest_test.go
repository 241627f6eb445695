package resources

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/backup"
)

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestDataSubjectRequestGolden(t *testing.T) {
	prof := helpyProfile(t)
	opts := backupOptions()
	inst := minimalInstance()
	compareGolden(t, "datasubjectrequest.yaml", []runtime.Object{
		DataSubjectRequestJob(inst, prof, opts, accessRequest(), s3Policy(), "sha256:4f2a"),
		DataSubjectRequestNetworkPolicy(inst, prof, opts, accessRequest(), s3Policy()),
		DataSubjectExportCleanupJob(inst, prof, opts, accessRequest(), s3Policy(), "support-backup"),
		DataSubjectRequestJob(inst, prof, opts, erasureRequest(), nil, "sha256:4f2b"),
		DataSubjectRequestJob(inst, prof, opts, rectificationRequest(), nil, "sha256:4f2c"),
		DataSubjectRequestJob(inst, prof, opts, accessRequest(), pvcPolicy(), "sha256:4f2a"),
	})
}

// podOf returns the request Job's pod spec, its container's args and volume names.
func podOf(t *testing.T, req *v1alpha1.DataSubjectRequest, policy *v1alpha1.BackupPolicy) (corev1.PodSpec, []string, []string) {
	t.Helper()
	job := DataSubjectRequestJob(minimalInstance(), helpyProfile(t), backupOptions(), req, policy, "sha256:00")
	pod := job.Spec.Template.Spec
	var vols []string
	for _, v := range pod.Volumes {
		vols = append(vols, v.Name)
	}
	return pod, pod.Containers[0].Args, vols
}

func TestDataSubjectRequestJobs(t *testing.T) {
	inst := minimalInstance()
	n := NamesFor(inst)

	// Access: the backup workload (it may encrypt, never decrypt) writes to the destination.
	pod, args, vols := podOf(t, accessRequest(), s3Policy())
	if pod.ServiceAccountName != n.BackupServiceAccount {
		t.Errorf("Access runs as %q, want the backup ServiceAccount", pod.ServiceAccountName)
	}
	for _, want := range []string{"--type=Access", "--subject-file=/etc/helpdesk/dsr/subject", "--export-id=6f1c2d3e-4a5b-4c6d-8e7f-000000000042",
		"--vault-k8s-role=helpdesk_tenant-a_support_backup", "--transit-key=helpdesk_tenant-a_support", "--s3-bucket=helpdesk-backups", "--s3-prefix=prod/",
		"--instance-namespace=tenant-a", "--instance-name=support", "--attachments-dir=/helpy/public/uploads", "--db-sslmode=verify-full"} {
		if !slices.Contains(args, want) {
			t.Errorf("Access args lack %s: %q", want, args)
		}
	}
	if want := []string{"bin", "tmp", "db-ca", "db", "request", "vault-token", "s3", "s3-ca", "attachments"}; !slices.Equal(vols, want) {
		t.Errorf("Access volumes %v, want %v", vols, want)
	}
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.Name == attachmentsVolume && !m.ReadOnly {
			t.Error("Access mounts the attachments writable; an export only reads them")
		}
	}

	// Erasure: no Vault, runs as the app, removes files.
	pod, args, vols = podOf(t, erasureRequest(), nil)
	if pod.ServiceAccountName != n.App || slices.Contains(vols, "vault-token") || slices.Contains(vols, "s3") {
		t.Errorf("Erasure runs as %q with volumes %v; it needs neither Vault nor the destination", pod.ServiceAccountName, vols)
	}
	if !slices.Contains(args, "--type=Erasure") || !slices.Contains(args, "--attachments-dir=/helpy/public/uploads") {
		t.Errorf("Erasure args %q", args)
	}

	// Rectification: values as files from the Secrets, never as arguments.
	pod, args, vols = podOf(t, rectificationRequest(), nil)
	if !slices.Contains(args, "--set-file=name=/etc/helpdesk/dsr/set/name") || !slices.Contains(args, "--set-file=work_phone=/etc/helpdesk/dsr/set/work_phone") {
		t.Errorf("Rectification args %q", args)
	}
	if slices.Contains(vols, attachmentsVolume) {
		t.Error("Rectification mounts the attachments; it only sets account fields")
	}
	var projected *corev1.ProjectedVolumeSource
	for _, v := range pod.Volumes {
		if v.Name == dsrInputVolumeName {
			projected = v.Projected
		}
	}
	var got []string
	for _, src := range projected.Sources {
		for _, item := range src.Secret.Items {
			got = append(got, src.Secret.Name+":"+item.Key+"->"+item.Path)
		}
	}
	if want := []string{"dsr-0042:email->subject", "dsr-0044:new-name->set/name", "dsr-0044-values:phone->set/work_phone"}; !slices.Equal(got, want) {
		t.Errorf("projected %v, want %v", got, want)
	}

	// Nothing of the request's Secrets' content or the subject is in the pod spec; every
	// value is a file.
	for _, req := range []*v1alpha1.DataSubjectRequest{accessRequest(), erasureRequest(), rectificationRequest()} {
		pod, args, _ := podOf(t, req, s3Policy())
		if len(pod.Containers[0].Env) != 0 {
			t.Errorf("%s: environment %v", req.Name, pod.Containers[0].Env)
		}
		for _, a := range args {
			if strings.HasPrefix(a, "--subject=") || strings.HasPrefix(a, "--set=") || strings.Contains(a, "@") {
				t.Errorf("%s: argument %q carries a value", req.Name, a)
			}
		}
	}

	// Every object is the request's, not the instance's: deleting the request removes them.
	job := DataSubjectRequestJob(inst, helpyProfile(t), backupOptions(), accessRequest(), s3Policy(), "sha256:00")
	if refs := job.OwnerReferences; len(refs) != 1 || refs[0].Kind != "DataSubjectRequest" || refs[0].UID != accessRequest().UID {
		t.Errorf("owner references %+v", refs)
	}
	if job.Annotations[AnnotationSubjectHash] != "sha256:00" {
		t.Errorf("annotations %v", job.Annotations)
	}
	cleanup := DataSubjectExportCleanupJob(inst, helpyProfile(t), backupOptions(), accessRequest(), pvcPolicy(), "default")
	cargs := cleanup.Spec.Template.Spec.Containers[0].Args
	if !reflect.DeepEqual(cargs, []string{"--delete-export=6f1c2d3e-4a5b-4c6d-8e7f-000000000042", "--instance-namespace=tenant-a", "--instance-name=support", "--path=/backup/helpdesk"}) {
		t.Errorf("cleanup args %q", cargs)
	}
	for _, v := range cleanup.Spec.Template.Spec.Volumes {
		if v.Name == "db" || v.Name == "vault-token" || v.Name == attachmentsVolume {
			t.Errorf("the cleanup Job mounts %s; it only deletes the export", v.Name)
		}
	}
	if np := DataSubjectRequestNetworkPolicy(inst, helpyProfile(t), backupOptions(), accessRequest(), pvcPolicy()); np != nil {
		t.Error("a volume destination got an egress policy")
	}
	np := DataSubjectRequestNetworkPolicy(inst, helpyProfile(t), backupOptions(), accessRequest(), s3Policy())
	if np.Spec.PodSelector.MatchLabels[LabelDataSubjectRequest] != "dsr-0042" || np.Spec.PodSelector.MatchLabels[LabelHelpdeskInstance] != "support" ||
		np.Spec.Egress[0].To[0].IPBlock.CIDR != "203.0.113.10/32" || np.Spec.Egress[0].Ports[0].Port.IntVal != 9000 {
		t.Errorf("egress policy %+v", np.Spec)
	}
}

func TestDataSubjectExportLocation(t *testing.T) {
	if got, want := DataSubjectExportLocation(accessRequest(), s3Policy()), "s3://helpdesk-backups/prod/tenant-a/support/exports/6f1c2d3e-4a5b-4c6d-8e7f-000000000042.tar.zst.age"; got != want {
		t.Errorf("S3 location %q, want %q", got, want)
	}
	if got, want := DataSubjectExportLocation(accessRequest(), pvcPolicy()), "pvc://backups/helpdesk/tenant-a/support/exports/6f1c2d3e-4a5b-4c6d-8e7f-000000000042.tar.zst.age"; got != want {
		t.Errorf("volume location %q, want %q", got, want)
	}
}

// TestExportLocationIsWhereTheEngineWrites: the location the status shows is the object
// the dsr subcommand writes (internal/backup names it).
func TestExportLocationIsWhereTheEngineWrites(t *testing.T) {
	req := accessRequest()
	id := DataSubjectExportID(req)
	if err := backup.CheckExportID(id); err != nil {
		t.Fatalf("a request's export ID is refused by the engine: %v", err)
	}
	folder, err := backup.Instance{Namespace: req.Namespace, Name: req.Spec.InstanceName}.Folder()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := DataSubjectExportLocation(req, pvcPolicy()), "pvc://backups/helpdesk/"+folder+backup.ExportObjectName(id); got != want {
		t.Errorf("location %q, the engine writes %q", got, want)
	}
}

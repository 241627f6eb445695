package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	backupcli "github.com/privatedesk/helpdesk-operator/internal/backup/cli"
	"github.com/privatedesk/helpdesk-operator/internal/vault"
)

// ageHeader starts every age-encrypted file.
const ageHeader = "age-encryption.org/v1"

// makeBucket creates the sample's bucket in versitygw, with the backup code's own helper.
func (s *session) makeBucket(ctx context.Context, bucket string) error {
	return backupcli.MakeBucket(ctx, []string{"--s3-endpoint=" + s.s3.Endpoint, "--s3-bucket=" + bucket,
		"--s3-access-key=" + s.s3.AccessKey, "--s3-secret-key=" + s.s3.SecretKey, "--s3-insecure", "--s3-force-path-style"})
}

// s3Settings are the BackupPolicy's destination as the backup subcommand takes it.
type s3Settings struct {
	bucket, prefix, region string
	pathStyle              bool
	accessKeyFile          string
	secretKeyFile          string
}

// workloadArgs are the flags every backup subcommand gets in the instance's Jobs: the S3
// destination of the policy, the instance, and Vault as the workload's own role with a
// TokenRequest token of the workload's ServiceAccount for the Vault audience.
func (s *session) workloadArgs(ctx context.Context, dest s3Settings, w vault.Workload, sa string) ([]string, error) {
	token, err := s.serviceAccountToken(ctx, s.o.Namespace, sa, vaultAudience)
	if err != nil {
		return nil, err
	}
	tokenFile, err := s.writeSecretFile(sa+".token", token)
	if err != nil {
		return nil, err
	}
	names := vault.NamesFor(vaultPrefix, s.o.Namespace, s.data.instance)
	args := []string{
		"--s3-endpoint=" + s.s3.Endpoint, "--s3-bucket=" + dest.bucket, "--s3-prefix=" + dest.prefix, "--s3-region=" + dest.region,
		"--s3-access-key-file=" + dest.accessKeyFile, "--s3-secret-key-file=" + dest.secretKeyFile,
		"--s3-insecure=true", "--s3-force-path-style=" + strconv.FormatBool(dest.pathStyle),
		"--vault-addr=" + s.vault.Addr, "--vault-k8s-mount=" + vaultAuthMount, "--vault-k8s-role=" + names.Roles[w],
		"--vault-sa-token-file=" + tokenFile, "--transit-mount=" + vaultTransitMount, "--transit-key=" + names.Key,
		"--instance-namespace=" + s.o.Namespace, "--instance-name=" + s.data.instance,
		"--pg-bin-dir=" + s.pg.BinDir(),
	}
	return args, nil
}

// backupPolicy reads the data-path instance's BackupPolicy and writes its S3 keys where
// the Job would mount them.
func (s *session) backupPolicy(ctx context.Context) (*unstructured.Unstructured, s3Settings, error) {
	policy := &unstructured.Unstructured{}
	policy.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("BackupPolicy"))
	if err := s.kube.Get(ctx, client.ObjectKey{Namespace: s.o.Namespace, Name: s.data.backupPolicy}, policy); err != nil {
		return nil, s3Settings{}, err
	}
	s3, _, _ := unstructured.NestedMap(policy.Object, "spec", "destination", "s3")
	str := func(key string) string { v, _ := s3[key].(string); return v }
	pathStyle, found, _ := unstructured.NestedBool(s3, "forcePathStyle")
	dest := s3Settings{bucket: str("bucket"), prefix: str("prefix"), region: str("region"), pathStyle: pathStyle || !found}
	var err error
	if dest.accessKeyFile, err = s.writeSecretFile("s3-access-key", s.s3.AccessKey); err != nil {
		return nil, dest, err
	}
	if dest.secretKeyFile, err = s.writeSecretFile("s3-secret-key", s.s3.SecretKey); err != nil {
		return nil, dest, err
	}
	return policy, dest, nil
}

// backupArgs are the backup's own flags from the policy, as the operator's CronJob sets them.
func backupArgs(policy *unstructured.Unstructured, appVersion string) []string {
	retention, _, _ := unstructured.NestedMap(policy.Object, "spec", "retention")
	keep := func(key string, fallback int64) string {
		v, found, _ := unstructured.NestedInt64(retention, key)
		if !found {
			v = fallback
		}
		return strconv.FormatInt(v, 10)
	}
	args := []string{"--app-version=" + appVersion, "--keep-last=" + keep("keepLast", 7), "--keep-daily=" + keep("keepDaily", 0),
		"--keep-weekly=" + keep("keepWeekly", 0), "--keep-monthly=" + keep("keepMonthly", 0)}
	if maxAge, found, _ := unstructured.NestedString(retention, "maxAge"); found {
		args = append(args, "--max-age="+maxAge)
	}
	if tz, found, _ := unstructured.NestedString(policy.Object, "spec", "timeZone"); found {
		args = append(args, "--time-zone="+tz)
	}
	return args
}

// backupAndDrill takes a backup of the local database with `helpdesk-operator backup` as
// the instance's backup workload, lists what landed in S3, and proves it with a restore
// drill, `helpdesk-operator verify`, as the restore workload.
func (s *session) backupAndDrill(ctx context.Context) error {
	policy, dest, err := s.backupPolicy(ctx)
	if err != nil {
		return err
	}
	inst := &unstructured.Unstructured{}
	inst.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("HelpdeskInstance"))
	if err := s.kube.Get(ctx, client.ObjectKey{Namespace: s.o.Namespace, Name: s.data.instance}, inst); err != nil {
		return err
	}
	image, _, _ := unstructured.NestedString(inst.Object, "spec", "app", "image")
	common, err := s.workloadArgs(ctx, dest, vault.WorkloadBackup, s.data.backupSA)
	if err != nil {
		return err
	}
	args := append([]string{"backup"}, common...)
	args = append(args, "--db-host="+s.pg.Host, "--db-port="+strconv.Itoa(s.pg.Port), "--db-name="+s.data.dbName,
		"--db-user="+s.data.dbUser, "--db-password-file="+s.data.dbPasswordFile, "--db-sslmode=disable",
		"--attachments-dir="+s.data.attachments)
	args = append(args, backupArgs(policy, image)...)
	role := vault.RoleName(vaultPrefix, s.o.Namespace, s.data.instance, vault.WorkloadBackup)
	s.p.progress("backup: helpdesk-operator backup as Vault role %s (TokenRequest token of ServiceAccount %s/%s, audience %q)",
		role, s.o.Namespace, s.data.backupSA, vaultAudience)
	out, err := s.runOperator(ctx, "backup.log", nil, args...)
	if err != nil {
		return err
	}
	var res struct {
		ID         string  `json:"id"`
		Size       int64   `json:"size"`
		PlainSize  int64   `json:"plainSize"`
		Objects    int     `json:"objects"`
		KeyVersion int     `json:"keyVersion"`
		Duration   float64 `json:"durationSeconds"`
		Kept       int     `json:"kept"`
	}
	if err := decodeResult(out, &res); err != nil {
		return err
	}
	s.data.backupID = res.ID
	s.p.line("backup %s: %d data objects, %s stored (%s before compression and encryption), transit key version %d, %.1fs; retention kept %d",
		res.ID, res.Objects, size(res.Size), size(res.PlainSize), res.KeyVersion, res.Duration, res.Kept)
	if err := s.showObjects(ctx, dest); err != nil {
		return err
	}
	return s.drill(ctx, dest)
}

// showObjects lists the instance's folder in the bucket and checks each data object
// starts with the age header.
func (s *session) showObjects(ctx context.Context, dest s3Settings) error {
	mc, err := minio.New(s.s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.s3.AccessKey, s.s3.SecretKey, ""), Region: dest.region})
	if err != nil {
		return err
	}
	folder := dest.prefix + s.o.Namespace + "/" + s.data.instance + "/"
	s.p.line("objects in s3://%s/%s (the instance's folder below the policy's prefix):", dest.bucket, folder)
	rows := [][]string{}
	for obj := range mc.ListObjects(ctx, dest.bucket, minio.ListObjectsOptions{Prefix: folder, Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		what, err := describeStored(ctx, mc, dest.bucket, obj.Key)
		if err != nil {
			return err
		}
		rows = append(rows, []string{"  " + strings.TrimPrefix(obj.Key, folder), size(obj.Size), what})
	}
	s.p.table(rows)
	return nil
}

// describeStored reads an object's first bytes: age ciphertext, or a signed JSON record.
func describeStored(ctx context.Context, mc *minio.Client, bucket, key string) (string, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(0, int64(len(ageHeader))-1); err != nil {
		return "", err
	}
	obj, err := mc.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	head, err := io.ReadAll(obj)
	if err != nil {
		return "", err
	}
	switch {
	case bytes.HasPrefix(head, []byte(ageHeader)):
		return "encrypted (age; its file key wrapped by the tenant's Vault transit key)", nil
	case strings.HasPrefix(path.Dir(key), "manifests") || strings.Contains(key, "/manifests/"):
		return "manifest: plain JSON of sizes, hashes and row counts, signed with transit HMAC", nil
	case strings.Contains(key, "/drills/"):
		return "drill result (JSON)", nil
	default:
		return "not encrypted", nil
	}
}

// drill runs `helpdesk-operator verify` as the restore workload: the newest backup is
// restored into a throwaway PostgreSQL server in a scratch folder and compared with its
// manifest.
func (s *session) drill(ctx context.Context, dest s3Settings) error {
	common, err := s.workloadArgs(ctx, dest, vault.WorkloadRestore, s.data.restoreSA)
	if err != nil {
		return err
	}
	scratch := s.path("drill-scratch")
	if err := s.scratchDir(scratch); err != nil {
		return err
	}
	args := append([]string{"verify"}, common...)
	args = append(args, "--id=latest", "--scratch-dir="+scratch)
	role := vault.RoleName(vaultPrefix, s.o.Namespace, s.data.instance, vault.WorkloadRestore)
	s.p.progress("restore drill: helpdesk-operator verify as Vault role %s (ServiceAccount %s/%s): restores into a throwaway PostgreSQL and compares",
		role, s.o.Namespace, s.data.restoreSA)
	out, err := s.runOperator(ctx, "verify.log", nil, args...)
	var res struct {
		ID            string   `json:"id"`
		Passed        bool     `json:"passed"`
		Restore       float64  `json:"restoreSeconds"`
		Mismatches    []string `json:"mismatches"`
		MismatchCount int      `json:"mismatchCount"`
		Error         string   `json:"error"`
	}
	if derr := decodeResult(out, &res); derr != nil {
		if err != nil {
			return err
		}
		return derr
	}
	if res.Passed {
		s.p.line("drill of backup %s: PASSED (restored and checked in %.1fs: every table's row count and the attachment count match the manifest)", res.ID, res.Restore)
	} else {
		s.p.line("drill of backup %s: FAILED: %s %s", res.ID, res.Error, strings.Join(res.Mismatches, "; "))
	}
	return err
}

// scratchDir creates the drill's scratch folder. PostgreSQL refuses to run as root, so
// when we are root the folder belongs to the postgres user, which the drill then runs its
// server as (as the drill pod's emptyDir belongs to its non-root user).
func (s *session) scratchDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("the drill needs a non-root user for its PostgreSQL server: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

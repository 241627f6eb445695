package resources

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
)

// Where pods find the database's credentials and CA.
const (
	dbCADir  = "/etc/helpdesk/db-ca"
	dbCAFile = dbCADir + "/ca.crt"
	// dbCAKey is the key of CloudNativePG's CA Secret with the public certificate; its
	// private key sits in the same Secret and is never mounted.
	dbCAKey = "ca.crt"
	// DatabaseSSLMode: every client checks the server's certificate against the
	// cluster's CA and its host name (<cluster>-rw), not only that TLS is used.
	DatabaseSSLMode = "verify-full"
)

// databaseClientVolumes mount what a client of the instance's database needs: the
// server's CA always, the application user's password when withPassword (Jobs; the app
// reads it from the environment as the profile says).
func databaseClientVolumes(inst *v1alpha1.HelpdeskInstance, withPassword bool) ([]corev1.Volume, []corev1.VolumeMount) {
	n := NamesFor(inst)
	vols := []corev1.Volume{{Name: "db-ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: n.DatabaseCA,
		Items:      []corev1.KeyToPath{{Key: dbCAKey, Path: "ca.crt"}},
	}}}}
	mounts := []corev1.VolumeMount{{Name: "db-ca", MountPath: dbCADir, ReadOnly: true}}
	if withPassword {
		// Only the password key: the other keys are passed as flags, and the Secret is
		// never copied.
		vols = append(vols, corev1.Volume{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: n.DatabaseAppSecret,
			Items:      []corev1.KeyToPath{{Key: "password", Path: "password"}},
		}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "db", MountPath: dbSecretDir, ReadOnly: true})
	}
	return vols, mounts
}

// databaseArgs are the backup binary's flags to reach the instance's database, verified.
func databaseArgs(inst *v1alpha1.HelpdeskInstance, prof appprofile.Profile) []string {
	n := NamesFor(inst)
	return []string{
		"--db-host=" + n.DatabaseCluster + "-rw",
		"--db-port=" + strconv.Itoa(PostgresPort),
		"--db-name=" + prof.Database,
		"--db-user=" + prof.DatabaseOwner,
		"--db-password-file=" + dbSecretDir + "/password",
		"--db-sslmode=" + DatabaseSSLMode,
		"--db-sslrootcert=" + dbCAFile,
	}
}

// databaseCAEnv points libpq in the app and the migration at the mounted CA; the
// profile's connection settings ask for verify-full.
func databaseCAEnv() corev1.EnvVar {
	return corev1.EnvVar{Name: "PGSSLROOTCERT", Value: dbCAFile}
}

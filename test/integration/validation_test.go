package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// validSpecs are minimal valid specs per kind; each case merges its change over one.
var validSpecs = map[string]string{
	"HelpdeskInstance": `hostname: support.example.com`,
	"AccessPolicy":     `{}`,
	"RetentionPolicy": `
rules:
- dataClass: ClosedTickets
  olderThan: 8760h`,
	"BackupPolicy": `
destination:
  persistentVolumeClaim:
    claimName: backups`,
}

const s3Destination = `
destination:
  persistentVolumeClaim: null
  s3:
    endpoint: https://s3.example.com
    bucket: helpdesk-backups
    credentials: {secretName: s3-credentials}`

type validationCase struct {
	name string
	kind string
	// spec is a JSON merge patch (in YAML) over the kind's valid spec; null removes a field.
	spec string
	// update, when set, is applied as a second merge patch to the created object, and it
	// is the update that must be refused (transition rules).
	update string
	// want are fragments the API server's error must contain: the field and the fix.
	want []string
}

var invalidObjects = []validationCase{
	// HelpdeskInstance
	{name: "hostname missing", kind: "HelpdeskInstance", spec: `hostname: null`, want: []string{"spec.hostname", "Required value"}},
	{name: "hostname uppercase", kind: "HelpdeskInstance", spec: `hostname: Support.Example.com`, want: []string{"spec.hostname", "lowercase RFC 1123 DNS name"}},
	{name: "hostname with scheme", kind: "HelpdeskInstance", spec: `hostname: https://support.example.com`, want: []string{"spec.hostname", "no scheme, port or path"}},
	{name: "hostname too long", kind: "HelpdeskInstance", spec: `hostname: ` + strings.Repeat("a", 254), want: []string{"spec.hostname", "Too long"}},
	{name: "unknown app profile", kind: "HelpdeskInstance", spec: `app: {profile: Zammad}`, want: []string{"spec.app.profile", `supported values: "Helpy"`}},
	{name: "negative replicas", kind: "HelpdeskInstance", spec: `app: {replicas: -1}`, want: []string{"spec.app.replicas", "greater than or equal to 0"}},
	{name: "too many replicas", kind: "HelpdeskInstance", spec: `app: {replicas: 21}`, want: []string{"spec.app.replicas", "less than or equal to 20"}},
	{name: "image with a space", kind: "HelpdeskInstance", spec: `app: {image: "helpy latest"}`, want: []string{"spec.app.image", "without spaces"}},
	{name: "bad pull policy", kind: "HelpdeskInstance", spec: `app: {imagePullPolicy: Sometimes}`, want: []string{"spec.app.imagePullPolicy", "supported values"}},
	{name: "zero database instances", kind: "HelpdeskInstance", spec: `database: {instances: 0}`, want: []string{"spec.database.instances", "greater than or equal to 1"}},
	{name: "ten database instances", kind: "HelpdeskInstance", spec: `database: {instances: 10}`, want: []string{"spec.database.instances", "less than or equal to 9"}},
	{name: "unsupported PostgreSQL", kind: "HelpdeskInstance", spec: `database: {postgresVersion: 12}`, want: []string{"spec.database.postgresVersion", "greater than or equal to 13"}},
	{name: "rotation too short", kind: "HelpdeskInstance", spec: `encryption: {keyRotationPeriod: 30m}`, want: []string{"spec.encryption.keyRotationPeriod", "between 1h and 8760h"}},
	{name: "rotation too long", kind: "HelpdeskInstance", spec: `encryption: {keyRotationPeriod: 10000h}`, want: []string{"spec.encryption.keyRotationPeriod", "between 1h and 8760h"}},
	{name: "rotation not a duration", kind: "HelpdeskInstance", spec: `encryption: {keyRotationPeriod: 30d}`, want: []string{"spec.encryption.keyRotationPeriod"}},
	{name: "unknown secret delivery", kind: "HelpdeskInstance", spec: `encryption: {secretDelivery: File}`, want: []string{"spec.encryption.secretDelivery", "supported values"}},
	{name: "unknown deletion policy", kind: "HelpdeskInstance", spec: `deletionPolicy: Destroy`, want: []string{"spec.deletionPolicy", `"Retain", "Delete", "Shred"`}},
	{name: "SMTP CIDR invalid", kind: "HelpdeskInstance", spec: `network: {smtp: {cidr: 10.0.0.0/33}}`, want: []string{"spec.network.smtp.cidr", "must be a CIDR"}},
	{name: "SMTP port zero", kind: "HelpdeskInstance", spec: `network: {smtp: {cidr: 10.0.0.25/32, port: 0}}`, want: []string{"spec.network.smtp.port", "greater than or equal to 1"}},
	{name: "egress CIDR invalid", kind: "HelpdeskInstance", spec: `network: {additionalEgress: [{cidr: not-a-cidr, ports: [443]}]}`, want: []string{"spec.network.additionalEgress[0].cidr", "must be a CIDR"}},
	{name: "egress without ports", kind: "HelpdeskInstance", spec: `network: {additionalEgress: [{cidr: 10.1.0.0/16, ports: []}]}`, want: []string{"spec.network.additionalEgress[0].ports"}},
	{name: "TLS without secret", kind: "HelpdeskInstance", spec: `tls: {issuer: {name: letsencrypt}}`, want: []string{"spec.tls.secretName", "Required value"}},
	{name: "TLS issuer kind", kind: "HelpdeskInstance", spec: `tls: {secretName: tls, issuer: {name: le, kind: Vault}}`, want: []string{"spec.tls.issuer.kind", `"Issuer", "ClusterIssuer"`}},
	{name: "gateway name with a slash", kind: "HelpdeskInstance", spec: `ingress: {gateway: {name: "infra/edge"}}`, want: []string{"spec.ingress.gateway.name", "object name"}},
	{name: "gateway namespace with a dot", kind: "HelpdeskInstance", spec: `ingress: {gateway: {name: edge, namespace: "a.b"}}`, want: []string{"spec.ingress.gateway.namespace", "namespace name"}},
	{name: "gateway listener uppercase", kind: "HelpdeskInstance", spec: `ingress: {gateway: {name: edge, sectionName: HTTPS}}`, want: []string{"spec.ingress.gateway.sectionName", "listener name"}},
	{name: "ingress class with a space", kind: "HelpdeskInstance", spec: `ingress: {className: "nginx public"}`, want: []string{"spec.ingress.className", "object name"}},
	{name: "empty policy reference", kind: "HelpdeskInstance", spec: `accessPolicyRef: {name: ""}`, want: []string{"spec.accessPolicyRef.name", "at least 1"}},
	{name: "restore from a glob", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly, instanceName: "*"}`, want: []string{"spec.restoreFrom.instanceName", "no wildcards"}},
	{name: "restore from a segment glob", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly, instanceName: "desk+"}`, want: []string{"spec.restoreFrom.instanceName", "no wildcards"}},
	{name: "restore from a path", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly, instanceName: "../acme-prod/desk"}`, want: []string{"spec.restoreFrom.instanceName", "name of an instance in this namespace"}},
	{name: "restore from a joined name", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly, instanceName: "prod_desk"}`, want: []string{"spec.restoreFrom.instanceName", "name of an instance in this namespace"}},
	{name: "restore from a bad policy name", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: "Nightly*"}`, want: []string{"spec.restoreFrom.backupPolicyName", "object name"}},
	{name: "policy reference not a name", kind: "HelpdeskInstance", spec: `backupPolicyRef: {name: "a/b"}`, want: []string{"spec.backupPolicyRef.name", "object name"}},
	{name: "bad backup ID", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly, backupID: "bad id!"}`, want: []string{"spec.restoreFrom.backupID", "should match"}},
	{name: "storage class changed", kind: "HelpdeskInstance", spec: `database: {storage: {storageClassName: fast}}`, update: `database: {storage: {storageClassName: slow}}`, want: []string{"spec.database.storage", "storageClassName is immutable"}},
	{name: "storage class added", kind: "HelpdeskInstance", spec: `{}`, update: `attachments: {storageClassName: slow}`, want: []string{"spec.attachments", "storageClassName is immutable"}},
	{name: "PostgreSQL lowered", kind: "HelpdeskInstance", spec: `database: {postgresVersion: 16}`, update: `database: {postgresVersion: 15}`, want: []string{"spec.database.postgresVersion", "cannot be lowered"}},
	{name: "restore source changed", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly}`, update: `restoreFrom: {backupID: 20260101T000000Z}`, want: []string{"spec.restoreFrom", "immutable"}},
	{name: "restore source removed", kind: "HelpdeskInstance", spec: `restoreFrom: {backupPolicyName: nightly}`, update: `restoreFrom: null`, want: []string{"spec", "restoreFrom cannot be removed"}},

	// AccessPolicy
	{name: "agent CIDR invalid", kind: "AccessPolicy", spec: `agentAllowedCIDRs: [10.0.0.0/8, 300.1.1.1/32]`, want: []string{"spec.agentAllowedCIDRs", "only CIDRs"}},
	{name: "portal CIDR is a host", kind: "AccessPolicy", spec: `portalAllowedCIDRs: [bogus]`, want: []string{"spec.portalAllowedCIDRs", "only CIDRs"}},
	{name: "too many CIDRs", kind: "AccessPolicy", spec: `agentAllowedCIDRs: [` + manyCIDRs(65) + `]`, want: []string{"spec.agentAllowedCIDRs", "must have at most 64 items"}},
	{name: "two SSO providers", kind: "AccessPolicy", spec: ssoOIDC + `
  ldap: {url: "ldaps://ldap.example.com", bindDN: cn=svc, bindPasswordRef: {name: ldap, key: password}, userSearchBase: dc=example}`, want: []string{"spec.sso", "exactly one of oidc, saml or ldap"}},
	{name: "no SSO provider", kind: "AccessPolicy", spec: `sso: {}`, want: []string{"spec.sso", "exactly one of oidc, saml or ldap"}},
	{name: "OIDC over http", kind: "AccessPolicy", spec: strings.Replace(ssoOIDC, "https://login", "http://login", 1), want: []string{"spec.sso.oidc.issuerURL", "must be an https URL"}},
	{name: "OIDC without client secret", kind: "AccessPolicy", spec: `sso: {oidc: {issuerURL: "https://login.example.com", clientID: helpdesk}}`, want: []string{"spec.sso.oidc.clientSecretRef", "Required value"}},
	{name: "secret reference without key", kind: "AccessPolicy", spec: `sso: {oidc: {issuerURL: "https://login.example.com", clientID: helpdesk, clientSecretRef: {name: oidc}}}`, want: []string{"spec.sso.oidc.clientSecretRef.key", "Required value"}},
	{name: "secret reference bad key", kind: "AccessPolicy", spec: `sso: {oidc: {issuerURL: "https://login.example.com", clientID: helpdesk, clientSecretRef: {name: oidc, key: "a/b"}}}`, want: []string{"spec.sso.oidc.clientSecretRef.key", "should match"}},
	{name: "LDAP in clear text", kind: "AccessPolicy", spec: `sso: {ldap: {url: "ldap://ldap.example.com", bindDN: cn=svc, bindPasswordRef: {name: ldap, key: password}, userSearchBase: dc=example}}`, want: []string{"spec.sso.ldap", "ldaps:// url or startTLS"}},
	{name: "LDAP filter without login", kind: "AccessPolicy", spec: `sso: {ldap: {url: "ldaps://ldap.example.com", bindDN: cn=svc, bindPasswordRef: {name: ldap, key: password}, userSearchBase: dc=example, userFilter: "(uid=x)"}}`, want: []string{"spec.sso.ldap.userFilter", "must contain {0}"}},
	{name: "SAML without metadata", kind: "AccessPolicy", spec: `sso: {saml: {entityID: helpdesk}}`, want: []string{"spec.sso.saml.metadataURL", "Required value"}},
	{name: "unknown MFA method", kind: "AccessPolicy", spec: `mfa: {methods: [SMS]}`, want: []string{"spec.mfa.methods[0]", `"TOTP", "WebAuthn"`}},
	{name: "idle longer than absolute", kind: "AccessPolicy", spec: `session: {idleTimeout: 2h, absoluteTimeout: 1h}`, want: []string{"spec.session", "idleTimeout must not exceed"}},
	{name: "idle too short", kind: "AccessPolicy", spec: `session: {idleTimeout: 10s}`, want: []string{"spec.session.idleTimeout", "between 1m and 24h"}},
	{name: "extension with a dot", kind: "AccessPolicy", spec: `uploads: {allowedExtensions: [.pdf]}`, want: []string{"spec.uploads.allowedExtensions[0]", "should match"}},
	{name: "upload limit too large", kind: "AccessPolicy", spec: `uploads: {maxSize: 2Gi}`, want: []string{"spec.uploads", "maxSize must be at most 1Gi"}},
	{name: "bot protection empty", kind: "AccessPolicy", spec: `botProtection: {}`, want: []string{"spec.botProtection", "captcha, the honeypot, or both"}},
	{name: "LDAP with required MFA", kind: "AccessPolicy", spec: `sso: {ldap: {url: "ldaps://ldap.example.com", bindDN: cn=svc, bindPasswordRef: {name: ldap, key: password}, userSearchBase: dc=example}}`, want: []string{"spec", "mfa.required cannot be enforced with spec.sso.ldap", "set spec.mfa.required to false"}},
	{name: "SAML key without certificate", kind: "AccessPolicy", spec: `sso: {saml: {metadataURL: "https://idp.example.com/metadata", signingKeyRef: {name: saml, key: tls.key}}}`, want: []string{"spec.sso.saml", "signingKeyRef and spec.sso.saml.certificateRef must be set together"}},
	{name: "provider CIDR is a host", kind: "AccessPolicy", spec: ssoOIDC + "\n  providerCIDRs: [login.example.com]", want: []string{"spec.sso.providerCIDRs", "only CIDRs"}},
	{name: "unknown captcha", kind: "AccessPolicy", spec: `botProtection: {captcha: {provider: Foo, siteKey: k, secretKeyRef: {name: c, key: k}}}`, want: []string{"spec.botProtection.captcha.provider", "supported values"}},
	{name: "captcha secret nameless", kind: "AccessPolicy", spec: `botProtection: {captcha: {provider: Turnstile, siteKey: k, secretKeyRef: {name: "", key: k}}}`, want: []string{"spec.botProtection.captcha.secretKeyRef.name", "at least 1"}},

	// RetentionPolicy
	{name: "no rules", kind: "RetentionPolicy", spec: `rules: []`, want: []string{"spec.rules", "at least 1 items"}},
	{name: "zero age", kind: "RetentionPolicy", spec: `rules: [{dataClass: Logs, olderThan: 0s}]`, want: []string{"spec.rules[0].olderThan", "positive age"}},
	{name: "anonymized attachments", kind: "RetentionPolicy", spec: `rules: [{dataClass: Attachments, olderThan: 720h, action: Anonymize}]`, want: []string{"spec.rules[0]", "can only be deleted"}},
	{name: "duplicate data class", kind: "RetentionPolicy", spec: `rules: [{dataClass: Logs, olderThan: 720h}, {dataClass: Logs, olderThan: 1440h}]`, want: []string{"spec.rules[1]", "Duplicate value"}},
	{name: "all tickets before closed", kind: "RetentionPolicy", spec: `rules: [{dataClass: ClosedTickets, olderThan: 8760h}, {dataClass: AllTickets, olderThan: 720h}]`, want: []string{"spec.rules", "AllTickets age must be at least the ClosedTickets age"}},
	{name: "unknown data class", kind: "RetentionPolicy", spec: `rules: [{dataClass: Emails, olderThan: 720h}]`, want: []string{"spec.rules[0].dataClass", "supported values"}},
	{name: "unknown action", kind: "RetentionPolicy", spec: `rules: [{dataClass: Logs, olderThan: 720h, action: Archive}]`, want: []string{"spec.rules[0].action", `"Delete", "Anonymize"`}},
	{name: "schedule in words", kind: "RetentionPolicy", spec: `schedule: every day`, want: []string{"spec.schedule", "cron expression of five space-separated fields"}},
	{name: "schedule too short", kind: "RetentionPolicy", spec: `schedule: "* * *"`, want: []string{"spec.schedule", "cron expression"}},
	{name: "legal hold without reason", kind: "RetentionPolicy", spec: `legalHold: {enabled: true}`, want: []string{"spec.legalHold", "reason is required"}},
	{name: "time zone injection", kind: "RetentionPolicy", spec: `timeZone: "Europe/Berlin; rm"`, want: []string{"spec.timeZone", "should match"}},

	// BackupPolicy
	{name: "no destination", kind: "BackupPolicy", spec: `destination: {persistentVolumeClaim: null}`, want: []string{"spec.destination", "exactly one of s3 or persistentVolumeClaim"}},
	{name: "two destinations", kind: "BackupPolicy", spec: `destination: {s3: {endpoint: "https://s3.example.com", bucket: backups, credentials: {secretName: s3}}}`, want: []string{"spec.destination", "exactly one of s3 or persistentVolumeClaim"}},
	{name: "S3 over http", kind: "BackupPolicy", spec: strings.Replace(s3Destination, "https://", "http://", 1), want: []string{"spec.destination.s3", "allowInsecureEndpoint"}},
	{name: "S3 endpoint not a URL", kind: "BackupPolicy", spec: strings.Replace(s3Destination, "https://s3.example.com", "s3.example.com", 1), want: []string{"spec.destination.s3.endpoint", "must be a URL"}},
	{name: "bucket uppercase", kind: "BackupPolicy", spec: strings.Replace(s3Destination, "helpdesk-backups", "My_Bucket", 1), want: []string{"spec.destination.s3.bucket", "lowercase letters, digits"}},
	{name: "absolute prefix", kind: "BackupPolicy", spec: s3Destination + "\n    prefix: /backups", want: []string{"spec.destination.s3.prefix", "must be relative"}},
	{name: "S3 without credentials", kind: "BackupPolicy", spec: strings.Replace(s3Destination, "credentials: {secretName: s3-credentials}", "region: eu-west-1", 1), want: []string{"spec.destination.s3.credentials", "Required value"}},
	{name: "PVC sub path escapes", kind: "BackupPolicy", spec: `destination: {persistentVolumeClaim: {subPath: ../other}}`, want: []string{"spec.destination.persistentVolumeClaim.subPath", "must not contain '..'"}},
	{name: "keep nothing", kind: "BackupPolicy", spec: `retention: {keepLast: 0}`, want: []string{"spec.retention.keepLast", "greater than or equal to 1"}},
	{name: "max age too short", kind: "BackupPolicy", spec: `retention: {maxAge: 1h}`, want: []string{"spec.retention.maxAge", "at least 24h"}},
	{name: "nothing included", kind: "BackupPolicy", spec: `include: {database: false, attachments: false}`, want: []string{"spec.include", "database, the attachments, or both"}},
	{name: "drill schedule invalid", kind: "BackupPolicy", spec: `restoreDrill: {schedule: weekly}`, want: []string{"spec.restoreDrill.schedule", "cron expression"}},
	{name: "job deadline too short", kind: "BackupPolicy", spec: `job: {activeDeadline: 10s}`, want: []string{"spec.job.activeDeadline", "at least 1m"}},
	{name: "backoff limit too high", kind: "BackupPolicy", spec: `job: {backoffLimit: 11}`, want: []string{"spec.job.backoffLimit", "less than or equal to 10"}},
	{name: "S3 egress CIDR is a host", kind: "BackupPolicy", spec: s3Destination + "\n    egressCIDRs: [s3.example.com]", want: []string{"spec.destination.s3.egressCIDRs", "must be CIDRs"}},
	{name: "too many S3 egress CIDRs", kind: "BackupPolicy", spec: s3Destination + "\n    egressCIDRs: [" + manyCIDRs(9) + "]", want: []string{"spec.destination.s3.egressCIDRs", "must have at most 8 items"}},
}

const ssoOIDC = `
sso:
  oidc: {issuerURL: "https://login.example.com/realms/acme", clientID: helpdesk, clientSecretRef: {name: oidc, key: client-secret}}`

func manyCIDRs(n int) string {
	cidrs := make([]string, n)
	for i := range cidrs {
		cidrs[i] = "10." + strconv.Itoa(i) + ".0.0/16"
	}
	return strings.Join(cidrs, ", ")
}

func TestInvalidObjectsAreRejectedWithTheField(t *testing.T) {
	if len(invalidObjects) < 40 {
		t.Fatalf("the validation suite must cover at least 40 invalid objects, has %d", len(invalidObjects))
	}
	ctx := context.Background()
	namespace := createNamespace(t, "validation")
	for i, tc := range invalidObjects {
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			obj := objectFor(t, tc.kind, namespace, "case-"+strconv.Itoa(i), tc.spec)
			err := k8sClient.Create(ctx, obj)
			if tc.update != "" {
				if err != nil {
					t.Fatalf("creating the object to update: %v", err)
				}
				obj = mergeSpec(t, obj, tc.update)
				err = k8sClient.Update(ctx, obj)
			}
			if err == nil {
				t.Fatalf("the API server accepted an invalid %s (spec change %q)", tc.kind, firstNonEmpty(tc.update, tc.spec))
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			if testing.Verbose() {
				t.Log(err)
			}
			for _, fragment := range tc.want {
				if !strings.Contains(err.Error(), fragment) {
					t.Errorf("error does not mention %q:\n%v", fragment, err)
				}
			}
		})
	}
}

// objectFor builds an object of kind whose spec is the kind's valid spec merged with change.
func objectFor(t *testing.T, kind, namespace, name, change string) *unstructured.Unstructured {
	t.Helper()
	base, ok := validSpecs[kind]
	if !ok {
		t.Fatalf("no valid spec for kind %s", kind)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       yamlToMap(t, base),
	}}
	return mergeSpec(t, obj, change)
}

func mergeSpec(t *testing.T, obj *unstructured.Unstructured, change string) *unstructured.Unstructured {
	t.Helper()
	current, err := yaml.Marshal(obj.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	currentJSON, err := yaml.YAMLToJSON(current)
	if err != nil {
		t.Fatal(err)
	}
	patchJSON, err := yaml.YAMLToJSON([]byte(change))
	if err != nil {
		t.Fatalf("case spec %q is not YAML: %v", change, err)
	}
	merged, err := jsonpatch.MergePatch(currentJSON, patchJSON)
	if err != nil {
		t.Fatalf("merging %q: %v", change, err)
	}
	out := obj.DeepCopy()
	out.Object["spec"] = yamlToMap(t, string(merged))
	return out
}

func yamlToMap(t *testing.T, doc string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("parsing %q: %v", doc, err)
	}
	return m
}

func createNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// TestAccessCombinationsThatAreAccepted: the cross-field rules refuse only what they name.
func TestAccessCombinationsThatAreAccepted(t *testing.T) {
	ctx := context.Background()
	namespace := createNamespace(t, "accepted")
	for i, tc := range []struct{ kind, spec string }{
		{"AccessPolicy", `{sso: {ldap: {url: "ldaps://ldap.example.com", bindDN: cn=svc, bindPasswordRef: {name: ldap, key: password}, userSearchBase: dc=example}}, mfa: {required: false}}`},
		{"AccessPolicy", `{sso: {saml: {metadataURL: "https://idp.example.com/metadata", signingKeyRef: {name: saml, key: tls.key}, certificateRef: {name: saml, key: tls.crt}}}}`},
		{"AccessPolicy", `{sso: {oidc: {issuerURL: "https://login.example.com", clientID: helpdesk, clientSecretRef: {name: oidc, key: s}}, providerCIDRs: [192.0.2.10/32, "2001:db8::/64"]}}`},
		{"HelpdeskInstance", `{ingress: {className: traefik, gateway: {name: edge, namespace: infra, sectionName: https}}}`},
	} {
		obj := objectFor(t, tc.kind, namespace, "ok-"+strconv.Itoa(i), tc.spec)
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Errorf("%s %s refused: %v", tc.kind, tc.spec, err)
		}
	}
}

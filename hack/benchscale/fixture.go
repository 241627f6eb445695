package main

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// The bench's tenants all live in one namespace and share the three policies, as the
// tenants of one platform team would: one AccessPolicy edit then concerns all of them.
const (
	benchNamespace  = "bench"
	accessPolicy    = "access"
	retentionPolicy = "retention"
	backupPolicy    = "backup"
	// changedCIDR is what the one change adds to the access policy's agent allow-list.
	changedCIDR = "192.0.2.0/24"
)

// policiesYAML are the three policies, after config/samples, and the Secrets they name.
const policiesYAML = `
apiVersion: v1
kind: Secret
metadata: {name: oidc}
stringData: {client-secret: bench-client-secret}
---
apiVersion: v1
kind: Secret
metadata: {name: captcha}
stringData: {secret-key: bench-captcha-key}
---
apiVersion: v1
kind: Secret
metadata: {name: s3}
stringData: {AWS_ACCESS_KEY_ID: bench, AWS_SECRET_ACCESS_KEY: bench-secret}
---
apiVersion: helpdesk.privatedesk.io/v1alpha1
kind: AccessPolicy
metadata: {name: access}
spec:
  agentAllowedCIDRs: [203.0.113.0/24, 198.51.100.16/28]
  sso:
    oidc:
      issuerURL: https://login.example.com/realms/bench
      clientID: helpdesk
      clientSecretRef: {name: oidc, key: client-secret}
      allowedGroups: [support-agents]
    providerCIDRs: [198.51.100.80/32]
  session: {idleTimeout: 30m, absoluteTimeout: 10h}
  uploads: {allowedExtensions: [pdf, png, txt], maxSize: 10Mi}
  botProtection:
    captcha: {provider: ReCaptcha, siteKey: bench-site-key, secretKeyRef: {name: captcha, key: secret-key}}
---
apiVersion: helpdesk.privatedesk.io/v1alpha1
kind: RetentionPolicy
metadata: {name: retention}
spec:
  rules:
  - {dataClass: ClosedTickets, olderThan: 17520h, action: Anonymize}
  - {dataClass: Logs, olderThan: 720h, action: Delete}
  schedule: "30 3 * * *"
  timeZone: Europe/Berlin
---
apiVersion: helpdesk.privatedesk.io/v1alpha1
kind: BackupPolicy
metadata: {name: backup}
spec:
  schedule: "0 2 * * *"
  destination:
    s3:
      endpoint: https://objects.example.com
      bucket: helpdesk-backups
      region: eu-central-1
      egressCIDRs: [198.51.100.40/32]
      credentials: {secretName: s3, accessKeyIDKey: AWS_ACCESS_KEY_ID, secretAccessKeyKey: AWS_SECRET_ACCESS_KEY}
  retention: {keepDaily: 7, keepWeekly: 8}
  restoreDrill: {schedule: "0 5 * * 0"}
`

// policies decodes policiesYAML into typed objects of the bench namespace.
func policies() ([]client.Object, error) {
	var out []client.Object
	for _, doc := range strings.Split(policiesYAML, "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, err
		}
		var obj client.Object
		switch meta.Kind {
		case "Secret":
			obj = &corev1.Secret{}
		case "AccessPolicy":
			obj = &v1alpha1.AccessPolicy{}
		case "RetentionPolicy":
			obj = &v1alpha1.RetentionPolicy{}
		case "BackupPolicy":
			obj = &v1alpha1.BackupPolicy{}
		default:
			return nil, fmt.Errorf("fixture: unexpected kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			return nil, fmt.Errorf("fixture %s: %w", meta.Kind, err)
		}
		obj.SetNamespace(benchNamespace)
		out = append(out, obj)
	}
	return out, nil
}

func instanceName(i int) string { return fmt.Sprintf("desk-%04d", i) }

// instance is tenant i, naming the three policies.
func instance(i int) *v1alpha1.HelpdeskInstance {
	name := instanceName(i)
	return &v1alpha1.HelpdeskInstance{
		ObjectMeta: metav1.ObjectMeta{Namespace: benchNamespace, Name: name},
		Spec: v1alpha1.HelpdeskInstanceSpec{
			Hostname:           name + ".helpdesk.example.com",
			AccessPolicyRef:    &v1alpha1.LocalObjectReference{Name: accessPolicy},
			RetentionPolicyRef: &v1alpha1.LocalObjectReference{Name: retentionPolicy},
			BackupPolicyRef:    &v1alpha1.LocalObjectReference{Name: backupPolicy},
		},
	}
}

package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

func init() {
	validSpecs["DataSubjectRequest"] = `
instanceName: acme-support
type: Access
subject:
  secretKeyRef: {name: dsr-1, key: email}`
}

// dataSubjectRequestCases are invalid requests, on creation and as updates.
var dataSubjectRequestCases = []validationCase{
	{name: "no subject", kind: "DataSubjectRequest", spec: `subject: null`, want: []string{"spec.subject", "Required value"}},
	{name: "subject as plain text", kind: "DataSubjectRequest", spec: `subject: {email: someone@example.com, secretKeyRef: null}`,
		want: []string{"spec.subject.secretKeyRef", "Required value"}},
	{name: "subject Secret without key", kind: "DataSubjectRequest", spec: `subject: {secretKeyRef: {key: null}}`,
		want: []string{"spec.subject.secretKeyRef.key", "Required value"}},
	{name: "subject Secret key with a slash", kind: "DataSubjectRequest", spec: `subject: {secretKeyRef: {key: "../email"}}`,
		want: []string{"spec.subject.secretKeyRef.key"}},
	{name: "unknown type", kind: "DataSubjectRequest", spec: `type: Portability`,
		want: []string{"spec.type", `supported values: "Access", "Erasure", "Rectification"`}},
	{name: "no instance", kind: "DataSubjectRequest", spec: `instanceName: null`, want: []string{"spec.instanceName", "Required value"}},
	{name: "instance name with a wildcard", kind: "DataSubjectRequest", spec: `instanceName: "acme-*"`,
		want: []string{"spec.instanceName", "name of a HelpdeskInstance"}},
	{name: "rectification without fields", kind: "DataSubjectRequest", spec: `type: Rectification`,
		want: []string{"spec.rectification", "required for type Rectification"}},
	{name: "fields to set on an erasure", kind: "DataSubjectRequest",
		spec: `{type: Erasure, rectification: [{field: name, valueFrom: {name: dsr-1, key: name}}]}`,
		want: []string{"spec.rectification", "only for it"}},
	{name: "rectification field not a column name", kind: "DataSubjectRequest",
		spec: `{type: Rectification, rectification: [{field: "name; DROP TABLE users", valueFrom: {name: dsr-1, key: name}}]}`,
		want: []string{"spec.rectification[0].field"}},
	{name: "rectification value as plain text", kind: "DataSubjectRequest",
		spec: `{type: Rectification, rectification: [{field: name, value: New Name}]}`,
		want: []string{"spec.rectification[0].valueFrom", "Required value"}},
	{name: "export retention on an erasure", kind: "DataSubjectRequest", spec: `{type: Erasure, exportRetention: 24h}`,
		want: []string{"spec.exportRetention is only for type Access"}},
	{name: "export kept too long", kind: "DataSubjectRequest", spec: `exportRetention: 2000h`,
		want: []string{"spec.exportRetention", "between 1h and 720h"}},

	// The spec is immutable: a request runs once.
	{name: "changing the subject", kind: "DataSubjectRequest", spec: `{}`, update: `subject: {secretKeyRef: {name: dsr-2}}`,
		want: []string{"spec is immutable"}},
	{name: "changing the type", kind: "DataSubjectRequest", spec: `{}`, update: `type: Erasure`, want: []string{"spec is immutable"}},
	{name: "changing the instance", kind: "DataSubjectRequest", spec: `{}`, update: `instanceName: other`, want: []string{"spec is immutable"}},
	{name: "adding an export retention", kind: "DataSubjectRequest", spec: `{}`, update: `exportRetention: 24h`, want: []string{"spec is immutable"}},
}

func TestDataSubjectRequestValidation(t *testing.T) {
	ctx := context.Background()
	namespace := createNamespace(t, "dsr")
	for i, tc := range dataSubjectRequestCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := objectFor(t, tc.kind, namespace, "dsr-case-"+strconv.Itoa(i), tc.spec)
			err := k8sClient.Create(ctx, obj)
			if tc.update != "" {
				if err != nil {
					t.Fatalf("creating the request to update: %v", err)
				}
				obj = mergeSpec(t, obj, tc.update)
				err = k8sClient.Update(ctx, obj)
			}
			if err == nil {
				t.Fatalf("the API server accepted an invalid request (spec change %q)", firstNonEmpty(tc.update, tc.spec))
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, fragment := range tc.want {
				if !strings.Contains(err.Error(), fragment) {
					t.Errorf("error does not mention %q:\n%v", fragment, err)
				}
			}
		})
	}

	// Valid requests of each type are accepted, and their status (not their spec) may change.
	for i, spec := range []string{
		`{}`,
		`{exportRetention: 24h}`,
		`{type: Erasure}`,
		`{type: Rectification, rectification: [{field: name, valueFrom: {name: dsr-1, key: name}}, {field: work_phone, valueFrom: {name: dsr-1, key: phone}}]}`,
	} {
		obj := objectFor(t, "DataSubjectRequest", namespace, "dsr-valid-"+strconv.Itoa(i), spec)
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatalf("the API server refused a valid request %s: %v", spec, err)
		}
		req := &v1alpha1.DataSubjectRequest{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), req); err != nil {
			t.Fatal(err)
		}
		req.Status.Phase = v1alpha1.DataSubjectSucceeded
		req.Status.SubjectHash = "sha256:00"
		if err := k8sClient.Status().Update(ctx, req); err != nil {
			t.Errorf("updating the status of a request: %v", err)
		}
		// Metadata stays editable (labels for bookkeeping, finalizers).
		req.Labels = map[string]string{"ticket": "4711"}
		if err := k8sClient.Update(ctx, req); err != nil {
			t.Errorf("labelling a request: %v", err)
		}
	}
}

// Package scheme is the one runtime.Scheme of the operator: the built-in kinds, ours and
// CloudNativePG's and Gateway API's. The manager and the test API servers share it.
package scheme

import (
	cnpgv1 "github.com/cloudnative-pg/api/pkg/api/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	helpdeskv1alpha1 "github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// New returns a scheme that knows every kind the operator reads or writes.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(helpdeskv1alpha1.AddToScheme(s))
	utilruntime.Must(cnpgv1.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	return s
}

package resources

// Annotations the Ingresses may carry besides the allow-list ones (exposure_ingress.go).
const (
	AnnotationCertManagerClusterIssuer = "cert-manager.io/cluster-issuer"
	AnnotationCertManagerIssuer        = "cert-manager.io/issuer"
	AnnotationNginxBodySize            = "nginx.ingress.kubernetes.io/proxy-body-size"
)

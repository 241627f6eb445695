package binaries

// KustomizeVar is the environment variable with the pinned kustomize binary, which
// hack/test-binaries.sh env prints (a tool of hack/tools, built by `make tools` or `make test`).
const KustomizeVar = "HELPDESK_TEST_KUSTOMIZE"

// Kustomize is the pinned kustomize binary.
func Kustomize() (string, error) { return lookup(KustomizeVar, "", "kustomize (make tools)") }

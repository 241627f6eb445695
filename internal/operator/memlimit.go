package operator

import (
	"fmt"
	"runtime/debug"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
)

// memoryHeadroom is what the manager's container holds besides the memory the Go runtime
// counts against GOMEMLIMIT (its heap, stacks and own structures): the binary's mapped
// code and data and what the kernel charges the container besides. hack/bench-scale
// measured about 50 MiB of it at a thousand instances (200 MiB of RSS with a GOMEMLIMIT of
// 150 MiB).
const memoryHeadroom = 64 << 20

// goMemoryLimit is the Go runtime's soft memory limit for a container memory limit: a
// tenth below it, and at least memoryHeadroom, but never under half of it. A GOMEMLIMIT
// equal to the container's limit would let the heap grow until the kernel kills the
// container, where the garbage collector should have worked harder first.
func goMemoryLimit(container int64) int64 {
	return max(container-max(container/10, memoryHeadroom), container/2)
}

// applyMemoryLimit sets the Go runtime's memory limit from the container's (--memory-limit,
// a quantity such as 512Mi or a number of bytes). An explicit GOMEMLIMIT is the operator
// of the cluster's own choice and wins.
func applyMemoryLimit(containerLimit, gomemlimit string, log logr.Logger) error {
	if containerLimit == "" {
		return nil
	}
	q, err := resource.ParseQuantity(containerLimit)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("--memory-limit %q is not a positive quantity of memory such as 512Mi", containerLimit)
	}
	if gomemlimit != "" {
		log.Info("GOMEMLIMIT is set, --memory-limit leaves it as it is", "GOMEMLIMIT", gomemlimit)
		return nil
	}
	limit := goMemoryLimit(q.Value())
	debug.SetMemoryLimit(limit)
	log.Info("Go runtime memory limit set below the container's", "containerLimit", q.String(), "goMemoryLimitBytes", limit)
	return nil
}

package ssa

import (
	"fmt"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// MetadataClient sends requests the API server answers with the object's metadata only.
// Each resource gets a client of its own and with it its own share of the config's QPS
// and burst, as each of the manager's typed clients does per kind: --kube-api-qps is a
// limit per kind, and one client for all applies made every kind's applies wait in one
// queue (at a thousand instances, its 200 applies a second set the whole convergence's
// pace).
type MetadataClient struct {
	config     *rest.Config
	httpClient *http.Client

	mu      sync.Mutex
	clients map[schema.GroupVersionResource]metadata.Getter
}

// NewMetadataClient is the client NewApplier sends applies through, over the manager's
// connections (httpClient). It also keeps Secret data out of the answers the manager
// reads.
func NewMetadataClient(cfg *rest.Config, httpClient *http.Client) (*MetadataClient, error) {
	c := &MetadataClient{config: metadata.ConfigFor(cfg), httpClient: httpClient, clients: map[schema.GroupVersionResource]metadata.Getter{}}
	// A config the client refuses is refused here rather than at the first apply.
	if _, err := c.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}); err != nil {
		return nil, err
	}
	return c, nil
}

// Resource is resource's client; the first call for a resource makes it.
func (m *MetadataClient) Resource(resource schema.GroupVersionResource) (metadata.Getter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.clients[resource]; ok {
		return c, nil
	}
	// A config without a RateLimiter gives each client made from it a token bucket of
	// its own.
	c, err := metadata.NewForConfigAndClient(m.config, m.httpClient)
	if err != nil {
		return nil, fmt.Errorf("making the metadata client of %s: %w", resource, err)
	}
	m.clients[resource] = c.Resource(resource)
	return m.clients[resource], nil
}

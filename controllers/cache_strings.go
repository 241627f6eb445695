package controllers

import (
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Every child of an instance carries the same label keys, most of the same label values,
// its namespace and an owner reference to the instance; decoding gives each object its own
// copy of every one of these strings. At a thousand instances (some 33,000 cached objects)
// the copies were a fifth of the manager's heap. Before an object is cached its metadata
// strings are replaced by one shared copy each.

const (
	// sharedStringsMax bounds the table: past it the table starts again empty. Strings
	// already shared stay shared; only later objects get fresh copies until the table
	// fills again. It holds what a few thousand instances repeat.
	sharedStringsMax = 1 << 16
	// sharedStringMaxLen leaves out long values (annotations holding documents), which
	// rarely repeat.
	sharedStringMaxLen = 128
)

var cacheStrings = newStringTable(sharedStringsMax)

// stringTable hands out one copy of each string it has seen.
type stringTable struct {
	mu      sync.Mutex
	max     int
	strings map[string]string
}

func newStringTable(maxEntries int) *stringTable {
	return &stringTable{max: maxEntries, strings: map[string]string{}}
}

// share returns the table's copy of s, adding s (cloned, so that it never pins a larger
// buffer it was cut from) when it is new.
func (t *stringTable) share(s string) string {
	if s == "" || len(s) > sharedStringMaxLen {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if shared, ok := t.strings[s]; ok {
		return shared
	}
	if len(t.strings) >= t.max {
		clear(t.strings)
	}
	s = strings.Clone(s)
	t.strings[s] = s
	return s
}

// shareMap returns m rebuilt with shared keys and values (a map keeps the key it was
// first given, so the keys need a new map).
func (t *stringTable) shareMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	shared := make(map[string]string, len(m))
	for k, v := range m {
		shared[t.share(k)] = t.share(v)
	}
	return shared
}

// shareMetadata replaces obj's repeated metadata strings (namespace, labels, annotations,
// owner references, finalizers) with shared copies. The name, UID and resourceVersion
// are the object's own and stay as they are.
func (t *stringTable) shareMetadata(obj *metav1.ObjectMeta) {
	obj.Namespace = t.share(obj.Namespace)
	obj.Labels = t.shareMap(obj.Labels)
	obj.Annotations = t.shareMap(obj.Annotations)
	for i := range obj.OwnerReferences {
		owner := &obj.OwnerReferences[i]
		owner.APIVersion = t.share(owner.APIVersion)
		owner.Kind = t.share(owner.Kind)
		owner.Name = t.share(owner.Name)
		owner.UID = types.UID(t.share(string(owner.UID)))
	}
	for i := range obj.Finalizers {
		obj.Finalizers[i] = t.share(obj.Finalizers[i])
	}
}

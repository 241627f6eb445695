package vault

import (
	"strconv"
	"time"
)

// versionCreated reads when a version of a transit key was created from the key's "keys"
// field: for symmetric keys Vault maps each version to its creation time in Unix seconds
// (asymmetric keys map it to an object with creation_time). Zero when it is not there.
func versionCreated(keys any, version int) time.Time {
	versions, ok := keys.(map[string]any)
	if !ok {
		return time.Time{}
	}
	switch v := versions[strconv.Itoa(version)].(type) {
	case map[string]any:
		if s, ok := v["creation_time"].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return t
			}
		}
	case nil:
	default:
		if unix, err := toInt(v); err == nil && unix > 0 {
			return time.Unix(unix, 0)
		}
	}
	return time.Time{}
}

package vault

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Vault's JSON numbers arrive as json.Number (the api package decodes with UseNumber);
// these helpers also accept what a hand-built map may hold.

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		return int64(f), err
	case float64:
		return int64(n), nil
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case string:
		if n == "" {
			return 0, nil
		}
		return strconv.ParseInt(n, 10, 64)
	}
	return 0, fmt.Errorf("unexpected number %T", v)
}

func toSeconds(v any) (time.Duration, error) {
	if s, ok := v.(string); ok {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
	}
	i, err := toInt(v)
	return time.Duration(i) * time.Second, err
}

func toBool(v any) bool {
	b, _ := v.(bool)
	return b
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func toString(v any) string {
	s, _ := v.(string)
	return s
}

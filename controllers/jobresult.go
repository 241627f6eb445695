package controllers

import (
	"encoding/json"
	"strings"
)

// decodeResultLine decodes into result the JSON a Job's command prints as the last line of
// its termination message; hasResult says whether what was decoded is a result. When the
// line is empty, or is no result (the log tail of a pod that died early), ok is false and
// errText is that line, clipped, for the caller to report as the error.
func decodeResultLine(message string, result any, hasResult func() bool) (errText string, ok bool) {
	lines := strings.Split(strings.TrimSpace(message), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return "", false
	}
	if err := json.Unmarshal([]byte(last), result); err != nil || !hasResult() {
		return clipMessage(last), false
	}
	return "", true
}

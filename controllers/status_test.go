package controllers

import (
	"fmt"
	"strings"
	"testing"
)

// TestPolicyMessagesStayShortAtAnyScale: a policy's messages name a few of its instances
// and count the rest, and an Event's message fits the API server's limit.
func TestPolicyMessagesStayShortAtAnyScale(t *testing.T) {
	var names []string
	for i := range 5000 {
		names = append(names, fmt.Sprintf("desk-%04d", i))
	}
	if got, want := joinSome(names[:3], ", "), "desk-0000, desk-0001, desk-0002"; got != want {
		t.Errorf("joinSome(3 names) = %q, want %q", got, want)
	}
	if got, want := joinSome(names, ", "), "desk-0000, desk-0001, desk-0002, desk-0003, desk-0004, and 4995 more"; got != want {
		t.Errorf("joinSome(5000 names) = %q, want %q", got, want)
	}
	long := strings.Repeat("é", 2000)
	if got := eventMessage(long); len(got) > 1024 || !strings.HasSuffix(got, " …") || !strings.HasPrefix(long, strings.TrimSuffix(got, " …")) {
		t.Errorf("eventMessage cut %d bytes to %d bytes: %q", len(long), len(got), got[len(got)-10:])
	}
	if got := eventMessage("short"); got != "short" {
		t.Errorf("eventMessage(short) = %q", got)
	}
}

package dsr

import (
	"context"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// Placeholders of redacted mentions.
const (
	redactedName  = "[redacted]"
	redactedEmail = "[redacted e-mail]"
)

// emailPattern finds e-mail addresses in free text.
var emailPattern = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}`)

// redactOthers replaces, in every string of the document's sections, what identifies
// someone other than the subject: the names and addresses of other accounts that the
// profile's Others query finds in the texts, then any other e-mail address. A name that
// is part of the subject's own name or address (another "Anna" when the subject is "Anna
// Smith") is left, so the subject's own data stays whole. It returns the number of
// replacements.
func redactOthers(ctx context.Context, tx pgx.Tx, others string, s subject, doc *Document) (int, error) {
	var texts []string
	for _, records := range doc.Sections {
		for _, r := range records {
			walkStrings(r, func(v string) string { texts = append(texts, v); return v })
		}
	}
	var found []string
	if others != "" && len(texts) > 0 {
		rows, err := tx.Query(ctx, others, retention.Params{"id": s.idParam(), "texts": texts})
		if err != nil {
			return 0, retention.Classify(err, "finding other people in the export")
		}
		found, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, retention.Classify(err, "finding other people in the export")
		}
	}
	own := strings.ToLower(s.email + "\n" + s.name)
	var quoted []string
	for _, f := range found {
		if f != "" && !strings.Contains(own, strings.ToLower(f)) {
			quoted = append(quoted, regexp.QuoteMeta(f))
		}
	}
	// Longest first, so "Anna Maria Smith" goes before "Anna Maria".
	slices.SortFunc(quoted, func(a, b string) int { return len(b) - len(a) })
	var names *regexp.Regexp
	if len(quoted) > 0 {
		names = regexp.MustCompile(`(?i)` + strings.Join(quoted, "|"))
	}
	count := 0
	redact := func(v string) string {
		if names != nil {
			v = names.ReplaceAllStringFunc(v, func(string) string { count++; return redactedName })
		}
		return emailPattern.ReplaceAllStringFunc(v, func(m string) string {
			if strings.EqualFold(m, s.email) {
				return m
			}
			count++
			return redactedEmail
		})
	}
	for name, records := range doc.Sections {
		for i, r := range records {
			doc.Sections[name][i] = walkStrings(r, redact)
		}
	}
	return count, nil
}

// walkStrings returns v with every string value (not map keys) replaced by f's result.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = walkStrings(x[i], f)
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = walkStrings(x[k], f)
		}
		return x
	default:
		return v
	}
}

package dsr

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// rectify sets the requested fields of the subject's account, each checked against the
// profile's rule, and refreshes the copies the application keeps (After), in one
// transaction. Column names come only from the profile's list, quoted as identifiers;
// values are parameters.
func rectify(ctx context.Context, conn *pgx.Conn, r appprofile.Rectification, req Request, s subject, res *Result) error {
	if !s.found {
		return retention.Errorf(retention.ReasonInvalidRequest, "no account has this address: there is nothing to rectify")
	}
	if len(req.Set) == 0 {
		return retention.Errorf(retention.ReasonInvalidRequest, "nothing to set: give at least one field=value")
	}
	fields := make([]string, 0, len(req.Set))
	for f := range req.Set {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	params := retention.Params{"id": s.id}
	var set []string
	for i, f := range fields {
		rule, ok := r.Fields[f]
		if !ok {
			return retention.Errorf(retention.ReasonInvalidRequest, "field %q cannot be rectified; allowed: %s", clipName(f), strings.Join(allowed(r), ", "))
		}
		v := req.Set[f]
		if err := check(f, v, rule); err != nil {
			return err
		}
		name := "v" + strconv.Itoa(i)
		set = append(set, pgx.Identifier{f}.Sanitize()+" = @"+name)
		params[name] = text(v)
	}
	tx, err := begin(ctx, conn, req, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	sql := "UPDATE " + pgx.Identifier{r.Table}.Sanitize() + " SET " + strings.Join(set, ", ") + " WHERE " + pgx.Identifier{r.Key}.Sanitize() + " = @id"
	tag, err := tx.Exec(ctx, sql, params)
	if err != nil {
		return retention.Classify(err, "rectification")
	}
	res.Records[r.Table] += tag.RowsAffected()
	for _, st := range r.After {
		tag, err := tx.Exec(ctx, st.SQL, retention.Params{"id": s.id})
		if err != nil {
			return retention.Classify(err, "rectification: refreshing "+st.Table)
		}
		res.Records[st.Table] += tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return retention.Classify(err, "rectification: committing")
	}
	res.Fields = fields
	return nil
}

// check validates one value; errors name the field and the rule, never the value.
func check(field, v string, rule appprofile.Field) error {
	bad := func(why string) error {
		return retention.Errorf(retention.ReasonInvalidRequest, "field %s: %s", field, why)
	}
	switch {
	case !utf8.ValidString(v):
		return bad("the value is not valid UTF-8")
	case rule.Required && strings.TrimSpace(v) == "":
		return bad("a value is required")
	case utf8.RuneCountInString(v) > rule.MaxLength:
		return bad("the value is longer than the allowed " + strconv.Itoa(rule.MaxLength) + " characters")
	case strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		return bad("the value contains control characters")
	}
	if rule.Email {
		if _, err := checkSubject(v); err != nil {
			return bad("the value is not one e-mail address")
		}
	}
	return nil
}

func allowed(r appprofile.Rectification) []string {
	var out []string
	for f := range r.Fields {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// clipName keeps an unknown field name printable and short in an error.
func clipName(f string) string {
	f = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, f)
	if len(f) > 40 {
		f = f[:40] + "…"
	}
	return f
}

package retention

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Params binds the @names of profile SQL as query parameters (pgx named arguments). A
// name the SQL uses but the step does not provide is an error rather than pgx's silent
// NULL, which would make `id = ANY(@typo)` match nothing and hide a broken profile.
// Provide an intended NULL as a typed null (pgtype.Int8{}, pgtype.Text{}), never nil.
type Params map[string]any

// RewriteQuery implements pgx.QueryRewriter.
func (p Params) RewriteQuery(ctx context.Context, conn *pgx.Conn, sql string, args []any) (string, []any, error) {
	newSQL, newArgs, err := pgx.NamedArgs(p).RewriteQuery(ctx, conn, sql, args)
	if err != nil {
		return "", nil, err
	}
	for i, a := range newArgs {
		if a == nil {
			return "", nil, Errorf(ReasonInvalidConfiguration, "app profile SQL uses a named argument (parameter $%d) this step does not provide", i+1)
		}
	}
	return newSQL, newArgs, nil
}

// with returns a copy of p with name set.
func (p Params) with(name string, v any) Params {
	q := make(Params, len(p)+1)
	for k, x := range p {
		q[k] = x
	}
	q[name] = v
	return q
}

var _ pgx.QueryRewriter = Params(nil)

package dsr

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
)

// erase removes the subject's records and scrubs their address and name from what
// remains, in one transaction; their folders go after the commit. A crash before the
// folders are removed leaves orphans, which the next retention run removes.
func erase(ctx context.Context, conn *pgx.Conn, p appprofile.Retention, req Request, s subject, res *Result) error {
	folders, err := retention.OpenFolders(req.AttachmentsDir)
	if err != nil {
		return err
	}
	defer folders.Close()
	tx, err := begin(ctx, conn, req, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	dirs, rows, err := retention.DoWork(ctx, tx, p, p.Subject.Erasure.Remove, retention.Params{"ids": s.ids()}, "erasure")
	if err != nil {
		return err
	}
	scrub := retention.Params{"email": text(s.email), "name": s.nameParam()}
	for _, st := range p.Subject.Erasure.Scrub {
		tag, err := tx.Exec(ctx, st.SQL, scrub)
		if err != nil {
			return retention.Classify(err, "erasure: scrubbing "+st.Table)
		}
		rows[st.Table] += tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return retention.Classify(err, "erasure: committing")
	}
	for table, n := range rows {
		if n > 0 {
			res.Records[table] = n
		}
	}
	for _, dir := range dirs {
		n, err := folders.Remove(dir)
		res.Files += n
		if err != nil {
			return retention.Classify(err, "erasure: removing the subject's folders after the commit")
		}
	}
	return nil
}

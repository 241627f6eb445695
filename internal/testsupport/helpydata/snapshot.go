package helpydata

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Tables are the tables of the fixture.
var Tables = []string{"api_keys", "attachinary_files", "backups", "docs", "flags", "forums", "imports", "pg_search_documents",
	"posts", "settings", "taggings", "tags", "topics", "users", "versions", "votes"}

// Snapshot is, per table, the md5 of every row by id.
type Snapshot map[string]map[int64]string

// Take digests every row of every table; columns listed in except[table] are left out of
// that table's digests (to check that an update changed nothing else).
func Take(ctx context.Context, conn *pgx.Conn, except map[string][]string) (Snapshot, error) {
	s := Snapshot{}
	for _, table := range Tables {
		drop := except[table]
		if drop == nil {
			drop = []string{}
		}
		rows, err := conn.Query(ctx, `SELECT id::bigint, md5((to_jsonb(t) - $1::text[])::text) FROM `+pgx.Identifier{table}.Sanitize()+` t`, drop)
		if err != nil {
			return nil, err
		}
		m := map[int64]string{}
		var id int64
		var digest string
		_, err = pgx.ForEachRow(rows, []any{&id, &digest}, func() error { m[id] = digest; return nil })
		if err != nil {
			return nil, err
		}
		s[table] = m
	}
	return s, nil
}

// Change is how a table's rows differ between two snapshots.
type Change struct {
	Deleted, Updated, Inserted []int64
}

// Diff returns the changes per table; tables without changes are left out.
func Diff(before, after Snapshot) map[string]Change {
	out := map[string]Change{}
	for table, b := range before {
		a := after[table]
		var c Change
		for id, d := range b {
			switch ad, ok := a[id]; {
			case !ok:
				c.Deleted = append(c.Deleted, id)
			case ad != d:
				c.Updated = append(c.Updated, id)
			}
		}
		for id := range a {
			if _, ok := b[id]; !ok {
				c.Inserted = append(c.Inserted, id)
			}
		}
		slices.Sort(c.Deleted)
		slices.Sort(c.Updated)
		slices.Sort(c.Inserted)
		if len(c.Deleted)+len(c.Updated)+len(c.Inserted) > 0 {
			out[table] = c
		}
	}
	return out
}

// Files maps every regular file below dir (relative path) to the SHA-256 of its content.
func Files(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	return out, err
}

// Missing returns the paths of before that after lacks, sorted.
func Missing(before, after map[string]string) []string {
	var out []string
	for p := range before {
		if _, ok := after[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TextMatch is one text column value that contains a searched string.
type TextMatch struct {
	Table, Column string
	ID            int64
}

// FindText searches every text-like column (text, character varying, arrays of them,
// inet) of every table in the public schema for needle, case-insensitively, using the
// catalog rather than a list, so a column the engine forgot is found too.
func FindText(ctx context.Context, conn *pgx.Conn, needle string) ([]TextMatch, error) {
	rows, err := conn.Query(ctx, `SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
WHERE c.table_schema = 'public' AND (c.data_type IN ('text', 'character varying', 'inet', 'json', 'jsonb')
  OR (c.data_type = 'ARRAY' AND c.udt_name IN ('_varchar', '_text')))
ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	type col struct{ table, column string }
	var cols []col
	var c col
	if _, err := pgx.ForEachRow(rows, []any{&c.table, &c.column}, func() error { cols = append(cols, c); return nil }); err != nil {
		return nil, err
	}
	var out []TextMatch
	for _, c := range cols {
		q := `SELECT id::bigint FROM ` + pgx.Identifier{c.table}.Sanitize() + ` WHERE strpos(lower(` + pgx.Identifier{c.column}.Sanitize() + `::text), lower($1)) > 0`
		rows, err := conn.Query(ctx, q, needle)
		if err != nil {
			return nil, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out = append(out, TextMatch{Table: c.table, Column: c.column, ID: id})
		}
	}
	return out, nil
}

// Package appsettings writes application settings kept in the app's own database, for the
// settings an access policy decides (Helpy: the upload extension allow-list and reCAPTCHA).
// It runs as `helpdesk-operator app-settings`, a Job the operator starts once per wanted
// set of values. The store is rails-settings-cached's table (Helpy's `settings`): one row
// per global setting (`thing_type` NULL), its value YAML-encoded. Writing is idempotent: a
// row that already holds the value is left alone, and per-user rows are never touched.
package appsettings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"
)

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Encode is a string as rails-settings-cached stores it: a YAML document. A double-quoted
// scalar (JSON's string syntax is valid YAML) keeps any value a string, whatever it holds.
func Encode(value string) (string, error) {
	quoted, err := json.Marshal(value)
	if err != nil {
		return "", err
	}
	return "--- " + string(quoted) + "\n", nil
}

// Decode reads a stored value back as a string ("" for NULL or an empty document), however
// Ruby wrote it (--- pdf,png, --- '1', --- "x").
func Decode(stored *string) (string, error) {
	if stored == nil || *stored == "" {
		return "", nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(*stored), &v); err != nil {
		return "", err
	}
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	default:
		return fmt.Sprint(t), nil
	}
}

// Apply makes every global setting in values hold its value, in one transaction, and
// returns the names it changed (sorted). table is the settings table's name.
func Apply(ctx context.Context, conn *pgx.Conn, table string, values map[string]string) ([]string, error) {
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("settings table %q is not a plain SQL identifier", table)
	}
	quoted := pgx.Identifier{table}.Sanitize()
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)

	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the settings transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// One writer at a time: a retried Job and a new one never interleave their rows.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+quoted+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return nil, fmt.Errorf("locking table %s: %w", table, err)
	}
	var changed []string
	for _, name := range names {
		encoded, err := Encode(values[name])
		if err != nil {
			return nil, err
		}
		var id int64
		var stored *string
		err = tx.QueryRow(ctx, "SELECT id, value FROM "+quoted+" WHERE var = $1 AND thing_type IS NULL AND thing_id IS NULL ORDER BY id LIMIT 1", name).Scan(&id, &stored)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if _, err := tx.Exec(ctx, "INSERT INTO "+quoted+" (var, value, created_at, updated_at) VALUES ($1, $2, now(), now())", name, encoded); err != nil {
				return nil, fmt.Errorf("inserting setting %s: %w", name, err)
			}
			changed = append(changed, name)
		case err != nil:
			return nil, fmt.Errorf("reading setting %s: %w", name, err)
		default:
			current, err := Decode(stored)
			if err == nil && current == values[name] {
				continue
			}
			// The value itself stays out of messages: it may be a secret.
			if _, err := tx.Exec(ctx, "UPDATE "+quoted+" SET value = $2, updated_at = now() WHERE id = $1", id, encoded); err != nil {
				return nil, fmt.Errorf("updating setting %s: %w", name, err)
			}
			changed = append(changed, name)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("committing the settings: %w", err)
	}
	return changed, nil
}

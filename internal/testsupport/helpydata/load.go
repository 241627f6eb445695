package helpydata

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/jackc/pgx/v5"
)

// SchemaPath is the DDL fixture transcribed from Helpy's db/schema.rb.
func SchemaPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "appprofile", "testdata", "helpy_retention_schema.sql")
}

// CreateSchema creates Helpy's tables in the database behind conn.
func CreateSchema(ctx context.Context, conn *pgx.Conn) error {
	ddl, err := os.ReadFile(SchemaPath())
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, string(ddl))
	return err
}

func null[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// Load inserts d into the database behind conn (whose schema exists) and writes the
// attachment and profile image files into the attachments volume at dir.
func Load(ctx context.Context, conn *pgx.Conn, d *Data, dir string) error {
	b := &pgx.Batch{}
	for _, u := range d.Users {
		var ip any
		if u.SignInIP != "" {
			ip = u.SignInIP
		}
		b.Queue(`INSERT INTO users (id, login, name, admin, bio, signature, role, work_phone, company, email, encrypted_password,
  created_at, updated_at, last_sign_in_at, current_sign_in_at, last_sign_in_ip, current_sign_in_ip, sign_in_count, profile_image,
  thumbnail, notes, topics_count)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '$2a$10$hash', $11, $12, $13, $13, $14::inet, $14::inet, 3, $15, $16, $17, $18)`,
			u.ID, u.Login, u.Name, u.Admin, null(u.Bio), null(u.Signature), u.Role, null(u.Phone), null(u.Company), u.Email,
			u.CreatedAt, u.UpdatedAt, u.LastSignIn, ip, null(u.ProfileImage), null(u.ProfileImage), null(u.Notes), u.TopicsCount)
	}
	for _, f := range d.Forums {
		b.Queue(`INSERT INTO forums (id, name, private, topics_count, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			f.ID, f.Name, f.Private, f.TopicsCount, DaysAgo(3000))
	}
	for _, t := range d.Tags {
		b.Queue(`INSERT INTO tags (id, name, taggings_count) VALUES ($1, $2, $3)`, t.ID, t.Name, t.TaggingsCount)
	}
	for _, doc := range d.Docs {
		b.Queue(`INSERT INTO docs (id, title, body, user_id, topics_count, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
			doc.ID, doc.Title, doc.Body, doc.UserID, doc.TopicsCount, doc.CreatedAt)
	}
	for _, v := range d.Versions {
		b.Queue(`INSERT INTO versions (id, item_type, item_id, event, whodunnit, object, created_at) VALUES ($1, 'Doc', $2, 'update', $3, '--- {}', $4)`,
			v.ID, v.ItemID, v.Whodunnit, DaysAgo(1000))
	}
	for _, t := range d.Topics {
		b.Queue(`INSERT INTO topics (id, forum_id, user_id, user_name, name, posts_count, last_post_date, closed_date, current_status,
  private, assigned_user_id, post_cache, created_at, updated_at, doc_id, spam_report)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			t.ID, t.ForumID, t.UserID, d.User(t.UserID).Name, t.Name, t.PostsCount, t.LastPostDate, t.ClosedDate, t.Status,
			t.Private, null(t.AssignedID), null(t.PostCache), t.CreatedAt, t.UpdatedAt, t.DocID, t.SpamReport)
	}
	for _, p := range d.Posts {
		atts := p.Attachments
		if atts == nil {
			atts = []string{}
		}
		b.Queue(`INSERT INTO posts (id, topic_id, user_id, body, kind, created_at, updated_at, attachments, cc, bcc, raw_email, email_to_address)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11)`,
			p.ID, p.TopicID, p.UserID, p.Body, p.Kind, p.CreatedAt, atts, null(p.CC), null(p.BCC), null(p.RawEmail), p.EmailTo)
	}
	for _, v := range d.Votes {
		b.Queue(`INSERT INTO votes (id, voteable_type, voteable_id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			v.ID, v.VoteableType, v.VoteableID, v.UserID, v.CreatedAt)
	}
	for _, f := range d.Flags {
		b.Queue(`INSERT INTO flags (id, post_id, generated_topic_id, reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			f.ID, f.PostID, null(f.GeneratedTopicID), f.Reason, f.CreatedAt)
	}
	for _, t := range d.Taggings {
		b.Queue(`INSERT INTO taggings (id, tag_id, taggable_id, taggable_type, tagger_id, tagger_type, context, created_at)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::int IS NULL THEN NULL ELSE 'User' END, $6, $7)`,
			t.ID, t.TagID, t.TaggableID, t.TaggableType, null(t.TaggerID), t.Context, DaysAgo(100))
	}
	for _, s := range d.SearchDocs {
		b.Queue(`INSERT INTO pg_search_documents (id, content, searchable_id, searchable_type, created_at, updated_at) VALUES ($1, $2, $3, 'Topic', $4, $4)`,
			s.ID, s.Content, s.TopicID, d.Topic(s.TopicID).CreatedAt)
	}
	for _, s := range d.Settings {
		thingType := any(nil)
		if s.UserID != 0 {
			thingType = "User"
		}
		b.Queue(`INSERT INTO settings (id, var, value, thing_id, thing_type, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
			s.ID, s.Var, s.Value, null(s.UserID), thingType, DaysAgo(100))
	}
	for _, k := range d.APIKeys {
		b.Queue(`INSERT INTO api_keys (id, access_token, user_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			k.ID, k.Token, k.UserID, k.Name, k.CreatedAt)
	}
	for _, a := range d.Attachinary {
		b.Queue(`INSERT INTO attachinary_files (id, attachinariable_id, attachinariable_type, scope, public_id, format, created_at, updated_at)
VALUES ($1, $2, $3, 'screenshots', $4, 'png', $5, $5)`, a.ID, a.OwnerID, a.OwnerType, fmt.Sprintf("cloud/%d", a.ID), a.CreatedAt)
	}
	for _, bk := range d.Backups {
		b.Queue(`INSERT INTO backups (id, user_id, csv, model, csv_name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
			bk.ID, bk.UserID, bk.CSV, bk.Model, fmt.Sprintf("%s_%d.csv", bk.Model, bk.ID), bk.CreatedAt)
	}
	for _, im := range d.Imports {
		b.Queue(`INSERT INTO imports (id, status, model, error_log, imported_ids, created_at, updated_at) VALUES ($1, 'Completed', $2, $3, '--- []', $4, $4)`,
			im.ID, im.Model, im.ErrorLog, im.CreatedAt)
	}
	for _, table := range []string{"users", "forums", "tags", "docs", "versions", "topics", "posts", "votes", "flags", "taggings",
		"pg_search_documents", "settings", "api_keys", "attachinary_files", "backups", "imports"} {
		b.Queue(`SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT coalesce(max(id), 0) + 1 FROM `+pgx.Identifier{table}.Sanitize()+`), false)`, table)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	return writeFiles(d, dir)
}

// PostDir and ProfileDir are where Helpy keeps a post's attachments and a user's profile
// image, relative to the attachments volume.
func PostDir(id int64) string    { return filepath.Join("post", "attachments", fmt.Sprint(id)) }
func ProfileDir(id int64) string { return filepath.Join("user", "profile_image", fmt.Sprint(id)) }

func writeFiles(d *Data, dir string) error {
	write := func(rel, name, content string) error {
		if err := os.MkdirAll(filepath.Join(dir, rel), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel, name), []byte(content), 0o600)
	}
	for _, p := range d.Posts {
		for _, a := range p.Attachments {
			if err := write(PostDir(p.ID), a, fmt.Sprintf("attachment %s of post %d", a, p.ID)); err != nil {
				return err
			}
		}
	}
	for _, u := range d.Users {
		if u.ProfileImage == "" {
			continue
		}
		for _, name := range []string{u.ProfileImage, "thumb_" + u.ProfileImage} {
			if err := write(ProfileDir(u.ID), name, "image of "+u.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

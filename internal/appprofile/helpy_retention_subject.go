package appprofile

import "fmt"

// Data-subject requests in Helpy. A subject is an e-mail address: usually a users row
// (Helpy matches addresses case-insensitively, as EmailProcessor does), but the address
// may also only appear in the cc, bcc or raw e-mail of other people's messages.

// helpyMentionsEmail is true when text contains the subject's address; used to find the
// messages that name them as a recipient.
const helpyMentionsEmail = `strpos(lower(coalesce(p.cc, '') || ' ' || coalesce(p.bcc, '') || ' ' || coalesce(p.email_to_address, '') || ' ' || coalesce(p.raw_email, '')), lower(@email::text)) > 0`

// helpySubjectPosts are the posts an access export covers and the files it carries: every
// post of the subject's own tickets (the whole conversation with them), their posts in
// other tickets, and messages that were addressed to them.
const helpySubjectPosts = `SELECT p.* FROM posts p
WHERE p.topic_id IN (SELECT t.id FROM topics t WHERE t.user_id = @id)
   OR p.user_id = @id
   OR ` + helpyMentionsEmail

func helpySubject() Subject {
	return Subject{
		Lookup: `SELECT u.id::bigint, u.name,
  CASE
    WHEN u.id = ` + helpySystemUserID + ` THEN '` + string(ProtectedSystemUser) + `'
    WHEN (u.role = 'admin' OR coalesce(u.admin, false))
     AND (SELECT count(*) FROM users a WHERE a.role = 'admin' OR coalesce(a.admin, false)) = 1 THEN '` + string(ProtectedLastAdministrator) + `'
    WHEN u.role = 'admin' OR coalesce(u.admin, false) THEN '` + string(ProtectedAdministrator) + `'
  END
FROM users u WHERE lower(u.email) = lower(@email::text)`,
		Sections:    helpyAccessSections(),
		AccessFiles: helpyAccessFiles(),
		// Names shorter than four characters would redact ordinary words; the system
		// user is no person.
		Others: `SELECT DISTINCT s FROM (
  SELECT u.email AS s FROM users u
  WHERE u.id IS DISTINCT FROM @id AND u.id <> ` + helpySystemUserID + ` AND u.email <> ''
    AND EXISTS (SELECT 1 FROM unnest(@texts::text[]) AS x(t) WHERE strpos(lower(x.t), lower(u.email)) > 0)
  UNION ALL
  SELECT u.name FROM users u
  WHERE u.id IS DISTINCT FROM @id AND u.id <> ` + helpySystemUserID + ` AND length(u.name) >= 4
    AND EXISTS (SELECT 1 FROM unnest(@texts::text[]) AS x(t) WHERE strpos(lower(x.t), lower(u.name)) > 0)
) found`,
		Erasure: Erasure{
			Remove: helpyRemoveUsers,
			Scrub:  helpyScrub(),
		},
		Rectify: Rectification{
			Table: "users",
			Key:   "id",
			Fields: map[string]Field{
				"name":           {MaxLength: 255, Required: true},
				"email":          {MaxLength: 254, Required: true, Email: true},
				"login":          {MaxLength: 255},
				"company":        {MaxLength: 255},
				"title":          {MaxLength: 255},
				"home_phone":     {MaxLength: 64},
				"work_phone":     {MaxLength: 64},
				"cell_phone":     {MaxLength: 64},
				"street":         {MaxLength: 255},
				"city":           {MaxLength: 255},
				"state":          {MaxLength: 255},
				"zip":            {MaxLength: 32},
				"twitter":        {MaxLength: 255},
				"linkedin":       {MaxLength: 255},
				"bio":            {MaxLength: 10000},
				"signature":      {MaxLength: 10000},
				"account_number": {MaxLength: 255},
			},
			// Topic#cache_user_name copies the owner's name into their tickets on save.
			After: []Statement{{Table: "topics", SQL: `UPDATE topics t SET user_name = u.name
FROM users u WHERE u.id = @id AND t.user_id = u.id AND t.user_name IS DISTINCT FROM u.name`}},
		},
	}
}

// helpyAccessSections export the subject's records. Other people appear only as a role
// ("staff", "another customer", "system"), never by id, name or address; cc and bcc
// lists are reduced to whether the subject was on them.
func helpyAccessSections() []Section {
	return []Section{
		// Credentials (password hash, reset and invitation tokens) are no personal data
		// to hand out; who invited them is someone else's id.
		{Name: "account", SQL: `SELECT to_jsonb(u) - 'encrypted_password' - 'reset_password_token' - 'invitation_token'
  - 'invited_by_id' - 'invited_by_type'
FROM users u WHERE u.id = @id`},
		{Name: "tickets", SQL: `SELECT json_build_object(
  'id', t.id, 'subject', t.name, 'yourName', t.user_name, 'status', t.current_status, 'kind', t.kind,
  'channel', t.channel, 'private', t.private, 'priority', t.priority, 'locale', t.locale,
  'postsCount', t.posts_count, 'waitingOn', t.waiting_on, 'assigned', t.assigned_user_id IS NOT NULL,
  'spamScore', t.spam_score, 'spamReport', t.spam_report,
  'createdAt', t.created_at, 'updatedAt', t.updated_at, 'lastPostDate', t.last_post_date, 'closedDate', t.closed_date)
FROM topics t WHERE t.user_id = @id ORDER BY t.id`},
		// Staff accounts: tickets assigned to them, without the customers' content.
		{Name: "assignedTickets", SQL: `SELECT json_build_object('id', t.id, 'status', t.current_status,
  'createdAt', t.created_at, 'updatedAt', t.updated_at, 'closedDate', t.closed_date)
FROM topics t WHERE t.assigned_user_id = @id AND t.user_id IS DISTINCT FROM @id ORDER BY t.id`},
		{Name: "messages", SQL: `SELECT json_build_object(
  'id', p.id, 'ticketId', p.topic_id, 'kind', p.kind, 'active', p.active,
  'author', CASE
    WHEN p.user_id = @id THEN 'you'
    WHEN p.user_id = ` + helpySystemUserID + ` THEN 'system'
    WHEN a.role IN ('admin', 'agent', 'editor') OR coalesce(a.admin, false) THEN 'staff'
    ELSE 'another customer' END,
  'body', p.body,
  'youInCc', strpos(lower(coalesce(p.cc, '')), lower(@email::text)) > 0,
  'youInBcc', strpos(lower(coalesce(p.bcc, '')), lower(@email::text)) > 0,
  'rawEmail', CASE WHEN p.user_id = @id THEN p.raw_email END,
  'attachments', to_json(p.attachments),
  'createdAt', p.created_at, 'updatedAt', p.updated_at)
FROM (` + helpySubjectPosts + `) p LEFT JOIN users a ON a.id = p.user_id
ORDER BY p.id`},
		{Name: "flagsOnYourMessages", SQL: `SELECT json_build_object('id', f.id, 'messageId', f.post_id, 'reason', f.reason, 'createdAt', f.created_at)
FROM flags f JOIN posts p ON p.id = f.post_id WHERE p.user_id = @id ORDER BY f.id`},
		{Name: "votes", SQL: `SELECT json_build_object('id', v.id, 'on', v.voteable_type, 'onId', v.voteable_id, 'points', v.points, 'createdAt', v.created_at)
FROM votes v WHERE v.user_id = @id ORDER BY v.id`},
		// The tokens are credentials: the export names them, it does not carry them.
		{Name: "apiKeys", SQL: `SELECT json_build_object('id', k.id, 'name', k.name, 'tokenEnd', right(k.access_token, 4),
  'createdAt', k.created_at, 'expiredAt', k.date_expired)
FROM api_keys k WHERE k.user_id = @id ORDER BY k.id`},
		{Name: "settings", SQL: `SELECT json_build_object('name', s.var, 'value', s.value, 'updatedAt', s.updated_at)
FROM settings s WHERE s.thing_type = 'User' AND s.thing_id = @id ORDER BY s.id`},
		{Name: "searchEntries", SQL: `SELECT json_build_object('id', d.id, 'ticketId', d.searchable_id, 'content', d.content)
FROM pg_search_documents d
WHERE d.searchable_type = 'Topic' AND d.searchable_id IN (SELECT t.id FROM topics t WHERE t.user_id = @id) ORDER BY d.id`},
		{Name: "teams", SQL: `SELECT json_build_object('team', g.name, 'since', tg.created_at)
FROM taggings tg JOIN tags g ON g.id = tg.tag_id
WHERE tg.taggable_type = 'User' AND tg.taggable_id = @id ORDER BY tg.id`},
		{Name: "remoteUploads", SQL: `SELECT json_build_object('id', a.id, 'of', a.attachinariable_type, 'ofId', a.attachinariable_id,
  'scope', a.scope, 'publicId', a.public_id, 'format', a.format, 'createdAt', a.created_at)
FROM attachinary_files a
WHERE (a.attachinariable_type = 'User' AND a.attachinariable_id = @id)
   OR (a.attachinariable_type = 'Topic' AND a.attachinariable_id IN (SELECT t.id FROM topics t WHERE t.user_id = @id))
   OR (a.attachinariable_type = 'Post' AND a.attachinariable_id IN (SELECT p.id FROM posts p WHERE p.user_id = @id))
ORDER BY a.id`},
		{Name: "documentsWritten", SQL: `SELECT json_build_object('id', d.id, 'title', d.title, 'createdAt', d.created_at)
FROM docs d WHERE d.user_id = @id ORDER BY d.id`},
		// Exports and import logs hold everyone's rows: the export says which ones hold
		// the subject's, not their content.
		{Name: "exportsContainingYou", SQL: `SELECT json_build_object('id', b.id, 'table', b.model, 'createdAt', b.created_at)
FROM backups b
WHERE strpos(lower(coalesce(b.csv, '')), lower(@email::text)) > 0 OR b.user_id = @id ORDER BY b.id`},
		{Name: "importLogsContainingYou", SQL: `SELECT json_build_object('id', i.id, 'table', i.model, 'createdAt', i.created_at)
FROM imports i WHERE strpos(lower(coalesce(i.error_log, '')), lower(@email::text)) > 0 ORDER BY i.id`},
	}
}

func helpyAccessFiles() []FileQuery {
	return []FileQuery{
		{Set: helpyPostFiles, SQL: `SELECT coalesce(array_agg(p.id), '{}') FROM (` + helpySubjectPosts + `) p`},
		{Set: helpyProfileImages, SQL: `SELECT coalesce(array_agg(u.id), '{}') FROM users u WHERE u.id = @id`},
	}
}

// helpyScrub removes the subject's address and name from whatever remains after their
// records are gone: other people's messages that named them, cc and bcc lists, ticket
// copies, search entries, other accounts' notes, exports and import logs. @email is the
// address, @name the account's name or NULL; names shorter than four characters are
// not scrubbed, since they would match ordinary words.
//
// Patterns are built in SQL from the parameters (regexp metacharacters escaped) and
// match case-insensitively, names only as whole words.
func helpyScrub() []Statement {
	const (
		emailRE = `regexp_replace(@email::text, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g')`
		nameRE  = `'(?<![[:alnum:]_])' || regexp_replace(@name::text, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g') || '(?![[:alnum:]_])'`
		hasName = `coalesce(length(@name::text) >= 4 AND %[1]s ~* (` + nameRE + `), false)`
	)
	mentions := func(col string) string {
		return "(strpos(lower(" + col + "), lower(@email::text)) > 0 OR " + fmt.Sprintf(hasName, col) + ")"
	}
	scrub := func(col string) string {
		return col + " = CASE WHEN length(@name::text) >= 4 THEN regexp_replace(regexp_replace(" + col + ", " + emailRE + ", '[erased]', 'gi'), " + nameRE + ", '[erased]', 'gi') ELSE regexp_replace(" + col + ", " + emailRE + ", '[erased]', 'gi') END"
	}
	// Entries of a comma-separated address list that mention the subject.
	dropEntries := func(col string) string {
		return col + ` = nullif(array_to_string(ARRAY(
  SELECT e FROM unnest(string_to_array(` + col + `, ',')) AS e
  WHERE strpos(lower(e), lower(@email::text)) = 0 AND NOT ` + fmt.Sprintf(hasName, "e") + `), ','), '')`
	}
	return []Statement{
		// A raw e-mail that names them is dropped whole: its headers carry more than
		// the address, and Helpy only shows the parsed body.
		{Table: "posts", SQL: `UPDATE posts SET raw_email = NULL WHERE raw_email IS NOT NULL AND ` + mentions("raw_email")},
		{Table: "posts", SQL: `UPDATE posts SET ` + dropEntries("cc") + ` WHERE cc IS NOT NULL AND ` + mentions("cc")},
		{Table: "posts", SQL: `UPDATE posts SET ` + dropEntries("bcc") + ` WHERE bcc IS NOT NULL AND ` + mentions("bcc")},
		{Table: "posts", SQL: `UPDATE posts SET email_to_address = '' WHERE strpos(lower(email_to_address), lower(@email::text)) > 0`},
		{Table: "posts", SQL: `UPDATE posts SET ` + scrub("body") + ` WHERE body IS NOT NULL AND ` + mentions("body")},
		{Table: "topics", SQL: `UPDATE topics SET ` + scrub("name") + `, ` + scrub("user_name") + `, ` + scrub("post_cache") + `, ` + scrub("spam_report") + `
WHERE ` + mentions("coalesce(name, '') || ' ' || coalesce(user_name, '') || ' ' || coalesce(post_cache, '') || ' ' || coalesce(spam_report, '')")},
		{Table: "pg_search_documents", SQL: `UPDATE pg_search_documents SET ` + scrub("content") + ` WHERE content IS NOT NULL AND ` + mentions("content")},
		{Table: "flags", SQL: `UPDATE flags SET ` + scrub("reason") + ` WHERE reason IS NOT NULL AND ` + mentions("reason")},
		{Table: "users", SQL: `UPDATE users SET ` + scrub("notes") + `, ` + scrub("bio") + `, ` + scrub("signature") + `
WHERE ` + mentions("coalesce(notes, '') || ' ' || coalesce(bio, '') || ' ' || coalesce(signature, '')")},
		// An export or an import log is a snapshot of whole tables: one naming the
		// subject goes entirely (an export), or loses its rejected rows (an import).
		{Table: "backups", SQL: `DELETE FROM backups WHERE csv IS NOT NULL AND ` + mentions("csv")},
		{Table: "imports", SQL: `UPDATE imports SET error_log = NULL WHERE error_log IS NOT NULL AND ` + mentions("error_log")},
	}
}

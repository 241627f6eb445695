package appprofile

import (
	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// What retention means in Helpy's database (db/schema.rb at 26aff0e, checked against its
// models and jobs); each class's Meaning says it for people.
//
// Helpy's facts the SQL relies on:
//   - Tickets are rows of topics: private tickets (forum 1), trashed ones (forum 2) and
//     community topics and doc discussions (forum 3 and up); all are conversations with
//     customers. Statuses: new, open, pending (active) and closed, trash, spam, deleting.
//   - posts has no index at all (neither topic_id nor user_id): every lookup by ticket or
//     author is a sequential scan, so each batch collects post ids once (an Expansion)
//     and every later statement works on primary keys.
//   - Counter caches Rails keeps (forums, users and docs topics_count, tags
//     taggings_count, topics posts_count) are kept right by the same statements, so the
//     application shows the same numbers it would after deleting through Rails.
//   - User id 2 is the system user the code relies on (Topic#close(user_id = 2), and
//     User#scrub refuses it); it has role 'user', so every customer filter excludes it.
//     Administrators are role 'admin' (User#is_admin?); the legacy admin column counts too.
//   - Attachments are CarrierWave files in uploads/post/attachments/<post id>/ (the
//     volume is mounted at uploads/), named in posts.attachments; profile images in
//     uploads/user/profile_image/<user id>/. attachinary_files only reference Cloudinary.
//   - users.updated_at is Helpy's own activity clock: posts and topics touch their user
//     (belongs_to :user, touch: true) on every save. Retention's SQL never sets it.

// helpySystemUserID is the account Helpy's code relies on.
const helpySystemUserID = "2"

// Placeholders anonymization writes. Helpy's own User#anonymize uses the same name for
// users and topics, so the application shows anonymized people the same way.
const (
	helpyAnonymizedTicket = "Anonymized ticket"
	helpyAnonymizedText   = "[anonymized]"
	helpyAnonymizedUser   = "Anonymous User"
	helpyAnonymizedOwner  = "Anonymized User"
)

// helpyCustomer is the filter for customers: never staff (admin, agent, editor), never
// an administrator by the legacy column, never the system user.
const helpyCustomer = `u.role = 'user' AND NOT coalesce(u.admin, false) AND u.id <> ` + helpySystemUserID

func helpyRetention() Retention {
	return Retention{
		Classes: map[v1alpha1.DataClass]DataClass{
			v1alpha1.DataClassClosedTickets: {
				Meaning: "Tickets (topics) that are closed, trashed, spam or being deleted, by closed_date " +
					"(updated_at when a ticket has none), with their posts, votes, flags, tags, attachments and search entries.",
				Actions: helpyTicketActions(helpyClosedTickets),
			},
			v1alpha1.DataClassAllTickets: {
				Meaning: "Every ticket (topic), whatever its status, by its last activity (created_at, updated_at, " +
					"last_post_date), with everything ClosedTickets covers.",
				Actions: helpyTicketActions(helpyAllTickets),
			},
			v1alpha1.DataClassAttachments: {
				Meaning: "Files uploaded to posts (uploads/post/attachments/<post id>/, named in posts.attachments), by the " +
					"post's created_at, and attachinary_files rows of tickets and posts (references to Cloudinary, whose " +
					"files the operator cannot reach). The posts themselves stay.",
				Actions: map[v1alpha1.RetentionAction]Plan{
					v1alpha1.RetentionActionDelete: {Sweeps: []Sweep{helpyPostAttachments, helpyAttachinaryFiles}},
				},
			},
			v1alpha1.DataClassInactiveCustomers: {
				Meaning: "Customer accounts (role user, not the system user, never staff) with no sign-in, no profile " +
					"change, no ticket activity and no post since the age. Delete removes the account and everything " +
					"it owns like Helpy's own user deletion; Anonymize clears the profile like Helpy's User#anonymize " +
					"plus what that leaves behind (sign-in IPs, raw e-mails and cc lists of their posts, API keys, settings, " +
					"profile images); their tickets stay for the ticket classes.",
				Actions: map[v1alpha1.RetentionAction]Plan{
					v1alpha1.RetentionActionDelete:    {Sweeps: []Sweep{helpyInactiveCustomers(helpyRemoveUsers, false)}},
					v1alpha1.RetentionActionAnonymize: {Sweeps: []Sweep{helpyInactiveCustomers(helpyAnonymizeUsers, true)}},
				},
			},
			v1alpha1.DataClassLogs: {
				Meaning: "Helpy keeps no access or request log in its database, and its Rails log is on a volume that " +
					"does not outlive the pod. What it does keep are the records of its own bulk operations, both full " +
					"copies of personal data outside the tables the other classes clean: CSV exports (backups.csv) and " +
					"import runs (imports, whose error_log holds every rejected row). Logs deletes those by created_at.",
				Actions: map[v1alpha1.RetentionAction]Plan{
					v1alpha1.RetentionActionDelete: {Sweeps: []Sweep{helpyOldExports, helpyOldImports}},
				},
			},
		},
		Order: []v1alpha1.DataClass{
			v1alpha1.DataClassLogs,
			v1alpha1.DataClassAttachments,
			v1alpha1.DataClassClosedTickets,
			v1alpha1.DataClassAllTickets,
			v1alpha1.DataClassInactiveCustomers,
		},
		FileSets: []FileSet{
			{
				Name: helpyPostFiles,
				Dir:  "post/attachments",
				Live: `SELECT id FROM posts WHERE id = ANY(@ids) AND cardinality(attachments) > 0`,
			},
			{
				Name: helpyProfileImages,
				Dir:  "user/profile_image",
				Live: `SELECT id FROM users WHERE id = ANY(@ids) AND coalesce(profile_image, '') <> ''`,
			},
		},
		// Helpy has no index on posts at all and none on topics.user_id: without these,
		// every batch scans all posts, and the batch's locks last as long as the scan.
		Indexes: []Index{
			{Name: "helpdesk_retention_posts_topic_id", Table: "posts", Columns: []string{"topic_id"}},
			{Name: "helpdesk_retention_posts_user_id", Table: "posts", Columns: []string{"user_id"}},
			{Name: "helpdesk_retention_topics_user_id", Table: "topics", Columns: []string{"user_id"}},
		},
		Subject: helpySubject(),
	}
}

const (
	helpyPostFiles     = "post-attachments"
	helpyProfileImages = "profile-images"
)

// Ticket candidates. Anonymize leaves out tickets that already carry the placeholders.
const (
	helpyClosedTickets = `t.current_status IN ('closed', 'trash', 'spam', 'deleting')
  AND coalesce(t.closed_date, t.updated_at) < @cutoff`
	helpyAllTickets    = `greatest(t.created_at, t.updated_at, t.last_post_date) < @cutoff`
	helpyNotAnonymized = `NOT (t.name = '` + helpyAnonymizedTicket + `' AND t.post_cache IS NULL)`
)

func helpyTicketCandidates(age string, anonymize bool) string {
	filter := age
	if anonymize {
		filter += "\n  AND " + helpyNotAnonymized
	}
	return `SELECT t.id FROM topics t
WHERE t.id > @after
  AND ` + filter + `
ORDER BY t.id
LIMIT @limit
FOR UPDATE SKIP LOCKED`
}

func helpyTicketActions(age string) map[v1alpha1.RetentionAction]Plan {
	sweep := func(anonymize bool, work Work) Plan {
		return Plan{Sweeps: []Sweep{{Records: "tickets", Table: "topics", Candidates: helpyTicketCandidates(age, anonymize), Work: work}}}
	}
	return map[v1alpha1.RetentionAction]Plan{
		v1alpha1.RetentionActionDelete:    sweep(false, helpyDeleteTickets),
		v1alpha1.RetentionActionAnonymize: sweep(true, helpyAnonymizeTickets),
	}
}

// helpyTicketPosts collects the posts of the tickets in @ids: the one sequential scan of
// posts a ticket batch makes.
var helpyTicketPosts = Expansion{Name: "posts", SQL: `SELECT coalesce(array_agg(p.id), '{}') FROM posts p WHERE p.topic_id = ANY(@ids)`}

// Deleting topics, with the counter caches Rails' destroy would decrement.
const helpyDeleteTopics = `WITH gone AS (
  DELETE FROM topics WHERE id = ANY(@topics) RETURNING forum_id, user_id, doc_id
), forum_counts AS (
  UPDATE forums SET topics_count = greatest(forums.topics_count - g.n, 0)
  FROM (SELECT forum_id, count(*) AS n FROM gone GROUP BY forum_id) g WHERE forums.id = g.forum_id
), owner_counts AS (
  UPDATE users SET topics_count = greatest(users.topics_count - g.n, 0)
  FROM (SELECT user_id, count(*) AS n FROM gone GROUP BY user_id) g WHERE users.id = g.user_id
), doc_counts AS (
  UPDATE docs SET topics_count = greatest(docs.topics_count - g.n, 0)
  FROM (SELECT doc_id, count(*) AS n FROM gone WHERE doc_id > 0 GROUP BY doc_id) g WHERE docs.id = g.doc_id
)
SELECT 1 FROM gone`

// helpyTicketStatements delete everything hanging off the tickets in @topics and their
// posts in @posts, then the posts and the tickets. The SQL names the tickets @topics so
// that ticket retention (@topics = @ids) and user removal (@topics = their tickets)
// share it.
func helpyTicketStatements() []Statement {
	return []Statement{
		{Table: "pg_search_documents", SQL: `DELETE FROM pg_search_documents WHERE searchable_type = 'Topic' AND searchable_id = ANY(@topics)`},
		{Table: "votes", SQL: `DELETE FROM votes
WHERE (voteable_type = 'Topic' AND voteable_id = ANY(@topics)) OR (voteable_type = 'Post' AND voteable_id = ANY(@posts))`},
		{Table: "flags", SQL: `DELETE FROM flags WHERE post_id = ANY(@posts) OR generated_topic_id = ANY(@topics)`},
		{Table: "taggings", SQL: helpyDeleteTaggings(`taggable_type = 'Topic' AND taggable_id = ANY(@topics)`)},
		{Table: "attachinary_files", SQL: `DELETE FROM attachinary_files
WHERE (attachinariable_type = 'Topic' AND attachinariable_id = ANY(@topics))
   OR (attachinariable_type = 'Post' AND attachinariable_id = ANY(@posts))`},
		{Table: "posts", SQL: `DELETE FROM posts WHERE id = ANY(@posts)`},
		{Table: "topics", SQL: helpyDeleteTopics},
	}
}

// helpyDeleteTaggings deletes the taggings matching where, keeping tags.taggings_count
// (acts-as-taggable-on's counter cache) right.
func helpyDeleteTaggings(where string) string {
	return `WITH gone AS (
  DELETE FROM taggings WHERE ` + where + ` RETURNING tag_id
), tag_counts AS (
  UPDATE tags SET taggings_count = greatest(tags.taggings_count - g.n, 0)
  FROM (SELECT tag_id, count(*) AS n FROM gone GROUP BY tag_id) g WHERE tags.id = g.tag_id
)
SELECT 1 FROM gone`
}

var helpyDeleteTickets = Work{
	Expansions: []Expansion{
		{Name: "topics", SQL: `SELECT @ids::bigint[]`},
		helpyTicketPosts,
	},
	Files:      []FileRef{{Set: helpyPostFiles, IDs: "posts"}},
	Statements: helpyTicketStatements(),
}

// helpyAnonymizeTickets keeps every ticket and post row with its status, kind, dates,
// counts, owner and assignee, and replaces what people wrote. Search entries go (they
// are copies of subject and bodies), as do uploads.
var helpyAnonymizeTickets = Work{
	Expansions: []Expansion{helpyTicketPosts},
	Files:      []FileRef{{Set: helpyPostFiles, IDs: "posts"}},
	Statements: []Statement{
		{Table: "pg_search_documents", SQL: `DELETE FROM pg_search_documents WHERE searchable_type = 'Topic' AND searchable_id = ANY(@ids)`},
		{Table: "attachinary_files", SQL: `DELETE FROM attachinary_files
WHERE (attachinariable_type = 'Topic' AND attachinariable_id = ANY(@ids))
   OR (attachinariable_type = 'Post' AND attachinariable_id = ANY(@posts))`},
		{Table: "flags", SQL: `UPDATE flags SET reason = '` + helpyAnonymizedText + `'
WHERE (post_id = ANY(@posts) OR generated_topic_id = ANY(@ids)) AND reason IS DISTINCT FROM '` + helpyAnonymizedText + `'`},
		{Table: "posts", SQL: `UPDATE posts SET body = '` + helpyAnonymizedText + `', cc = NULL, bcc = NULL, raw_email = NULL, attachments = '{}'
WHERE id = ANY(@posts)`},
		{Table: "topics", SQL: `UPDATE topics SET name = '` + helpyAnonymizedTicket + `', user_name = '` + helpyAnonymizedOwner + `',
  post_cache = NULL, spam_report = ''
WHERE id = ANY(@ids)`},
	},
}

// Attachments. Uploads happen when the post is created, so the post's age is theirs.
var helpyPostAttachments = Sweep{
	Records: "post attachments",
	Table:   "posts",
	Candidates: `SELECT p.id FROM posts p
WHERE p.id > @after AND cardinality(p.attachments) > 0 AND p.created_at < @cutoff
ORDER BY p.id
LIMIT @limit
FOR UPDATE SKIP LOCKED`,
	Work: Work{
		Files:      []FileRef{{Set: helpyPostFiles, IDs: "ids"}},
		Statements: []Statement{{Table: "posts", SQL: `UPDATE posts SET attachments = '{}' WHERE id = ANY(@ids)`}},
	},
}

// Only uploads to tickets and posts: Doc screenshots are the knowledge base, and a
// user's avatar is profile data (InactiveCustomers, erasure).
var helpyAttachinaryFiles = Sweep{
	Records: "attachinary files",
	Table:   "attachinary_files",
	Candidates: `SELECT a.id FROM attachinary_files a
WHERE a.id > @after AND a.attachinariable_type IN ('Topic', 'Post')
  AND coalesce(a.created_at, a.updated_at) < @cutoff
ORDER BY a.id
LIMIT @limit
FOR UPDATE SKIP LOCKED`,
	Work: Work{Statements: []Statement{{Table: "attachinary_files", SQL: `DELETE FROM attachinary_files WHERE id = ANY(@ids)`}}},
}

// helpyInactiveCustomers finds customers with no activity since @cutoff. The user's own
// timestamps carry Helpy's touches; the NOT EXISTS clauses guard against data written
// without Rails (imports, SQL). Anonymize leaves out accounts it already anonymized.
func helpyInactiveCustomers(work Work, anonymize bool) Sweep {
	filter := ""
	if anonymize {
		filter = "\n  AND u.email <> " + helpyAnonymizedEmail
	}
	return Sweep{
		Records: "customers",
		Table:   "users",
		Candidates: `SELECT u.id FROM users u
WHERE u.id > @after
  AND ` + helpyCustomer + `
  AND greatest(u.created_at, u.updated_at, u.current_sign_in_at, u.last_sign_in_at, u.invitation_accepted_at) < @cutoff
  AND NOT EXISTS (SELECT 1 FROM topics t WHERE t.user_id = u.id AND greatest(t.created_at, t.updated_at, t.last_post_date) >= @cutoff)
  AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.user_id = u.id AND p.created_at >= @cutoff)` + filter + `
ORDER BY u.id
LIMIT @limit
FOR UPDATE OF u SKIP LOCKED`,
		Work: work,
	}
}

// helpyAnonymizedEmail is unique per account, as users.email must be, and under the
// reserved .invalid top-level domain, so no mail can ever go to it.
const helpyAnonymizedEmail = `'anonymized-' || u.id || '@anonymized.invalid'`

// helpyAnonymizeUsers clears what User#anonymize clears, keeping id, role, language,
// time zone, counters and dates, and also what it leaves: the name copied into their
// tickets, the raw e-mails and cc lists of their posts, API keys, settings, avatar and
// profile image. Their posts' bodies stay: they are ticket content (ticket classes).
var helpyAnonymizeUsers = Work{
	Files: []FileRef{{Set: helpyProfileImages, IDs: "ids"}},
	Statements: []Statement{
		{Table: "users", SQL: `UPDATE users u SET login = 'anon', name = '` + helpyAnonymizedUser + `',
  email = ` + helpyAnonymizedEmail + `, encrypted_password = '',
  reset_password_token = NULL, reset_password_sent_at = NULL, remember_created_at = NULL,
  identity_url = NULL, bio = NULL, signature = NULL, home_phone = NULL, work_phone = NULL, cell_phone = NULL,
  company = NULL, street = NULL, city = NULL, state = NULL, zip = NULL, title = NULL, twitter = NULL, linkedin = NULL,
  thumbnail = NULL, medium_image = NULL, large_image = NULL, profile_image = NULL,
  current_sign_in_ip = NULL, last_sign_in_ip = NULL, provider = NULL, uid = NULL,
  invitation_token = NULL, invitation_message = NULL, account_number = NULL, notes = NULL, active = false
WHERE u.id = ANY(@ids)`},
		{Table: "topics", SQL: `UPDATE topics SET user_name = '` + helpyAnonymizedOwner + `'
WHERE user_id = ANY(@ids) AND user_name IS DISTINCT FROM '` + helpyAnonymizedOwner + `'`},
		{Table: "posts", SQL: `UPDATE posts SET cc = NULL, bcc = NULL, raw_email = NULL
WHERE user_id = ANY(@ids) AND (cc IS NOT NULL OR bcc IS NOT NULL OR raw_email IS NOT NULL)`},
		{Table: "api_keys", SQL: `DELETE FROM api_keys WHERE user_id = ANY(@ids)`},
		{Table: "settings", SQL: `DELETE FROM settings WHERE thing_type = 'User' AND thing_id = ANY(@ids)`},
		{Table: "attachinary_files", SQL: `DELETE FROM attachinary_files WHERE attachinariable_type = 'User' AND attachinariable_id = ANY(@ids)`},
	},
}

// helpyRemoveUsers deletes accounts and everything they own, as Helpy's DeleteUserJob and
// User#destroy do (their tickets with all posts, their posts elsewhere, votes, API keys,
// exports; documents move to the system user; assignments are dropped), plus what Rails
// leaves: search entries, flags, taggings, uploads, settings, the copies of their posts
// in other tickets' post_cache, and references by id. Data-subject erasure runs it too.
var helpyRemoveUsers = Work{
	Expansions: []Expansion{
		{Name: "topics", SQL: `SELECT coalesce(array_agg(t.id), '{}') FROM topics t WHERE t.user_id = ANY(@ids)`},
		{Name: "posts", SQL: `SELECT coalesce(array_agg(p.id), '{}') FROM posts p WHERE p.topic_id = ANY(@topics) OR p.user_id = ANY(@ids)`},
		// Other people's tickets that lose a post, whose caches are rebuilt.
		{Name: "touched", SQL: `SELECT coalesce(array_agg(DISTINCT p.topic_id), '{}') FROM posts p
WHERE p.id = ANY(@posts) AND p.topic_id IS NOT NULL AND p.topic_id <> ALL(@topics)`},
	},
	Files: []FileRef{{Set: helpyPostFiles, IDs: "posts"}, {Set: helpyProfileImages, IDs: "ids"}},
	Statements: append(append([]Statement{
		{Table: "votes", SQL: `DELETE FROM votes WHERE user_id = ANY(@ids)`},
		{Table: "taggings", SQL: helpyDeleteTaggings(`(taggable_type = 'User' AND taggable_id = ANY(@ids))
  OR (tagger_type = 'User' AND tagger_id = ANY(@ids))`)},
		{Table: "attachinary_files", SQL: `DELETE FROM attachinary_files WHERE attachinariable_type = 'User' AND attachinariable_id = ANY(@ids)`},
	}, helpyTicketStatements()...),
		Statement{Table: "topics", SQL: `UPDATE topics t SET posts_count = coalesce(s.n, 0), post_cache = s.cache
FROM unnest(@touched::bigint[]) AS x(id)
LEFT JOIN (
  SELECT p.topic_id, count(*) AS n, string_agg(p.body, ' ' ORDER BY p.id) FILTER (WHERE p.kind IS DISTINCT FROM 'note') AS cache
  FROM posts p WHERE p.topic_id = ANY(@touched) GROUP BY p.topic_id
) s ON s.topic_id = x.id
WHERE t.id = x.id`},
		// pg_search's multisearch content of a topic is its id, name and post_cache.
		Statement{Table: "pg_search_documents", SQL: `UPDATE pg_search_documents d SET content = concat_ws(' ', t.id, t.name, t.post_cache)
FROM topics t
WHERE d.searchable_type = 'Topic' AND d.searchable_id = t.id AND t.id = ANY(@touched)`},
		Statement{Table: "topics", SQL: `UPDATE topics SET assigned_user_id = NULL WHERE assigned_user_id = ANY(@ids)`},
		Statement{Table: "docs", SQL: `UPDATE docs SET user_id = ` + helpySystemUserID + ` WHERE user_id = ANY(@ids)`},
		Statement{Table: "versions", SQL: `UPDATE versions SET whodunnit = NULL
WHERE whodunnit = ANY(SELECT x::text FROM unnest(@ids::bigint[]) AS x)`},
		Statement{Table: "users", SQL: `UPDATE users SET invited_by_id = NULL WHERE invited_by_id = ANY(@ids)`},
		Statement{Table: "api_keys", SQL: `DELETE FROM api_keys WHERE user_id = ANY(@ids)`},
		Statement{Table: "settings", SQL: `DELETE FROM settings WHERE thing_type = 'User' AND thing_id = ANY(@ids)`},
		Statement{Table: "backups", SQL: `DELETE FROM backups WHERE user_id = ANY(@ids)`},
		Statement{Table: "users", SQL: `DELETE FROM users WHERE id = ANY(@ids)`},
	),
}

// Operation logs: CSV exports and import runs, by age.
var (
	helpyOldExports = Sweep{
		Records: "exports",
		Table:   "backups",
		Candidates: `SELECT b.id FROM backups b
WHERE b.id > @after AND b.created_at < @cutoff
ORDER BY b.id
LIMIT @limit
FOR UPDATE SKIP LOCKED`,
		Work: Work{Statements: []Statement{{Table: "backups", SQL: `DELETE FROM backups WHERE id = ANY(@ids)`}}},
	}
	helpyOldImports = Sweep{
		Records: "imports",
		Table:   "imports",
		Candidates: `SELECT i.id FROM imports i
WHERE i.id > @after AND i.created_at < @cutoff
ORDER BY i.id
LIMIT @limit
FOR UPDATE SKIP LOCKED`,
		Work: Work{Statements: []Statement{{Table: "imports", SQL: `DELETE FROM imports WHERE id = ANY(@ids)`}}},
	}
)

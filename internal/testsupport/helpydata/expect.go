package helpydata

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Expect is what a rule must change, computed from the data set in Go, independently of
// the profile's SQL: the ids it deletes and updates per table (every other row stays
// byte for byte), the columns an update may change (all others stay), the files it
// removes, and the records it counts.
type Expect struct {
	Records   int64
	Deleted   map[string][]int64
	Updated   map[string][]int64
	MayChange map[string][]string
	// Holds is, per table, an SQL condition every updated row must meet afterwards
	// (anonymized fields hold their placeholders), written here apart from the profile.
	Holds map[string]string
	Files []string
}

// IDSet is a set of row ids.
type IDSet map[int64]bool

func (s IDSet) Sorted() []int64 {
	out := make([]int64, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func newExpect() *Expect {
	return &Expect{Deleted: map[string][]int64{}, Updated: map[string][]int64{}, MayChange: map[string][]string{}, Holds: map[string]string{}}
}

func (e *Expect) set(m map[string][]int64, table string, s IDSet) {
	if len(s) > 0 {
		m[table] = s.Sorted()
	}
}

// files lists the files of the given posts' and users' folders.
func (d *Data) files(posts, users IDSet) []string {
	var out []string
	for _, p := range d.Posts {
		if posts[p.ID] {
			for _, a := range p.Attachments {
				out = append(out, fmt.Sprintf("post/attachments/%d/%s", p.ID, a))
			}
		}
	}
	for _, u := range d.Users {
		if users[u.ID] && u.ProfileImage != "" {
			out = append(out, fmt.Sprintf("user/profile_image/%d/%s", u.ID, u.ProfileImage),
				fmt.Sprintf("user/profile_image/%d/thumb_%s", u.ID, u.ProfileImage))
		}
	}
	slices.Sort(out)
	return out
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// ClosedTickets are the tickets ClosedTickets takes at cutoff.
func (d *Data) ClosedTickets(cutoff time.Time) IDSet {
	s := IDSet{}
	for _, t := range d.Topics {
		at := t.UpdatedAt
		if t.ClosedDate != nil {
			at = *t.ClosedDate
		}
		if slices.Contains([]string{"closed", "trash", "spam", "deleting"}, t.Status) && at.Before(cutoff) {
			s[t.ID] = true
		}
	}
	return s
}

// AllTickets are the tickets AllTickets takes at cutoff.
func (d *Data) AllTickets(cutoff time.Time) IDSet {
	s := IDSet{}
	for _, t := range d.Topics {
		if latest(t.CreatedAt, t.UpdatedAt, t.LastPostDate).Before(cutoff) {
			s[t.ID] = true
		}
	}
	return s
}

// InactiveCustomers are the customers InactiveCustomers takes at cutoff.
func (d *Data) InactiveCustomers(cutoff time.Time) IDSet {
	s := IDSet{}
	for _, u := range d.Users {
		if !u.Customer() {
			continue
		}
		last := latest(u.CreatedAt, u.UpdatedAt)
		if u.LastSignIn != nil {
			last = latest(last, *u.LastSignIn)
		}
		if !last.Before(cutoff) {
			continue
		}
		active := false
		for _, t := range d.Topics {
			if t.UserID == u.ID && !latest(t.CreatedAt, t.UpdatedAt, t.LastPostDate).Before(cutoff) {
				active = true
			}
		}
		for _, p := range d.Posts {
			if p.UserID == u.ID && !p.CreatedAt.Before(cutoff) {
				active = true
			}
		}
		if !active {
			s[u.ID] = true
		}
	}
	return s
}

// DeleteTickets is what deleting the tickets in topics changes.
func (d *Data) DeleteTickets(topics IDSet) *Expect {
	e := newExpect()
	e.Records = int64(len(topics))
	posts := d.postsOf(topics, IDSet{})
	d.deleteTicketRows(e, topics, posts, IDSet{})
	e.Files = d.files(posts, IDSet{})
	return e
}

// postsOf returns the posts in topics or written by users.
func (d *Data) postsOf(topics, users IDSet) IDSet {
	posts := IDSet{}
	for _, p := range d.Posts {
		if topics[p.TopicID] || users[p.UserID] {
			posts[p.ID] = true
		}
	}
	return posts
}

// deleteTicketRows fills e for deleting topics and posts, with the rows that hang off them
// and the counter caches they change; users are accounts deleted with them.
func (d *Data) deleteTicketRows(e *Expect, topics, posts, users IDSet) {
	votes, flags, taggings, attach, search := IDSet{}, IDSet{}, IDSet{}, IDSet{}, IDSet{}
	forums, owners, docs, tags := IDSet{}, IDSet{}, IDSet{}, IDSet{}
	for _, v := range d.Votes {
		if (v.VoteableType == "Topic" && topics[v.VoteableID]) || (v.VoteableType == "Post" && posts[v.VoteableID]) || users[v.UserID] {
			votes[v.ID] = true
		}
	}
	for _, f := range d.Flags {
		if posts[f.PostID] || topics[f.GeneratedTopicID] {
			flags[f.ID] = true
		}
	}
	for _, t := range d.Taggings {
		if (t.TaggableType == "Topic" && topics[t.TaggableID]) || (t.TaggableType == "User" && users[t.TaggableID]) || users[t.TaggerID] {
			taggings[t.ID] = true
			tags[t.TagID] = true
		}
	}
	for _, a := range d.Attachinary {
		if (a.OwnerType == "Topic" && topics[a.OwnerID]) || (a.OwnerType == "Post" && posts[a.OwnerID]) || (a.OwnerType == "User" && users[a.OwnerID]) {
			attach[a.ID] = true
		}
	}
	for _, s := range d.SearchDocs {
		if topics[s.TopicID] {
			search[s.ID] = true
		}
	}
	for _, t := range d.Topics {
		if topics[t.ID] {
			forums[t.ForumID] = true
			if !users[t.UserID] {
				owners[t.UserID] = true
			}
			if t.DocID > 0 {
				docs[t.DocID] = true
			}
		}
	}
	e.set(e.Deleted, "topics", topics)
	e.set(e.Deleted, "posts", posts)
	e.set(e.Deleted, "votes", votes)
	e.set(e.Deleted, "flags", flags)
	e.set(e.Deleted, "taggings", taggings)
	e.set(e.Deleted, "attachinary_files", attach)
	e.set(e.Deleted, "pg_search_documents", search)
	e.set(e.Updated, "forums", forums)
	e.set(e.Updated, "users", owners)
	e.set(e.Updated, "docs", docs)
	e.set(e.Updated, "tags", tags)
	e.MayChange["forums"] = []string{"topics_count"}
	e.MayChange["users"] = []string{"topics_count"}
	e.MayChange["docs"] = []string{"topics_count"}
	e.MayChange["tags"] = []string{"taggings_count"}
}

// AnonymizeTickets is what anonymizing the tickets in topics changes.
func (d *Data) AnonymizeTickets(topics IDSet) *Expect {
	e := newExpect()
	e.Records = int64(len(topics))
	posts := d.postsOf(topics, IDSet{})
	flags, attach, search := IDSet{}, IDSet{}, IDSet{}
	for _, f := range d.Flags {
		if posts[f.PostID] || topics[f.GeneratedTopicID] {
			flags[f.ID] = true
		}
	}
	for _, a := range d.Attachinary {
		if (a.OwnerType == "Topic" && topics[a.OwnerID]) || (a.OwnerType == "Post" && posts[a.OwnerID]) {
			attach[a.ID] = true
		}
	}
	for _, s := range d.SearchDocs {
		if topics[s.TopicID] {
			search[s.ID] = true
		}
	}
	e.set(e.Updated, "topics", topics)
	e.set(e.Updated, "posts", posts)
	e.set(e.Updated, "flags", flags)
	e.set(e.Deleted, "attachinary_files", attach)
	e.set(e.Deleted, "pg_search_documents", search)
	e.MayChange["topics"] = []string{"name", "user_name", "post_cache", "spam_report"}
	e.MayChange["posts"] = []string{"body", "cc", "bcc", "raw_email", "attachments"}
	e.MayChange["flags"] = []string{"reason"}
	e.Holds["topics"] = `name = 'Anonymized ticket' AND user_name = 'Anonymized User' AND post_cache IS NULL AND spam_report = ''`
	e.Holds["posts"] = `body = '[anonymized]' AND cc IS NULL AND bcc IS NULL AND raw_email IS NULL AND attachments = '{}'`
	e.Holds["flags"] = `reason = '[anonymized]'`
	e.Files = d.files(posts, IDSet{})
	return e
}

// DeleteAttachments is what the Attachments rule changes at cutoff.
func (d *Data) DeleteAttachments(cutoff time.Time) *Expect {
	e := newExpect()
	posts, attach := IDSet{}, IDSet{}
	for _, p := range d.Posts {
		if len(p.Attachments) > 0 && p.CreatedAt.Before(cutoff) {
			posts[p.ID] = true
		}
	}
	for _, a := range d.Attachinary {
		if (a.OwnerType == "Topic" || a.OwnerType == "Post") && a.CreatedAt.Before(cutoff) {
			attach[a.ID] = true
		}
	}
	e.Records = int64(len(posts) + len(attach))
	e.set(e.Updated, "posts", posts)
	e.set(e.Deleted, "attachinary_files", attach)
	e.MayChange["posts"] = []string{"attachments"}
	e.Holds["posts"] = `attachments = '{}'`
	e.Files = d.files(posts, IDSet{})
	return e
}

// DeleteUsers is what removing the accounts in users changes (InactiveCustomers Delete,
// erasure's removal part).
func (d *Data) DeleteUsers(users IDSet) *Expect {
	e := newExpect()
	e.Records = int64(len(users))
	topics := IDSet{}
	for _, t := range d.Topics {
		if users[t.UserID] {
			topics[t.ID] = true
		}
	}
	posts := d.postsOf(topics, users)
	d.deleteTicketRows(e, topics, posts, users)
	// Other people's tickets that lose a post get new counts and caches.
	touched, touchedSearch := IDSet{}, IDSet{}
	for _, p := range d.Posts {
		if posts[p.ID] && !topics[p.TopicID] {
			touched[p.TopicID] = true
		}
	}
	for _, s := range d.SearchDocs {
		if touched[s.TopicID] {
			touchedSearch[s.ID] = true
		}
	}
	updatedTopics := IDSet{}
	for _, t := range d.Topics {
		if touched[t.ID] || (users[t.AssignedID] && !topics[t.ID]) {
			updatedTopics[t.ID] = true
		}
	}
	e.set(e.Updated, "topics", updatedTopics)
	e.set(e.Updated, "pg_search_documents", touchedSearch)
	e.MayChange["topics"] = []string{"posts_count", "post_cache", "assigned_user_id"}
	e.MayChange["pg_search_documents"] = []string{"content"}
	deletedUsers := IDSet{}
	for id := range users {
		deletedUsers[id] = true
	}
	e.set(e.Deleted, "users", deletedUsers)
	keys, settings := IDSet{}, IDSet{}
	for _, k := range d.APIKeys {
		if users[k.UserID] {
			keys[k.ID] = true
		}
	}
	for _, s := range d.Settings {
		if users[s.UserID] {
			settings[s.ID] = true
		}
	}
	e.set(e.Deleted, "api_keys", keys)
	e.set(e.Deleted, "settings", settings)
	e.Files = d.files(posts, users)
	return e
}

// AnonymizeUsers is what anonymizing the accounts in users changes.
func (d *Data) AnonymizeUsers(users IDSet) *Expect {
	e := newExpect()
	e.Records = int64(len(users))
	topics, posts, keys, settings, attach := IDSet{}, IDSet{}, IDSet{}, IDSet{}, IDSet{}
	for _, t := range d.Topics {
		if users[t.UserID] {
			topics[t.ID] = true
		}
	}
	for _, p := range d.Posts {
		if users[p.UserID] && (p.CC != "" || p.BCC != "" || p.RawEmail != "") {
			posts[p.ID] = true
		}
	}
	for _, k := range d.APIKeys {
		if users[k.UserID] {
			keys[k.ID] = true
		}
	}
	for _, s := range d.Settings {
		if users[s.UserID] {
			settings[s.ID] = true
		}
	}
	for _, a := range d.Attachinary {
		if a.OwnerType == "User" && users[a.OwnerID] {
			attach[a.ID] = true
		}
	}
	e.set(e.Updated, "users", users)
	e.set(e.Updated, "topics", topics)
	e.set(e.Updated, "posts", posts)
	e.set(e.Deleted, "api_keys", keys)
	e.set(e.Deleted, "settings", settings)
	e.set(e.Deleted, "attachinary_files", attach)
	e.MayChange["users"] = AnonymizedUserColumns
	e.MayChange["topics"] = []string{"user_name"}
	e.MayChange["posts"] = []string{"cc", "bcc", "raw_email"}
	e.Holds["users"] = `name = 'Anonymous User' AND login = 'anon' AND email = 'anonymized-' || id || '@anonymized.invalid'
  AND encrypted_password = '' AND NOT active AND company IS NULL AND work_phone IS NULL AND bio IS NULL AND notes IS NULL
  AND profile_image IS NULL AND thumbnail IS NULL AND last_sign_in_ip IS NULL AND current_sign_in_ip IS NULL`
	e.Holds["topics"] = `user_name = 'Anonymized User'`
	e.Holds["posts"] = `cc IS NULL AND bcc IS NULL AND raw_email IS NULL`
	e.Files = d.files(IDSet{}, users)
	return e
}

// AnonymizedUserColumns are the columns anonymizing an account may change; id, role,
// dates, counters and preferences must stay.
var AnonymizedUserColumns = []string{"login", "name", "email", "encrypted_password", "reset_password_token", "reset_password_sent_at",
	"remember_created_at", "identity_url", "bio", "signature", "home_phone", "work_phone", "cell_phone", "company", "street", "city",
	"state", "zip", "title", "twitter", "linkedin", "thumbnail", "medium_image", "large_image", "profile_image", "current_sign_in_ip",
	"last_sign_in_ip", "provider", "uid", "invitation_token", "invitation_message", "account_number", "notes", "active"}

// DeleteLogs is what the Logs rule changes at cutoff.
func (d *Data) DeleteLogs(cutoff time.Time) *Expect {
	e := newExpect()
	backups, imports := IDSet{}, IDSet{}
	for _, b := range d.Backups {
		if b.CreatedAt.Before(cutoff) {
			backups[b.ID] = true
		}
	}
	for _, i := range d.Imports {
		if i.CreatedAt.Before(cutoff) {
			imports[i.ID] = true
		}
	}
	e.Records = int64(len(backups) + len(imports))
	e.set(e.Deleted, "backups", backups)
	e.set(e.Deleted, "imports", imports)
	return e
}

// IDs returns a set of ids, for tests.
func IDs(ids ...int64) IDSet {
	s := IDSet{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// EraseSubject is what erasing account id changes: DeleteUsers, then every remaining
// text that names the account's address or name loses it (a raw e-mail goes whole, an
// export that names them goes, an import log loses its rejected rows).
func (d *Data) EraseSubject(id int64) *Expect {
	u := d.User(id)
	name := regexp.MustCompile(`(?i)(^|[^\pL\pN_])` + regexp.QuoteMeta(u.Name) + `($|[^\pL\pN_])`)
	mentions := func(texts ...string) bool {
		for _, t := range texts {
			if strings.Contains(strings.ToLower(t), strings.ToLower(u.Email)) || name.MatchString(t) {
				return true
			}
		}
		return false
	}
	e := d.DeleteUsers(IDs(id))
	deleted := func(table string) IDSet { return IDs(e.Deleted[table]...) }
	updated := func(table string) IDSet { return IDs(e.Updated[table]...) }
	posts, topics, search, users, flags, imports, backups := updated("posts"), updated("topics"), updated("pg_search_documents"),
		updated("users"), updated("flags"), updated("imports"), deleted("backups")
	gonePosts := deleted("posts")
	for _, p := range d.Posts {
		if !gonePosts[p.ID] && mentions(p.Body, p.CC, p.BCC, p.RawEmail, p.EmailTo) {
			posts[p.ID] = true
		}
	}
	for _, t := range d.Topics {
		if deleted("topics")[t.ID] {
			continue
		}
		cache := t.PostCache
		if topics[t.ID] {
			cache = ""
			for _, p := range d.Posts {
				if p.TopicID == t.ID && !gonePosts[p.ID] {
					cache += p.Body
				}
			}
		}
		if mentions(t.Name, d.User(t.UserID).Name, cache, t.SpamReport) {
			topics[t.ID] = true
		}
	}
	for _, s := range d.SearchDocs {
		if !deleted("pg_search_documents")[s.ID] && mentions(s.Content) {
			search[s.ID] = true
		}
	}
	for _, o := range d.Users {
		if o.ID != id && mentions(o.Notes, o.Bio, o.Signature) {
			users[o.ID] = true
		}
	}
	for _, f := range d.Flags {
		if !deleted("flags")[f.ID] && mentions(f.Reason) {
			flags[f.ID] = true
		}
	}
	for _, i := range d.Imports {
		if mentions(i.ErrorLog) {
			imports[i.ID] = true
		}
	}
	for _, b := range d.Backups {
		if mentions(b.CSV) || b.UserID == id {
			backups[b.ID] = true
		}
	}
	e.set(e.Updated, "posts", posts)
	e.set(e.Updated, "topics", topics)
	e.set(e.Updated, "pg_search_documents", search)
	e.set(e.Updated, "users", users)
	e.set(e.Updated, "flags", flags)
	e.set(e.Updated, "imports", imports)
	e.set(e.Deleted, "backups", backups)
	e.MayChange["posts"] = []string{"body", "cc", "bcc", "raw_email", "email_to_address"}
	e.MayChange["topics"] = append(e.MayChange["topics"], "name", "user_name", "spam_report")
	e.MayChange["users"] = []string{"notes", "bio", "signature"}
	e.MayChange["flags"] = []string{"reason"}
	e.MayChange["imports"] = []string{"error_log"}
	return e
}

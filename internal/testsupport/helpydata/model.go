// Package helpydata is the test fixture of the retention engine: Helpy's schema (the DDL
// in internal/appprofile/testdata, transcribed from Helpy's db/schema.rb) and a small,
// deterministic data set that covers what retention and data-subject requests handle,
// kept as Go values so that tests compute what a rule must change independently of the
// profile's SQL. `make demo` (internal/demo) loads the same schema and data set into its
// local database.
package helpydata

import (
	"time"
)

// Now is the time the data set's ages count from.
var Now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DaysAgo is Now minus n days.
func DaysAgo(n int) time.Time { return Now.Add(-time.Duration(n) * 24 * time.Hour) }

// Fixed ids of the data set.
const (
	AdminID      = 1
	SystemUserID = 2
	AgentID      = 3
	EditorID     = 4
	SecondAdmin  = 5
	// SubjectID is the customer the data-subject tests ask about; CopiedID is a
	// customer whose messages copy the subject in.
	SubjectID = 9
	CopiedID  = 8

	ForumTickets   = 1
	ForumTrash     = 2
	ForumCommunity = 3
)

// User is a users row.
type User struct {
	ID                    int64
	Name, Email, Login    string
	Role                  string
	Admin                 bool
	Company, Phone, Notes string
	Bio, Signature        string
	CreatedAt, UpdatedAt  time.Time
	LastSignIn            *time.Time
	SignInIP              string
	ProfileImage          string
	TopicsCount           int
}

// Customer is true for role user accounts that are neither admin nor the system user.
func (u User) Customer() bool {
	return u.Role == "user" && !u.Admin && u.ID != SystemUserID
}

// Topic is a topics row (a ticket).
type Topic struct {
	ID, ForumID, UserID int64
	AssignedID          int64 // 0: none
	DocID               int64
	Name, Status        string
	Private             bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
	LastPostDate        time.Time
	ClosedDate          *time.Time
	PostsCount          int
	PostCache           string
	SpamReport          string
}

// Post is a posts row.
type Post struct {
	ID, TopicID, UserID int64
	Kind, Body          string
	CreatedAt           time.Time
	Attachments         []string
	CC, BCC, RawEmail   string // "" is NULL
	EmailTo             string
}

// Vote is a votes row.
type Vote struct {
	ID, UserID, VoteableID int64
	VoteableType           string
	CreatedAt              time.Time
}

// Flag is a flags row.
type Flag struct {
	ID, PostID, GeneratedTopicID int64 // GeneratedTopicID 0: NULL
	Reason                       string
	CreatedAt                    time.Time
}

// Tagging is a taggings row.
type Tagging struct {
	ID, TagID, TaggableID int64
	TaggableType, Context string
	TaggerID              int64 // 0: NULL
}

// SearchDoc is a pg_search_documents row of a topic.
type SearchDoc struct {
	ID, TopicID int64
	Content     string
}

// Setting is a settings row; UserID 0 is a global setting.
type Setting struct {
	ID, UserID int64
	Var, Value string
}

// APIKey is an api_keys row.
type APIKey struct {
	ID, UserID  int64
	Token, Name string
	CreatedAt   time.Time
}

// Attachinary is an attachinary_files row.
type Attachinary struct {
	ID, OwnerID int64
	OwnerType   string
	CreatedAt   time.Time
}

// Backup is a backups row (a CSV export).
type Backup struct {
	ID, UserID int64
	Model, CSV string
	CreatedAt  time.Time
}

// Import is an imports row.
type Import struct {
	ID        int64
	Model     string
	ErrorLog  string
	CreatedAt time.Time
}

// Doc is a docs row.
type Doc struct {
	ID, UserID  int64
	Title, Body string
	TopicsCount int
	CreatedAt   time.Time
}

// Version is a versions row (paper_trail).
type Version struct {
	ID, ItemID int64
	Whodunnit  string
}

// Tag is a tags row.
type Tag struct {
	ID            int64
	Name          string
	TaggingsCount int
}

// Forum is a forums row.
type Forum struct {
	ID          int64
	Name        string
	Private     bool
	TopicsCount int
}

// Data is the whole data set.
type Data struct {
	Users       []User
	Forums      []Forum
	Tags        []Tag
	Topics      []Topic
	Posts       []Post
	Votes       []Vote
	Flags       []Flag
	Taggings    []Tagging
	SearchDocs  []SearchDoc
	Settings    []Setting
	APIKeys     []APIKey
	Attachinary []Attachinary
	Backups     []Backup
	Imports     []Import
	Docs        []Doc
	Versions    []Version
}

// User returns the user with id.
func (d *Data) User(id int64) User {
	for _, u := range d.Users {
		if u.ID == id {
			return u
		}
	}
	panic("helpydata: no user with that id")
}

// Topic returns the topic with id.
func (d *Data) Topic(id int64) Topic {
	for _, t := range d.Topics {
		if t.ID == id {
			return t
		}
	}
	panic("helpydata: no topic with that id")
}

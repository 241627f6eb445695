package appprofile

import (
	"fmt"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
)

// Retention says, as data, what every retention data class and every data-subject
// request means inside one application's database: which rows of which tables, found
// how, and changed how. The engine in internal/retention runs it without knowing any
// table, so another helpdesk is another Retention value, not new Go code.
//
// Every SQL text uses pgx named arguments (@name), which pgx binds as parameters; nothing
// is ever formatted into SQL. The names a statement may use are listed where it is.
type Retention struct {
	// Classes maps the data classes the application supports to their meaning.
	Classes map[v1alpha1.DataClass]DataClass
	// Unsupported maps the classes the application refuses to why they mean nothing
	// for it; a rule naming one fails before anything runs.
	Unsupported map[v1alpha1.DataClass]string
	// Order is the order rules run in, whatever order they are given in. Classes that
	// clear parts of a record (attachments) run before the ones that remove the whole
	// record, so that a dry run counts what a real run would.
	Order []v1alpha1.DataClass
	// FileSets are the per-record folders on the attachments volume.
	FileSets []FileSet
	// Indexes are the ones the sweeps need to stay on primary keys and indexes where
	// the application has none; real runs create those missing, without blocking the
	// application (CREATE INDEX CONCURRENTLY).
	Indexes []Index
	// Subject is how data-subject requests find and handle one person's data.
	Subject Subject
}

// DataClass is one class's meaning for the application.
type DataClass struct {
	// Meaning explains, for people, what the class covers in this application.
	Meaning string
	// Actions holds a plan for each supported action; an action missing here is refused.
	Actions map[v1alpha1.RetentionAction]Plan
}

// Plan is what one action does to one class: its sweeps run one after the other.
type Plan struct {
	Sweeps []Sweep
}

// Sweep acts on the records of one table that are past the rule's age, in batches. Each
// batch is one transaction: Candidates picks and locks at most a batch of ids, then the
// Work runs on exactly those ids. Files of the batch are removed only after the
// transaction committed.
type Sweep struct {
	// Records names what one candidate is, for people and results ("tickets").
	Records string
	// Table is the table Candidates returns ids of.
	Table string
	// Candidates returns, ascending, at most @limit ids of Table with id > @after
	// whose age is past @cutoff (timestamp, UTC), locking them with FOR UPDATE SKIP
	// LOCKED so that a row the application is changing right now is left for the next
	// run. It must leave out rows the action already handled (Anonymize), so a second
	// run counts nothing again.
	Candidates string
	Work
}

// Work is what happens to a set of ids (@ids, bigint[]) inside one transaction.
type Work struct {
	// Expansions run in order first; each may use @ids and earlier expansions.
	Expansions []Expansion
	// Files are the folders removed once the transaction committed.
	Files []FileRef
	// Statements run in order; each may use @ids and the expansions. The rows each one
	// changes are counted under its Table.
	Statements []Statement
}

// Index is an index the engine keeps in the application's database. Its name carries a
// prefix of the operator's, so it never collides with one of the application's.
type Index struct {
	Name    string
	Table   string
	Columns []string
}

// Expansion collects ids of rows that depend on the batch, as one bigint[] (never NULL),
// available to later SQL as @Name. Collecting them once keeps every later statement on
// primary keys.
type Expansion struct {
	Name string
	SQL  string
}

// Statement is one change; Table is where its changed rows are counted.
type Statement struct {
	Table string
	SQL   string
}

// FileRef names a FileSet and the bigint[] argument holding the ids whose folders go.
type FileRef struct {
	Set string
	IDs string
}

// FileSet is a kind of per-record folder on the attachments volume: the files of record
// <id> live in Dir/<id>/. The folder name is always a number the engine formats, never a
// file name from the database.
type FileSet struct {
	Name string
	// Dir is relative to the root of the attachments volume.
	Dir string
	// Live returns those of @ids whose records still own files. A numeric folder whose
	// record is not live is an orphan (a crash between commit and removal, or a record
	// the application deleted without its files) and is removed by the next run.
	Live string
}

// Subject is how data-subject requests find one person, export, erase and rectify their
// data. A subject is identified by e-mail address; they may have no account at all and
// still appear in the addresses of other people's messages.
type Subject struct {
	// Lookup takes @email and returns at most one row: the account's id (bigint), its
	// display name (text) and a protection (text, NULL when none): one of the
	// Protection values, which refuse every request.
	Lookup string
	// Sections of the access export: each takes @id (bigint, NULL without an account)
	// and @email, and returns rows of one json column. They must return nothing about
	// anyone else; Others and the engine's address redaction are a second line.
	Sections []Section
	// AccessFiles are folders exported with the document: @id and @email as Sections.
	AccessFiles []FileQuery
	// Others takes @id and @texts (text[]) and returns the strings (e-mail addresses,
	// names) of other people that occur in the texts, which the export redacts.
	Others string
	// Erasure removes or anonymizes everything Sections export.
	Erasure Erasure
	// Rectify says which fields of the account may be corrected, and how.
	Rectify Rectification
}

// Protection of an account that refuses data-subject requests.
type Protection string

const (
	// ProtectedSystemUser is an account the application itself relies on.
	ProtectedSystemUser Protection = "SystemUser"
	// ProtectedAdministrator is an administrator; another administrator must demote it first.
	ProtectedAdministrator Protection = "Administrator"
	// ProtectedLastAdministrator is the only administrator.
	ProtectedLastAdministrator Protection = "LastAdministrator"
)

// Section is one part of the access export.
type Section struct {
	Name string
	SQL  string
}

// FileQuery returns (one bigint[] row) the ids whose folders of Set belong in the export.
type FileQuery struct {
	Set string
	SQL string
}

// Erasure is one transaction: Remove runs with @ids holding the account id (empty
// without an account), then Scrub with @email and @name (NULL without an account)
// removes the subject's address and name wherever else they were written. Files of
// Remove go after the commit.
type Erasure struct {
	Remove Work
	Scrub  []Statement
}

// Rectification updates allowed fields of the subject's account.
type Rectification struct {
	// Table and Key identify the account row (Key = @id).
	Table string
	Key   string
	// Fields are the columns a request may set, with their rules.
	Fields map[string]Field
	// After runs with @id once the fields are set, to refresh copies (cached names).
	After []Statement
}

// Field is the rule for one rectifiable column.
type Field struct {
	// MaxLength in characters; values must also be free of control characters.
	MaxLength int
	// Required refuses an empty value.
	Required bool
	// Email requires one plausible e-mail address.
	Email bool
}

// RetentionFor returns the retention data of app.
func RetentionFor(app v1alpha1.AppProfile) (Retention, error) {
	switch app {
	case v1alpha1.AppProfileHelpy, "":
		return helpyRetention(), nil
	default:
		return Retention{}, fmt.Errorf("unknown app profile %q: retention supports %q", app, v1alpha1.AppProfileHelpy)
	}
}

// FileSet returns the file set called name.
func (r Retention) FileSet(name string) (FileSet, bool) {
	for _, s := range r.FileSets {
		if s.Name == name {
			return s, true
		}
	}
	return FileSet{}, false
}

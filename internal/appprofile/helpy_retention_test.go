package appprofile

import (
	"context"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var allClasses = []v1alpha1.DataClass{v1alpha1.DataClassClosedTickets, v1alpha1.DataClassAllTickets,
	v1alpha1.DataClassAttachments, v1alpha1.DataClassInactiveCustomers, v1alpha1.DataClassLogs}

// namedArgs lists the @names SQL uses, outside string literals.
func namedArgs(sql string) []string {
	unquoted := regexp.MustCompile(`'(?:[^']|'')*'`).ReplaceAllString(sql, "''")
	var out []string
	for _, m := range regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(unquoted, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// profileSQL is every SQL text of a Retention with the named arguments it may use.
type profileSQL struct {
	where   string
	sql     string
	allowed []string
}

func collectSQL(r Retention) []profileSQL {
	var out []profileSQL
	work := func(where string, w Work, base ...string) {
		names := append([]string{"ids"}, base...)
		for _, x := range w.Expansions {
			out = append(out, profileSQL{where + " expansion " + x.Name, x.SQL, slices.Clone(names)})
			names = append(names, x.Name)
		}
		for i, st := range w.Statements {
			out = append(out, profileSQL{where + " statement " + string(rune('1'+i)) + " " + st.Table, st.SQL, names})
		}
	}
	for class, c := range r.Classes {
		for action, plan := range c.Actions {
			for _, sw := range plan.Sweeps {
				where := string(class) + ":" + string(action) + " " + sw.Records
				out = append(out, profileSQL{where + " candidates", sw.Candidates, []string{"after", "cutoff", "limit"}})
				work(where, sw.Work)
			}
		}
	}
	for _, fs := range r.FileSets {
		out = append(out, profileSQL{"file set " + fs.Name, fs.Live, []string{"ids"}})
	}
	s := r.Subject
	out = append(out, profileSQL{"subject lookup", s.Lookup, []string{"email"}}, profileSQL{"subject others", s.Others, []string{"id", "texts"}})
	for _, sec := range s.Sections {
		out = append(out, profileSQL{"access section " + sec.Name, sec.SQL, []string{"email", "id"}})
	}
	for _, f := range s.AccessFiles {
		out = append(out, profileSQL{"access files " + f.Set, f.SQL, []string{"email", "id"}})
	}
	work("erasure", s.Erasure.Remove)
	for _, st := range s.Erasure.Scrub {
		out = append(out, profileSQL{"erasure scrub " + st.Table, st.SQL, []string{"email", "name"}})
	}
	for _, st := range s.Rectify.After {
		out = append(out, profileSQL{"rectification after " + st.Table, st.SQL, []string{"id"}})
	}
	return out
}

func TestHelpyRetentionCoversEveryClassOnce(t *testing.T) {
	r, err := RetentionFor(v1alpha1.AppProfileHelpy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RetentionFor("Zammad"); err == nil {
		t.Error("an unknown profile must be refused")
	}
	for _, c := range allClasses {
		_, supported := r.Classes[c]
		_, refused := r.Unsupported[c]
		if supported == refused {
			t.Errorf("%s: supported %v, refused %v: a class must be exactly one of them", c, supported, refused)
		}
		if supported && !slices.Contains(r.Order, c) {
			t.Errorf("%s is missing from the run order", c)
		}
		if supported && r.Classes[c].Meaning == "" {
			t.Errorf("%s has no meaning for people", c)
		}
	}
	for _, c := range []v1alpha1.DataClass{v1alpha1.DataClassAttachments, v1alpha1.DataClassLogs} {
		if _, ok := r.Classes[c].Actions[v1alpha1.RetentionActionAnonymize]; ok {
			t.Errorf("%s offers Anonymize, which the API forbids", c)
		}
	}
	// Attachments clear parts of posts that ticket classes then remove: it runs first.
	if slices.Index(r.Order, v1alpha1.DataClassAttachments) > slices.Index(r.Order, v1alpha1.DataClassClosedTickets) {
		t.Error("Attachments must run before the ticket classes")
	}
}

// Every sweep selects by primary key after @after, bounded by @limit, and locks its
// candidates without waiting; every SQL uses only the arguments its step provides; every
// file reference names a file set and an id list of its step.
func TestHelpyRetentionSQLIsShapedForTheEngine(t *testing.T) {
	r := helpyRetention()
	for class, c := range r.Classes {
		for action, plan := range c.Actions {
			for _, sw := range plan.Sweeps {
				where := string(class) + ":" + string(action) + " " + sw.Records
				for _, must := range []string{"@after", "@limit", "@cutoff", "ORDER BY", "FOR UPDATE", "SKIP LOCKED"} {
					if !strings.Contains(sw.Candidates, must) {
						t.Errorf("%s: the candidate query lacks %s", where, must)
					}
				}
				lists := []string{"ids"}
				for _, x := range sw.Expansions {
					lists = append(lists, x.Name)
				}
				for _, f := range sw.Files {
					if _, ok := r.FileSet(f.Set); !ok || !slices.Contains(lists, f.IDs) {
						t.Errorf("%s: file reference %+v", where, f)
					}
				}
				if action == v1alpha1.RetentionActionAnonymize && !strings.Contains(sw.Candidates, "NOT") && !strings.Contains(sw.Candidates, "<>") {
					t.Errorf("%s: Anonymize candidates must leave out what is already anonymized", where)
				}
			}
		}
	}
	for _, s := range collectSQL(r) {
		for _, name := range namedArgs(s.sql) {
			if !slices.Contains(s.allowed, name) {
				t.Errorf("%s uses @%s; it may use %v", s.where, name, s.allowed)
			}
		}
	}
	for f, rule := range r.Subject.Rectify.Fields {
		if rule.MaxLength <= 0 || slices.Contains([]string{"id", "role", "admin", "encrypted_password"}, f) {
			t.Errorf("rectifiable field %s: %+v", f, rule)
		}
	}
}

// Every SQL text of the profile is prepared by a real PostgreSQL against Helpy's schema
// (testdata/helpy_retention_schema.sql): columns, tables and argument types all resolve.
func TestHelpyRetentionSQLPreparesAgainstHelpysSchema(t *testing.T) {
	srv := postgres.Start(t)
	srv.CreateDatabase(t, "helpy")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.DSN("helpy"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ddl, err := os.ReadFile("testdata/helpy_retention_schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, string(ddl)); err != nil {
		t.Fatal(err)
	}
	for _, ix := range helpyRetention().Indexes {
		if !strings.HasPrefix(ix.Name, "helpdesk_retention_") {
			t.Errorf("index %s lacks the operator's prefix", ix.Name)
		}
		cols := make([]string, len(ix.Columns))
		for i, c := range ix.Columns {
			cols[i] = pgx.Identifier{c}.Sanitize()
		}
		if _, err := conn.Exec(ctx, "CREATE INDEX "+pgx.Identifier{ix.Name}.Sanitize()+" ON "+pgx.Identifier{ix.Table}.Sanitize()+" ("+strings.Join(cols, ", ")+")"); err != nil {
			t.Errorf("index %s: %v", ix.Name, err)
		}
	}
	for i, s := range collectSQL(helpyRetention()) {
		args := pgx.NamedArgs{}
		for _, name := range namedArgs(s.sql) {
			args[name] = 0
		}
		sql, _, err := args.RewriteQuery(ctx, conn, s.sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", s.where, err)
		}
		if _, err := conn.Prepare(ctx, "check"+string(rune('a'+i%26))+strings.Repeat("x", i/26), sql); err != nil {
			t.Errorf("%s does not prepare: %v\n%s", s.where, err, s.sql)
		}
	}
}

package dsr

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privatedesk/helpdesk-operator/api/v1alpha1"
	"github.com/privatedesk/helpdesk-operator/internal/appprofile"
	"github.com/privatedesk/helpdesk-operator/internal/retention"
	hd "github.com/privatedesk/helpdesk-operator/internal/testsupport/helpydata"
	"github.com/privatedesk/helpdesk-operator/internal/testsupport/postgres"
)

var pgSrv *postgres.Server

func TestMain(m *testing.M) {
	os.Exit(func() int {
		srv, stop, err := postgres.StartMain()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		pgSrv = srv
		return m.Run()
	}())
}

func profile(t *testing.T) appprofile.Retention {
	t.Helper()
	p, err := appprofile.RetentionFor(v1alpha1.AppProfileHelpy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func request(t *testing.T, f *hd.Fixture, req Request) *Result {
	t.Helper()
	req.AttachmentsDir, req.Now = f.Dir, hd.Now
	return Run(hd.Ctx(t), f.Conn, profile(t), req)
}

// archive is an unpacked access export.
type archive struct {
	raw   []byte
	doc   Document
	names []string
	files map[string][]byte
}

func unpack(t *testing.T, raw []byte) archive {
	t.Helper()
	a := archive{raw: raw, files: map[string][]byte{}}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		a.names = append(a.names, h.Name)
		a.files[h.Name] = b
	}
	if len(a.names) == 0 || a.names[0] != DocumentName {
		t.Fatalf("the archive does not start with %s: %v", DocumentName, a.names)
	}
	if err := json.Unmarshal(a.files[DocumentName], &a.doc); err != nil {
		t.Fatal(err)
	}
	return a
}

func ids(records []any, key string) []int64 {
	var out []int64
	for _, r := range records {
		out = append(out, int64(r.(map[string]any)[key].(float64)))
	}
	slices.Sort(out)
	return out
}

func containsFold(haystack []byte, needle string) bool {
	return bytes.Contains(bytes.ToLower(haystack), bytes.ToLower([]byte(needle)))
}

// The export holds every record of the subject (account, tickets, every message of their
// tickets and every message that names them as a recipient, votes, keys, settings,
// search entries, uploads, exports and import logs that name them) and their files, and
// nothing that identifies anyone else: no other account's name or address appears
// anywhere in the archive. The database is not changed.
func TestAccessExportsEverythingOfTheSubjectAndNobodyElse(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	d := f.Data
	greta := d.User(hd.SubjectID)
	before := f.State(t)
	var out bytes.Buffer
	res := request(t, f, Request{Type: Access, Subject: strings.ToUpper(greta.Email[:1]) + greta.Email[1:], Output: &out})
	if res.Result != Succeeded || !res.AccountFound {
		t.Fatalf("result %+v", res)
	}
	f.AssertUnchanged(t, before, "an access request")
	a := unpack(t, out.Bytes())
	if res.Bytes != int64(out.Len()) {
		t.Errorf("result says %d bytes, the archive has %d", res.Bytes, out.Len())
	}

	// What must be in it, computed from the data set.
	var wantTickets, wantPosts []int64
	own := map[int64]bool{}
	for _, tp := range d.Topics {
		if tp.UserID == hd.SubjectID {
			wantTickets = append(wantTickets, tp.ID)
			own[tp.ID] = true
		}
	}
	wantFiles := []string{"files/user/profile_image/9/portrait.png", "files/user/profile_image/9/thumb_portrait.png"}
	for _, p := range d.Posts {
		addressed := strings.Contains(strings.ToLower(p.CC+p.BCC+p.RawEmail+p.EmailTo), greta.Email)
		if own[p.TopicID] || p.UserID == hd.SubjectID || addressed {
			wantPosts = append(wantPosts, p.ID)
			for _, name := range p.Attachments {
				wantFiles = append(wantFiles, fmt.Sprintf("files/post/attachments/%d/%s", p.ID, name))
			}
		}
	}
	slices.Sort(wantFiles)
	s := a.doc.Sections
	if got := ids(s["tickets"], "id"); !slices.Equal(got, wantTickets) {
		t.Errorf("tickets %v, want %v", got, wantTickets)
	}
	if got := ids(s["messages"], "id"); !slices.Equal(got, wantPosts) {
		t.Errorf("messages %v, want %v", got, wantPosts)
	}
	uploads, flags := 0, 0
	for _, u := range d.Attachinary {
		if (u.OwnerType == "User" && u.OwnerID == hd.SubjectID) || (u.OwnerType == "Topic" && own[u.OwnerID]) ||
			(u.OwnerType == "Post" && slices.ContainsFunc(d.Posts, func(p hd.Post) bool { return p.ID == u.OwnerID && p.UserID == hd.SubjectID })) {
			uploads++
		}
	}
	for _, fl := range d.Flags {
		if slices.ContainsFunc(d.Posts, func(p hd.Post) bool { return p.ID == fl.PostID && p.UserID == hd.SubjectID }) {
			flags++
		}
	}
	for name, n := range map[string]int{"account": 1, "votes": 1, "apiKeys": 1, "settings": 1, "searchEntries": 1, "remoteUploads": uploads,
		"flagsOnYourMessages": flags, "exportsContainingYou": 1, "importLogsContainingYou": 1, "assignedTickets": 0, "documentsWritten": 0} {
		if len(s[name]) != n || res.Records[name] != int64(n) {
			t.Errorf("section %s has %d records (result says %d), want %d", name, len(s[name]), res.Records[name], n)
		}
	}
	if acct := s["account"][0].(map[string]any); acct["email"] != greta.Email || acct["name"] != greta.Name || acct["encrypted_password"] != nil {
		t.Errorf("account section: %v", acct)
	}
	var gotFiles []string
	for _, n := range a.names[1:] {
		gotFiles = append(gotFiles, n)
		disk, err := os.ReadFile(filepath.Join(f.Dir, strings.TrimPrefix(n, "files/")))
		if err != nil || !bytes.Equal(disk, a.files[n]) {
			t.Errorf("%s differs from the file on disk (%v)", n, err)
		}
	}
	slices.Sort(gotFiles)
	if !slices.Equal(gotFiles, wantFiles) || len(a.doc.Files) != len(wantFiles) || res.Files != int64(len(wantFiles)) {
		t.Errorf("files %v (document lists %d, result %d), want %v", gotFiles, len(a.doc.Files), res.Files, wantFiles)
	}
	for _, want := range []string{greta.Email, greta.Name, "Invoice question", "Delivery delayed", "Prefers e-mail."} {
		if !containsFold(a.raw, want) {
			t.Errorf("the export lacks %q", want)
		}
	}
	// Nobody else: every other account's name and address, and the API token. The
	// system user is the application, no person; its name is an ordinary word.
	for _, u := range d.Users {
		if u.ID == hd.SubjectID || u.ID == hd.SystemUserID {
			continue
		}
		for _, leak := range []string{u.Email, u.Name} {
			if containsFold(a.raw, leak) {
				t.Errorf("the export names %q, another account", leak)
			}
		}
	}
	if containsFold(a.raw, "tok-greta-0001") {
		t.Error("the export carries the API token")
	}
	if res.Redacted == 0 || a.doc.Redactions != res.Redacted {
		t.Errorf("%d redactions (document %d): the data set names others in the subject's texts", res.Redacted, a.doc.Redactions)
	}
	if line, _ := json.Marshal(res); containsFold(line, greta.Email) || containsFold(line, greta.Name) {
		t.Errorf("the result line names the subject: %s", line)
	}
}

// After erasure no text column of any table (found through the catalog, so a forgotten
// column counts too) holds the subject's address or name; exactly their records and the
// texts that named them changed, and their files are gone.
func TestErasureLeavesNoTraceOfTheSubject(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	greta := f.Data.User(hd.SubjectID)
	for _, needle := range []string{greta.Email, greta.Name} {
		if found, err := hd.FindText(hd.Ctx(t), f.Conn, needle); err != nil || len(found) < 10 {
			t.Fatalf("before erasure %q is in %d places (%v): the data set does not test erasure", needle, len(found), err)
		}
	}
	want := f.Data.EraseSubject(hd.SubjectID)
	before := f.State(t)
	beforeMasked := f.Snapshot(t, want.MayChange)
	res := request(t, f, Request{Type: Erasure, Subject: greta.Email})
	if res.Result != Succeeded || !res.AccountFound || res.Records["users"] == 0 || res.Files != int64(len(want.Files)) {
		t.Fatalf("result %+v", res)
	}
	for _, needle := range []string{greta.Email, greta.Name} {
		found, err := hd.FindText(hd.Ctx(t), f.Conn, needle)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > 0 {
			t.Errorf("after erasure %q is still in %+v", needle, found)
		}
	}
	f.AssertChanges(t, before, beforeMasked, want)
	// Nor is anything they wrote left, in caches and search entries either.
	for _, p := range f.Data.Posts {
		if p.UserID != hd.SubjectID {
			continue
		}
		if found, err := hd.FindText(hd.Ctx(t), f.Conn, p.Body); err != nil || len(found) > 0 {
			t.Errorf("after erasure their message %d is still in %+v (%v)", p.ID, found, err)
		}
	}
	if line, _ := json.Marshal(res); containsFold(line, greta.Email) || containsFold(line, greta.Name) {
		t.Errorf("the result line names the subject: %s", line)
	}
}

// An address with no account is still erased from the messages that name it.
func TestErasureOfAnAddressWithoutAccount(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	post := f.Data.Posts[0].ID
	f.Exec(t, `UPDATE posts SET cc = 'Walter Nobody <walter.nobody@example.com>, carla.recent@example.net' WHERE id = $1`, post)
	res := request(t, f, Request{Type: Erasure, Subject: "walter.nobody@example.com"})
	if res.Result != Succeeded || res.AccountFound || res.Records["posts"] != 1 {
		t.Fatalf("result %+v", res)
	}
	var cc string
	if err := f.Conn.QueryRow(hd.Ctx(t), `SELECT cc FROM posts WHERE id = $1`, post).Scan(&cc); err != nil {
		t.Fatal(err)
	}
	if cc != " carla.recent@example.net" {
		t.Errorf("cc is %q: only the erased address should have gone", cc)
	}
}

// Rectification sets allowed fields and the copies Helpy keeps of them, and nothing
// else; disallowed fields and bad values are refused without changing anything and
// without repeating the value.
func TestRectification(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	greta := f.Data.User(hd.SubjectID)
	before := f.State(t)
	for _, c := range []struct {
		set    map[string]string
		reason retention.Reason
	}{
		{map[string]string{"role": "admin"}, retention.ReasonInvalidRequest},
		{map[string]string{"name": "  "}, retention.ReasonInvalidRequest},
		{map[string]string{"email": "not an address SECRETVALUE"}, retention.ReasonInvalidRequest},
		{map[string]string{"company": strings.Repeat("SECRETVALUE", 30)}, retention.ReasonInvalidRequest},
		{map[string]string{"city": "Berlin\x00SECRETVALUE"}, retention.ReasonInvalidRequest},
		{map[string]string{"email": f.Data.User(hd.CopiedID).Email}, retention.ReasonConstraintViolation},
		{nil, retention.ReasonInvalidRequest},
	} {
		res := request(t, f, Request{Type: Rectification, Subject: greta.Email, Set: c.set})
		if res.Result != Failed || res.Reason != c.reason {
			t.Errorf("set %v: %s %s %s, want Failed %s", c.set, res.Result, res.Reason, res.Error, c.reason)
		}
		if strings.Contains(res.Error, "SECRETVALUE") || strings.Contains(res.Error, "example.net") {
			t.Errorf("the error repeats the value: %s", res.Error)
		}
	}
	f.AssertUnchanged(t, before, "refused rectifications")

	var ticketIDs []int64
	for _, tp := range f.Data.Topics {
		if tp.UserID == hd.SubjectID {
			ticketIDs = append(ticketIDs, tp.ID)
		}
	}
	want := &hd.Expect{Updated: map[string][]int64{"users": {hd.SubjectID}, "topics": ticketIDs},
		MayChange: map[string][]string{"users": {"name", "email", "work_phone"}, "topics": {"user_name"}}}
	beforeMasked := f.Snapshot(t, want.MayChange)
	res := request(t, f, Request{Type: Rectification, Subject: greta.Email,
		Set: map[string]string{"name": "Greta Corrected", "email": "greta.new@example.net", "work_phone": "+49 30 1"}})
	if res.Result != Succeeded || !slices.Equal(res.Fields, []string{"email", "name", "work_phone"}) || res.Records["topics"] != int64(len(ticketIDs)) {
		t.Fatalf("result %+v", res)
	}
	f.AssertChanges(t, before, beforeMasked, want)
	var name, email, phone, userName string
	if err := f.Conn.QueryRow(hd.Ctx(t), `SELECT u.name, u.email, u.work_phone, t.user_name FROM users u JOIN topics t ON t.user_id = u.id WHERE u.id = $1 LIMIT 1`,
		hd.SubjectID).Scan(&name, &email, &phone, &userName); err != nil {
		t.Fatal(err)
	}
	if name != "Greta Corrected" || email != "greta.new@example.net" || phone != "+49 30 1" || userName != name {
		t.Errorf("after rectification: %q %q %q, ticket owner name %q", name, email, phone, userName)
	}
}

// The system user, an administrator and the last administrator are refused for every
// request type with a reason, and nothing is changed or exported.
func TestProtectedAccountsAreRefused(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	admin := f.Data.User(hd.AdminID)
	check := func(email string, want appprofile.Protection) {
		t.Helper()
		before := f.State(t)
		for _, typ := range []Type{Access, Erasure, Rectification} {
			var out bytes.Buffer
			req := Request{Type: typ, Subject: email, Output: &out}
			if typ == Rectification {
				req.Set = map[string]string{"name": "Changed"}
			}
			res := request(t, f, req)
			if res.Result != Refused || res.Reason != retention.ReasonRefused || res.Protection != want || res.Error == "" {
				t.Errorf("%s of %s: %s %s %s %q, want Refused %s", typ, want, res.Result, res.Reason, res.Protection, res.Error, want)
			}
			if out.Len() > 0 {
				t.Errorf("%s of %s wrote %d bytes of export", typ, want, out.Len())
			}
		}
		f.AssertUnchanged(t, before, "refused requests")
	}
	check("system@test.com", appprofile.ProtectedSystemUser)
	check(admin.Email, appprofile.ProtectedAdministrator)
	// The other administrator becomes an agent: now Ada is the last one.
	f.Exec(t, `UPDATE users SET role = 'agent', admin = false WHERE id = $1`, hd.SecondAdmin)
	check(admin.Email, appprofile.ProtectedLastAdministrator)
}

func TestInvalidRequests(t *testing.T) {
	f := hd.NewFixture(t, pgSrv)
	before := f.State(t)
	for _, req := range []Request{
		{Type: Access, Subject: "Greta <greta.subject@example.net>", Output: io.Discard},
		{Type: Access, Subject: "greta.subject", Output: io.Discard},
		{Type: Erasure, Subject: "a@example.net, b@example.net"},
		{Type: "Portability", Subject: "greta.subject@example.net"},
		{Type: Erasure, Subject: "greta.subject@example.net", Set: map[string]string{"name": "x"}},
	} {
		if res := request(t, f, req); res.Result != Failed || res.Reason != retention.ReasonInvalidRequest {
			t.Errorf("%s %q: %s %s", req.Type, req.Subject, res.Result, res.Reason)
		}
	}
	f.AssertUnchanged(t, before, "invalid requests")
}

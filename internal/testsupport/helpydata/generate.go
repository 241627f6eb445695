package helpydata

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// customerSpec shapes one generated customer: when the account was created, when they
// were last active, and how many tickets they opened in between.
type customerSpec struct {
	id            int64
	name          string
	created, last int // days ago
	tickets       int
	signIn        int // days ago of the last sign-in; 0: never
	profileImage  bool
}

// The customers. Names are unique and none contains another, so tests can search for
// each one; ages spread around the 365 and 730 day ages the tests use.
var customers = []customerSpec{
	{id: 6, name: "Carla Recent", created: 700, last: 5, tickets: 3, signIn: 5},
	{id: 7, name: "Dieter Dormant", created: 1500, last: 800, tickets: 3},
	{id: CopiedID, name: "Frank Copied", created: 600, last: 20, tickets: 2, signIn: 20},
	{id: SubjectID, name: "Greta Subject", created: 1000, last: 3, tickets: 0, signIn: 3, profileImage: true},
	{id: 10, name: "Erika Ancient", created: 1400, last: 1400, tickets: 0, profileImage: true},
	{id: 11, name: "Hans Quiet", created: 900, last: 500, tickets: 2, signIn: 500},
	{id: 12, name: "Ines Fresh", created: 10, last: 2, tickets: 1, signIn: 2},
	{id: 13, name: "Jonas Legacy", created: 2000, last: 1200, tickets: 3},
	{id: 14, name: "Karin Trash", created: 400, last: 390, tickets: 2},
	{id: 15, name: "Lukas Spam", created: 300, last: 300, tickets: 2},
	{id: 16, name: "Mona Active", created: 1200, last: 1100, tickets: 1, signIn: 10},
	{id: 17, name: "Nils Forgotten", created: 1600, last: 1600, tickets: 1, profileImage: true},
}

func email(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.net"
}

// generator builds a Data with ids assigned in insertion order.
type generator struct {
	d   *Data
	rng *rand.Rand
	ids map[string]int64
}

func (g *generator) next(table string) int64 {
	g.ids[table]++
	return g.ids[table]
}

func (g *generator) pick(n int) int { return g.rng.IntN(n) }

// Generate returns the data set; the same every time.
func Generate() *Data {
	// A fixed seed: the same data set every time.
	g := &generator{d: &Data{}, rng: rand.New(rand.NewPCG(10, 2026)), ids: map[string]int64{}} //nolint:gosec // G404: test data, not secrets
	g.staff()
	for _, c := range customers {
		g.customer(c)
	}
	g.subjectScenario()
	for _, c := range customers {
		for i := 0; i < c.tickets; i++ {
			g.ticket(c)
		}
	}
	g.extras()
	g.finish()
	return g.d
}

func (g *generator) staff() {
	old := DaysAgo(2000)
	add := func(name, role string, admin bool, updated int) {
		id := g.next("users")
		ts := DaysAgo(updated)
		g.d.Users = append(g.d.Users, User{ID: id, Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.org",
			Login: strings.ToLower(strings.Fields(name)[0]), Role: role, Admin: admin, CreatedAt: old, UpdatedAt: ts, LastSignIn: &ts, SignInIP: "10.0.0.1"})
	}
	// Staff and the system user are all long inactive: InactiveCustomers must still
	// leave them alone.
	add("Ada Admin", "admin", true, 1500)
	g.d.Users = append(g.d.Users, User{ID: g.next("users"), Name: "System", Email: "system@test.com", Login: "system", Role: "user",
		CreatedAt: old, UpdatedAt: old})
	add("Alan Agent", "agent", false, 1000)
	add("Edith Editor", "editor", false, 900)
	add("Bea Boss", "admin", false, 30)
	g.d.Forums = []Forum{{ID: ForumTickets, Name: "Private Tickets", Private: true}, {ID: ForumTrash, Name: "Trash", Private: true},
		{ID: ForumCommunity, Name: "Community"}}
	g.d.Tags = []Tag{{ID: 1, Name: "billing"}, {ID: 2, Name: "sales"}, {ID: 3, Name: "tier_one"}}
	g.ids["tags"] = 3
	// The agent belongs to a team.
	g.d.Taggings = append(g.d.Taggings, Tagging{ID: g.next("taggings"), TagID: 3, TaggableID: AgentID, TaggableType: "User", Context: "teams"})
}

func (g *generator) customer(c customerSpec) {
	id := g.next("users")
	if id != c.id {
		panic(fmt.Sprintf("helpydata: customer %s got id %d, want %d", c.name, id, c.id))
	}
	u := User{ID: id, Name: c.name, Email: email(c.name), Login: strings.ToLower(strings.Fields(c.name)[0]), Role: "user",
		Company: "Company of customer " + fmt.Sprint(id), Phone: fmt.Sprintf("+49 30 %07d", id*1111),
		CreatedAt: DaysAgo(c.created), UpdatedAt: DaysAgo(c.last), SignInIP: fmt.Sprintf("192.0.2.%d", id)}
	if c.signIn > 0 {
		t := DaysAgo(c.signIn)
		u.LastSignIn = &t
	}
	if c.profileImage {
		u.ProfileImage = "portrait.png"
	}
	g.d.Users = append(g.d.Users, u)
}

// otherCustomer picks a customer other than id.
func (g *generator) otherCustomer(id int64) User {
	for {
		c := customers[g.pick(len(customers))]
		if c.id != id {
			return g.d.User(c.id)
		}
	}
}

func between(olderDays, newerDays int, r *rand.Rand) int {
	if olderDays <= newerDays {
		return newerDays
	}
	return newerDays + r.IntN(olderDays-newerDays+1)
}

var statuses = []string{"new", "open", "pending", "closed", "closed", "trash", "spam"}

// ticket generates one ticket of customer c, with posts, inside c's active period.
func (g *generator) ticket(c customerSpec) {
	created := between(c.created, c.last, g.rng)
	lastPost := between(created, c.last, g.rng)
	status := statuses[g.pick(len(statuses))]
	if c.name == "Lukas Spam" {
		status = "spam"
	}
	if c.name == "Karin Trash" {
		status = "trash"
	}
	forum := int64(ForumTickets)
	switch {
	case status == "trash":
		forum = ForumTrash
	case g.pick(4) == 0:
		forum = ForumCommunity
	}
	t := g.addTopic(c.id, forum, fmt.Sprintf("Order %d problem", 1000+g.ids["topics"]+1), status, created, lastPost)
	n := 1 + g.pick(4)
	for i := 0; i < n; i++ {
		day := created - (created-lastPost)*i/max(n-1, 1)
		if i == 0 {
			g.customerPost(t, c.id, "first", day)
			continue
		}
		switch g.pick(3) {
		case 0:
			g.customerPost(t, c.id, "reply", day)
		case 1:
			g.staffPost(t, AgentID, "reply", day)
		default:
			g.staffPost(t, AgentID, "note", day)
		}
	}
}

// addTopic adds a topic; closed and trashed ones are closed at their last post.
func (g *generator) addTopic(owner, forum int64, name, status string, createdDays, lastPostDays int) *Topic {
	t := Topic{ID: g.next("topics"), ForumID: forum, UserID: owner, Name: name, Status: status, Private: forum != ForumCommunity,
		CreatedAt: DaysAgo(createdDays), UpdatedAt: DaysAgo(lastPostDays), LastPostDate: DaysAgo(lastPostDays),
		SpamReport: ""}
	if status == "closed" || status == "trash" {
		cd := DaysAgo(lastPostDays)
		t.ClosedDate = &cd
	}
	if status == "spam" {
		t.SpamReport = "score 9.1 for topic " + fmt.Sprint(t.ID)
	}
	if g.pick(2) == 0 {
		t.AssignedID = AgentID
	}
	g.d.Topics = append(g.d.Topics, t)
	return &g.d.Topics[len(g.d.Topics)-1]
}

// customerPost adds a post a customer wrote by e-mail: raw e-mail, sometimes a cc.
func (g *generator) customerPost(t *Topic, author int64, kind string, day int) *Post {
	u := g.d.User(author)
	p := g.addPost(t, author, kind, day, fmt.Sprintf("Message about order %d, part %d.", t.ID, g.ids["posts"]+1))
	headers := "From: " + u.Name + " <" + u.Email + ">\r\nTo: support@helpdesk.example\r\n"
	if g.pick(3) == 0 {
		o := g.otherCustomer(author)
		p.CC = o.Name + " <" + o.Email + ">"
		headers += "Cc: " + p.CC + "\r\n"
	}
	p.RawEmail = headers + "Subject: " + t.Name + "\r\n\r\n" + p.Body
	p.EmailTo = "support@helpdesk.example"
	return p
}

// staffPost adds an agent's reply or note, signed with the agent's name; replies
// sometimes blind-copy another customer.
func (g *generator) staffPost(t *Topic, author int64, kind string, day int) *Post {
	p := g.addPost(t, author, kind, day, fmt.Sprintf("We are looking into order %d.\n-- %s", t.ID, g.d.User(author).Name))
	if kind == "reply" && g.pick(4) == 0 {
		p.BCC = g.otherCustomer(t.UserID).Email
	}
	return p
}

func (g *generator) addPost(t *Topic, author int64, kind string, day int, body string) *Post {
	p := Post{ID: g.next("posts"), TopicID: t.ID, UserID: author, Kind: kind, Body: body, CreatedAt: DaysAgo(day)}
	if g.pick(3) == 0 {
		p.Attachments = []string{fmt.Sprintf("scan-%d.pdf", p.ID)}
		if g.pick(2) == 0 {
			p.Attachments = append(p.Attachments, "photo.jpg")
		}
	}
	g.d.Posts = append(g.d.Posts, p)
	return &g.d.Posts[len(g.d.Posts)-1]
}

// subjectScenario gives the data-subject (Greta) everything a request must find: old
// and new tickets, a public one, posts in someone else's ticket, copies in other
// people's messages, a vote, a flag, an API key, settings, an avatar, notes of another
// account that name her, and Frank's ticket she takes part in.
func (g *generator) subjectScenario() {
	greta, frank := g.d.User(SubjectID), g.d.User(CopiedID)
	old := g.addTopic(SubjectID, ForumTickets, "Invoice question", "closed", 900, 800)
	g.customerPost(old, SubjectID, "first", 900)
	g.staffPost(old, AgentID, "reply", 850)
	g.customerPost(old, SubjectID, "reply", 800).Attachments = []string{"invoice-copy.pdf"}

	recent := g.addTopic(SubjectID, ForumTickets, "Delivery delayed", "open", 30, 3)
	g.customerPost(recent, SubjectID, "first", 30)
	g.staffPost(recent, AgentID, "note", 20)
	g.staffPost(recent, AgentID, "reply", 10)
	g.customerPost(recent, SubjectID, "reply", 3)

	public := g.addTopic(SubjectID, ForumCommunity, "How do I export my data?", "open", 200, 100)
	g.customerPost(public, SubjectID, "first", 200)
	answer := g.staffPost(public, AgentID, "reply", 100)

	// Frank's ticket, where Frank copies Greta in and names her, and Greta answers.
	fr := g.addTopic(CopiedID, ForumTickets, "Shared account access", "pending", 60, 15)
	p := g.customerPost(fr, CopiedID, "first", 60)
	p.CC = greta.Name + " <" + greta.Email + ">"
	p.Body = "Please also answer my colleague " + greta.Name + " (" + greta.Email + ")."
	p.RawEmail = "From: " + frank.Name + " <" + frank.Email + ">\r\nTo: support@helpdesk.example\r\nCc: " + p.CC +
		"\r\nSubject: " + fr.Name + "\r\n\r\n" + p.Body
	reply := g.staffPost(fr, AgentID, "reply", 40)
	reply.BCC = greta.Email + ", " + g.d.User(11).Email
	mine := g.customerPost(fr, SubjectID, "reply", 15)
	mine.Attachments = []string{"signature-page.pdf"}

	g.d.Votes = append(g.d.Votes,
		Vote{ID: g.next("votes"), UserID: SubjectID, VoteableType: "Post", VoteableID: answer.ID, CreatedAt: DaysAgo(99)},
		Vote{ID: g.next("votes"), UserID: CopiedID, VoteableType: "Topic", VoteableID: public.ID, CreatedAt: DaysAgo(98)})
	g.d.Flags = append(g.d.Flags, Flag{ID: g.next("flags"), PostID: mine.ID, Reason: "Flagged by " + frank.Name, CreatedAt: DaysAgo(14)})
	g.d.APIKeys = append(g.d.APIKeys, APIKey{ID: g.next("api_keys"), UserID: SubjectID, Token: "tok-greta-0001", Name: "Greta's script", CreatedAt: DaysAgo(50)})
	g.d.Settings = append(g.d.Settings, Setting{ID: g.next("settings"), UserID: SubjectID, Var: "notify_on_reply", Value: "--- true\n"})
	g.d.Attachinary = append(g.d.Attachinary, Attachinary{ID: g.next("attachinary_files"), OwnerType: "User", OwnerID: SubjectID, CreatedAt: DaysAgo(999)})
	for i := range g.d.Users {
		switch g.d.Users[i].ID {
		case CopiedID:
			g.d.Users[i].Notes = "Works with " + greta.Name + "; invoices go to " + greta.Email
		case SubjectID:
			g.d.Users[i].Notes = "Prefers e-mail."
			g.d.Users[i].Bio = "Logistics lead."
		}
	}
}

// extras adds the rows that hang off the generated tickets: votes, flags, tags, search
// entries, uploads, settings, keys, docs, exports and imports.
func (g *generator) extras() {
	for i, t := range g.d.Topics {
		if i%3 == 0 {
			g.d.Taggings = append(g.d.Taggings, Tagging{ID: g.next("taggings"), TagID: int64(1 + i%2), TaggableID: t.ID, TaggableType: "Topic", Context: "tags", TaggerID: AgentID})
		}
		if t.ForumID == ForumCommunity {
			g.d.Votes = append(g.d.Votes, Vote{ID: g.next("votes"), UserID: 6, VoteableType: "Topic", VoteableID: t.ID, CreatedAt: t.CreatedAt})
		}
		if i%4 == 1 {
			g.d.Attachinary = append(g.d.Attachinary, Attachinary{ID: g.next("attachinary_files"), OwnerType: "Topic", OwnerID: t.ID, CreatedAt: t.CreatedAt})
		}
	}
	for i, p := range g.d.Posts {
		switch i % 9 {
		case 2:
			g.d.Votes = append(g.d.Votes, Vote{ID: g.next("votes"), UserID: 12, VoteableType: "Post", VoteableID: p.ID, CreatedAt: p.CreatedAt})
		case 4:
			g.d.Flags = append(g.d.Flags, Flag{ID: g.next("flags"), PostID: p.ID, Reason: "looks like spam", CreatedAt: p.CreatedAt})
		case 6:
			g.d.Attachinary = append(g.d.Attachinary, Attachinary{ID: g.next("attachinary_files"), OwnerType: "Post", OwnerID: p.ID, CreatedAt: p.CreatedAt})
		}
	}
	// A flag that generated a ticket of its own, and a knowledge-base screenshot.
	g.d.Flags = append(g.d.Flags, Flag{ID: g.next("flags"), PostID: g.d.Posts[3].ID, GeneratedTopicID: g.d.Topics[5].ID, Reason: "abusive", CreatedAt: DaysAgo(700)})
	g.d.Docs = []Doc{
		{ID: 1, UserID: EditorID, Title: "Shipping times", Body: "Orders ship in two days.", CreatedAt: DaysAgo(1500)},
		{ID: 2, UserID: AgentID, Title: "Returns", Body: "Returns within 30 days.", CreatedAt: DaysAgo(1400)},
	}
	g.d.Attachinary = append(g.d.Attachinary, Attachinary{ID: g.next("attachinary_files"), OwnerType: "Doc", OwnerID: 1, CreatedAt: DaysAgo(1500)})
	g.d.Versions = []Version{{ID: 1, ItemID: 1, Whodunnit: fmt.Sprint(EditorID)}, {ID: 2, ItemID: 2, Whodunnit: fmt.Sprint(AgentID)}}
	// A doc discussion is a community topic with doc_id.
	disc := g.addTopic(17, ForumCommunity, "Discussion on Returns", "open", 1600, 1600)
	disc.DocID = 2
	g.customerPost(disc, 17, "first", 1600)

	g.d.Settings = append(g.d.Settings,
		Setting{ID: g.next("settings"), Var: "settings.site_name", Value: "--- Helpdesk\n"},
		Setting{ID: g.next("settings"), UserID: 10, Var: "notify_on_public", Value: "--- false\n"},
		Setting{ID: g.next("settings"), UserID: AgentID, Var: "notify_on_private", Value: "--- true\n"})
	g.d.APIKeys = append(g.d.APIKeys,
		APIKey{ID: g.next("api_keys"), UserID: AdminID, Token: "tok-admin-0001", Name: "Admin automation", CreatedAt: DaysAgo(1000)},
		APIKey{ID: g.next("api_keys"), UserID: 13, Token: "tok-jonas-0001", Name: "Old integration", CreatedAt: DaysAgo(1900)})
	g.d.Attachinary = append(g.d.Attachinary, Attachinary{ID: g.next("attachinary_files"), OwnerType: "User", OwnerID: 7, CreatedAt: DaysAgo(1400)})

	// Exports: an old one of every user (so it names everyone), a recent one of docs.
	var csv strings.Builder
	csv.WriteString("id,name,email\n")
	for _, u := range g.d.Users {
		fmt.Fprintf(&csv, "%d,%s,%s\n", u.ID, u.Name, u.Email)
	}
	g.d.Backups = []Backup{
		{ID: g.next("backups"), UserID: AdminID, Model: "User", CSV: csv.String(), CreatedAt: DaysAgo(800)},
		{ID: g.next("backups"), UserID: SecondAdmin, Model: "Doc", CSV: "id,title\n1,Shipping times\n", CreatedAt: DaysAgo(10)},
	}
	g.d.Imports = []Import{
		{ID: g.next("imports"), Model: "user", ErrorLog: "---\n- name: " + g.d.User(SubjectID).Name + "\n  email: " + g.d.User(SubjectID).Email + "\n  error_message: duplicate\n", CreatedAt: DaysAgo(900)},
		{ID: g.next("imports"), Model: "user", ErrorLog: "---\n- name: " + g.d.User(6).Name + "\n  error_message: invalid\n", CreatedAt: DaysAgo(5)},
	}
}

// finish fills the caches Helpy keeps: post counts and post_cache, search entries of
// public topics, counter caches, and users' updated_at, which Helpy's touch: true moves
// with every topic and post of theirs.
func (g *generator) finish() {
	d := g.d
	for i := range d.Topics {
		t := &d.Topics[i]
		t.PostsCount, t.PostCache = 0, ""
		for _, p := range d.Posts {
			if p.TopicID != t.ID {
				continue
			}
			t.PostsCount++
			if p.Kind != "note" {
				t.PostCache += " " + p.Body
			}
		}
		if t.ForumID >= ForumCommunity && !t.Private {
			d.SearchDocs = append(d.SearchDocs, SearchDoc{ID: g.next("pg_search_documents"), TopicID: t.ID, Content: fmt.Sprintf("%d %s %s", t.ID, t.Name, t.PostCache)})
		}
		for j := range d.Forums {
			if d.Forums[j].ID == t.ForumID {
				d.Forums[j].TopicsCount++
			}
		}
		for j := range d.Docs {
			if d.Docs[j].ID == t.DocID {
				d.Docs[j].TopicsCount++
			}
		}
	}
	touch := func(id int64, ts time.Time) {
		for i := range d.Users {
			if d.Users[i].ID == id && ts.After(d.Users[i].UpdatedAt) {
				d.Users[i].UpdatedAt = ts
			}
		}
	}
	for _, t := range d.Topics {
		touch(t.UserID, t.UpdatedAt)
		for i := range d.Users {
			if d.Users[i].ID == t.UserID {
				d.Users[i].TopicsCount++
			}
		}
	}
	for _, p := range d.Posts {
		touch(p.UserID, p.CreatedAt)
	}
	for _, tg := range d.Taggings {
		for j := range d.Tags {
			if d.Tags[j].ID == tg.TagID {
				d.Tags[j].TaggingsCount++
			}
		}
	}
}

package backup

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privatedesk/helpdesk-operator/internal/backup/dest"
	"github.com/privatedesk/helpdesk-operator/internal/backup/retention"
	"github.com/privatedesk/helpdesk-operator/internal/backup/vaultage"
)

func TestInstanceFolder(t *testing.T) {
	for _, tc := range []struct {
		ns, name, want string
	}{
		{"ns", "desk", "ns/desk/"},
		{"tenant-a", "support.eu", "tenant-a/support.eu/"},
		{"", "desk", ""}, {"ns", "", ""},
		{"..", "desk", ""}, {"ns", "..", ""}, {"ns", "a/b", ""}, {"a/b", "c", ""},
		{"ns", "*", ""}, {"*", "desk", ""}, {"ns", "a..b", ""}, {"ns", ".desk", ""},
		{"ns", "Desk", ""}, {"ns.x", "desk", ""}, {"ns", "desk-", ""}, {"-ns", "desk", ""},
		{"ns", "de+sk", ""}, {"ns", "desk ", ""}, {strings.Repeat("n", 64), "desk", ""},
	} {
		got, err := Instance{tc.ns, tc.name}.Folder()
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("Folder(%q, %q) = %q, %v; want %q", tc.ns, tc.name, got, err, tc.want)
		}
	}
	// No engine operation runs for an instance that has no valid folder.
	e := &Engine{Dest: fsDest(t), Transit: vaultage.Transit{Client: vaultSrv.Client(t), Mount: "transit", Key: "k"}, Instance: Instance{"ns", "../x"}}
	if _, err := e.List(testCtx(t)); err == nil || !strings.Contains(err.Error(), "instance name") {
		t.Fatalf("list for an invalid instance name: %v", err)
	}
}

// putJSONObject stores v as object name in the instance folder of e.
func putJSONObject(t *testing.T, e *Engine, name string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := instanceDest(t, e).Put(testCtx(t), name, strings.NewReader(string(b))); err != nil {
		t.Fatal(err)
	}
}

// objectNames lists every object of d, prefix included.
func objectNames(t *testing.T, d dest.Destination) []string {
	t.Helper()
	objs, err := d.List(testCtx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	slices.Sort(out)
	return out
}

// TestInstancesShareADestination: two instances back up to one bucket and prefix (or one
// volume path); each one's backups, lists, restores and prunes see and touch only its own.
func TestInstancesShareADestination(t *testing.T) {
	src := seedDatabase(t, pgSrv)
	for _, tc := range []struct {
		name string
		dest func(t *testing.T) dest.Destination
	}{
		{"s3", func(t *testing.T) dest.Destination { return s3Dest(t, s3Srv) }},
		{"path", func(t *testing.T) dest.Destination { return fsDest(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			shared := tc.dest(t)
			a := newEngine(t, shared, src, "")
			b := newEngine(t, shared, src, "")
			b.Instance = Instance{Namespace: "ns", Name: "desk-2"}
			var aIDs, bIDs []string
			day := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
			for i := range 3 {
				// b's backups are the newer ones: "latest" of a must still be a's.
				at, bt := day.Add(time.Duration(i)*time.Hour), day.Add(time.Duration(i)*time.Hour+time.Minute)
				a.Now, b.Now = func() time.Time { return at }, func() time.Time { return bt }
				ra, err := a.Backup(ctx)
				if err != nil {
					t.Fatal(err)
				}
				rb, err := b.Backup(ctx)
				if err != nil {
					t.Fatal(err)
				}
				aIDs, bIDs = append(aIDs, ra.ID), append(bIDs, rb.ID)
			}
			if got, ignored := listedIDs(t, a); !slices.Equal(got, aIDs) || ignored != 0 {
				t.Fatalf("a lists %v (%d ignored), want its own %v", got, ignored, aIDs)
			}
			bObjects := objectNames(t, instanceDest(t, b))

			// Retention of a deletes a's old backups only.
			pr, err := a.Prune(ctx, retention.Policy{KeepLast: 1}, time.Hour, day.Add(48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(pr.Deleted) != 2 || len(pr.OrphansDeleted) != 0 {
				t.Fatalf("a's prune: %+v", pr)
			}
			if got := objectNames(t, instanceDest(t, b)); !slices.Equal(got, bObjects) {
				t.Fatalf("a's prune changed b's objects:\n got %v\nwant %v", got, bObjects)
			}
			if got, _ := listedIDs(t, b); !slices.Equal(got, bIDs) {
				t.Fatalf("b lists %v after a's prune, want %v", got, bIDs)
			}
			r := restoreTarget(t, a)
			if res, err := r.Restore(ctx, "latest"); err != nil || res.ID != aIDs[2] {
				t.Fatalf("a's restore of latest: %+v, %v; want its own %s", res, err, aIDs[2])
			}
			if _, err := b.Prune(ctx, retention.Policy{KeepLast: 2}, time.Hour, day.Add(48*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got, _ := listedIDs(t, a); !slices.Equal(got, aIDs[2:]) {
				t.Fatalf("a lists %v after b's prune, want %v", got, aIDs[2:])
			}
			// Everything is inside the two instances' folders.
			for _, name := range objectNames(t, shared) {
				if !strings.HasPrefix(name, "ns/desk/") && !strings.HasPrefix(name, "ns/desk-2/") {
					t.Fatalf("object %s outside the instances' folders", name)
				}
			}
		})
	}
}

// TestUntrustedManifestsAreIgnored: manifests in an instance's folder that its key did not
// sign for it are ignored and counted by list, latest and prune, and never deleted.
func TestUntrustedManifestsAreIgnored(t *testing.T) {
	ctx := testCtx(t)
	src := seedDatabase(t, pgSrv)
	d := fsDest(t)
	a := newEngine(t, d, src, "")
	other := transitKey(t, vaultSrv, "helpdesk-ns-"+uniqueName("other"))
	day := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { return day }
	first, err := a.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = func() time.Time { return day.Add(time.Hour) }
	second, err := a.Backup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	genuine := manifestOf(t, a, second.ID)
	// Newer than every genuine backup, so each would be "latest" if trusted.
	forge := func(hours int, edit func(m *Manifest)) string {
		m := *genuine
		m.Postgres.Tables = maps.Clone(genuine.Postgres.Tables)
		m.ID = NewID(day.Add(time.Duration(hours) * time.Hour))
		m.Objects = nil
		for _, o := range genuine.Objects {
			o.Name = dataName(m.ID, kindName[o.Kind])
			m.Objects = append(m.Objects, o)
			// Data for the forged ID, so that deleting it would show.
			rc, err := instanceDest(t, a).Get(ctx, dataName(second.ID, kindName[o.Kind]))
			if err != nil {
				t.Fatal(err)
			}
			if err := instanceDest(t, a).Put(ctx, o.Name, rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
		edit(&m)
		putJSONObject(t, a, manifestName(m.ID), &m)
		return m.ID
	}
	sign := func(tr vaultage.Transit) func(m *Manifest) {
		return func(m *Manifest) {
			digest, err := m.signedDigest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Signature, err = tr.Sign(ctx, digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	unsigned := func(m *Manifest) { m.Signature = "" }
	madeUp := func(m *Manifest) { m.Signature = "vault:v1:bm90IGFuIEhNQUM=" }
	edited := func(m *Manifest) { m.Postgres.Tables["public.users"] = 1 }
	otherInstance := func(m *Manifest) { m.Instance.Name = "desk-2"; sign(a.Transit)(m) }
	oldScheme := func(m *Manifest) { m.SignatureScheme = "vault-transit-encrypt"; sign(a.Transit)(m) }
	otherKey := sign(other)
	forged := []string{
		forge(10, unsigned), forge(11, madeUp), forge(12, otherKey),
		forge(13, edited), forge(14, otherInstance), forge(15, oldScheme),
	}
	garbage := NewID(day.Add(16 * time.Hour))
	if err := instanceDest(t, a).Put(ctx, manifestName(garbage), strings.NewReader("{not json")); err != nil {
		t.Fatal(err)
	}
	wantIgnored := len(forged) + 1

	ids, ignored := listedIDs(t, a)
	if !slices.Equal(ids, []string{first.ID, second.ID}) || ignored != wantIgnored {
		t.Fatalf("list: %v with %d ignored; want the two genuine backups and %d ignored", ids, ignored, wantIgnored)
	}
	r := restoreTarget(t, a)
	res, err := r.Restore(ctx, "latest")
	if err != nil || res.ID != second.ID || res.IgnoredManifests != wantIgnored {
		t.Fatalf("restore of latest: %+v, %v; want %s", res, err, second.ID)
	}
	for _, id := range forged {
		if _, err := restoreTarget(t, a).Restore(ctx, id); err == nil {
			t.Fatalf("restore of the untrusted backup %s succeeded", id)
		}
	}
	before := objectNames(t, instanceDest(t, a))
	pr, err := a.Prune(ctx, retention.Policy{KeepLast: 1}, time.Hour, day.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Deleted) != 1 || pr.Deleted[0].ID != first.ID || len(pr.OrphansDeleted) != 0 || pr.IgnoredManifests != wantIgnored {
		t.Fatalf("prune: %+v; want only %s deleted, nothing of the ignored manifests", pr, first.ID)
	}
	after := objectNames(t, instanceDest(t, a))
	for _, name := range before {
		if !strings.Contains(name, first.ID) && !slices.Contains(after, name) {
			t.Fatalf("prune deleted %s, which belongs to no trusted backup it deleted", name)
		}
	}

	// A Vault failure aborts: it is not a verdict on the signatures.
	denied := a.Transit
	denied.Client, _ = a.Transit.Client.Clone()
	denied.Client.SetToken("not-a-token")
	bad := *a
	bad.Transit = denied
	if _, err := bad.List(ctx); !errors.Is(err, vaultage.ErrVault) {
		t.Fatalf("list with Vault denying: %v, want ErrVault", err)
	}
	if _, err := bad.Prune(ctx, retention.Policy{KeepLast: 1}, time.Hour, day.Add(30*24*time.Hour)); !errors.Is(err, vaultage.ErrVault) {
		t.Fatalf("prune with Vault denying: %v, want ErrVault", err)
	}
	if got := objectNames(t, instanceDest(t, a)); !slices.Equal(got, after) {
		t.Fatal("a prune that could not check signatures deleted objects")
	}
	if _, err := restoreTarget(t, &bad).Restore(ctx, "latest"); !errors.Is(err, vaultage.ErrVault) {
		t.Fatalf("restore with Vault denying: %v, want ErrVault", err)
	}
}

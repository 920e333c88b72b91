package bridge

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"smppbridge/store"
)

// countingStore counts directory writes.
type countingStore struct {
	*store.Store
	puts int
}

func (c *countingStore) PutDirectory(es []store.DirectoryEntry) error {
	c.puts++
	return c.Store.PutDirectory(es)
}

func openTestStore(t testing.TB, path string) *countingStore {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &countingStore{Store: st}
}

func newDirBridge(t testing.TB, st Store, accounts []Account) *Bridge {
	t.Helper()
	b, err := New(Options{Store: st, Accounts: accounts,
		CheckPassword: func(hash, pw string) bool { return hash == "plain:"+pw },
		HashPassword:  func(pw string) (string, error) { return "plain:" + pw, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func nums(ns ...string) []Number {
	out := make([]Number, len(ns))
	for i, n := range ns {
		out[i] = Number{Number: n}
	}
	return out
}

// owner is the application a number is assigned to in the live snapshot.
func owner(b *Bridge, n string) string {
	if r := b.directory().numbers[n]; r != nil {
		return r.app.ID
	}
	return ""
}

// TestApplyBootstrap: the configuration creates, updates and removes its
// own entries; what the admin API created or changed survives it, and a
// repeated bootstrap writes nothing. The result survives a restart.
func TestApplyBootstrap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.db")
	st := openTestStore(t, path)
	cfg1 := []Account{
		{ID: "A", Credentials: []Credential{{Username: "u1", PasswordHash: "plain:one"}, {Username: "u2", PasswordHash: "plain:two"}},
			Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000001", "+15550000002")}}},
		{ID: "B", Applications: []Application{{ID: "b1", CallbackURL: "http://h/b1", Numbers: nums("+15550000003")}}},
		{ID: "C", Credentials: []Credential{{Username: "c", PasswordHash: "plain:c"}},
			Applications: []Application{{ID: "c1", CallbackURL: "http://h/c1", Numbers: nums("+15550000009")}}},
	}
	b := newDirBridge(t, st, cfg1)
	if got := b.directory().numbers["+15550000001"]; got == nil || got.Class != ClassP2P || got.Origin != OriginConfig {
		t.Fatalf("configured number %+v", got)
	}

	// Through the admin API: move a configured number, add an application
	// with a number and a credential to A, change B.
	if _, err := b.AssignNumber(Number{Number: "+15550000002"}, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateApplication("A", Application{ID: "a2", CallbackURL: "http://h/a2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AssignNumber(Number{Number: "+15550000004", Class: ClassA2P, CampaignID: "CAMP"}, "a2"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.CreateCredential("A", "api-user"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateAccount("B", func(a *Account) { a.Countries = []string{"1"} }); err != nil {
		t.Fatal(err)
	}

	// The configuration changes: u2 and C are gone, a1 lists the moved
	// number and a new one, B is gone, the callback URL of a1 changed.
	cfg2 := []Account{
		{ID: "A", Credentials: []Credential{{Username: "u1", PasswordHash: "plain:uno"}},
			Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1-new", Numbers: nums("+15550000001", "+15550000002", "+15550000005")}}},
	}
	if err := b.ApplyBootstrap(cfg2); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ number, want string }{
		{"+15550000001", "a1"}, // configured, unchanged
		{"+15550000002", "b1"}, // the API moved it: the configuration does not take it back
		{"+15550000003", ""},   // B is kept (changed through the API); its configured number is not
		{"+15550000004", "a2"}, // the API's
		{"+15550000005", "a1"}, // new in the configuration
		{"+15550000009", ""},   // C was configuration only: gone
	}
	for _, c := range checks {
		if got := owner(b, c.number); got != c.want {
			t.Errorf("%s belongs to %q, want %q", c.number, got, c.want)
		}
	}
	d := b.directory()
	if d.accounts["C"] != nil || d.accounts["B"] == nil || d.accounts["B"].Origin != OriginAPI {
		t.Errorf("accounts after bootstrap: C %v, B %+v", d.accounts["C"] != nil, d.accounts["B"])
	}
	if d.apps["a1"].CallbackURL != "http://h/a1-new" {
		t.Errorf("configured application not updated: %+v", d.apps["a1"])
	}
	var users []string
	for u := range d.creds {
		users = append(users, u)
	}
	slices.Sort(users)
	if !reflect.DeepEqual(users, []string{"api-user", "u1"}) {
		t.Errorf("credentials %v, want api-user and u1", users)
	}
	if err := b.Authenticate("A", "u1", "uno"); err != nil {
		t.Errorf("updated configured password: %v", err)
	}
	if err := b.Authenticate("A", "u2", "two"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("removed configured credential: %v", err)
	}

	// Idempotent: the same configuration again writes nothing.
	before := st.puts
	if err := b.ApplyBootstrap(cfg2); err != nil {
		t.Fatal(err)
	}
	if st.puts != before {
		t.Errorf("repeated bootstrap wrote %d times", st.puts-before)
	}

	// A restart reads the same directory back.
	want := b.Accounts()
	st.Close()
	b2 := newDirBridge(t, openTestStore(t, path), cfg2)
	if got := b2.Accounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("after restart:\n%+v\nwant\n%+v", got, want)
	}
}

// TestDirectoryValidation: the admin operations refuse what the
// configuration would refuse, with field errors.
func TestDirectoryValidation(t *testing.T) {
	b := newDirBridge(t, openTestStore(t, filepath.Join(t.TempDir(), "v.db")), []Account{
		{ID: "A", Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000001")}}}})
	cases := []struct {
		name  string
		err   error
		field string // of a *ValidationError; "" for a sentinel
		is    error
	}{
		{"bad account id", b.CreateAccount(Account{ID: "a b"}), "id", nil},
		{"bad country", b.CreateAccount(Account{ID: "X", Countries: []string{"+44"}}), "countries", nil},
		{"duplicate account", b.CreateAccount(Account{ID: "A"}), "", ErrConflict},
		{"application without URL", errOf(b.CreateApplication("A", Application{ID: "x"})), "callbackUrl", nil},
		{"URL with credentials", errOf(b.CreateApplication("A", Application{ID: "x", CallbackURL: "http://u:p@h/"})), "callbackUrl", nil},
		{"bad receipt event", errOf(b.CreateApplication("A", Application{ID: "x", CallbackURL: "http://h/", ReceiptEvents: []string{"nope"}})), "receiptEvents", nil},
		{"duplicate application", errOf(b.CreateApplication("A", Application{ID: "a1", CallbackURL: "http://h/"})), "", ErrConflict},
		{"application of unknown account", errOf(b.CreateApplication("Z", Application{CallbackURL: "http://h/"})), "", ErrNotFound},
		{"bad number", errOf(b.AssignNumber(Number{Number: "+0123"}, "a1")), "number", nil},
		{"bad class", errOf(b.AssignNumber(Number{Number: "+15550000002", Class: "gold"}, "a1")), "class", nil},
		{"a2p without campaign", errOf(b.AssignNumber(Number{Number: "+15550000002", Class: ClassA2P}, "a1")), "campaignId", nil},
		{"unknown application", errOf(b.AssignNumber(Number{Number: "+15550000002"}, "nope")), "", ErrNotFound},
		{"release unknown", b.ReleaseNumber("+15550000099"), "", ErrNotFound},
		{"bad block direction", b.Block("+15550000001", "sideways"), "direction", nil},
		{"username with colon", errOf3(b.CreateCredential("A", "a:b")), "username", nil},
		{"revoke unknown", b.RevokeCredential("A", "ghost"), "", ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("accepted")
			}
			if c.is != nil {
				if !errors.Is(c.err, c.is) {
					t.Fatalf("%v, want %v", c.err, c.is)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(c.err, &verr) || !slices.ContainsFunc(verr.Fields, func(f FieldError) bool { return f.FieldName == c.field }) {
				t.Fatalf("%v, want a field error on %s", c.err, c.field)
			}
		})
	}
	// Nothing invalid got in.
	if d := b.directory(); len(d.accounts) != 1 || len(d.apps) != 1 || strings.Join(slices.Sorted(mapsKeys(d.numbers)), ",") != "+15550000001" {
		t.Fatalf("directory changed: %d accounts, %d apps, numbers %v", len(d.accounts), len(d.apps), slices.Sorted(mapsKeys(d.numbers)))
	}
}

func errOf[T any](_ T, err error) error { return err }

func errOf3[T, U any](_ T, _ U, err error) error { return err }

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestNumberClass: the record product and campaign of a from number, as
// assigned or inferred.
func TestNumberClass(t *testing.T) {
	b := newDirBridge(t, openTestStore(t, filepath.Join(t.TempDir(), "c.db")), []Account{
		{ID: "A", Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1",
			Numbers: []Number{{Number: "+15550000001", Class: ClassA2P, CampaignID: "CX"}, {Number: "+18005550000"}, {Number: "12345"}}}}}})
	cases := []struct{ from, product, campaign string }{
		{"+15550000001", "LOCAL_A2P", "CX"},
		{"+18005550000", "TOLL_FREE", ""},
		{"12345", "SHORT_CODE_REACH", ""},
		{"ACME", "ALPHA_NUMERIC", ""},
		{"+447700900000", "P2P", ""},
	}
	for _, c := range cases {
		if p, camp := b.numberClass(c.from); p != c.product || camp != c.campaign {
			t.Errorf("numberClass(%s) = %s %s, want %s %s", c.from, p, camp, c.product, c.campaign)
		}
	}
}

// TestRevocationForgetsOnlyThatAccount: a revoked credential fails at once;
// verified credentials of other accounts stay verified (no slow hash again
// for every client after each admin change).
func TestRevocationForgetsOnlyThatAccount(t *testing.T) {
	checks := 0
	b, err := New(Options{Store: openTestStore(t, filepath.Join(t.TempDir(), "r.db")),
		Accounts: []Account{
			{ID: "A", Credentials: []Credential{{Username: "ua", PasswordHash: "plain:pa"}, {Username: "ua2", PasswordHash: "plain:pa2"}}},
			{ID: "B", Credentials: []Credential{{Username: "ub", PasswordHash: "plain:pb"}}}},
		CheckPassword: func(hash, pw string) bool { checks++; return hash == "plain:"+pw }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][3]string{{"A", "ua", "pa"}, {"A", "ua2", "pa2"}, {"B", "ub", "pb"}} {
		if err := b.Authenticate(c[0], c[1], c[2]); err != nil {
			t.Fatal(err)
		}
	}
	n := checks
	if err := b.Authenticate("B", "ub", "pb"); err != nil || checks != n {
		t.Fatalf("cached credential verified again (%d checks) or refused: %v", checks-n, err)
	}
	if _, err := b.CreateApplication("B", Application{ID: "b1", CallbackURL: "http://h/"}); err != nil {
		t.Fatal(err)
	}
	if err := b.RevokeCredential("A", "ua"); err != nil {
		t.Fatal(err)
	}
	if err := b.Authenticate("A", "ua", "pa"); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("revoked credential: %v", err)
	}
	n = checks
	if err := b.Authenticate("B", "ub", "pb"); err != nil || checks != n {
		t.Fatalf("another account's credential was forgotten (%d checks): %v", checks-n, err)
	}
	if err := b.Authenticate("A", "ua2", "pa2"); err != nil || checks != n+1 {
		t.Fatalf("the revoking account's other credential: %v after %d checks, want one fresh check", err, checks-n)
	}
}

// canonical renders a snapshot's indexes for comparison.
func canonical(d *directory) map[string]string {
	out := map[string]string{}
	for id, a := range d.accounts {
		out["account "+id] = fmt.Sprintf("%v %v %d apps", a.Disabled, a.Countries, len(a.apps))
		for appID, ap := range a.apps {
			if d.apps[appID] != ap {
				out["app "+appID] = "not indexed"
			}
		}
	}
	for id, ap := range d.apps {
		out["app "+id] = ap.accountID + " " + ap.CallbackURL
	}
	for n, r := range d.numbers {
		out["number "+n] = r.app.ID + " " + r.Class + " " + r.CampaignID
	}
	for u, refs := range d.creds {
		var s []string
		for _, r := range refs {
			s = append(s, r.accountID+":"+r.hash)
		}
		slices.Sort(s)
		out["cred "+u] = strings.Join(s, ",")
	}
	for n, dir := range d.blocked {
		out["blocked "+n] = dir
	}
	return out
}

// checkSnapshot: the incrementally rebuilt snapshot equals one built from
// scratch.
func checkSnapshot(t *testing.T, b *Bridge) {
	t.Helper()
	got, want := canonical(b.directory()), canonical(buildDirectory(b.dir.model))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot differs from a fresh build:\n%v\nwant\n%v", got, want)
	}
}

// TestSnapshotIncremental: a sequence of changes of every kind keeps the
// incremental snapshot equal to a fresh one, and never changes a snapshot
// readers already hold.
func TestSnapshotIncremental(t *testing.T) {
	b := newDirBridge(t, openTestStore(t, filepath.Join(t.TempDir(), "s.db")), []Account{
		{ID: "A", Credentials: []Credential{{Username: "shared", PasswordHash: "plain:a"}},
			Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000001", "+15550000002")}}},
		{ID: "B", Credentials: []Credential{{Username: "shared", PasswordHash: "plain:b"}},
			Applications: []Application{{ID: "b1", CallbackURL: "http://h/b1", Numbers: nums("+15550000003")}}},
	})
	held := b.directory()
	heldView := canonical(held)
	steps := []func() error{
		func() error { _, err := b.AssignNumber(Number{Number: "+15550000001"}, "b1"); return err },
		func() error { _, _, err := b.CreateCredential("B", "second"); return err },
		func() error { return b.RevokeCredential("A", "shared") },
		func() error { return b.CreateAccount(Account{ID: "C"}) },
		func() error {
			_, err := b.CreateApplication("C", Application{ID: "c1", CallbackURL: "http://h/c1"})
			return err
		},
		func() error {
			_, err := b.AssignNumber(Number{Number: "+15550000002", Class: ClassA2P, CampaignID: "X"}, "c1")
			return err
		},
		func() error {
			_, err := b.UpdateApplication("A", "a1", func(ap *Application) { ap.CallbackURL = "http://h/new" })
			return err
		},
		func() error { return b.Block("+15550000009", BlockTo) },
		func() error { return b.DeleteApplication("B", "b1") },
		func() error { return b.ReleaseNumber("+15550000002") },
		func() error { return b.DeleteAccount("C") },
		func() error {
			return b.ApplyBootstrap([]Account{{ID: "A", Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000004")}}}})
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		checkSnapshot(t, b)
	}
	if !reflect.DeepEqual(canonical(held), heldView) {
		t.Fatal("a snapshot already handed out changed")
	}
}

// TestDirectoryConcurrentReaders: the send path's readers run while the
// directory changes (run with -race: snapshots are never written after
// they are published).
func TestDirectoryConcurrentReaders(t *testing.T) {
	b := newDirBridge(t, openTestStore(t, filepath.Join(t.TempDir(), "c.db")), []Account{
		{ID: "A", Credentials: []Credential{{Username: "u", PasswordHash: "plain:p"}},
			Applications: []Application{{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000001")}}}})
	stop := make(chan struct{})
	done := make(chan int, 4)
	for range 4 {
		go func() {
			n := 0
			req := &SendRequest{AccountID: "A", ApplicationID: "a1", From: "+15550000001", To: []string{"+16170000000"}, Text: "x"}
			for ; n < 1_000_000; n++ {
				select {
				case <-stop:
					done <- n
					return
				default:
				}
				d := b.directory()
				b.validate(d, req)
				b.policyCode(d, d.accounts["A"], req.From, req.To[0])
				b.numberClass(req.From)
				b.Authenticate("A", "u", "p")
				b.CallbackCredentials("a1", "http://h/a1")
				for _, a := range d.accounts {
					for _, ap := range a.apps {
						_ = len(ap.Numbers) + len(ap.ReceiptEvents) + len(a.Credentials) + len(a.Countries)
					}
				}
			}
			done <- n
		}()
	}
	for i := range 200 {
		n := fmt.Sprintf("+1555100%04d", i)
		steps := []error{
			errOf(b.AssignNumber(Number{Number: n}, "a1")),
			errOf(b.UpdateApplication("A", "a1", func(ap *Application) { ap.ReceiptEvents = []string{"message-failed"} })),
			errOf(b.UpdateAccount("A", func(a *Account) { a.Countries = []string{"1"} })),
			b.ReleaseNumber(n),
			b.SetOptOut("+15550000001", "+16170000000", i%2 == 0),
		}
		for _, err := range steps {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	for range 4 {
		if n := <-done; n == 0 {
			t.Error("a reader never ran")
		}
	}
	checkSnapshot(t, b)
}

// TestDeletedConfigEntriesStayDeleted: a configured credential revoked,
// application deleted, number released or account deleted through the API
// is not re-created by the next bootstrap (or restart) while the file still
// lists it; once the file drops it, listing it again re-creates it.
func TestDeletedConfigEntriesStayDeleted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := []Account{
		{ID: "A", Credentials: []Credential{{Username: "leaked", PasswordHash: "plain:pw"}, {Username: "ok", PasswordHash: "plain:ok"}},
			Applications: []Application{
				{ID: "a1", CallbackURL: "http://h/a1", Numbers: nums("+15550000001", "+15550000002")},
				{ID: "a2", CallbackURL: "http://h/a2", Numbers: nums("+15550000003")}}},
		{ID: "B", Credentials: []Credential{{Username: "b", PasswordHash: "plain:b"}}},
	}
	st := openTestStore(t, path)
	b := newDirBridge(t, st, cfg)
	for _, err := range []error{b.RevokeCredential("A", "leaked"), b.DeleteApplication("A", "a2"), b.ReleaseNumber("+15550000002"), b.DeleteAccount("B")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	check := func(b *Bridge, when string) {
		t.Helper()
		d := b.directory()
		if err := b.Authenticate("A", "leaked", "pw"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: revoked credential: %v", when, err)
		}
		if err := b.Authenticate("A", "ok", "ok"); err != nil {
			t.Errorf("%s: other credential: %v", when, err)
		}
		if d.apps["a2"] != nil || d.accounts["B"] != nil || owner(b, "+15550000002") != "" || owner(b, "+15550000003") != "" {
			t.Errorf("%s: deleted entries came back: a2 %v, B %v, numbers %q %q", when, d.apps["a2"] != nil, d.accounts["B"] != nil,
				owner(b, "+15550000002"), owner(b, "+15550000003"))
		}
		if owner(b, "+15550000001") != "a1" {
			t.Errorf("%s: the configured number lost its application", when)
		}
	}
	if err := b.ApplyBootstrap(cfg); err != nil {
		t.Fatal(err)
	}
	check(b, "after a reload")
	st.Close()
	st = openTestStore(t, path)
	b = newDirBridge(t, st, cfg)
	check(b, "after a restart")

	// The file drops the credential, then lists it again (a new password):
	// it is a new entry and is created.
	dropped := slices.Clone(cfg)
	dropped[0].Credentials = dropped[0].Credentials[1:]
	if err := b.ApplyBootstrap(dropped); err != nil {
		t.Fatal(err)
	}
	again := slices.Clone(cfg)
	again[0].Credentials = []Credential{{Username: "leaked", PasswordHash: "plain:new"}, cfg[0].Credentials[1]}
	if err := b.ApplyBootstrap(again); err != nil {
		t.Fatal(err)
	}
	if err := b.Authenticate("A", "leaked", "new"); err != nil {
		t.Errorf("credential listed again after being dropped: %v", err)
	}
}

// TestCallbackCredentialsFollowTheURL: an application's callback
// credentials go with requests to its current callback and inbound URLs
// only; jobs still pending for a URL it has left go without them, so a new
// password never reaches the old host.
func TestCallbackCredentialsFollowTheURL(t *testing.T) {
	b := newDirBridge(t, openTestStore(t, filepath.Join(t.TempDir(), "c.db")), []Account{
		{ID: "A", Applications: []Application{{ID: "a1", CallbackURL: "http://old/status", InboundCallbackURL: "http://old/in",
			CallbackUsername: "cb", CallbackPassword: "old-secret", Numbers: nums("+15550000001")}}}})
	for _, url := range []string{"http://old/status", "http://old/in"} {
		if u, p, ok := b.CallbackCredentials("a1", url); !ok || u != "cb" || p != "old-secret" {
			t.Fatalf("%s: %q %q %v", url, u, p, ok)
		}
	}
	if err := errOf(b.UpdateApplication("A", "a1", func(ap *Application) {
		ap.CallbackURL, ap.CallbackPassword = "https://new/status", "new-secret"
	})); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := b.CallbackCredentials("a1", "http://old/status"); ok || u != "" || p != "" {
		t.Fatalf("the old URL still gets credentials: %q %q", u, p)
	}
	if _, p, ok := b.CallbackCredentials("a1", "https://new/status"); !ok || p != "new-secret" {
		t.Fatalf("the new URL: %q %v", p, ok)
	}
	if _, p, ok := b.CallbackCredentials("a1", "http://old/in"); !ok || p != "new-secret" {
		t.Fatalf("the unchanged inbound URL: %q %v", p, ok)
	}
	if _, _, ok := b.CallbackCredentials("gone", "http://old/status"); ok {
		t.Fatal("an unknown application has credentials")
	}
}

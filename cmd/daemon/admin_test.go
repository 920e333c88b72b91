package daemon

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"smppbridge/conf"
	"smppbridge/httpapi/admin"
)

// TestAdminAuth: with admin credentials configured every admin request
// needs them; wrong or missing ones get 401 with a challenge.
func TestAdminAuth(t *testing.T) {
	// Few iterations: every case now pays a full hash check, and the
	// production 600,000 cost seconds each under -race.
	salt := []byte("0123456789abcdef")
	key, err := pbkdf2.Key(sha256.New, "admin-password", salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	h := fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
	d := &Daemon{cfg: &conf.Config{Admin: conf.Admin{Username: "ops", PasswordHash: h}}}
	srv := httptest.NewServer(d.adminHandler())
	defer srv.Close()
	cases := []struct {
		name, user, pass string
		status           int
	}{
		{"no credentials", "", "", 401},
		{"wrong password", "ops", "nope", 401},
		{"wrong user", "root", "admin-password", 401},
		{"right", "ops", "admin-password", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}
}

// TestBridgeAccountsNumberClasses: configured numbers reach the bridge
// with their class: inferred for numbers, as given in number tables.
func TestBridgeAccountsNumberClasses(t *testing.T) {
	cfg := &conf.Config{Accounts: []conf.Account{{ID: "A", Countries: []string{"1"},
		Credentials: []conf.Credential{{Username: "u", PasswordHash: "pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$" + strings.Repeat("A", 43)}},
		Applications: []conf.Application{{ID: "a", Numbers: []string{"+15550001111", "+18885550000", "12345"},
			NumberClasses: []conf.Number{{Number: "+15550001113", Class: "a2p", CampaignID: "C1"}, {Number: "+15550001114"}}}}}}}
	accounts, err := bridgeAccounts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range accounts[0].Applications[0].Numbers {
		got[n.Number] = n.Class + "/" + n.CampaignID
	}
	want := map[string]string{"+15550001111": "p2p/", "+18885550000": "toll-free/", "12345": "short-code/",
		"+15550001113": "a2p/C1", "+15550001114": "p2p/"}
	if !reflect.DeepEqual(got, want) || !slices.Equal(accounts[0].Countries, []string{"1"}) {
		t.Fatalf("numbers %v, want %v; countries %v", got, want, accounts[0].Countries)
	}
}

// TestAdminAuthHashesOncePerCredential: the admin password hash (600,000
// PBKDF2 rounds, a quarter of a second of CPU) is checked once for the
// right credentials, not on every probe and scrape of /healthz, /readyz
// and /metrics; wrong credentials are checked every time.
func TestAdminAuthHashesOncePerCredential(t *testing.T) {
	var checks int
	check := func(hash, pw string) bool { checks++; return hash == "plain:"+pw }
	h := adminAuth(admin.NewCredentials("ops", "plain:admin-password", check), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	do := func(user, pass string) int {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.SetBasicAuth(user, pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for range 5 {
		if code := do("ops", "admin-password"); code != 200 {
			t.Fatalf("right credentials: %d", code)
		}
	}
	if checks != 1 {
		t.Fatalf("%d hash checks for 5 requests with the same right credentials, want 1", checks)
	}
	for range 3 {
		if code := do("ops", "wrong"); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
	}
	if code := do("root", "admin-password"); code != 401 {
		t.Fatalf("wrong user: %d", code)
	}
	if checks != 5 {
		t.Fatalf("%d hash checks after 4 wrong requests, want 5 (each wrong one checked)", checks)
	}
	if code := do("ops", "admin-password"); code != 200 || checks != 5 {
		t.Fatalf("right credentials again: %d after %d checks", code, checks)
	}
}

package daemon

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"smppbridge/conf"
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

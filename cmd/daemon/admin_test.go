package daemon

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"smppbridge/conf"
)

// TestAdminAuth: with admin credentials configured every admin request
// needs them; wrong or missing ones get 401 with a challenge.
func TestAdminAuth(t *testing.T) {
	h, err := conf.HashPassword("admin-password")
	if err != nil {
		t.Fatal(err)
	}
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

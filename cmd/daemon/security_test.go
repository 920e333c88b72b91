package daemon_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"smppbridge/cmd/daemon"
	"smppbridge/httpapi"
	"smppbridge/testharness/smsc"
)

// TestEveryRouteRefusesBadCredentials walks every public route
// (httpapi.Routes) and every admin route (daemon.AdminRoutes) of a running
// daemon with missing, malformed and wrong credentials, and with another
// account's: routes added later are covered without touching this test.
func TestEveryRouteRefusesBadCredentials(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := testConfig(t, sim.Addr(), t.TempDir()+"/bridge.db", "")
	const adminUser, adminPass = "ops", "admin-pass-42"
	cfg.Admin.Username, cfg.Admin.PasswordHash = adminUser, fastHash(t, adminPass)
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)

	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	do := func(method, url, authorization, body string) (int, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	refused := []struct{ name, authorization string }{
		{"no credentials", ""},
		{"wrong password", basic(user, "not-"+pass)},
		{"wrong password, longer", basic(user, pass+pass+pass)},
		{"empty password", basic(user, "")},
		{"unknown user", basic("nobody", pass)},
		{"empty user", basic("", pass)},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+pass))},
		{"not base64", "Basic %%%"},
		{"bearer scheme", "Bearer " + pass},
		{"admin credentials", basic(adminUser, adminPass)},
	}

	routes := httpapi.Routes()
	if len(routes) == 0 {
		t.Fatal("httpapi.Routes() is empty")
	}
	for _, r := range routes {
		body := ""
		if r.Method == "POST" {
			body = msgBody([]string{"+15557100001"}, "route table", "")
		}
		url := func(account string) string {
			return e.base + strings.NewReplacer("{accountId}", account).Replace(r.Path)
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			for _, c := range refused {
				status, h := do(r.Method, url(acct), c.authorization, body)
				if status != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("%s: %d (challenge %q), want 401 with a Basic challenge", c.name, status, h.Get("WWW-Authenticate"))
				}
			}
			// Per-account isolation: valid credentials of one account never
			// act on another's path, either way round.
			if status, _ := do(r.Method, url(acct), basic(user2, pass), body); status != http.StatusForbidden {
				t.Errorf("another account's credentials: %d, want 403", status)
			}
			if status, _ := do(r.Method, url(acct2), basic(user, pass), body); status != http.StatusForbidden {
				t.Errorf("credentials on another account's path: %d, want 403", status)
			}
			if status, _ := do(r.Method, url("1234567"), basic(user, pass), body); status != http.StatusForbidden && status != http.StatusUnauthorized {
				t.Errorf("credentials on an unknown account's path: %d, want 401 or 403", status)
			}
			if status, _ := do(r.Method, url(acct), basic(user, pass), body); status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("the right credentials: %d", status)
			}
		})
	}

	adminRoutes := daemon.AdminRoutes()
	if len(adminRoutes) == 0 {
		t.Fatal("daemon.AdminRoutes() is empty")
	}
	adminRefused := append(refused[:len(refused)-1:len(refused)-1],
		struct{ name, authorization string }{"API credentials", basic(user, pass)},
		struct{ name, authorization string }{"admin user, wrong password", basic(adminUser, "admin-pass-43")},
		struct{ name, authorization string }{"wrong user, admin password", basic("root", adminPass)},
	)
	for _, pattern := range adminRoutes {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "GET", pattern
		}
		path = strings.NewReplacer("{accountId}", acct, "{carrier}", "sim", "{name}", "sim", "{id}", "x").Replace(path)
		url := "http://" + e.d.AdminAddr() + path
		t.Run("admin "+pattern, func(t *testing.T) {
			for _, c := range adminRefused {
				status, h := do(method, url, c.authorization, "")
				if status != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: %d, want 401 with a challenge", c.name, status)
				}
			}
			if status, _ := do(method, url, basic(adminUser, adminPass), ""); status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("the admin credentials: %d", status)
			}
		})
	}
}

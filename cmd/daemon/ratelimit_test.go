package daemon_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

// rawGet sends a GET with Basic credentials and returns the whole response
// (headers too) with its body read.
func rawGet(t *testing.T, url, username, password string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func startDaemonWithAPI(t *testing.T, api string) *env {
	t.Helper()
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{API: api})
	return startDaemonWith(t, sim, cfg, daemon.Options{})
}

// TestListRateLimit: the message list admits list_rate_limit requests per
// source IP and window, failed logins included; then 429
// rate_limit_exceeded with Retry-After, whatever the credentials, on both
// paths. Sends and the MDR export are not limited.
func TestListRateLimit(t *testing.T) {
	e := startDaemonWithAPI(t, "list_rate_limit = 3\nlist_rate_window = \"1m\"")
	list := e.base + searchPath + "?messageDirection=OUTBOUND"

	if resp, body := rawGet(t, list, user, "wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d %s", resp.StatusCode, body)
	}
	for i := range 2 {
		if resp, body := rawGet(t, list, user, pass); resp.StatusCode != 200 {
			t.Fatalf("list request %d of 3 (one was the failed login): %d %s", i+2, resp.StatusCode, body)
		}
	}

	const wantBody = `{"type":"rate_limit_exceeded","description":"Too many message list requests from this address: at most 3 per 1m; retry after the seconds in the Retry-After header"}`
	for _, c := range []struct{ name, url, password string }{
		{"right credentials", list, pass},
		{"wrong password (a 429 must not tell)", list, "wrong"},
		{"path without /api/v2", e.base + "/users/" + acct + "/messages?messageDirection=OUTBOUND", pass},
	} {
		resp, body := rawGet(t, c.url, user, c.password)
		if resp.StatusCode != 429 || body != wantBody {
			t.Fatalf("%s over the limit: %d %s\nwant 429 %s", c.name, resp.StatusCode, body, wantBody)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.name, ct)
		}
		// The three admitted requests were just now: the oldest leaves the
		// minute in at most 60 s.
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Errorf("%s: Retry-After %q, want whole seconds in 1..60", c.name, resp.Header.Get("Retry-After"))
		}
		if resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: a 429 carries WWW-Authenticate", c.name)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s: no X-Request-Id", c.name)
		}
	}

	// Sends are not limited.
	for i := range 5 {
		if r := e.send(msgBody([]string{"+15550007" + strconv.Itoa(100+i)}, "not limited", "")); r.status != 202 {
			t.Fatalf("send %d while the list is limited: %d %s", i+1, r.status, r.raw)
		}
	}
	// Neither is the MDR export (not part of the list API, v2-api.md §4.3).
	if r := e.get(searchPath+"/mdr.csv", user, pass); r.status == 429 {
		t.Fatalf("MDR export limited: %s", r.raw)
	}
	// Nor another account's list on another path: the limit is per IP, so
	// this one is refused too.
	if resp, body := rawGet(t, e.base+"/api/v2/users/"+acct2+"/messages?messageDirection=OUTBOUND", user2, pass); resp.StatusCode != 429 {
		t.Fatalf("another account from the same IP: %d %s, want 429 (the limit is per source IP)", resp.StatusCode, body)
	}

	// Another source address has its own budget: the key is the
	// connection's remote address. Linux routes all of 127/8 to loopback;
	// elsewhere 127.0.0.2 may not exist.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}).DialContext}}
	defer other.CloseIdleConnections()
	req, _ := http.NewRequest("GET", list, nil)
	req.SetBasicAuth(user, pass)
	if resp, err := other.Do(req); err != nil {
		t.Logf("no request from 127.0.0.2 (%v): per-address budgets checked in httpapi only", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("from 127.0.0.2 while 127.0.0.1 is limited: %d, want 200", resp.StatusCode)
		}
	}

	fams := scrape(t, e.d.AdminAddr())
	route := "GET /api/v2/users/{accountId}/messages"
	if got := sumOf(fams, "smppbridge_http_requests_total", map[string]string{"route": route, "code": "429"}); got != 4 {
		t.Errorf("http_requests_total{route=%q,code=\"429\"} = %v, want 4", route, got)
	}
	if got := sumOf(fams, "smppbridge_http_requests_total", map[string]string{"route": route, "code": "401"}); got != 1 {
		t.Errorf("http_requests_total{route=%q,code=\"401\"} = %v, want 1 (the refused wrong password is a 429)", route, got)
	}
}

// TestListRateLimitOff: list_rate_limit = 0 turns the limit off.
func TestListRateLimitOff(t *testing.T) {
	e := startDaemonWithAPI(t, "list_rate_limit = 0\nlist_rate_window = \"1m\"")
	for i := range 20 {
		if resp, body := rawGet(t, e.base+searchPath+"?messageDirection=OUTBOUND", user, pass); resp.StatusCode != 200 {
			t.Fatalf("list request %d with the limit off: %d %s", i+1, resp.StatusCode, body)
		}
	}
}

// TestListRateLimitReload: a reload applies list_rate_limit and
// list_rate_window live (off, then another limit counted afresh) and does
// not warn about them as restart-only.
func TestListRateLimitReload(t *testing.T) {
	logs := &logBuffer{}
	sim := startSim(t, smsc.Behaviour{})
	db := filepath.Join(t.TempDir(), "bridge.db")
	mk := func(api string) *conf.Config {
		return configWith(t, sim.Addr(), db, configOptions{API: api})
	}
	e := startDaemonWith(t, sim, mk("list_rate_limit = 2\nlist_rate_window = \"1m\""),
		daemon.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	list := e.base + searchPath + "?messageDirection=OUTBOUND"
	status := func() int {
		resp, _ := rawGet(t, list, user, pass)
		return resp.StatusCode
	}
	if a, b, c := status(), status(), status(); a != 200 || b != 200 || c != 429 {
		t.Fatalf("limit 2: statuses %d %d %d, want 200 200 429", a, b, c)
	}

	if err := e.d.Reload(mk("list_rate_limit = 0")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if got := status(); got != 200 {
			t.Fatalf("limit reloaded to 0 (off): request %d: %d", i+1, got)
		}
	}

	if err := e.d.Reload(mk("list_rate_limit = 1\nlist_rate_window = \"2m\"")); err != nil {
		t.Fatal(err)
	}
	if a, b := status(), status(); a != 200 || b != 429 {
		t.Fatalf("limit reloaded to 1 per 2m: statuses %d %d, want 200 429", a, b)
	}
	resp, body := rawGet(t, list, user, pass)
	if want := "at most 1 per 2m;"; !strings.Contains(body, want) {
		t.Errorf("429 body after the reload: %s, want it to say %q", body, want)
	}
	if retry, _ := strconv.Atoi(resp.Header.Get("Retry-After")); retry < 61 || retry > 120 {
		t.Errorf("Retry-After %q after the reload to a 2m window, want 61..120", resp.Header.Get("Retry-After"))
	}

	// The same settings again keep the counts.
	if err := e.d.Reload(mk("list_rate_limit = 1\nlist_rate_window = \"2m\"")); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 429 {
		t.Fatalf("after a reload without changes: %d, want 429 (counts kept)", got)
	}
	if lines := logs.lines(t, "reload: settings changed that take effect at the next start"); len(lines) != 0 {
		t.Errorf("the live rate limit was reported as restart-only: %v", lines)
	}
	if lines := logs.lines(t, "reload: message list rate limit changed; counting starts afresh"); len(lines) != 2 {
		t.Errorf("logged %d rate limit changes, want 2: %v", len(lines), lines)
	}
}

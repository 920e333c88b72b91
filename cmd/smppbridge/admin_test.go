package main

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

// hash1000 is a valid password_hash with few iterations: the production
// 600,000 would cost seconds per credential under -race.
func hash1000(pw string) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	return fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key)), err
}

// startDaemon runs the daemon in-process against a simulator, with admin
// credentials ops / admin-password, until the test ends.
func startDaemon(t *testing.T) *daemon.Daemon {
	t.Helper()
	sim, err := smsc.Start(smsc.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	cfg, err := conf.Parse([]byte(fmt.Sprintf(`
[http]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
username = "ops"
password_hash = %q
[store]
path = %q
[[carrier]]
name = "sim"
address = %q
system_id = "bridge"
segments_per_second = 1000
routes = ["+1"]
reconnect_min = "20ms"
reconnect_max = "100ms"
[[account]]
id = "9900000"
  [[account.credential]]
  username = "boot"
  password_hash = %q
  [[account.application]]
  id = "boot-app"
  callback_url = "http://127.0.0.1:9/callbacks"
  numbers = ["+15550001111"]
`, fastHash(t, "admin-password"), filepath.Join(t.TempDir(), "b.db"), sim.Addr(), fastHash(t, "boot-password"))))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan *daemon.Daemon, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Config: cfg, HashPassword: hash1000, Ready: func(d *daemon.Daemon) { ready <- d }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	select {
	case d := <-ready:
		return d
	case err := <-done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not start within 30s")
	}
	return nil
}

// cli runs "smppbridge admin" with the admin URL and credentials.
func cli(t *testing.T, d *daemon.Daemon, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("SMPPBRIDGE_ADMIN_PASSWORD", "admin-password")
	var out, errb bytes.Buffer
	code = run(append([]string{"admin", "-url", "http://" + d.AdminAddr(), "-user", "ops"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func mustCLI(t *testing.T, d *daemon.Daemon, args ...string) string {
	t.Helper()
	code, out, errb := cli(t, d, args...)
	if code != 0 {
		t.Fatalf("admin %v: exit %d: %s", args, code, errb)
	}
	return out
}

func send(t *testing.T, d *daemon.Daemon, user, pass, appID string) int {
	t.Helper()
	body := fmt.Sprintf(`{"applicationId":%q,"from":"+15550003333","to":["+15550002222"],"text":"hi"}`, appID)
	req, _ := http.NewRequest("POST", "http://"+d.HTTPAddr()+"/api/v2/users/acme/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminCLI drives the whole life of an account through the CLI: create
// it, an application, a number, a credential (whose secret is printed once),
// send with it, revoke it (401 at once), disable the account (403), and
// sees the carrier's live status.
func TestAdminCLI(t *testing.T) {
	d := startDaemon(t)
	mustCLI(t, d, "account", "create", "acme", "-countries", "1")
	out := mustCLI(t, d, "app", "create", "acme", "-id", "acme-app", "-callback-url", "http://127.0.0.1:9/cb",
		"-callback-username", "hook", "-callback-password", "hook-secret-1", "-receipt-events", "message-failed")
	if strings.Contains(out, "hook-secret-1") || !strings.Contains(out, `"callbackPasswordSet": true`) {
		t.Fatalf("application shown with its callback password or without the flag: %s", out)
	}
	out = mustCLI(t, d, "number", "assign", "+15550003333", "acme-app", "-class", "a2p", "-campaign", "C1")
	if !strings.Contains(out, `"product": "LOCAL_A2P"`) {
		t.Fatalf("assign: %s", out)
	}
	out = mustCLI(t, d, "credential", "create", "acme", "-username", "acme-api")
	var created struct{ Username, Password string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Username != "acme-api" || len(created.Password) < 20 {
		t.Fatalf("credential create: %v %s", err, out)
	}
	if st := send(t, d, created.Username, created.Password, "acme-app"); st != 202 {
		t.Fatalf("send with the new credential: %d", st)
	}
	for _, args := range [][]string{{"credential", "list", "acme"}, {"account", "get", "acme"}, {"account", "list"}} {
		if out := mustCLI(t, d, args...); strings.Contains(out, created.Password) || strings.Contains(out, "pbkdf2") ||
			!strings.Contains(out, "acme-api") {
			t.Fatalf("%v shows a secret or misses the user: %s", args, out)
		}
	}
	mustCLI(t, d, "credential", "revoke", "acme", "acme-api")
	if st := send(t, d, created.Username, created.Password, "acme-app"); st != 401 {
		t.Fatalf("send with a revoked credential: %d, want 401", st)
	}

	_, second := mustCredential(t, d)
	mustCLI(t, d, "account", "update", "acme", "-disabled")
	if st := send(t, d, "second", second, "acme-app"); st != 403 {
		t.Fatalf("send on a disabled account: %d, want 403", st)
	}
	mustCLI(t, d, "account", "update", "acme", "-disabled=false")
	if st := send(t, d, "second", second, "acme-app"); st != 202 {
		t.Fatalf("send after re-enabling: %d", st)
	}

	out = mustCLI(t, d, "carrier", "list")
	var carriers []map[string]any
	if err := json.Unmarshal([]byte(out), &carriers); err != nil || len(carriers) != 1 || carriers[0]["name"] != "sim" {
		t.Fatalf("carriers: %v %s", err, out)
	}
	out = mustCLI(t, d, "number", "list", "-account", "acme")
	if !strings.Contains(out, "+15550003333") || strings.Contains(out, "+15550001111") {
		t.Fatalf("numbers of acme: %s", out)
	}
	mustCLI(t, d, "number", "release", "+15550003333")
	if st := send(t, d, "second", second, "acme-app"); st != 400 {
		t.Fatalf("send from a released number: %d, want 400", st)
	}

	// Errors: the V2 error text on stderr, exit 1; usage errors exit 2.
	code, _, errb := cli(t, d, "account", "create", "acme")
	if code != 1 || !strings.Contains(errb, "409 conflict") {
		t.Fatalf("duplicate account: %d %s", code, errb)
	}
	code, _, errb = cli(t, d, "number", "assign", "+15550004444", "acme-app", "-class", "a2p")
	if code != 1 || !strings.Contains(errb, "campaignId") {
		t.Fatalf("a2p without campaign: %d %s", code, errb)
	}
	if code, _, _ = cli(t, d, "frobnicate", "now"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code, _, errb = cli(t, d, "carrier"); code != 2 || !strings.Contains(errb, `missing a verb after "carrier"`) {
		t.Fatalf("object without a verb: exit %d, %q", code, errb)
	}
	var out2, errb2 bytes.Buffer
	t.Setenv("SMPPBRIDGE_ADMIN_PASSWORD", "wrong-password")
	if code := run([]string{"admin", "-url", "http://" + d.AdminAddr(), "-user", "ops", "account", "list"}, &out2, &errb2); code != 1 ||
		!strings.Contains(errb2.String(), "Authentication Failed") || strings.Contains(errb2.String(), "wrong-password") {
		t.Fatalf("wrong admin password: %d %s", code, errb2.String())
	}
}

func mustCredential(t *testing.T, d *daemon.Daemon) (string, string) {
	t.Helper()
	out := mustCLI(t, d, "credential", "create", "acme", "-username", "second")
	var c struct{ Username, Password string }
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	return c.Username, c.Password
}

// TestAdminCLIDeadLetters: the deadletter commands reach their routes: an
// empty list, a retry of an unknown id refused with the API's 404, a bad id
// refused before any request.
func TestAdminCLIDeadLetters(t *testing.T) {
	d := startDaemon(t)
	if out := strings.TrimSpace(mustCLI(t, d, "deadletter", "list", "-limit", "10")); out != "[]" {
		t.Fatalf("deadletter list: %q", out)
	}
	if code, _, errb := cli(t, d, "deadletter", "retry", "42"); code != 1 || !strings.Contains(errb, "No dead-lettered callback 42") {
		t.Fatalf("retry of an unknown id: exit %d: %s", code, errb)
	}
	if code, _, errb := cli(t, d, "deadletter", "delete", "x"); code != 1 || !strings.Contains(errb, "not a callback id") {
		t.Fatalf("delete of a bad id: exit %d: %s", code, errb)
	}
}

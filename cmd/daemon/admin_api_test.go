package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/httpapi/admin"
	"smppbridge/testharness/smsc"
)

const (
	adminUser = "ops"
	adminPass = "admin-password"
)

// startAdminEnv is startReceiptEnv with admin credentials configured.
func startAdminEnv(t *testing.T, b smsc.Behaviour, o configOptions) *receiptEnv {
	t.Helper()
	sim := startSim(t, b)
	h := newHookReceiver(t)
	o.CallbackURL = h.srv.URL + "/status"
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), o)
	cfg.Admin.Username, cfg.Admin.PasswordHash = adminUser, fastHash(t, adminPass)
	e := startDaemonWith(t, sim, cfg, daemon.Options{CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)
	return &receiptEnv{env: e, hooks: h}
}

// adminDo calls the admin API with the given Basic credentials (none when
// user is "").
func (e *env) adminDo(user, pass, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, "http://"+e.d.AdminAddr()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) admin(method, path string, body any) response {
	e.t.Helper()
	return e.adminDo(adminUser, adminPass, method, path, body)
}

func (e *env) mustAdmin(status int, method, path string, body any) response {
	e.t.Helper()
	r := e.admin(method, path, body)
	if r.status != status {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.raw, status)
	}
	return r
}

func sendBody(appID, from string, to ...string) string {
	b, _ := json.Marshal(map[string]any{"applicationId": appID, "from": from, "to": to, "text": "hello"})
	return string(b)
}

func (e *env) mustSend(appID, from string, to ...string) string {
	e.t.Helper()
	r := e.post(acct, user, pass, "application/json", sendBody(appID, from, to...))
	if r.status != 202 {
		e.t.Fatalf("send: %d %s", r.status, r.raw)
	}
	return r.body["id"].(string)
}

// failedWith waits for the next callback and checks it is message-failed
// with code for message id and recipient to.
func (e *receiptEnv) failedWith(id, to string, code int) {
	e.t.Helper()
	ev := oneEvent(e.t, e.hooks.next(e.t))
	m, _ := ev["message"].(map[string]any)
	if ev["type"] != "message-failed" || ev["errorCode"] != float64(code) || ev["to"] != to || m["id"] != id {
		e.t.Fatalf("want message-failed %d for %s to %s, got %v", code, id, to, ev)
	}
}

var pathParam = regexp.MustCompile(`\{[a-z]+\}`)

// TestAdminRoutesRefusedWithoutCredentials: every management route answers
// 401 in the V2 error shape without the admin credentials, with wrong ones
// and with API credentials, and changes nothing; with no admin credentials
// configured every route is refused even to a caller who sends some.
func TestAdminRoutesRefusedWithoutCredentials(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{})
	cases := []struct{ name, user, pass string }{
		{"none", "", ""},
		{"wrong password", adminUser, "nope-nope"},
		{"wrong user", "root", adminPass},
		{"API credentials", user, pass},
	}
	routes := admin.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d admin routes", len(routes))
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		path = pathParam.ReplaceAllString(path, acct) // an existing account: a DELETE would matter
		for _, c := range cases {
			t.Run(rt+"/"+c.name, func(t *testing.T) {
				r := e.adminDo(c.user, c.pass, method, path, map[string]any{})
				if r.status != 401 || r.body["type"] != "unauthorized" || r.body["description"] == "" {
					t.Fatalf("%d %s", r.status, r.raw)
				}
			})
		}
	}
	if r := e.mustAdmin(200, "GET", "/v1/accounts/"+acct, nil); r.body["id"] != acct {
		t.Fatalf("account changed: %s", r.raw)
	}
	// The messaging API still takes its credentials.
	e.mustSend(app, num, "+15550002222")

	// Without configured admin credentials nothing is open.
	sim := startSim(t, smsc.Behaviour{})
	cfg := testConfig(t, sim.Addr(), filepath.Join(t.TempDir(), "b.db"), "")
	open := startDaemonWith(t, sim, cfg, daemon.Options{})
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		r := open.adminDo(adminUser, adminPass, method, pathParam.ReplaceAllString(path, acct), map[string]any{})
		if r.status != 401 || !strings.Contains(r.raw, "admin.username") {
			t.Fatalf("%s without admin credentials configured: %d %s", rt, r.status, r.raw)
		}
	}
}

// TestPolicyChecks: each policy refusal is a 202 followed by message-failed
// with its code for that recipient only; a from number the application
// does not own stays a 400.
func TestPolicyChecks(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{})

	t.Run("to the from number 4401", func(t *testing.T) {
		before := e.sim.Stats().Messages
		id := e.mustSend(app, num, num)
		e.failedWith(id, num, 4401)
		if got := e.sim.Stats().Messages - before; got != 0 {
			t.Fatalf("%d messages reached the carrier; a loop must not", got)
		}
	})
	t.Run("emergency 4492", func(t *testing.T) {
		id := e.mustSend(app, num, "911")
		e.failedWith(id, "911", 4492)
	})
	t.Run("blocked to 4482", func(t *testing.T) {
		e.mustAdmin(200, "PUT", "/v1/blocked/+15550002001", map[string]any{"direction": "to"})
		id := e.mustSend(app, num, "+15550002001")
		e.failedWith(id, "+15550002001", 4482)
		// Blocked as a recipient only: it may still be a sender's number.
		e.mustAdmin(204, "DELETE", "/v1/blocked/+15550002001", nil)
	})
	t.Run("blocked from 4481", func(t *testing.T) {
		e.mustAdmin(200, "PUT", "/v1/blocked/+15550001112", map[string]any{"direction": "from"})
		id := e.mustSend(app, "+15550001112", "+15550002003")
		e.failedWith(id, "+15550002003", 4481)
		r := e.mustAdmin(200, "GET", "/v1/blocked", nil)
		if !strings.Contains(r.raw, `"+15550001112"`) {
			t.Fatalf("blocked list %s", r.raw)
		}
		e.mustAdmin(204, "DELETE", "/v1/blocked/+15550001112", nil)
	})
	t.Run("country 4432", func(t *testing.T) {
		e.mustAdmin(200, "PATCH", "/v1/accounts/"+acct, map[string]any{"countries": []string{"44"}})
		id := e.mustSend(app, num, "+15550002004")
		e.failedWith(id, "+15550002004", 4432)
		e.mustAdmin(200, "PATCH", "/v1/accounts/"+acct, map[string]any{"countries": []string{}})
	})
	t.Run("from not owned 400", func(t *testing.T) {
		r := e.post(acct, user, pass, "application/json", sendBody(app, "+15550009999", "+15550002005"))
		if r.status != 400 || !strings.Contains(r.raw, "is not a number of application") {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run("allowed after the rules are lifted", func(t *testing.T) {
		e.mustSend(app, "+15550001112", "+15550002001")
		ev := oneEvent(t, e.hooks.next(t))
		if ev["type"] != "message-delivered" || ev["to"] != "+15550002001" {
			t.Fatalf("%v", ev)
		}
	})
}

// TestStopStart: an inbound STOP (any case, padded) opts the sender out of
// that number: the next message to it ends as message-failed 4775 and
// never reaches the carrier; START opts it back in.
func TestStopStart(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{})
	const sender = "+15550007011"
	inject := func(text string) {
		t.Helper()
		if _, err := e.sim.InjectMO(smsc.MO{From: sender, To: num, Text: text}); err != nil {
			t.Fatal(err)
		}
		ev := oneEvent(t, e.hooks.next(t)) // the keyword is still a message-received callback
		if m, _ := ev["message"].(map[string]any); ev["type"] != "message-received" || m["text"] != text {
			t.Fatalf("%v", ev)
		}
	}
	inject(" Stop ")
	if r := e.mustAdmin(200, "GET", "/v1/optouts?number=%2B15550001111", nil); !strings.Contains(r.raw, sender) {
		t.Fatalf("opt-outs %s", r.raw)
	}
	before := e.sim.Stats().Messages
	id := e.mustSend(app, num, sender)
	e.failedWith(id, sender, 4775)
	// Another number of the application is not opted out.
	e.mustSend(app, "+15550001112", sender)
	if ev := oneEvent(t, e.hooks.next(t)); ev["type"] != "message-delivered" {
		t.Fatalf("%v", ev)
	}
	if got := e.sim.Stats().Messages - before; got != 1 {
		t.Fatalf("%d messages reached the carrier, want 1 (the opted-out one must not)", got)
	}
	inject("START")
	e.mustSend(app, num, sender)
	if ev := oneEvent(t, e.hooks.next(t)); ev["type"] != "message-delivered" || ev["to"] != sender {
		t.Fatalf("after START: %v", ev)
	}
}

// TestNumberMoveInFlight: a message accepted before its number moved to
// another application keeps its application: its callback goes to the old
// application's URL. After the move, sends must name the new application.
// The move and a new application persist over a restart.
func TestNumberMoveInFlight(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{})
	h2 := newHookReceiver(t)
	r := e.mustAdmin(201, "POST", "/v1/accounts/"+acct+"/applications", map[string]any{"callbackUrl": h2.srv.URL + "/status"})
	app2 := r.body["id"].(string)

	// Hold the carrier: the message is accepted and waits, unsent.
	beh := e.sim.Behaviour()
	beh.RefuseBinds = true
	if err := e.sim.SetBehaviour(beh); err != nil {
		t.Fatal(err)
	}
	e.sim.DropBinds("")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().BindsActive == 0 }); err != nil {
		t.Fatal(err)
	}
	old := e.mustSend(app, num, "+15550002010")
	mv := e.mustAdmin(200, "PUT", "/v1/numbers/"+num, map[string]any{"applicationId": app2, "class": "a2p", "campaignId": "CABC123"})
	if mv.body["applicationId"] != app2 || mv.body["product"] != "LOCAL_A2P" {
		t.Fatalf("move: %s", mv.raw)
	}
	if r := e.post(acct, user, pass, "application/json", sendBody(app, num, "+15550002011")); r.status != 400 {
		t.Fatalf("send from a moved number with the old application: %d %s", r.status, r.raw)
	}
	moved := e.mustSend(app2, num, "+15550002011")
	beh.RefuseBinds = false
	if err := e.sim.SetBehaviour(beh); err != nil {
		t.Fatal(err)
	}
	ev := oneEvent(t, e.hooks.next(t))
	if m, _ := ev["message"].(map[string]any); ev["type"] != "message-delivered" || m["id"] != old || m["applicationId"] != app {
		t.Fatalf("old application's callback: %v", ev)
	}
	ev = oneEvent(t, h2.next(t))
	if m, _ := ev["message"].(map[string]any); ev["type"] != "message-delivered" || m["id"] != moved || m["applicationId"] != app2 {
		t.Fatalf("new application's callback: %v", ev)
	}

	// Restart on the same store: the API's changes are still there, the
	// configuration (which still lists the number under app) does not undo
	// the move, and the configured application is still configured.
	cfg := e.d.Config()
	e.shutdown()
	e2 := startDaemonWith(t, e.sim, cfg, daemon.Options{})
	r = e2.mustAdmin(200, "GET", "/v1/numbers/"+strings.ReplaceAll(num, "+", "%2B"), nil)
	if r.body["applicationId"] != app2 || r.body["class"] != "a2p" || r.body["campaignId"] != "CABC123" || r.body["origin"] != "api" {
		t.Fatalf("after restart: %s", r.raw)
	}
	if r := e2.mustAdmin(200, "GET", "/v1/accounts/"+acct+"/applications/"+app, nil); r.body["origin"] != "config" {
		t.Fatalf("configured application: %s", r.raw)
	}
}

// TestClassRates: a carrier's class_rates holds a2p numbers to their own
// rate while a p2p message sent after them goes ahead.
func TestClassRates(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{CarrierExtra: "class_rates = { a2p = 4.0 }"})
	const a2p = "+15550001112"
	e.mustAdmin(200, "PUT", "/v1/numbers/"+a2p, map[string]any{"applicationId": app, "class": "a2p", "campaignId": "CTEST"})
	start := time.Now()
	for i := range 10 {
		e.mustSend(app, a2p, fmt.Sprintf("+1555000300%d", i))
	}
	e.mustSend(app, num, "+15550003999") // p2p, queued last
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := e.sim.WaitMessages(ctx, 11)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	p2pAt, lastA2P := -1, -1
	for i, m := range msgs { // newest first
		if strings.HasSuffix(m.To, "15550003999") {
			p2pAt = i
		} else if lastA2P < 0 {
			lastA2P = i
		}
	}
	// 10 a2p at 4/s with a burst of 4: at least 6/4 s; the p2p one did not
	// wait for them (it is not the newest message).
	if elapsed < 1400*time.Millisecond {
		t.Fatalf("10 a2p messages in %v: not held to 4/s", elapsed)
	}
	if p2pAt < 0 || p2pAt <= lastA2P {
		t.Fatalf("p2p message at %d (newest first), last a2p at %d: it waited behind the a2p lane", p2pAt, lastA2P)
	}
	// Records carry the class as the contract's product, and the campaign.
	for _, c := range []struct{ from, product, campaign string }{{a2p, "LOCAL_A2P", "CTEST"}, {num, "P2P", ""}} {
		msgs, _, _ := e.search("sourceTn=" + url.QueryEscape(c.from) + "&limit=1")
		if len(msgs) != 1 || msgs[0]["product"] != c.product || (msgs[0]["campaignId"] != nil) != (c.campaign != "") ||
			(c.campaign != "" && msgs[0]["campaignId"] != c.campaign) {
			t.Fatalf("record of a message from %s: %v, want product %s campaign %q", c.from, msgs, c.product, c.campaign)
		}
	}
}

// TestReloadDirectory: a re-read configuration reaches the live directory
// without a restart: a number added to the file can send at once, one
// removed from it cannot.
func TestReloadDirectory(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{}, configOptions{})
	cfg := *e.d.Config()
	cfg.Accounts = slices.Clone(cfg.Accounts)
	a := cfg.Accounts[0]
	a.Applications = slices.Clone(a.Applications)
	a.Applications[0].Numbers = []string{num, "+15550001119"} // +15550001112 dropped, +15550001119 added
	cfg.Accounts[0] = a
	if err := e.d.ReloadDirectory(&cfg); err != nil {
		t.Fatal(err)
	}
	e.mustSend(app, "+15550001119", "+15550002020")
	if r := e.post(acct, user, pass, "application/json", sendBody(app, "+15550001112", "+15550002021")); r.status != 400 {
		t.Fatalf("send from a number removed from the configuration: %d %s", r.status, r.raw)
	}
}

// TestAdminCarriersShowReceiverErrors: with bind_type =
// "transmitter_receiver", a receiver bind that cannot bind (so no receipt
// or inbound message arrives) shows in the carrier's bindErrors of
// GET /v1/carriers, as it does in /readyz.
func TestAdminCarriersShowReceiverErrors(t *testing.T) {
	e := startAdminEnv(t, smsc.Behaviour{RefuseReceivers: true}, configOptions{CarrierExtra: `bind_type = "transmitter_receiver"`})
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := e.mustAdmin(200, "GET", "/v1/carriers", nil)
		if strings.Contains(r.raw, "receiver: smpp: bind refused: ESME_RBINDFAIL") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/carriers does not show the receivers' refusal: %s", r.raw)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, bounded by the deadline
	}
}

// TestReloadRotatesAdminPassword: a reload with a new admin password takes
// effect at once on the management API and on /healthz, /readyz and
// /metrics: the old password is refused, also by clients it had let in
// before (nothing verified is kept across the change), and the new one
// works, also after another reload.
func TestReloadRotatesAdminPassword(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	db := filepath.Join(t.TempDir(), "bridge.db")
	mk := func(pass string) *conf.Config {
		cfg := configWith(t, sim.Addr(), db, configOptions{})
		cfg.Admin.Username, cfg.Admin.PasswordHash = adminUser, fastHash(t, pass)
		return cfg
	}
	first := mk(adminPass)
	e := startDaemonWith(t, sim, first, daemon.Options{})
	health := func(pass string) int {
		req, _ := http.NewRequest("GET", "http://"+e.d.AdminAddr()+"/healthz", nil)
		req.SetBasicAuth(adminUser, pass)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if r := e.adminDo(adminUser, adminPass, "GET", "/v1/carriers", nil); r.status != 200 || health(adminPass) != 200 {
		t.Fatalf("before the reload: %d %s, healthz %d", r.status, r.raw, health(adminPass))
	}
	const rotated = "rotated-password"
	if err := e.d.Reload(mk(rotated)); err != nil {
		t.Fatal(err)
	}
	if r := e.adminDo(adminUser, adminPass, "GET", "/v1/carriers", nil); r.status != 401 {
		t.Fatalf("old password after the reload: %d %s", r.status, r.raw)
	}
	if s := health(adminPass); s != 401 {
		t.Fatalf("old password on /healthz after the reload: %d", s)
	}
	if r := e.adminDo(adminUser, rotated, "GET", "/v1/carriers", nil); r.status != 200 || health(rotated) != 200 {
		t.Fatalf("new password: %d %s, healthz %d", r.status, r.raw, health(rotated))
	}
	if err := e.d.Reload(mk(rotated)); err != nil { // a new hash of the same password
		t.Fatal(err)
	}
	if r := e.adminDo(adminUser, rotated, "GET", "/v1/carriers", nil); r.status != 200 {
		t.Fatalf("after a second reload: %d %s", r.status, r.raw)
	}
}

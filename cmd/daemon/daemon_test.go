package daemon_test

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

const (
	acct  = "9900000"
	app   = "93de2206-9669-4e07-948d-329f4b722ee2"
	num   = "+15550001111"
	user  = "api"
	pass  = "test-password"
	acct2 = "9900001"
	user2 = "other"
)

// fastHash is a valid password_hash with few iterations: the production
// 600,000 would cost seconds per test under -race.
func fastHash(t testing.TB, pw string) string {
	salt := []byte("0123456789abcdef")
	key, err := pbkdf2.Key(sha256.New, pw, salt, 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2-sha256$1000$%s$%s", base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}

type env struct {
	t      *testing.T
	sim    *smsc.Server
	d      *daemon.Daemon
	base   string
	stop   context.CancelFunc
	done   chan error
	dbPath string
}

// testConfig is a daemon configuration against sim; extra is appended to
// the carrier table.
func testConfig(t *testing.T, simAddr, dbPath, carrierExtra string) *conf.Config {
	t.Helper()
	return configWith(t, simAddr, dbPath, configOptions{CarrierExtra: carrierExtra})
}

// carrierSpec is one more [[carrier]] table after the first ("sim"). Extra
// may set any key but name and address, including the defaulted ones
// (system_id, password, segments_per_second, reconnect_min, reconnect_max).
type carrierSpec struct {
	Name, Addr, Extra string
}

// configOptions extends testConfig. Every key testConfig writes into the
// first carrier and into [api] is a default that the matching extra may
// set instead (TOML refuses a key defined twice).
type configOptions struct {
	CarrierExtra string        // keys for the first carrier, "sim"
	Carriers     []carrierSpec // more carriers, in this order
	API          string        // keys for [api]
	Top          string        // more top-level tables, e.g. "[log]\nlevel = \"debug\"\n"
	CallbackURL  string        // the first application's callback_url; default a closed port
}

func configWith(t *testing.T, simAddr, dbPath string, o configOptions) *conf.Config {
	t.Helper()
	cbURL := o.CallbackURL
	if cbURL == "" {
		cbURL = "http://127.0.0.1:9/callbacks"
	}
	var more strings.Builder
	for _, c := range o.Carriers {
		fmt.Fprintf(&more, "[[carrier]]\nname = %q\naddress = %q\n%s\n", c.Name, c.Addr, withDefaults(c.Extra,
			`system_id = "bridge"`, `password = "secret"`, "segments_per_second = 1000",
			`reconnect_min = "20ms"`, `reconnect_max = "100ms"`))
	}
	toml := fmt.Sprintf(`
[http]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[store]
path = %q
[api]
%s
%s
[[carrier]]
name = "sim"
address = %q
%s
%s
[[account]]
id = %q
  [[account.credential]]
  username = %q
  password_hash = %q
  [[account.application]]
  id = %q
  callback_url = %q
  inbound_callback_url = %q
  numbers = [%q, "+15550001112"]
[[account]]
id = %q
  [[account.credential]]
  username = %q
  password_hash = %q
  [[account.application]]
  id = "app-2"
  callback_url = "http://127.0.0.1:9/callbacks"
  numbers = ["+15550009999"]
`, dbPath, withDefaults(o.API, `shutdown_timeout = "5s"`), o.Top, simAddr,
		withDefaults(withRate(o.CarrierExtra), `system_id = "bridge"`, `password = "secret"`, "binds = 2", "window = 20",
			`routes = ["+1"]`, `reconnect_min = "20ms"`, `reconnect_max = "100ms"`),
		more.String(), acct, user, fastHash(t, pass), app, cbURL, cbURL, num, acct2, user2, fastHash(t, pass))
	cfg, err := conf.Parse([]byte(toml))
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, toml)
	}
	return cfg
}

// withRate adds the default rate unless the test sets its own.
func withRate(extra string) string {
	return withDefaults(extra, "segments_per_second = 1000")
}

// withDefaults appends each "key = value" default whose key extra does not
// set itself.
func withDefaults(extra string, defaults ...string) string {
	set := map[string]bool{}
	for _, line := range strings.Split(extra, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok {
			set[strings.TrimSpace(k)] = true
		}
	}
	var b strings.Builder
	b.WriteString(extra)
	b.WriteString("\n")
	for _, d := range defaults {
		k, _, _ := strings.Cut(d, "=")
		if !set[strings.TrimSpace(k)] {
			b.WriteString(d)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func startSim(t *testing.T, b smsc.Behaviour) *smsc.Server {
	sim, err := smsc.Start(smsc.Config{Behaviour: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// startDaemon runs the daemon in-process until the test ends or e.restart.
func startDaemon(t *testing.T, sim *smsc.Server, dbPath, carrierExtra string) *env {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "bridge.db")
	}
	return startDaemonWith(t, sim, testConfig(t, sim.Addr(), dbPath, carrierExtra), daemon.Options{})
}

// startDaemonWith runs the daemon on cfg with opts (Config and Ready are
// set here) until the test ends or e.shutdown.
func startDaemonWith(t *testing.T, sim *smsc.Server, cfg *conf.Config, opts daemon.Options) *env {
	t.Helper()
	ready := make(chan *daemon.Daemon, 1)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, sim: sim, stop: cancel, done: make(chan error, 1), dbPath: cfg.Store.Path}
	opts.Config = cfg
	opts.Ready = func(d *daemon.Daemon) { ready <- d }
	go func() {
		e.done <- daemon.Run(ctx, opts)
	}()
	select {
	case e.d = <-ready:
	case err := <-e.done:
		t.Fatalf("daemon did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not start within 30s")
	}
	e.base = "http://" + e.d.HTTPAddr()
	t.Cleanup(e.shutdown)
	return e
}

func (e *env) shutdown() {
	if e.stop == nil {
		return
	}
	e.stop()
	if err := <-e.done; err != nil {
		e.t.Errorf("daemon stopped with %v", err)
	}
	e.stop = nil
}

func (e *env) waitBinds(n int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().BindsActive >= n }); err != nil {
		e.t.Fatalf("binds: %v", err)
	}
}

type response struct {
	status int
	body   map[string]any
	raw    string
}

func (e *env) post(account, username, password, contentType, body string) response {
	e.t.Helper()
	r, err := e.tryPost(account, username, password, contentType, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// tryPost is post for other goroutines than the test's: it reports a
// transport error instead of failing the test.
func (e *env) tryPost(account, username, password, contentType, body string) (response, error) {
	req, err := http.NewRequest("POST", e.base+"/api/v2/users/"+account+"/messages", strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	if username != "" {
		req.SetBasicAuth(username, password)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, raw: string(raw)}
	json.Unmarshal(raw, &r.body)
	return r, nil
}

func (e *env) send(body string) response {
	e.t.Helper()
	return e.post(acct, user, pass, "application/json; charset=utf-8", body)
}

func msgBody(to []string, text string, extra string) string {
	tos, _ := json.Marshal(to)
	t, _ := json.Marshal(text)
	return fmt.Sprintf(`{"applicationId":%q,"to":%s,"from":%q,"text":%s%s}`, app, tos, num, t, extra)
}

func waitMessages(t *testing.T, sim *smsc.Server, n int64) []smsc.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := sim.WaitMessages(ctx, int(n))
	if err != nil {
		t.Fatalf("simulator got %d messages, want %d: %v", sim.Stats().Messages, n, err)
	}
	return msgs
}

// TestSendArrivesDecoded: 202 with the contract's body, then the message at
// the simulator with the right encoding and parts, and its text gone from
// the store once the carrier took it.
func TestSendArrivesDecoded(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	e.waitBinds(2)
	long := strings.Repeat("Concatenated GSM text {with escapes} ", 10) // 370 chars, 20 escapes → 390 septets
	cases := []struct {
		name       string
		to         []string
		text       string
		dataCoding byte
		segments   int
	}{
		{"gsm7", []string{"+15550002001"}, "Hello @ £ € world", 0x00, 1},
		{"gsm7 long", []string{"+15550002002"}, long, 0x00, 3},
		{"ucs2", []string{"+15550002003"}, "Привет 👋", 0x08, 1},
		{"ucs2 long", []string{"+15550002004"}, strings.Repeat("日本語のテキスト😀", 10), 0x08, 2},
		{"group", []string{"+15550002005", "+15550002006", "+15550002007"}, "group hello", 0x00, 1},
		// Peer lessons 30 and 31 (gosmpp#167, #175, #128) and section 5 item 9:
		// counted exactly, an escape or a surrogate pair never split.
		{"gsm7 158 plain and an escape, 160 septets", []string{"+15550002008"}, strings.Repeat("a", 158) + "€", 0x00, 1},
		{"gsm7 159 plain and an escape", []string{"+15550002009"}, strings.Repeat("a", 159) + "{", 0x00, 2},
		{"gsm7 escape on a part boundary", []string{"+15550002010"}, strings.Repeat("b", 152) + "{" + strings.Repeat("c", 152), 0x00, 3},
		{"ucs2 69 and an emoji", []string{"+15550002011"}, strings.Repeat("й", 69) + "😀", 0x08, 2},
		{"ucs2 68 and an emoji", []string{"+15550002012"}, strings.Repeat("й", 68) + "😀", 0x08, 1},
		{"ucs2 emoji on a part boundary", []string{"+15550002013"}, strings.Repeat("й", 66) + "😀" + strings.Repeat("й", 66), 0x08, 3},
	}
	var total int64
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.send(msgBody(c.to, c.text, `,"tag":"t-1"`))
			if r.status != 202 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			id, _ := r.body["id"].(string)
			if len(id) != 29 {
				t.Fatalf("id %q is not 29 characters", id)
			}
			if ts, _ := r.body["time"].(string); !strings.HasSuffix(ts, "Z") || len(ts) != 24 {
				t.Fatalf("time %q is not UTC with milliseconds", ts)
			}
			if got := int(r.body["segmentCount"].(float64)); got != c.segments {
				t.Fatalf("segmentCount %d, want %d", got, c.segments)
			}
			if r.body["tag"] != "t-1" || r.body["direction"] != "out" || r.body["priority"] != "default" || r.body["owner"] != num {
				t.Fatalf("body %s", r.raw)
			}
			if _, has := r.body["expiration"]; has {
				t.Fatalf("unset expiration present: %s", r.raw)
			}
			total += int64(len(c.to))
			msgs := waitMessages(t, sim, total)
			got := map[string]smsc.Message{}
			for _, m := range msgs {
				got[m.To] = m
			}
			for _, to := range c.to {
				m, ok := got[strings.TrimPrefix(to, "+")]
				if !ok {
					t.Fatalf("nothing arrived for %s", to)
				}
				if m.Text != c.text || m.DataCoding != c.dataCoding || m.Segments != c.segments || m.From != strings.TrimPrefix(num, "+") {
					t.Fatalf("arrived %+v, want text %q coding %#x segments %d", m, c.text, c.dataCoding, c.segments)
				}
				if m.SourceTON != 1 || m.DestTON != 1 {
					t.Fatalf("TON %d/%d, want international", m.SourceTON, m.DestTON)
				}
			}
			e.waitTextGone(id)
		})
	}
}

// waitTextGone waits until the store holds a record of the message and no
// text: the carrier has it, we do not keep it.
func (e *env) waitTextGone(id string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.d.Store.Record(id, 0)
		stored, serr := e.d.Store.TextStored(id)
		if serr != nil {
			e.t.Fatal(serr)
		}
		if err == nil && !stored {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("message %s: record err %v, text still stored %v", id, err, stored)
		}
		time.Sleep(5 * time.Millisecond) // the record is written just after the simulator answers
	}
}

// TestValidation: every rule answers 400 (or 401/403/415) with its exact body.
func TestValidation(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("+1555000%04d", 3000+i)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	type fe struct{ field, desc string }
	cases := []struct {
		name   string
		body   string
		fields []fe
	}{
		{"missing applicationId", `{"to":["+15550002222"],"from":"+15550001111","text":"x"}`,
			[]fe{{"applicationId", "applicationId is required"}}},
		{"foreign application", `{"applicationId":"app-2","to":["+15550002222"],"from":"+15550001111","text":"x"}`,
			[]fe{{"applicationId", "'app-2' is not an application of account 9900000"}}},
		{"invalid to", msgBody([]string{"+1invalid"}, "x", ""),
			[]fe{{"to", "'+1invalid' must be replaced with a valid E164 formatted telephone number"}}},
		{"duplicate to", msgBody([]string{"+15550002222", "+15550002222"}, "x", ""),
			[]fe{{"to", "'+15550002222' appears more than once; recipients must be unique"}}},
		{"too many recipients", msgBody(eleven, "x", ""),
			[]fe{{"to", "11 recipients exceed the group limit of 10 (forbidden-too-many-recipients)"}}},
		{"no recipients", msgBody([]string{}, "x", ""),
			[]fe{{"to", "to must contain at least one recipient"}}},
		{"from not of the application", `{"applicationId":"` + app + `","to":["+15550002222"],"from":"+15550009999","text":"x"}`,
			[]fe{{"from", "'+15550009999' is not a number of application " + app}}},
		{"text too long", msgBody([]string{"+15550002222"}, strings.Repeat("a", 2049), ""),
			[]fe{{"text", "text has 2049 characters, at most 2048 are allowed"}}},
		{"no text", msgBody([]string{"+15550002222"}, "", ""),
			[]fe{{"text", "text is required when no media is sent"}}},
		{"tag too long", msgBody([]string{"+15550002222"}, "x", `,"tag":"`+strings.Repeat("t", 1025)+`"`),
			[]fe{{"tag", "tag is longer than 1024 characters"}}},
		{"bad priority", msgBody([]string{"+15550002222"}, "x", `,"priority":"urgent"`),
			[]fe{{"priority", "'urgent' is not a priority; use default or high"}}},
		{"expiration in the past", msgBody([]string{"+15550002222"}, "x", `,"expiration":"`+past+`"`),
			[]fe{{"expiration", "expiration " + past + " is not in the future"}}},
		{"media refused by the carrier", msgBody([]string{"+15550002222"}, "x", `,"media":["https://example.com/a.jpg"]`),
			[]fe{{"media", "media cannot be sent to '+15550002222': its carrier carries SMS only"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.send(c.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400: %s", r.status, r.raw)
			}
			if r.body["type"] != "request-validation" || r.body["description"] != "Your request could not be accepted" {
				t.Fatalf("body %s", r.raw)
			}
			got, _ := r.body["fieldErrors"].([]any)
			if len(got) != len(c.fields) {
				t.Fatalf("fieldErrors %s, want %v", r.raw, c.fields)
			}
			for i, f := range c.fields {
				g := got[i].(map[string]any)
				if g["fieldName"] != f.field || g["description"] != f.desc {
					t.Fatalf("fieldErrors[%d] = %v, want %v", i, g, f)
				}
			}
		})
	}
	auth := []struct {
		name, account, user, pass, ctype string
		status                           int
		typ                              string
	}{
		{"no credentials", acct, "", "", "application/json", 401, "unauthorized"},
		{"wrong password", acct, user, "wrong", "application/json", 401, "unauthorized"},
		{"credentials of another account", acct, user2, pass, "application/json", 403, "forbidden"},
		{"not json", acct, user, pass, "text/plain", 415, "unsupported-content-type"},
	}
	for _, c := range auth {
		t.Run(c.name, func(t *testing.T) {
			r := e.post(c.account, c.user, c.pass, c.ctype, msgBody([]string{"+15550002222"}, "x", ""))
			if r.status != c.status || r.body["type"] != c.typ {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, c.status, c.typ)
			}
		})
	}
	if n := sim.Stats().SubmitSM; n != 0 {
		t.Fatalf("refused requests reached the carrier: %d submits", n)
	}
}

// TestQueueCapacity: with the carrier down nothing drains; the queue takes
// exactly segments_per_second × queue_seconds segments, then answers 429.
func TestQueueCapacity(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	e := startDaemon(t, sim, "", "segments_per_second = 2\nqueue_seconds = 5\n")
	// Capacity 10 segments: a 3-segment message, then 7 single ones fill it.
	long := strings.Repeat("x", 400)
	if r := e.send(msgBody([]string{"+15550004000"}, long, "")); r.status != 202 {
		t.Fatalf("long message: %d %s", r.status, r.raw)
	}
	for i := 0; i < 7; i++ {
		if r := e.send(msgBody([]string{fmt.Sprintf("+1555000%04d", 4001+i)}, "x", "")); r.status != 202 {
			t.Fatalf("message %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.send(msgBody([]string{"+15550004100"}, "x", ""))
	want := "The message queue is full: the allowed rate is 2 message segments per second and the queue holds 10 segments (5 seconds at that rate)"
	if r.status != 429 || r.body["type"] != "max-message-queue-size-exceeded" || r.body["description"] != want {
		t.Fatalf("at capacity: %d %s", r.status, r.raw)
	}
	// A group that only partly fits is refused whole.
	if r := e.send(msgBody([]string{"+15550004101", "+15550004102"}, "x", "")); r.status != 429 {
		t.Fatalf("group over capacity: %d %s", r.status, r.raw)
	}
}

// TestRestartKeepsQueue: messages accepted while the carrier refuses binds
// survive a restart and then arrive exactly once, with and without the
// intake log (store.wal).
func TestRestartKeepsQueue(t *testing.T) {
	for _, wal := range []bool{false, true} {
		t.Run(fmt.Sprintf("wal=%v", wal), func(t *testing.T) { testRestartKeepsQueue(t, wal) })
	}
}

func testRestartKeepsQueue(t *testing.T, wal bool) {
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	start := func(dbPath string) *env {
		cfg := testConfig(t, sim.Addr(), dbPath, "")
		cfg.Store.WAL = wal
		return startDaemonWith(t, sim, cfg, daemon.Options{})
	}
	e := start(filepath.Join(t.TempDir(), "bridge.db"))
	const n = 20
	for i := 0; i < n; i++ {
		if r := e.send(msgBody([]string{fmt.Sprintf("+1555000%04d", 5000+i)}, fmt.Sprintf("queued %d", i), "")); r.status != 202 {
			t.Fatalf("message %d: %d %s", i, r.status, r.raw)
		}
	}
	e.shutdown()
	if _, err := os.Stat(e.dbPath + ".wal"); (err == nil) != wal {
		t.Fatalf("intake log directory: %v, log on: %v", err, wal)
	}
	st, err := store.Open(e.dbPath, store.Options{WAL: wal})
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := st.QueueLen(); q != n {
		t.Fatalf("%d messages queued after shutdown, want %d", q, n)
	}
	st.Close()

	b := sim.Behaviour()
	b.RefuseBinds = false
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
	e2 := start(e.dbPath)
	waitMessages(t, sim, n)
	e2.shutdown() // graceful: everything in flight is answered and recorded first
	if got := sim.Stats().Messages; got != n {
		t.Fatalf("simulator received %d messages, want exactly %d", got, n)
	}
	seen := map[string]int{}
	for _, m := range sim.Messages() {
		seen[m.Text]++
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("queued %d", i)]; c != 1 {
			t.Fatalf("message %d arrived %d times", i, c)
		}
	}
	st, err = store.Open(e.dbPath, store.Options{WAL: wal})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if q, _ := st.QueueLen(); q != 0 {
		t.Fatalf("%d messages still queued after they were sent", q)
	}
}

// TestBothPrefixes: the API is also served without /api/v2.
func TestBothPrefixes(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	req, _ := http.NewRequest("POST", e.base+"/users/"+acct+"/messages", bytes.NewReader([]byte(msgBody([]string{"+15550006000"}, "short path", ""))))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	waitMessages(t, sim, 1)
}

// TestAdminSeparate: health endpoints live on the admin listener, not the
// public one, and require the admin credentials when configured.
func TestAdminSeparate(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	e.waitBinds(2)
	resp, err := http.Get("http://" + e.d.AdminAddr() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get(e.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("healthz on the public listener: %d", resp.StatusCode)
	}
}

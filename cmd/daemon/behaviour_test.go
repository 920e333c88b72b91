package daemon_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// allowBinds lets the simulator accept binds again.
func allowBinds(t *testing.T, sim *smsc.Server) {
	t.Helper()
	b := sim.Behaviour()
	b.RefuseBinds = false
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
}

// waitRecord waits for the outcome of one message copy (a record that is
// no longer QUEUED). Nothing notifies when a record is written, so the
// store is polled, briefly.
func (e *env) waitRecord(id string, rcpt int) store.Record {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := e.d.Store.Record(id, rcpt)
		if err == nil && r.Status != store.StatusQueued {
			return r
		}
		if err == nil {
			err = store.ErrNotFound // still queued
		}
		if !errors.Is(err, store.ErrNotFound) {
			e.t.Fatalf("record %s/%d: %v", id, rcpt, err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no record of %s/%d within 10s", id, rcpt)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// accepted checks for a 202 and returns the message id.
func (e *env) accepted(r response) string {
	e.t.Helper()
	if r.status != 202 {
		e.t.Fatalf("status %d, want 202: %s", r.status, r.raw)
	}
	id, _ := r.body["id"].(string)
	if id == "" {
		e.t.Fatalf("202 without an id: %s", r.raw)
	}
	return id
}

func wantRecord(t *testing.T, r store.Record, status string, code int) {
	t.Helper()
	if r.Status != status || r.ErrorCode != code {
		t.Fatalf("record %s/%d to %s: %s %d, want %s %d (%+v)", r.MessageID, r.Recipient, r.To, r.Status, r.ErrorCode, status, code, r)
	}
}

// wantSent: the copy went out; its receipt may already have marked it
// delivered.
func wantSent(t *testing.T, r store.Record) {
	t.Helper()
	if r.Status != "DELIVERED" {
		wantRecord(t, r, "SENT", 0)
	}
	wantRecord(t, r, r.Status, 0)
}

func wantValidation(t *testing.T, r response, field, desc string) {
	t.Helper()
	if r.status != 400 || r.body["type"] != "request-validation" {
		t.Fatalf("status %d, want 400 request-validation: %s", r.status, r.raw)
	}
	fe, _ := r.body["fieldErrors"].([]any)
	if len(fe) != 1 {
		t.Fatalf("fieldErrors %s, want one on %s", r.raw, field)
	}
	g, _ := fe[0].(map[string]any)
	if g["fieldName"] != field || g["description"] != desc {
		t.Fatalf("fieldErrors[0] = %v, want %s %q", g, field, desc)
	}
}

// TestPriorityHighFirst: a high priority message overtakes default ones
// queued before it. With one bind and a window of one there is one sender,
// and it holds one default message while it waits for the bind: the high
// one must come right after that one at the latest.
func TestPriorityHighFirst(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	e := startDaemon(t, sim, "", "binds = 1\nwindow = 1\n")
	const n = 5
	for i := 0; i < n; i++ {
		e.accepted(e.send(msgBody([]string{fmt.Sprintf("+1555000%04d", 7000+i)}, fmt.Sprintf("default %d", i), "")))
	}
	r := e.send(msgBody([]string{"+15550007100"}, "high one", `,"priority":"high"`))
	e.accepted(r)
	if r.body["priority"] != "high" {
		t.Fatalf("202 body priority: %s", r.raw)
	}
	allowBinds(t, sim)
	msgs := waitMessages(t, sim, n+1)
	var order []string
	for i, m := range msgs {
		order = append(order, m.Text)
		if i > 0 && m.ReceivedAt.Before(msgs[i-1].ReceivedAt) {
			t.Fatalf("messages out of arrival order: %v", msgs)
		}
	}
	hi := slices.Index(order, "high one")
	if hi < 0 || hi > 1 {
		t.Fatalf("arrival order %q: the high priority message is at %d, want 0 or 1", order, hi)
	}
	defaults := slices.Delete(slices.Clone(order), hi, hi+1)
	for i, text := range defaults {
		if text != fmt.Sprintf("default %d", i) {
			t.Fatalf("default messages out of FIFO order: %q", order)
		}
	}
}

// TestRouting: longest prefix wins among the carriers a message may use;
// route_accounts and route_from restrict a carrier; a destination without a
// route is accepted and then fails with 4420 without reaching any carrier.
func TestRouting(t *testing.T) {
	simA := startSim(t, smsc.Behaviour{})
	simB := startSim(t, smsc.Behaviour{})
	dbPath := filepath.Join(t.TempDir(), "bridge.db")
	cfg := configWith(t, simA.Addr(), dbPath, configOptions{Carriers: []carrierSpec{
		{"long", simB.Addr(), `system_id = "long"` + "\n" + `routes = ["+1555"]`},
		{"fromonly", simB.Addr(), `system_id = "fromonly"` + "\n" + `routes = ["+15552"]` + "\n" + `route_from = ["+15550001112"]`},
		{"acctonly", simB.Addr(), `system_id = "acctonly"` + "\n" + `routes = ["+1556"]` + "\n" + fmt.Sprintf(`route_accounts = [%q]`, acct2)},
	}})
	e := startDaemonWith(t, simA, cfg, daemon.Options{})
	type want struct {
		id      string
		rcpt    int
		to      string
		carrier string // "" : no route
	}
	var wants []want
	send := func(from, to, carrier string) {
		t.Helper()
		body := fmt.Sprintf(`{"applicationId":%q,"to":[%q],"from":%q,"text":"to %s"}`, app, to, from, to)
		wants = append(wants, want{e.accepted(e.send(body)), 0, to, carrier})
	}
	send(num, "+16660000001", "sim")                 // only "+1"
	send(num, "+15551000001", "long")                // "+1555" beats "+1"
	send(num, "+15552000001", "long")                // "+15552" is for another from
	send("+15550001112", "+15552000002", "fromonly") // … this one
	send(num, "+15560000001", "sim")                 // "+1556" is for another account
	send(num, "+447700900001", "")                   // no route at all
	body := `{"applicationId":"app-2","to":["+15560000002"],"from":"+15550009999","text":"to +15560000002"}`
	wants = append(wants, want{e.accepted(e.post(acct2, user2, pass, "application/json", body)), 0, "+15560000002", "acctonly"})
	id := e.accepted(e.send(msgBody([]string{"+447700900002", "+16660000002"}, "group, half routed", "")))
	wants = append(wants, want{id, 0, "+447700900002", ""}, want{id, 1, "+16660000002", "sim"})

	sysOf := map[string]string{"sim": "bridge", "long": "long", "fromonly": "fromonly", "acctonly": "acctonly"}
	var toA, toB int
	for _, w := range wants {
		r := e.waitRecord(w.id, w.rcpt)
		if r.To != w.to {
			t.Fatalf("record %s/%d is for %s, want %s", w.id, w.rcpt, r.To, w.to)
		}
		if w.carrier == "" {
			wantRecord(t, r, "FAILED", 4420)
			continue
		}
		wantSent(t, r)
		if r.Carrier != w.carrier {
			t.Fatalf("%s went to carrier %q, want %q", w.to, r.Carrier, w.carrier)
		}
		if w.carrier == "sim" {
			toA++
		} else {
			toB++
		}
	}
	// Records are written after the simulator answered: everything is there.
	for _, s := range []struct {
		sim *smsc.Server
		n   int
	}{{simA, toA}, {simB, toB}} {
		if st := s.sim.Stats(); st.SubmitSM != int64(s.n) || st.Messages != int64(s.n) {
			t.Fatalf("simulator got %d submits, %d messages; want %d", st.SubmitSM, st.Messages, s.n)
		}
	}
	got := map[string]string{}
	for _, m := range append(simA.Messages(), simB.Messages()...) {
		got["+"+m.To] = m.SystemID
	}
	for _, w := range wants {
		sys, ok := got[w.to]
		switch {
		case w.carrier == "" && ok:
			t.Fatalf("%s has no route but reached a carrier as %s", w.to, sys)
		case w.carrier != "" && sys != sysOf[w.carrier]:
			t.Fatalf("%s arrived bound as %q, want %q", w.to, sys, sysOf[w.carrier])
		}
	}
}

// TestExpiration: a message not sent by its expiration fails with 4360 and
// never reaches the carrier — whether it was still queued or already held
// by a sender waiting for a bind when it expired.
func TestExpiration(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	e := startDaemon(t, sim, "", "binds = 1\nwindow = 1\n")
	exp := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Millisecond)
	expJSON := `,"expiration":"` + exp.Format("2006-01-02T15:04:05.000Z07:00") + `"`
	// The only sender takes "held" at once and waits for a bind with it.
	held := e.accepted(e.send(msgBody([]string{"+15550007201"}, "expires while held", expJSON)))
	plain := e.accepted(e.send(msgBody([]string{"+15550007202"}, "does not expire", "")))
	queued := e.accepted(e.send(msgBody([]string{"+15550007203"}, "expires while queued", expJSON)))

	wantRecord(t, e.waitRecord(held, 0), "FAILED", 4360)
	for time.Now().Before(exp) { // the record says it is past; make sure the clock agrees
		if time.Until(exp) > 5*time.Second {
			t.Fatal("clock went backwards")
		}
		time.Sleep(5 * time.Millisecond)
	}
	allowBinds(t, sim)
	wantSent(t, e.waitRecord(plain, 0))
	wantRecord(t, e.waitRecord(queued, 0), "FAILED", 4360)
	msgs := sim.Messages()
	if st := sim.Stats(); len(msgs) != 1 || msgs[0].Text != "does not expire" || st.SubmitSM != 1 {
		t.Fatalf("simulator got %d submits: %+v; want only the message without expiration", st.SubmitSM, msgs)
	}
}

// TestMediaAsLinks: a carrier with media = "links" gets the URLs appended to
// the text; a "reject" carrier's destinations refuse media, for the whole
// group.
func TestMediaAsLinks(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{
		CarrierExtra: `media = "links"`,
		Carriers:     []carrierSpec{{"smsonly", sim.Addr(), `system_id = "smsonly"` + "\n" + `routes = ["+1666"]`}},
	})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	r := e.send(msgBody([]string{"+15550007301"}, "see these", `,"media":["https://example.com/a.jpg","https://example.com/b.png"]`))
	e.accepted(r)
	if m, _ := r.body["media"].([]any); len(m) != 2 || r.body["text"] != "see these" {
		t.Fatalf("202 body does not echo the request: %s", r.raw)
	}
	e.accepted(e.send(`{"applicationId":"` + app + `","to":["+15550007302"],"from":"` + num + `","media":["https://example.com/c.gif"]}`))
	wantValidation(t, e.send(msgBody([]string{"+15550007303", "+16660007304"}, "x", `,"media":["https://example.com/d.jpg"]`)),
		"media", "media cannot be sent to '+16660007304': its carrier carries SMS only")

	msgs := waitMessages(t, sim, 2)
	got := map[string]string{}
	for _, m := range msgs {
		got[m.To] = m.Text
	}
	if want := "see these\nhttps://example.com/a.jpg\nhttps://example.com/b.png"; got["15550007301"] != want {
		t.Fatalf("text with links %q, want %q", got["15550007301"], want)
	}
	if want := "https://example.com/c.gif"; got["15550007302"] != want {
		t.Fatalf("media-only text %q, want %q", got["15550007302"], want)
	}
	e.shutdown() // everything in flight answered and recorded
	if st := sim.Stats(); st.SubmitSM != 2 {
		t.Fatalf("simulator got %d submits, want 2: a refused group sent nothing", st.SubmitSM)
	}
}

// TestAlphanumericSender: an alphanumeric from assigned to the application
// goes out with TON 5 to a carrier that allows it, and is refused (400 on
// from) for one that does not, and for an application it is not assigned to.
func TestAlphanumericSender(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{
		CarrierExtra: "alphanumeric_sender = true",
		Carriers:     []carrierSpec{{"numeric", sim.Addr(), `system_id = "numeric"` + "\n" + `routes = ["+1666"]`}},
	})
	cfg.Accounts[0].Applications[0].Numbers = append(cfg.Accounts[0].Applications[0].Numbers, "My Shop")
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	bodyFrom := func(from string, to ...string) string {
		tos, _ := json.Marshal(to)
		return fmt.Sprintf(`{"applicationId":%q,"to":%s,"from":%q,"text":"your order shipped"}`, app, tos, from)
	}
	body := func(to ...string) string { return bodyFrom("My Shop", to...) }
	wantValidation(t, e.send(bodyFrom("Other Shop", "+15550007401")), "from",
		"'Other Shop' is not a number of application "+app)
	r := e.send(body("+15550007401"))
	e.accepted(r)
	if r.body["from"] != "My Shop" || r.body["owner"] != "My Shop" {
		t.Fatalf("202 body: %s", r.raw)
	}
	wantValidation(t, e.send(body("+16660007402")), "from",
		"'My Shop' is an alphanumeric sender, which the carrier for '+16660007402' does not accept")
	wantValidation(t, e.send(body("+15550007403", "+16660007404")), "from",
		"'My Shop' is an alphanumeric sender, which the carrier for '+16660007404' does not accept")

	m := waitMessages(t, sim, 1)[0]
	if m.From != "My Shop" || m.SourceTON != 5 || m.Text != "your order shipped" || m.To != "15550007401" {
		t.Fatalf("arrived %+v, want from \"My Shop\" with TON 5", m)
	}
	e.shutdown()
	if st := sim.Stats(); st.SubmitSM != 1 {
		t.Fatalf("simulator got %d submits, want 1", st.SubmitSM)
	}
}

// TestSubmitErrors: a submit_sm_resp error maps to its API error code and
// is not resent; a response that never comes in time leaves the copy SENT
// with its outcome unknown, and it is never sent again.
func TestSubmitErrors(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550007501", SubmitStatus: 0x0B},
		{Dest: "15550007502", SubmitStatus: 0x45},
	}})
	e := startDaemon(t, sim, "", "response_timeout = \"300ms\"\n")
	badDest := e.accepted(e.send(msgBody([]string{"+15550007501"}, "invalid destination", "")))
	failed := e.accepted(e.send(msgBody([]string{"+15550007502"}, "submit failed", "")))
	wantRecord(t, e.waitRecord(badDest, 0), "FAILED", 4720)
	wantRecord(t, e.waitRecord(failed, 0), "FAILED", 5610)
	if st := sim.Stats(); st.SubmitSM != 2 || st.Rejected != 2 || st.Messages != 0 {
		t.Fatalf("simulator: %d submits, %d rejected, %d messages; want 2, 2, 0", st.SubmitSM, st.Rejected, st.Messages)
	}

	b := sim.Behaviour()
	b.ResponseLatency = smsc.Dist{Min: smsc.Duration(time.Second)}
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
	slow := e.accepted(e.send(msgBody([]string{"+15550007503"}, "answered too late", "")))
	r := e.waitRecord(slow, 0)
	wantRecord(t, r, "SENT", 0)
	if r.Unknown != 1 || len(r.CarrierIDs) != 1 || r.CarrierIDs[0] != "" {
		t.Fatalf("record %+v, want one part of unknown outcome and no carrier id", r)
	}
	if q, err := e.d.Store.QueueLen(); err != nil || q != 0 {
		t.Fatalf("%d still queued (%v): an unknown outcome must not be sent again", q, err)
	}
	e.shutdown() // the stop waits for nothing more to send: nothing is resent
	msgs := sim.Messages()
	if st := sim.Stats(); st.SubmitSM != 3 || len(msgs) != 1 || msgs[0].Text != "answered too late" {
		t.Fatalf("simulator: %d submits, messages %+v; want exactly one more submit", st.SubmitSM, msgs)
	}
}

// TestGroupMessage: one id, one record per recipient in request order, and
// each recipient gets the message exactly once.
func TestGroupMessage(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	to := []string{"+15550007601", "+15550007602", "+15550007603"}
	r := e.send(msgBody(to, "hello group", ""))
	id := e.accepted(r)
	if got, _ := r.body["to"].([]any); len(got) != len(to) {
		t.Fatalf("202 body to: %s", r.raw)
	}
	for i, dest := range to {
		rec := e.waitRecord(id, i)
		wantSent(t, rec)
		if rec.To != dest || rec.Recipient != i || rec.MessageID != id || len(rec.CarrierIDs) != 1 || rec.CarrierIDs[0] == "" {
			t.Fatalf("record %d: %+v, want to %s with a carrier id", i, rec, dest)
		}
		byCID, err := e.d.Store.RecordByCarrierID("sim", rec.CarrierIDs[0])
		if err != nil || byCID.To != dest {
			t.Fatalf("by carrier id %s: %+v %v", rec.CarrierIDs[0], byCID, err)
		}
	}
	if _, err := e.d.Store.Record(id, len(to)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record past the last recipient: %v", err)
	}
	e.shutdown()
	seen := map[string]int{}
	for _, m := range sim.Messages() {
		if m.Text != "hello group" {
			t.Fatalf("unexpected message %+v", m)
		}
		seen["+"+m.To]++
	}
	for _, dest := range to {
		if seen[dest] != 1 {
			t.Fatalf("%s got the message %d times", dest, seen[dest])
		}
	}
	if len(seen) != len(to) {
		t.Fatalf("recipients %v", seen)
	}
}

// TestShutdownDrain: the daemon stops while messages pour in. After a
// restart every message that got a 202 arrives exactly once and none that
// got another answer does.
func TestShutdownDrain(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	// One bind, a window of five and a low rate: most accepted messages are
	// still queued when the daemon stops, five at most in the carrier's hands.
	const extra = "binds = 1\nwindow = 5\nsegments_per_second = 50\n"
	e := startDaemon(t, sim, "", extra)
	const senders, each, stopAfter = 4, 40, 60
	type outcome struct {
		text   string
		status int // 0: transport error, the answer is unknown
	}
	results := make(chan outcome, senders*each)
	stop := make(chan struct{})
	var n202 atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				text := fmt.Sprintf("drain %d-%d", g, i)
				r, err := e.tryPost(acct, user, pass, "application/json", msgBody([]string{fmt.Sprintf("+1555760%04d", g*100+i)}, text, ""))
				if err != nil {
					results <- outcome{text, 0}
					continue
				}
				results <- outcome{text, r.status}
				if r.status == 202 && n202.Add(1) == stopAfter {
					once.Do(func() { close(stop) })
				}
			}
		}()
	}
	select {
	case <-stop:
	case <-time.After(20 * time.Second):
		t.Fatal("no 60 messages accepted within 20s")
	}
	e.shutdown()
	wg.Wait()
	close(results)
	var ok, refused []string
	unknown := map[string]bool{}
	for r := range results {
		switch r.status {
		case 202:
			ok = append(ok, r.text)
		case 0:
			unknown[r.text] = true
		default:
			refused = append(refused, r.text)
		}
	}
	st, err := store.Open(e.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	left, _ := st.QueueLen()
	st.Close()
	t.Logf("%d accepted, %d refused, %d unanswered; %d sent before the stop, %d left queued",
		len(ok), len(refused), len(unknown), sim.Stats().Messages, left)

	e2 := startDaemon(t, sim, e.dbPath, extra)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	allArrived := func() bool {
		seen := map[string]bool{}
		for _, m := range sim.Messages() {
			seen[m.Text] = true
		}
		for _, text := range ok {
			if !seen[text] {
				return false
			}
		}
		return true
	}
	if err := sim.WaitFor(ctx, allArrived); err != nil {
		t.Fatalf("accepted messages missing after the restart: %v", err)
	}
	e2.shutdown() // graceful: whatever was in flight is answered and recorded
	count := map[string]int{}
	for _, m := range sim.Messages() {
		count[m.Text]++
	}
	for _, text := range ok {
		if count[text] != 1 {
			t.Errorf("accepted %q arrived %d times", text, count[text])
		}
	}
	for _, text := range refused {
		if count[text] != 0 {
			t.Errorf("refused %q arrived %d times", text, count[text])
		}
	}
	for text, c := range count {
		if c > 1 {
			t.Errorf("%q arrived %d times", text, c)
		}
		if !slices.Contains(ok, text) && !unknown[text] && !slices.Contains(refused, text) {
			t.Errorf("%q arrived but was never sent", text)
		}
	}
	st, err = store.Open(e.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if q, _ := st.QueueLen(); q != 0 {
		t.Fatalf("%d messages still queued: they would be sent again", q)
	}
}

// syncBuffer is an io.Writer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsCarryNoSecrets: at debug level the log holds no password (API,
// carrier or a wrong one tried) and no message text.
func TestLogsCarryNoSecrets(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550007801", SubmitStatus: 0x0B}}})
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// A second carrier whose binds are refused logs its bind failures.
	down := startSim(t, smsc.Behaviour{RefuseBinds: true})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{
		Carriers: []carrierSpec{{"down", down.Addr(), `routes = ["+1666"]`}},
	})
	e := startDaemonWith(t, sim, cfg, daemon.Options{Logger: logger})
	const wrong = "Wr0ng-Passw0rd-77"
	texts := []string{"confidential text one", "confidential text two", "Geheimnis über alles 🤫", "rejected-by-carrier body"}
	e.accepted(e.send(msgBody([]string{"+15550007800"}, texts[0], `,"tag":"t"`)))
	e.accepted(e.send(msgBody([]string{"+15550007802", "+15550007803"}, texts[1], "")))
	e.accepted(e.send(msgBody([]string{"+15550007804"}, texts[2], "")))
	rejected := e.accepted(e.send(msgBody([]string{"+15550007801"}, texts[3], "")))
	if r := e.post(acct, user, wrong, "application/json", msgBody([]string{"+15550007805"}, "never accepted text", "")); r.status != 401 {
		t.Fatalf("wrong password: %d %s", r.status, r.raw)
	}
	if r := e.post(acct, user2, pass, "application/json", msgBody([]string{"+15550007806"}, "other account text", "")); r.status != 403 {
		t.Fatalf("other account: %d %s", r.status, r.raw)
	}
	if r := e.send(msgBody([]string{"+15550007807"}, "invalid request text", `,"priority":"urgent"`)); r.status != 400 {
		t.Fatalf("invalid request: %d %s", r.status, r.raw)
	}
	waitMessages(t, sim, 4)
	wantRecord(t, e.waitRecord(rejected, 0), "FAILED", 4720)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := down.WaitFor(ctx, func() bool { return down.Stats().BindsRefused >= 2 }); err != nil {
		t.Fatal(err)
	}
	e.shutdown()

	log := buf.String()
	if !strings.Contains(log, "smppbridge running") || !strings.Contains(log, "bind down") {
		t.Fatalf("the logger was not used:\n%s", log)
	}
	secrets := append([]string{pass, "secret", wrong,
		base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
		base64.StdEncoding.EncodeToString([]byte(user + ":" + wrong)),
		"never accepted text", "other account text", "invalid request text"}, texts...)
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log contains %q", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}

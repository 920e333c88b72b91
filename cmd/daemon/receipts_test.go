package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/dlrmap"
	"smppbridge/testharness/smsc"
)

// hookReceiver is an application's callback endpoint on 127.0.0.1. Every
// request's body goes to bodies (after the response is decided); the first
// failFirst requests are answered 500.
type hookReceiver struct {
	srv       *httptest.Server
	bodies    chan []byte
	failFirst atomic.Int64
	mu        sync.Mutex
	got       [][]byte // bodies answered 2xx
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{bodies: make(chan []byte, 1000)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json; charset=utf-8" || r.Header.Get("User-Agent") != "BandwidthAPI/v2" {
			t.Errorf("callback request %s %q %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
		}
		if h.failFirst.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
		} else {
			h.mu.Lock()
			h.got = append(h.got, body)
			h.mu.Unlock()
		}
		h.bodies <- body
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) delivered() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// next waits for the next request's body.
func (h *hookReceiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-h.bodies:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("no callback within 20s")
		return nil
	}
}

// event decodes a body of exactly one event.
func oneEvent(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var evs []map[string]any
	if err := json.Unmarshal(body, &evs); err != nil || len(evs) != 1 {
		t.Fatalf("callback body is not an array of one event (%v): %s", err, body)
	}
	return evs[0]
}

type receiptEnv struct {
	*env
	hooks *hookReceiver
}

func startReceiptEnv(t *testing.T, b smsc.Behaviour, carrierExtra string, opts daemon.Options) *receiptEnv {
	t.Helper()
	sim := startSim(t, b)
	h := newHookReceiver(t)
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CarrierExtra: carrierExtra, CallbackURL: h.srv.URL + "/status"})
	if opts.CallbackPollInterval == 0 {
		opts.CallbackPollInterval = 20 * time.Millisecond
	}
	e := startDaemonWith(t, sim, cfg, opts)
	e.waitBinds(2)
	return &receiptEnv{env: e, hooks: h}
}

// settle waits until the simulator had n receipts acknowledged and the
// outbox is empty: every callback those receipts caused has been answered
// 2xx. Nothing notifies an empty outbox, so it is polled, briefly.
func (e *receiptEnv) settle(n int64) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().ReceiptsAcked >= n }); err != nil {
		e.t.Fatalf("receipts acked %d, want %d: %v", e.sim.Stats().ReceiptsAcked, n, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := e.d.Store.CallbackStats()
		if err != nil {
			e.t.Fatal(err)
		}
		if c.Pending() == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("callbacks still pending after 20s: %+v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var v2TimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestReceiptDeliveredCallback: a DELIVRD receipt becomes exactly one
// message-delivered callback of the V2 shape, and the record DELIVERED.
func TestReceiptDeliveredCallback(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	r := e.send(msgBody([]string{"+15550008001"}, "hello receipt", `,"tag":"order-42"`))
	id := e.accepted(r)
	ev := oneEvent(t, e.hooks.next(t))
	e.settle(1)
	if n := len(e.hooks.delivered()); n != 1 {
		t.Fatalf("%d callbacks, want 1", n)
	}
	if got := strings.Join(keys(ev), ","); got != "description,message,time,to,type" {
		t.Fatalf("event keys %s", got)
	}
	m, _ := ev["message"].(map[string]any)
	if got := strings.Join(keys(m), ","); got != "applicationId,direction,from,id,owner,segmentCount,tag,text,time,to" {
		t.Fatalf("message keys %s", got)
	}
	if ev["type"] != "message-delivered" || ev["description"] != "ok" || ev["to"] != "+15550008001" || !v2TimeRE.MatchString(ev["time"].(string)) {
		t.Fatalf("event %v", ev)
	}
	to, _ := m["to"].([]any)
	if m["id"] != id || m["owner"] != num || m["applicationId"] != app || m["time"] != r.body["time"] || m["segmentCount"] != 1.0 ||
		m["direction"] != "out" || len(to) != 1 || to[0] != "+15550008001" || m["from"] != num || m["text"] != "" || m["tag"] != "order-42" {
		t.Fatalf("message %v (202 time %v)", m, r.body["time"])
	}
	rec := e.waitRecord(id, 0)
	wantRecord(t, rec, "DELIVERED", 0)
	if rec.DoneAt.IsZero() {
		t.Fatalf("record %+v without DoneAt", rec)
	}
}

// TestReceiptFailedCallback: UNDELIV err:001 is message-failed 4720, with
// the code's name as description; a long message whose second part fails
// is one message-failed with that part's code.
func TestReceiptFailedCallback(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550008101", Stat: "UNDELIV", Err: "001"},
		{Dest: "15550008102", Stat: "UNDELIV", Err: "006", Segment: 2},
	}}, "", daemon.Options{})
	short := e.accepted(e.send(msgBody([]string{"+15550008101"}, "fails", "")))
	ev := oneEvent(t, e.hooks.next(t))
	m, _ := ev["message"].(map[string]any)
	if ev["type"] != "message-failed" || ev["errorCode"] != 4720.0 || ev["description"] != dlrmap.Name(4720) || ev["to"] != "+15550008101" || m["id"] != short {
		t.Fatalf("event %v", ev)
	}
	if _, has := m["tag"]; has {
		t.Fatalf("message without a tag carries one: %v", m)
	}
	wantRecord(t, e.waitRecord(short, 0), "FAILED", 4720)

	long := e.accepted(e.send(msgBody([]string{"+15550008102"}, strings.Repeat("three parts of text ", 20), "")))
	ev = oneEvent(t, e.hooks.next(t))
	m, _ = ev["message"].(map[string]any)
	if ev["type"] != "message-failed" || ev["errorCode"] != 4702.0 || m["id"] != long || m["segmentCount"] != 3.0 {
		t.Fatalf("event %v", ev)
	}
	e.settle(4) // one receipt for the short message, three for the long one
	if n := len(e.hooks.delivered()); n != 2 {
		t.Fatalf("%d callbacks, want 2", n)
	}
	wantRecord(t, e.waitRecord(long, 0), "FAILED", 4702)
}

// TestReceiptDuplicates: three copies of every receipt, still one callback.
func TestReceiptDuplicates(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Receipts: smsc.Receipts{Duplicates: 2}}, "", daemon.Options{})
	id := e.accepted(e.send(msgBody([]string{"+15550008201"}, "said thrice", "")))
	oneEvent(t, e.hooks.next(t))
	e.settle(3)
	if n := len(e.hooks.delivered()); n != 1 {
		t.Fatalf("%d callbacks, want 1", n)
	}
	wantRecord(t, e.waitRecord(id, 0), "DELIVERED", 0)
}

// TestReceiptMatching: receipts before the submit_sm_resp, on the other
// bind, and with the id in another base are all matched.
func TestReceiptMatching(t *testing.T) {
	cases := []struct {
		name  string
		b     smsc.Behaviour
		extra string
	}{
		{"before response", smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true}}, ""},
		{"other bind", smsc.Behaviour{Receipts: smsc.Receipts{OtherBind: true}}, ""},
		{"early on the other bind", smsc.Behaviour{Receipts: smsc.Receipts{OtherBind: true, BeforeResp: true}}, ""},
		// Peer lesson 7 (jasmin#599) with separate receiver binds.
		{"early on a receiver bind", smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true}}, `bind_type = "transmitter_receiver"`},
		{"hex ids, decimal receipts", smsc.Behaviour{IDFormat: "hex", Receipts: smsc.Receipts{IDFormat: "decimal"}}, `receipt_id_format = "decimal"`},
		{"decimal ids, hex receipts", smsc.Behaviour{Receipts: smsc.Receipts{IDFormat: "hex"}}, `receipt_id_format = "hex"`},
		// Peer lessons 6 and 44: a leading zero on one side only.
		{"zero-padded hex ids, plain hex receipts", smsc.Behaviour{IDFormat: "padded-hex", Receipts: smsc.Receipts{IDFormat: "hex"}}, ""},
		{"plain ids, zero-padded receipts", smsc.Behaviour{Receipts: smsc.Receipts{IDFormat: "padded-decimal"}}, ""},
		{"UUID ids", smsc.Behaviour{IDFormat: "uuid"}, ""},
		// Peer lessons 16 and 42: receipts as data_sm, and the id only in receipted_message_id.
		{"data_sm receipts, TLVs only", smsc.Behaviour{Receipts: smsc.Receipts{PDU: "data_sm", Format: "tlv"}}, ""},
		{"text only, seconds in dates", smsc.Behaviour{Receipts: smsc.Receipts{Format: "text", DateSeconds: true}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := startReceiptEnv(t, c.b, c.extra, daemon.Options{})
			to := []string{"+15550008301", "+15550008302"}
			id := e.accepted(e.send(msgBody(to, "match me", "")))
			seen := map[string]bool{}
			for range to {
				ev := oneEvent(t, e.hooks.next(t))
				m, _ := ev["message"].(map[string]any)
				if ev["type"] != "message-delivered" || m["id"] != id {
					t.Fatalf("event %v", ev)
				}
				seen[ev["to"].(string)] = true
			}
			e.settle(2)
			if n := len(e.hooks.delivered()); n != 2 || !seen[to[0]] || !seen[to[1]] {
				t.Fatalf("%d callbacks for %v, want one for each of %v", n, seen, to)
			}
			if n, err := e.d.Store.PendingReceipts(); err != nil || n != 0 {
				t.Fatalf("%d receipts left unmatched (%v)", n, err)
			}
		})
	}
}

// TestReceiptGroupCallbacks: one callback per recipient, each naming its
// recipient, all listing every recipient.
func TestReceiptGroupCallbacks(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008402", Stat: "EXPIRED", Err: "000"}}}, "", daemon.Options{})
	to := []string{"+15550008401", "+15550008402", "+15550008403"}
	id := e.accepted(e.send(msgBody(to, "group receipts", "")))
	got := map[string]string{}
	for range to {
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		all, _ := m["to"].([]any)
		if m["id"] != id || len(all) != 3 || all[0] != to[0] || all[1] != to[1] || all[2] != to[2] {
			t.Fatalf("event %v", ev)
		}
		got[ev["to"].(string)] = ev["type"].(string)
	}
	e.settle(3)
	if n := len(e.hooks.delivered()); n != 3 {
		t.Fatalf("%d callbacks, want 3", n)
	}
	want := map[string]string{to[0]: "message-delivered", to[1]: "message-failed", to[2]: "message-delivered"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("callbacks %v, want %v", got, want)
		}
	}
}

// TestReceiptWebhookRetried: the receiver fails the first attempt; the
// callback is retried (a fake clock skips the retry delay) and delivered.
func TestReceiptWebhookRetried(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{CallbackClock: clock})
	e.hooks.failFirst.Store(1)
	id := e.accepted(e.send(msgBody([]string{"+15550008501"}, "retry me", "")))
	first := e.hooks.next(t)
	var second []byte
	for i := 0; second == nil; i++ {
		if i == 100 {
			t.Fatal("no retry after 100 clock moves of 10 minutes")
		}
		offset.Add(int64(10 * time.Minute))
		e.d.Webhooks.Notify()
		select {
		case second = <-e.hooks.bodies:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if string(first) != string(second) {
		t.Fatalf("retry body differs:\n%s\n%s", first, second)
	}
	e.settle(1)
	got := e.hooks.delivered()
	if len(got) != 1 || oneEvent(t, got[0])["type"] != "message-delivered" {
		t.Fatalf("delivered callbacks %q", got)
	}
	wantRecord(t, e.waitRecord(id, 0), "DELIVERED", 0)
}

// TestReceiptWaitExpires: no receipt within receipt_wait is message-failed
// 9902; a part whose submit was never answered is 5630.
func TestReceiptWaitExpires(t *testing.T) {
	t.Run("no receipt", func(t *testing.T) {
		e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008601", NoReceipt: true}}}, `receipt_wait = "300ms"`, daemon.Options{})
		id := e.accepted(e.send(msgBody([]string{"+15550008601"}, "never receipted", "")))
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		if ev["type"] != "message-failed" || ev["errorCode"] != 9902.0 || ev["description"] != "delivery-receipt-expired" || m["id"] != id {
			t.Fatalf("event %v", ev)
		}
		wantRecord(t, e.waitRecord(id, 0), "FAILED", 9902)
	})
	t.Run("never acknowledged", func(t *testing.T) {
		// Answered long after the receipt wait, so the late answer finds
		// the message ended (a late answer within it would still count).
		e := startReceiptEnv(t, smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(3 * time.Second)}, Receipts: smsc.Receipts{Never: true}},
			"receipt_wait = \"300ms\"\nresponse_timeout = \"200ms\"", daemon.Options{})
		id := e.accepted(e.send(msgBody([]string{"+15550008602"}, "answered too late", "")))
		ev := oneEvent(t, e.hooks.next(t))
		if ev["type"] != "message-failed" || ev["errorCode"] != 5630.0 {
			t.Fatalf("event %v", ev)
		}
		wantRecord(t, e.waitRecord(id, 0), "FAILED", 5630)
	})
}

// TestRemovedCarrierReceiptWait: a message sent through a carrier that
// never sends receipts, which a restart then no longer configures, still
// ends: message-failed 9902 after the removed-carrier wait (the carrier's
// own receipt_wait, 2h, went with it).
func TestRemovedCarrierReceiptWait(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{Receipts: smsc.Receipts{Never: true}})
	h := newHookReceiver(t)
	db := filepath.Join(t.TempDir(), "bridge.db")
	mk := func(o configOptions) *conf.Config {
		o.CallbackURL = h.srv.URL + "/status"
		return configWith(t, sim.Addr(), db, o)
	}
	withGone := configOptions{Carriers: []carrierSpec{{Name: "gone", Addr: sim.Addr(), Extra: `system_id = "gone"` + "\nroutes = [\"+44\"]"}}}
	e := startDaemonWith(t, sim, mk(withGone), daemon.Options{CallbackPollInterval: 20 * time.Millisecond})
	id := e.accepted(e.send(msgBody([]string{"+442071234567"}, "sent, never receipted", "")))
	wantRecord(t, e.waitRecord(id, 0), "SENT", 0)
	e.shutdown()

	e2 := startDaemonWith(t, sim, mk(configOptions{}), daemon.Options{CallbackPollInterval: 20 * time.Millisecond,
		RemovedCarrierReceiptWait: 300 * time.Millisecond})
	ev := oneEvent(t, h.next(t))
	m, _ := ev["message"].(map[string]any)
	if ev["type"] != "message-failed" || ev["errorCode"] != 9902.0 || ev["description"] != "delivery-receipt-expired" || m["id"] != id || ev["to"] != "+442071234567" {
		t.Fatalf("event %v", ev)
	}
	wantRecord(t, e2.waitRecord(id, 0), "FAILED", 9902)
	if got := sim.Stats().Accounts["gone"].Messages; got != 1 {
		t.Fatalf("the removed carrier got %d messages, want 1", got)
	}
}

// TestSubmitTimeFailureCallbacks: a copy that fails before any receipt —
// no route (4420) or refused by the carrier at submit (0x0B → 4720) — still
// ends in exactly one message-failed callback.
func TestSubmitTimeFailureCallbacks(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008201", SubmitStatus: 0x0B}}}, "", daemon.Options{})
	cases := []struct {
		to   string
		code float64
	}{
		{"+442071234567", 4420}, // routes are "+1" only
		{"+15550008201", 4720},
	}
	for _, c := range cases {
		id := e.accepted(e.send(msgBody([]string{c.to}, "never delivered", "")))
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		if ev["type"] != "message-failed" || ev["errorCode"] != c.code || ev["to"] != c.to || m["id"] != id || m["text"] != "" {
			t.Fatalf("%s: event %v", c.to, ev)
		}
		wantRecord(t, e.waitRecord(id, 0), "FAILED", int(c.code))
	}
	if n := len(e.hooks.delivered()); n != 2 {
		t.Fatalf("%d callbacks, want 2", n)
	}
}

// TestEarlyReceiptsWithDenseIDs: receipts that come before their
// submit_sm_resp, for sequential decimal ids beyond 9, each credit their
// own message. Guessing bases would not: decimal 16 converts to hex "10",
// the id of an earlier message, which then took the credit while message 16
// never got its callback.
func TestEarlyReceiptsWithDenseIDs(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true}}, "", daemon.Options{})
	const n = 40
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		ids[e.accepted(e.send(msgBody([]string{fmt.Sprintf("+155500086%02d", i)}, "dense", "")))] = true
	}
	got := map[string]int{}
	for i := 0; i < n; i++ {
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		got[m["id"].(string)]++
	}
	for id := range ids {
		if got[id] != 1 {
			t.Fatalf("message %s got %d callbacks; all: %v", id, got[id], got)
		}
	}
}

// TestReceiptMapOverrides: the carrier's receipt_map changes what a receipt
// means: UNDELIV err:001 (4720 by default) becomes 4750, REJECTD with
// err 13 (4750 by default) becomes 4772, and ACCEPTD (not terminal by
// default) ends the message as delivered.
func TestReceiptMapOverrides(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550008901", Stat: "UNDELIV", Err: "001"},
		{Dest: "15550008902", Stat: "REJECTD", Err: "013"},
		{Dest: "15550008903", Stat: "ACCEPTD"},
	}}, `receipt_map = [{stat = "undeliv", err = "1", code = 4750}, {stat = "REJECTD", network_error_code = 13, code = 4772},
  {message_state = 6, outcome = "delivered"}]`, daemon.Options{})
	want := []struct {
		to   string
		typ  string
		code float64
	}{
		{"+15550008901", "message-failed", 4750},
		{"+15550008902", "message-failed", 4772},
		{"+15550008903", "message-delivered", 0},
	}
	for _, w := range want {
		id := e.accepted(e.send(msgBody([]string{w.to}, "mapped", "")))
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		code, _ := ev["errorCode"].(float64)
		if ev["type"] != w.typ || code != w.code || ev["to"] != w.to || m["id"] != id {
			t.Fatalf("%s: event %v, want %s %v", w.to, ev, w.typ, w.code)
		}
		if w.code != 0 && ev["description"] != dlrmap.Name(int(w.code)) {
			t.Fatalf("description %v, want %s", ev["description"], dlrmap.Name(int(w.code)))
		}
	}
}

// TestReceiptMapCodesMatchDlrmap: conf keeps its own list of V2 codes to
// refuse a bad receipt_map code at load; it must be dlrmap's.
func TestReceiptMapCodesMatchDlrmap(t *testing.T) {
	if got, want := conf.V2ErrorCodes(), dlrmap.Codes(); !slices.Equal(got, want) || len(want) != 76 {
		t.Fatalf("conf has %v\ndlrmap has %v", got, want)
	}
}

// TestTransmitterReceiver: bind_type = "transmitter_receiver" opens a
// bind_receiver beside each bind_transmitter; receipts and inbound
// messages (which the simulator can only send on receivers) become
// callbacks, also after every bind was dropped and came back.
func TestTransmitterReceiver(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, `bind_type = "transmitter_receiver"`, daemon.Options{})
	e.waitBinds(4)
	types := map[string]int{}
	for _, b := range e.sim.Binds() {
		types[b.Type]++
	}
	if types["bind_transmitter"] != 2 || types["bind_receiver"] != 2 || len(types) != 2 {
		t.Fatalf("binds %v, want 2 transmitters and 2 receivers", types)
	}
	// The pool's view follows the simulator's: polled, nothing notifies it.
	poolUp := func() {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for st := e.d.Pools[0].Stats(); st.BindsUp != 2 || st.ReceiversUp != 2; st = e.d.Pools[0].Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("pool: %d binds, %d receivers up", st.BindsUp, st.ReceiversUp)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	poolUp()
	roundTrip := func(to, mo string) {
		t.Helper()
		id := e.accepted(e.send(msgBody([]string{to}, "over a transmitter", "")))
		ev := oneEvent(t, e.hooks.next(t))
		if m, _ := ev["message"].(map[string]any); ev["type"] != "message-delivered" || m["id"] != id {
			t.Fatalf("event %v", ev)
		}
		if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007301", To: num, Text: mo}); err != nil {
			t.Fatal(err)
		}
		if m, _ := oneEvent(t, e.hooks.next(t))["message"].(map[string]any); m["text"] != mo {
			t.Fatalf("inbound %v", m)
		}
	}
	roundTrip("+15550008951", "first inbound")
	// Acknowledged before the drop, or the simulator rightly sends them again.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { st := e.sim.Stats(); return st.MOAcked >= 1 && st.ReceiptsAcked >= 1 }); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.DropBinds("bridge"); n != 4 {
		t.Fatalf("dropped %d binds, want 4", n)
	}
	e.waitBinds(4)
	poolUp()
	roundTrip("+15550008952", "after the drop")
}

// TestUnmatchedReceiptsRemoved: a receipt whose id never becomes known
// (it came first, and its submit_sm_resp not within the test: a late one
// would still make the id known) is held, and removed once the carrier's
// receipt wait is over, with the message ended as 5630. The bridge runs on
// a stopped clock the test moves.
func TestUnmatchedReceiptsRemoved(t *testing.T) {
	base := time.Now()
	var ahead atomic.Int64
	clock := func() time.Time { return base.Add(time.Duration(ahead.Load())) }
	e := startReceiptEnv(t, smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true},
		Rules: []smsc.Rule{{Dest: "15550008603", ResponseDelay: smsc.Duration(time.Minute)}}},
		"receipt_wait = \"300ms\"\nresponse_timeout = \"200ms\"", daemon.Options{Clock: clock})
	id := e.accepted(e.send(msgBody([]string{"+15550008603"}, "answered too late", "")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().ReceiptsAcked >= 1 }); err != nil {
		t.Fatal(err)
	}
	if n, err := e.d.Store.PendingReceipts(); err != nil || n == 0 {
		t.Fatalf("the unmatched receipt is not held: %d keys (%v)", n, err)
	}
	wantRecord(t, e.waitRecord(id, 0), "SENT", 0) // its submit timed out: sent on the stopped clock
	ahead.Store(int64(time.Second))
	ev := oneEvent(t, e.hooks.next(t))
	if m, _ := ev["message"].(map[string]any); ev["type"] != "message-failed" || ev["errorCode"] != 5630.0 || m["id"] != id {
		t.Fatalf("event %v", ev)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := e.d.Store.PendingReceipts(); n != 0; n, _ = e.d.Store.PendingReceipts() {
		if time.Now().After(deadline) {
			t.Fatalf("%d pending receipt keys left after the receipt wait", n)
		}
		time.Sleep(5 * time.Millisecond) // polling the store; nothing notifies the removal
	}
}

// TestReceiptsWithOutcomes: with the simulator's immediate receipts
// (sent right after each submit_sm_resp, usually before the bridge has
// written that outcome), concurrent traffic with long messages ends in one
// callback per recipient while receipts almost never take the pending
// path: they go with (or right after) their outcome's write. Before, most
// of them did.
func TestReceiptsWithOutcomes(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	const senders, each = 8, 15
	long := strings.Repeat("a long message of three parts ", 12) // 360 GSM 7-bit characters
	var wg sync.WaitGroup
	var recipients, receipts atomic.Int64
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				to := []string{fmt.Sprintf("+1555009%02d%02d", g, i), fmt.Sprintf("+1555019%02d%02d", g, i)}
				text, parts := "short", 1
				if i%5 == 0 {
					text, parts = long, 3
				}
				r, err := e.tryPost(acct, user, pass, "application/json; charset=utf-8", msgBody(to, text, ""))
				if err != nil || r.status != 202 {
					t.Errorf("send: %v %d %s", err, r.status, r.raw)
					return
				}
				recipients.Add(int64(len(to)))
				receipts.Add(int64(len(to) * parts))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	e.settle(receipts.Load())
	if n := int64(len(e.hooks.delivered())); n != recipients.Load() {
		t.Fatalf("%d callbacks, want %d", n, recipients.Load())
	}
	st := e.d.Bridge.ReceiptStats()
	t.Logf("%d receipts: %+v", receipts.Load(), st)
	// A few may: a timed-out wait on a loaded machine lets the carrier's
	// next few unknown ids go on without waiting.
	if st.Pending > receipts.Load()/10 || st.AfterOutcome == 0 {
		t.Fatalf("%d of %d receipts took the pending path (%d went with their outcome)", st.Pending, receipts.Load(), st.AfterOutcome)
	}
	if n, err := e.d.Store.PendingReceipts(); err != nil || n != 0 {
		t.Fatalf("%d receipts left unmatched (%v)", n, err)
	}
}

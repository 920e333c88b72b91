package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// Tests for lessons of /work/shared/reference/peer-lessons.md that had no
// end-to-end test of their own.

// TestLongMessageReceiptsPerSegment (lesson 5, jasmin#1123/#1190/#834):
// a long message ends in exactly one callback whichever parts the carrier
// reports — every part, only the first or only the last (with
// receipts_per_segment saying so), one other than configured — and when
// the submit_sm_resps of its parts come back out of order. A failing part
// decides the code; nothing is left held as unmatched.
func TestLongMessageReceiptsPerSegment(t *testing.T) {
	long := strings.Repeat("three parts of text ", 20) // 400 GSM 7-bit characters
	cases := []struct {
		name     string
		b        smsc.Behaviour
		extra    string
		failPart int // the part that fails (UNDELIV err:001 → 4720) for the second recipient
		receipts int64
	}{
		{"all parts", smsc.Behaviour{}, "", 2, 6},
		{"first part only", smsc.Behaviour{Receipts: smsc.Receipts{Segments: "first"}}, `receipts_per_segment = "first"`, 1, 2},
		{"last part only", smsc.Behaviour{Receipts: smsc.Receipts{Segments: "last"}}, `receipts_per_segment = "last"`, 3, 2},
		{"first part only, configured last", smsc.Behaviour{Receipts: smsc.Receipts{Segments: "first"}}, `receipts_per_segment = "last"`, 1, 2},
		// Responses after 0–60 ms each, drawn per part: the parts' answers
		// (and so their receipts) arrive in any order.
		{"responses out of order", smsc.Behaviour{ResponseLatency: smsc.Dist{Max: smsc.Duration(60 * time.Millisecond)}}, "", 3, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.b.Rules = []smsc.Rule{{Dest: "15550007602", Stat: "UNDELIV", Err: "001", Segment: c.failPart}}
			e := startReceiptEnv(t, c.b, c.extra, daemon.Options{})
			ok := e.accepted(e.send(msgBody([]string{"+15550007601"}, long, "")))
			bad := e.accepted(e.send(msgBody([]string{"+15550007602"}, long, "")))
			got := map[string]map[string]any{}
			for range 2 {
				ev := oneEvent(t, e.hooks.next(t))
				m, _ := ev["message"].(map[string]any)
				if m["segmentCount"] != 3.0 {
					t.Fatalf("event %v", ev)
				}
				got[m["id"].(string)] = ev
			}
			e.settle(c.receipts)
			if n := len(e.hooks.delivered()); n != 2 {
				t.Fatalf("%d callbacks, want 2", n)
			}
			if ev := got[ok]; ev == nil || ev["type"] != "message-delivered" {
				t.Fatalf("all parts delivered: event %v", ev)
			}
			if ev := got[bad]; ev == nil || ev["type"] != "message-failed" || ev["errorCode"] != 4720.0 {
				t.Fatalf("part %d failed: event %v", c.failPart, ev)
			}
			wantRecord(t, e.waitRecord(ok, 0), "DELIVERED", 0)
			wantRecord(t, e.waitRecord(bad, 0), "FAILED", 4720)
			if n, err := e.d.Store.PendingReceipts(); err != nil || n != 0 {
				t.Fatalf("%d receipts left unmatched (%v)", n, err)
			}
		})
	}
}

// TestCarrierPacedInSegments (lessons 1, 2 and 18: jasmin#1167 sent far
// below the configured rate, jasmin#925 counted a long message as one
// message and tripped the carrier's throttle, Kannel's throughput was not
// held): a carrier configured at 100 segments/s whose SMSC throttles above
// 130 receives three-part messages at the configured rate counted in
// segments — never faster (no 0x58), and taking as long as their segments
// need — and every one arrives.
func TestCarrierPacedInSegments(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{MaxSegmentsPerSecond: 130, RateBurst: 130}, "segments_per_second = 100\nburst = 10", daemon.Options{})
	const n, parts = 90, 3
	long := strings.Repeat("three parts of text ", 20)
	start := time.Now()
	e.sendBatch(n, 7700000, long)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().Messages >= n }); err != nil {
		t.Fatalf("%d of %d messages reached the carrier: %v", e.sim.Stats().Messages, n, err)
	}
	var first, last time.Time
	segments := 0
	for _, m := range e.sim.Messages() {
		for _, p := range m.Parts {
			segments++
			if first.IsZero() || p.ReceivedAt.Before(first) {
				first = p.ReceivedAt
			}
			if p.ReceivedAt.After(last) {
				last = p.ReceivedAt
			}
		}
	}
	if segments != n*parts {
		t.Fatalf("%d segments at the carrier, want %d", segments, n*parts)
	}
	// The bucket lets 10 go at once; the other 260 need 2.6 s at 100/s.
	if d, min := last.Sub(first), time.Duration(float64(n*parts-10)/100*float64(time.Second)); d < min*95/100 {
		t.Fatalf("%d segments reached the carrier in %v; at 100/s they need %v", segments, d, min)
	}
	if st := e.sim.Stats(); st.Throttled != 0 {
		t.Fatalf("the carrier throttled %d submits: sent above its rate", st.Throttled)
	}
	t.Logf("%d segments in %v (%v since the first request)", segments, last.Sub(first), last.Sub(start))
}

// TestSlowCarrierWithDefaults (lesson 35, fiorix/go-smpp#106: every submit
// timed out until RespTimeout was raised above its 1 s default): a carrier
// that answers each submit after 1.2–1.8 s works with the default
// response_timeout — every copy delivered, none ends as outcome unknown.
func TestSlowCarrierWithDefaults(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(1200 * time.Millisecond), Max: smsc.Duration(1800 * time.Millisecond)}},
		"", daemon.Options{})
	ids := e.sendBatch(20, 7800000, "slow carrier")
	tally(t, e.outcomes(ids, 60*time.Second), "message-delivered")
	if st := e.sim.Stats(); st.Messages != 20 {
		t.Fatalf("%d messages at the carrier, want 20", st.Messages)
	}
}

// TestThrottledLongMessagesKeepTheirReceipts (lessons 4 and 5: jasmin#796
// lost the receipt mapping of a submit resent after ESME_RTHROTTLED;
// jasmin#1123 waited on the wrong part): three-part messages meet 0x58 and
// 0x14 storms, so single parts are refused and sent again. The receipts of
// every part, under the ids of the attempts the carrier accepted, end each
// message in exactly one message-delivered; none is left unmatched.
func TestThrottledLongMessagesKeepTheirReceipts(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{MaxSegmentsPerSecond: 60, RateBurst: 4, QueueFullEvery: 7, QueueFullBurst: 2},
		"throttle_pause = \"50ms\"", daemon.Options{})
	const n = 30
	ids := e.sendBatch(n, 7900000, strings.Repeat("three parts of text ", 20))
	tally(t, e.outcomes(ids, 60*time.Second), "message-delivered")
	st := e.sim.Stats()
	if st.Throttled == 0 || st.QueueFull == 0 {
		t.Fatalf("no storm: throttled %d, queue full %d", st.Throttled, st.QueueFull)
	}
	for to, k := range arrivals(e.sim) {
		if k != 1 {
			t.Errorf("%s reached the carrier %d times", to, k)
		}
	}
	e.settle(n * 3)
	if got := len(e.hooks.delivered()); got != n {
		t.Fatalf("%d callbacks, want %d", got, n)
	}
	if k, err := e.d.Store.PendingReceipts(); err != nil || k != 0 {
		t.Fatalf("%d receipts left unmatched (%v)", k, err)
	}
	t.Logf("answered 0x58 %d times and 0x14 %d times", st.Throttled, st.QueueFull)
}

// TestCallbacksOwedAcrossOutageAndRestart (lessons 9 and 11: jasmin#998
// gave up on callbacks after 4 tries, jasmin#706 never sent receipts owed
// to a client after it came back): receipts arrive while the application's
// endpoint is down (connections cut), the daemon restarts, the endpoint
// answers 500 for a while and then 204. Every message ends in exactly one
// accepted message-delivered callback; the outbox is empty.
func TestCallbacksOwedAcrossOutageAndRestart(t *testing.T) {
	const down, failing, up = 0, 1, 2
	var mode, attempts atomic.Int64
	var mu sync.Mutex
	accepted := map[string]int{} // message id → 2xx answers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		attempts.Add(1)
		switch mode.Load() {
		case down:
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		case failing:
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var evs []struct {
			Type    string
			Message struct{ ID string }
		}
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Errorf("callback body %s: %v", body, err)
		}
		mu.Lock()
		for _, ev := range evs {
			if ev.Type != "message-delivered" {
				t.Errorf("callback %s for %s", ev.Type, ev.Message.ID)
			}
			accepted[ev.Message.ID]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	var offset atomic.Int64 // the webhook sender's clock runs ahead by this
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CallbackURL: srv.URL + "/status"})
	opts := daemon.Options{CallbackClock: clock, CallbackPollInterval: 20 * time.Millisecond}
	e := &receiptEnv{env: startDaemonWith(t, sim, cfg, opts)}
	e.waitBinds(2)
	const n = 25
	ids := e.sendBatch(n, 8000000, "owed while down")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { return sim.Stats().ReceiptsAcked >= n }); err != nil {
		t.Fatalf("receipts acked %d of %d: %v", sim.Stats().ReceiptsAcked, n, err)
	}
	pending := func(d *daemon.Daemon) int {
		c, err := d.Store.CallbackStats()
		if err != nil {
			t.Fatal(err)
		}
		if c.Dead != 0 {
			t.Fatalf("callbacks dead-lettered: %+v", c)
		}
		return c.Pending()
	}
	// Every callback is owed (a job per message) and has been tried.
	for deadline := time.Now().Add(20 * time.Second); pending(e.d) != n || attempts.Load() < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d callbacks pending, %d attempts; want %d and at least as many attempts", pending(e.d), attempts.Load(), n)
		}
	}
	e.shutdown()

	e2 := startDaemonWith(t, sim, cfg, opts)
	// advance moves the sender's clock past any retry delay (5 min at
	// most) and waits for cond; jobs retried meanwhile need another move.
	advance := func(what string, cond func() bool) {
		t.Helper()
		for moves := 0; !cond(); moves++ {
			if moves == 20 {
				t.Fatalf("%s: not after 20 clock moves of 6 minutes (%d pending)", what, pending(e2.d))
			}
			offset.Add(int64(6 * time.Minute))
			e2.d.Webhooks.Notify()
			// Polled: nothing reports the endpoint's answers to the test.
			for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	mode.Store(failing)
	before := attempts.Load()
	advance("retries answered 500", func() bool { return attempts.Load() >= before+n })
	mode.Store(up)
	advance("callbacks accepted", func() bool { return pending(e2.d) == 0 })
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if accepted[id] != 1 {
			t.Errorf("message %s: %d accepted callbacks, want 1", id, accepted[id])
		}
	}
	if len(accepted) != n {
		t.Fatalf("callbacks accepted for %d messages, want %d", len(accepted), n)
	}
}

// TestShutdownBoundedWhileCarrierSilent (section 5, item 13 and lesson 19:
// a drain bounded in time, and what it cuts off is outcome unknown, never
// resent): the carrier takes submits and never answers them. SIGTERM
// (context end) stops the daemon within api.shutdown_timeout, not after
// the far longer response_timeout; after a restart those copies are not
// submitted again — they end as message-failed 5630 once receipt_wait has
// passed.
func TestShutdownBoundedWhileCarrierSilent(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{NoResponseRate: 1})
	h := newHookReceiver(t)
	db := filepath.Join(t.TempDir(), "bridge.db")
	cfg := configWith(t, sim.Addr(), db, configOptions{API: `shutdown_timeout = "500ms"`,
		CarrierExtra: "response_timeout = \"30s\"\nreceipt_wait = \"1s\"", CallbackURL: h.srv.URL + "/status"})
	opts := daemon.Options{CallbackPollInterval: 20 * time.Millisecond}
	e := &receiptEnv{env: startDaemonWith(t, sim, cfg, opts), hooks: h}
	e.waitBinds(2)
	const n = 4
	ids := e.sendBatch(n, 8100000, "never answered")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { return sim.Stats().NotAnswered >= n }); err != nil {
		t.Fatalf("%d submits at the carrier: %v", sim.Stats().NotAnswered, err)
	}
	start := time.Now()
	e.shutdown()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %v with shutdown_timeout 500ms", d)
	} else {
		t.Logf("shutdown took %v", d)
	}

	if err := sim.SetBehaviour(smsc.Behaviour{NoResponseRate: 0}); err != nil {
		t.Fatal(err)
	}
	e2 := &receiptEnv{env: startDaemonWith(t, sim, cfg, opts), hooks: h}
	tally(t, e2.outcomes(ids, 30*time.Second), "message-failed/5630")
	if st := sim.Stats(); st.SubmitSM != n {
		t.Fatalf("the carrier got %d submits, want %d: copies cut off by the shutdown were sent again", st.SubmitSM, n)
	}
}

// TestBacklogAfterOutageDrains (lessons 13 and 14: jasmin#1036 requeued
// the same message thousands of times while the connector was down,
// jasmin#715/#1241 stalled with a large backlog until a restart): while
// the carrier refuses binds a backlog of messages is accepted; the bridge
// does not spin meanwhile (bind attempts stay at the reconnect back-off's
// pace). When binds are accepted again the whole backlog is delivered,
// each copy once, every one ends in its callback, and queue and outbox
// are empty — without a restart.
func TestBacklogAfterOutageDrains(t *testing.T) {
	var mu sync.Mutex
	delivered := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var evs []struct {
			Type    string
			Message struct{ ID string }
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Errorf("callback body %s: %v", body, err)
		}
		mu.Lock()
		for _, ev := range evs {
			delivered[ev.Type+" "+ev.Message.ID]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CallbackURL: srv.URL + "/status",
		CarrierExtra: "reconnect_min = \"100ms\"\nreconnect_max = \"200ms\""})
	outageStart := time.Now() // the binds are refused from the daemon's start
	e := &receiptEnv{env: startDaemonWith(t, sim, cfg, daemon.Options{CallbackPollInterval: 20 * time.Millisecond})}
	const n = 1000
	ids := e.sendBatch(n, 8200000, "backlog")
	outage := time.Since(outageStart)
	refused := sim.Stats().BindsRefused
	// Two binds, at least 80 ms apart each (100 ms − 20 % jitter), plus
	// the first attempts.
	if most := 2*int64(outage/(80*time.Millisecond)) + 4; refused > most {
		t.Fatalf("%d bind attempts in %v of outage: spinning (at most %d expected)", refused, outage, most)
	}
	if st := sim.Stats(); st.SubmitSM != 0 {
		t.Fatalf("%d submits to a carrier that refuses binds", st.SubmitSM)
	}

	allowBinds(t, sim)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { return sim.Stats().ReceiptsAcked >= n }); err != nil {
		t.Fatalf("after the outage: %d messages, %d receipts acknowledged of %d: %v", sim.Stats().Messages, sim.Stats().ReceiptsAcked, n, err)
	}
	for to, k := range arrivals(sim) {
		if k != 1 {
			t.Errorf("%s reached the carrier %d times", to, k)
		}
	}
	// Callbacks and the queue's last outcomes: polled, nothing notifies.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := e.d.Store.CallbackStats()
		if err != nil {
			t.Fatal(err)
		}
		q, err := e.d.Store.QueueLen()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := len(delivered)
		mu.Unlock()
		if c.Pending() == 0 && q == 0 && got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d callbacks pending, %d queued, %d delivered callbacks", c.Pending(), q, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if delivered["message-delivered "+id] != 1 {
			t.Errorf("message %s: %d message-delivered callbacks", id, delivered["message-delivered "+id])
		}
	}
	if len(delivered) != n {
		t.Fatalf("%d distinct callbacks, want %d", len(delivered), n)
	}
	t.Logf("%d accepted in %v of outage (%d bind attempts refused)", n, outage, refused)
}

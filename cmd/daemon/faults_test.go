package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// Carrier faults end to end (issue 8): the daemon against a misbehaving
// simulator. Each test sends a batch, then checks the documented end state
// of every copy through what an application sees (its callbacks) and what
// the carrier saw (the simulator's messages). The smpp package's own tests
// cover the session and pool mechanics under the same faults.

// copyOutcome is one copy's terminal callbacks.
type copyOutcome struct {
	id, to string
	events []string // "message-delivered" or "message-failed/<code>"
}

// sendBatch sends n single-recipient messages to +1555<base+i> and returns
// their ids in order; every one must be accepted.
func (e *receiptEnv) sendBatch(n, base int, text string) []string {
	e.t.Helper()
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 4 { // a few clients, so windows fill
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				r, err := e.tryPost(acct, user, pass, "application/json", msgBody([]string{fmt.Sprintf("+1555%07d", base+i)}, text, ""))
				if err != nil || r.status != 202 {
					errs <- fmt.Errorf("message %d: %v %d %s", i, err, r.status, r.raw)
					continue
				}
				ids[i], _ = r.body["id"].(string)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
	return ids
}

// outcomes waits until every id has a terminal callback and returns them
// keyed by id; within has to cover receipt_wait.
func (e *receiptEnv) outcomes(ids []string, within time.Duration) map[string]*copyOutcome {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := map[string]*copyOutcome{}
		for _, body := range e.hooks.delivered() {
			var evs []struct {
				Type      string
				To        string
				ErrorCode int
				Message   struct{ ID string }
			}
			if err := json.Unmarshal(body, &evs); err != nil {
				e.t.Fatalf("callback body: %v: %s", err, body)
			}
			for _, ev := range evs {
				o := got[ev.Message.ID]
				if o == nil {
					o = &copyOutcome{id: ev.Message.ID, to: ev.To}
					got[ev.Message.ID] = o
				}
				kind := ev.Type
				if ev.Type == "message-failed" {
					kind = fmt.Sprintf("%s/%d", ev.Type, ev.ErrorCode)
				}
				o.events = append(o.events, kind)
			}
		}
		missing := 0
		for _, id := range ids {
			if got[id] == nil {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d copies without a terminal callback after %s", missing, len(ids), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// arrivals counts the simulator's messages per destination (without '+').
func arrivals(sim *smsc.Server) map[string]int {
	n := map[string]int{}
	for _, m := range sim.Messages() {
		n[m.To]++
	}
	return n
}

// tally checks that each copy ended in exactly one terminal callback of an
// allowed kind and returns how many of each kind.
func tally(t *testing.T, got map[string]*copyOutcome, allowed ...string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, o := range got {
		if len(o.events) != 1 {
			t.Errorf("copy %s to %s: callbacks %v, want exactly one", o.id, o.to, o.events)
			continue
		}
		kinds[o.events[0]]++
		ok := false
		for _, a := range allowed {
			ok = ok || o.events[0] == a
		}
		if !ok {
			t.Errorf("copy %s to %s ended %s, want one of %v", o.id, o.to, o.events[0], allowed)
		}
	}
	return kinds
}

// TestCarrierBindsDropped: the simulator drops connections at random while
// windows are full. Copies whose submit was answered end delivered; copies
// whose answer was lost with the bind end message-failed 5630 after
// receipt_wait (the bridge never resends a submit whose outcome is unknown,
// as the carrier may have taken it); copies not yet written to the dead
// bind go out on the next one. No copy reaches the carrier twice.
func TestCarrierBindsDropped(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{DropRate: 0.02}, "receipt_wait = \"2s\"\nresponse_timeout = \"1s\"", daemon.Options{})
	const n = 200
	ids := e.sendBatch(n, 6000000, "dropped binds")
	got := e.outcomes(ids, 60*time.Second)
	kinds := tally(t, got, "message-delivered", "message-failed/5630")
	for to, k := range arrivals(e.sim) {
		if k > 1 {
			t.Errorf("%s reached the carrier %d times", to, k)
		}
	}
	st := e.sim.Stats()
	if st.Drops == 0 {
		t.Fatalf("the simulator dropped no bind: %+v", st.Counters)
	}
	if kinds["message-delivered"] == 0 {
		t.Fatalf("nothing delivered: %v", kinds)
	}
	t.Logf("%d binds dropped: %v", st.Drops, kinds)
}

// TestCarrierNotAnswering: some submits are never answered. They end
// message-failed 5630 once receipt_wait passes; the rest are delivered,
// each exactly once. An unanswered submit keeps its window slot (the SMSC
// may still answer), so with a small window the slots fill up with them:
// the bind is then dropped and bound afresh instead of sending nothing
// more for ever (the second case hung before that).
func TestCarrierNotAnswering(t *testing.T) {
	for _, c := range []struct {
		name   string
		rate   float64
		window string
		n      int
	}{
		{"a tenth, wide window", 0.1, "window = 20", 100},
		{"half, window of one", 0.5, "window = 1", 30},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := startReceiptEnv(t, smsc.Behaviour{NoResponseRate: c.rate}, c.window+"\nreceipt_wait = \"1s\"\nresponse_timeout = \"300ms\"", daemon.Options{})
			ids := e.sendBatch(c.n, 6100000, "not answered")
			got := e.outcomes(ids, 60*time.Second)
			kinds := tally(t, got, "message-delivered", "message-failed/5630")
			st := e.sim.Stats()
			if int(st.NotAnswered) != kinds["message-failed/5630"] || st.NotAnswered == 0 {
				t.Fatalf("%d submits not answered, %d copies failed 5630 (%v)", st.NotAnswered, kinds["message-failed/5630"], kinds)
			}
			for to, k := range arrivals(e.sim) {
				if k > 1 {
					t.Errorf("%s reached the carrier %d times", to, k)
				}
			}
			t.Logf("%v; %d binds", kinds, st.Binds)
		})
	}
}

// TestCarrierThrottleStorms: the carrier answers 0x58 above a low rate and
// 0x14 in bursts. Throttled submits are not messages: every copy is
// delivered, each reaches the carrier exactly once.
func TestCarrierThrottleStorms(t *testing.T) {
	// The carrier's rate is far below the configured one and its bucket is
	// small, so the first window already meets 0x58.
	e := startReceiptEnv(t, smsc.Behaviour{MaxSegmentsPerSecond: 30, RateBurst: 2, QueueFullEvery: 10, QueueFullBurst: 3},
		"throttle_pause = \"50ms\"", daemon.Options{})
	const n = 60
	ids := e.sendBatch(n, 6200000, "storms")
	got := e.outcomes(ids, 60*time.Second)
	tally(t, got, "message-delivered")
	arr := arrivals(e.sim)
	if len(arr) != n {
		t.Errorf("%d destinations reached, want %d", len(arr), n)
	}
	for to, k := range arr {
		if k != 1 {
			t.Errorf("%s reached the carrier %d times", to, k)
		}
	}
	st := e.sim.Stats()
	if st.Throttled == 0 || st.QueueFull == 0 {
		t.Fatalf("no storm: throttled %d, queue full %d", st.Throttled, st.QueueFull)
	}
	t.Logf("answered 0x58 %d times and 0x14 %d times", st.Throttled, st.QueueFull)
}

// TestCarrierBindRefused: the carrier refuses binds for a while (minutes in
// life, seconds here). Meanwhile /readyz says so, the queue takes exactly
// its capacity and then answers 429; when binds succeed again everything
// queued is delivered once, and the queue takes messages again.
func TestCarrierBindRefused(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{RefuseBinds: true})
	h := newHookReceiver(t)
	cfg := configWith(t, sim.Addr(), t.TempDir()+"/bridge.db", configOptions{
		CarrierExtra: "segments_per_second = 5\nqueue_seconds = 4\nreconnect_min = \"20ms\"\nreconnect_max = \"50ms\"",
		CallbackURL:  h.srv.URL + "/status"})
	e := &receiptEnv{env: startDaemonWith(t, sim, cfg, daemon.Options{CallbackPollInterval: 20 * time.Millisecond}), hooks: h}

	ready := func() int {
		resp, err := http.Get("http://" + e.d.AdminAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { return sim.Stats().BindsRefused >= 3 }); err != nil {
		t.Fatalf("no bind attempts: %v", err)
	}
	if s := ready(); s != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while every bind is refused", s)
	}
	// Capacity 5 × 4 = 20 segments.
	ids := e.sendBatch(20, 6300000, "refused binds")
	for i := range 3 {
		r := e.send(msgBody([]string{fmt.Sprintf("+1555630%04d", 100+i)}, "one too many", ""))
		if r.status != 429 || r.body["type"] != "max-message-queue-size-exceeded" {
			t.Fatalf("over capacity while the carrier is down: %d %s", r.status, r.raw)
		}
	}
	if sim.Stats().Messages != 0 {
		t.Fatal("messages reached a carrier that refuses binds")
	}

	allowBinds(t, sim)
	got := e.outcomes(ids, 60*time.Second)
	tally(t, got, "message-delivered")
	for to, k := range arrivals(sim) {
		if k != 1 || !strings.HasPrefix(to, "1555630") {
			t.Errorf("%s reached the carrier %d times", to, k)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for ready() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready 20s after binds are accepted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.accepted(e.send(msgBody([]string{"+15556309999"}, "room again", "")))
}

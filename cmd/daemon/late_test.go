package daemon_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/dlrmap"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// lateExtra: the carrier gives up on a submit_sm_resp after 300ms and on a
// receipt 3s after the send; the simulator's late rules answer after 900ms.
const lateExtra = "response_timeout = \"300ms\"\nreceipt_wait = \"3s\""

const lateDelay = smsc.Duration(900 * time.Millisecond)

// startLateEnv is startReceiptEnv with the intake log on or off.
func startLateEnv(t *testing.T, b smsc.Behaviour, carrierExtra string, wal bool) *receiptEnv {
	t.Helper()
	sim := startSim(t, b)
	h := newHookReceiver(t)
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CarrierExtra: carrierExtra, CallbackURL: h.srv.URL + "/status"})
	cfg.Store.WAL = wal
	e := startDaemonWith(t, sim, cfg, daemon.Options{CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)
	return &receiptEnv{env: e, hooks: h}
}

// lateCounts waits until the bridge has handled want late responses after
// their Submit returned (applied or too late) and returns them.
func (e *receiptEnv) lateCounts(want int64) (applied, tooLate int64) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := e.d.Bridge.LateResponses()["sim"]
		if st.Applied+st.TooLate >= want {
			return st.Applied, st.TooLate
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("late responses handled %+v, want %d", st, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantEvent checks a callback body: one event of type typ (and errorCode
// code when failed) for message id.
func wantEvent(t *testing.T, body []byte, id, typ string, code int) {
	t.Helper()
	ev := oneEvent(t, body)
	m, _ := ev["message"].(map[string]any)
	if ev["type"] != typ || m["id"] != id {
		t.Fatalf("event %v, want %s for %s", ev, typ, id)
	}
	if code != 0 && ev["errorCode"] != float64(code) {
		t.Fatalf("event %v, want errorCode %d", ev, code)
	}
}

func (e *receiptEnv) wantLateMetric(outcome string, want float64) {
	e.t.Helper()
	got := sumOf(scrape(e.t, e.d.AdminAddr()), "smppbridge_smpp_late_responses_total", map[string]string{"carrier": "sim", "outcome": outcome})
	if got != want {
		e.t.Fatalf("smppbridge_smpp_late_responses_total{outcome=%q} = %v, want %v", outcome, got, want)
	}
}

func (e *receiptEnv) wantSubmits(n int64) {
	e.t.Helper()
	if got := e.sim.Stats().SubmitSM; got != n {
		e.t.Fatalf("the simulator got %d submit_sm, want %d (resent?)", got, n)
	}
}

// TestLateSubmitResponse: a submit_sm_resp that comes after the carrier's
// response_timeout still gives the part its carrier id, so the receipt that
// follows (or came first) ends the message delivered, not 5630; a late
// refusal fails it with the refusal's code; a late response for a message
// that already ended changes nothing. Never two callbacks, never a resend.
func TestLateSubmitResponse(t *testing.T) {
	for _, wal := range []bool{false, true} {
		name := "bbolt"
		if wal {
			name = "wal"
		}
		t.Run(name+"/receipt after the late response", func(t *testing.T) {
			e := startLateEnv(t, smsc.Behaviour{Rules: []smsc.Rule{
				{Dest: "15550008701", ResponseDelay: lateDelay},
				{Dest: "15550008702", NoReceipt: true},
			}}, lateExtra, wal)
			id := e.accepted(e.send(msgBody([]string{"+15550008701"}, "answered late", "")))
			wantEvent(t, e.hooks.next(t), id, "message-delivered", 0)
			rec := e.waitRecord(id, 0)
			wantRecord(t, rec, "DELIVERED", 0)
			if rec.Unknown != 0 || len(rec.CarrierIDs) != 1 || rec.CarrierIDs[0] == "" {
				t.Fatalf("record %+v: the late id is not recorded", rec)
			}
			if applied, tooLate := e.lateCounts(1); applied != 1 || tooLate != 0 {
				t.Fatalf("late responses applied %d, too late %d", applied, tooLate)
			}
			e.wantLateMetric("applied", 1)
			// A message sent after it that never gets a receipt ends 9902
			// when its wait is over: the first one's wait was over before,
			// and it got no second callback (no 5630) from that.
			sentinel := e.accepted(e.send(msgBody([]string{"+15550008702"}, "never receipted", "")))
			wantEvent(t, e.hooks.next(t), sentinel, "message-failed", 9902)
			e.settle(1)
			if n := len(e.hooks.delivered()); n != 2 {
				t.Fatalf("%d callbacks, want 2 (one per message)", n)
			}
			e.wantSubmits(2)
		})
	}

	t.Run("many late at once", func(t *testing.T) {
		// Every answer late, each receipt twice: concurrent late writes,
		// receipts waiting for ids, duplicates. A window larger than the
		// batch keeps the timed-out submits from looking like a stuck bind.
		e := startLateEnv(t, smsc.Behaviour{Receipts: smsc.Receipts{Duplicates: 1},
			ResponseLatency: smsc.Dist{Min: smsc.Duration(600 * time.Millisecond), Max: smsc.Duration(1200 * time.Millisecond)}},
			"response_timeout = \"300ms\"\nreceipt_wait = \"10s\"\nwindow = 50", false)
		const n = 40
		ids := e.sendBatch(n, 8750000, "all answered late")
		kinds := tally(t, e.outcomes(ids, 30*time.Second), "message-delivered")
		if kinds["message-delivered"] != n {
			t.Fatalf("outcomes %v, want %d delivered", kinds, n)
		}
		e.settle(2 * n)
		if applied, tooLate := e.lateCounts(n); applied != n || tooLate != 0 {
			t.Fatalf("late responses applied %d, too late %d; want %d, 0", applied, tooLate, n)
		}
		if got := len(e.hooks.delivered()); got != n {
			t.Fatalf("%d callbacks, want %d", got, n)
		}
		e.wantSubmits(n)
	})

	t.Run("receipt before the late response", func(t *testing.T) {
		e := startLateEnv(t, smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true},
			Rules: []smsc.Rule{{Dest: "15550008711", ResponseDelay: lateDelay}}}, lateExtra, false)
		id := e.accepted(e.send(msgBody([]string{"+15550008711"}, "receipt first, answer late", "")))
		wantEvent(t, e.hooks.next(t), id, "message-delivered", 0)
		wantRecord(t, e.waitRecord(id, 0), "DELIVERED", 0)
		if applied, _ := e.lateCounts(1); applied != 1 {
			t.Fatalf("late responses applied %d, want 1", applied)
		}
		e.settle(1)
		if n := len(e.hooks.delivered()); n != 1 {
			t.Fatalf("%d callbacks, want 1", n)
		}
		if n, err := e.d.Store.PendingReceipts(); err != nil || n != 0 {
			t.Fatalf("%d receipts still kept for an id (%v), want 0: the late id applied them", n, err)
		}
		e.wantSubmits(1)
	})

	t.Run("one part of a long message late", func(t *testing.T) {
		e := startLateEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008721", Segment: 2, ResponseDelay: lateDelay}}}, lateExtra, false)
		id := e.accepted(e.send(msgBody([]string{"+15550008721"}, strings.Repeat("three parts of text ", 20), "")))
		wantEvent(t, e.hooks.next(t), id, "message-delivered", 0)
		rec := e.waitRecord(id, 0)
		wantRecord(t, rec, "DELIVERED", 0)
		if rec.Unknown != 0 || len(rec.CarrierIDs) != 3 || rec.CarrierIDs[1] == "" {
			t.Fatalf("record %+v: the late part's id is not recorded", rec)
		}
		e.settle(3)
		if n := len(e.hooks.delivered()); n != 1 {
			t.Fatalf("%d callbacks, want 1", n)
		}
		e.wantSubmits(3)
	})

	t.Run("late refusal", func(t *testing.T) {
		e := startLateEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008731", SubmitStatus: 0x0B, ResponseDelay: lateDelay}}}, lateExtra, false)
		code, _ := dlrmap.SubmitStatus(0x0B)
		id := e.accepted(e.send(msgBody([]string{"+15550008731"}, "refused late", "")))
		wantEvent(t, e.hooks.next(t), id, "message-failed", code)
		wantRecord(t, e.waitRecord(id, 0), "FAILED", code)
		if applied, _ := e.lateCounts(1); applied != 1 {
			t.Fatalf("late responses applied %d, want 1", applied)
		}
		e.settle(0)
		if n := len(e.hooks.delivered()); n != 1 {
			t.Fatalf("%d callbacks, want 1", n)
		}
		e.wantSubmits(1)
	})

	t.Run("after the message ended", func(t *testing.T) {
		// The receipt wait (400ms) is over long before the answer (3s):
		// the message ended 5630 and stays so.
		e := startLateEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008741", ResponseDelay: smsc.Duration(3 * time.Second)}}},
			"response_timeout = \"300ms\"\nreceipt_wait = \"400ms\"", false)
		id := e.accepted(e.send(msgBody([]string{"+15550008741"}, "answered too late", "")))
		wantEvent(t, e.hooks.next(t), id, "message-failed", 5630)
		if applied, tooLate := e.lateCounts(1); applied != 0 || tooLate != 1 {
			t.Fatalf("late responses applied %d, too late %d; want 0, 1", applied, tooLate)
		}
		e.wantLateMetric("too_late", 1)
		e.wantLateMetric("applied", 0)
		e.settle(1) // its receipt too was acknowledged, and kept for an id nobody has
		if n := len(e.hooks.delivered()); n != 1 {
			t.Fatalf("%d callbacks, want 1", n)
		}
		rec := e.waitRecord(id, 0)
		wantRecord(t, rec, "FAILED", 5630)
		if rec.CarrierIDs[0] != "" || rec.Unknown != 1 {
			t.Fatalf("record %+v changed after it ended", rec)
		}
		if _, err := e.d.Store.RecordByCarrierID("sim", e.sim.Messages()[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the late id was indexed after the message ended: %v", err)
		}
		e.wantSubmits(1)
	})
}

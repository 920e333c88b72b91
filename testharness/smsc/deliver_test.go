package smsc_test

import (
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// TestDeliverRetryAfterError: a receipt answered 0x14 is resent, with a new
// sequence number, no earlier than DeliverRetry later.
func TestDeliverRetryAfterError(t *testing.T) {
	const retry = 150 * time.Millisecond
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(retry)}})
	e := bound(t, srv, idBindTRX, "a", "b")
	e.autoAck.Store(0)
	id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	first := e.expect(t, idDeliverSM)
	nackedAt := time.Now()
	e.send(t, deliverResp(first.Seq, stMsgQFul))
	waitFor(t, srv, "the nack counted", func(s smsc.Stats) bool { return s.ReceiptsNacked == 1 })
	again := e.expect(t, idDeliverSM)
	if d := again.At.Sub(nackedAt); d < retry {
		t.Errorf("resent after %v, before deliver_retry %v", d, retry)
	}
	if again.Seq == first.Seq {
		t.Errorf("resent with the same sequence number %d", again.Seq)
	}
	if r := parseReceipt(t, again); r.id != id {
		t.Fatalf("resent receipt for %s, want %s", r.id, id)
	}
	e.send(t, deliverResp(again.Seq, stOK))
	st := waitFor(t, srv, "the receipt acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 1 })
	if st.ReceiptsSent != 2 || st.ReceiptsNacked != 1 || st.QueuedDeliver != 0 {
		t.Errorf("stats %+v", st.Counters)
	}
	e.sync(t) // acknowledged: not sent again
}

// TestDeliverResentAfterRebind: a receipt left unanswered when the bind
// drops goes back to the queue and comes again on the next bind.
func TestDeliverResentAfterRebind(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	tx := bound(t, srv, idBindTX, "acme", "secret")
	rx := bound(t, srv, idBindRX, "acme", "secret")
	rx.autoAck.Store(0)
	id := tx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	if r := parseReceipt(t, rx.expect(t, idDeliverSM)); r.id != id {
		t.Fatalf("receipt for %s", r.id)
	}
	rx.conn.Close() // gone without answering
	waitFor(t, srv, "the receipt back in the queue", func(s smsc.Stats) bool {
		return s.BindsActive == 1 && s.QueuedDeliver == 1
	})
	rx2 := bound(t, srv, idBindRX, "acme", "secret")
	if r := parseReceipt(t, rx2.expect(t, idDeliverSM)); r.id != id {
		t.Fatalf("resent receipt for %s, want %s", r.id, id)
	}
	st := waitFor(t, srv, "the resent receipt acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 1 })
	if st.QueuedDeliver != 0 || st.ReceiptsSent != 2 {
		t.Errorf("stats %+v", st.Counters)
	}
}

// TestDeliverTimeoutResend: unanswered receipts are resent on the same bind
// after DeliverTimeout, in their original order, and the queue counter
// stays right.
func TestDeliverTimeoutResend(t *testing.T) {
	const timeout = 100 * time.Millisecond
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverTimeout: smsc.Duration(timeout)}})
	tx := bound(t, srv, idBindTX, "a", "b")
	e := bound(t, srv, idBindRX, "a", "b")
	e.autoAck.Store(0)
	var ids []string
	start := time.Now() // before any receipt was sent
	for i := 0; i < 4; i++ {
		ids = append(ids, tx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")}))
	}
	var first []*rawPDU
	for range ids {
		first = append(first, e.expect(t, idDeliverSM))
	}
	for i, id := range ids { // none answered: all come again, in order
		again := e.expect(t, idDeliverSM)
		if d := again.At.Sub(start); d < timeout {
			t.Errorf("resent %v after the submit, before deliver_timeout", d)
		}
		if r := parseReceipt(t, again); r.id != id || again.Seq == first[i].Seq {
			t.Fatalf("resend %d: %v for %s, want %s", i, again, r.id, id)
		}
		e.send(t, deliverResp(again.Seq, stOK))
	}
	st := waitFor(t, srv, "acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 4 })
	if st.QueuedDeliver != 0 || st.ReceiptsSent != 8 {
		t.Errorf("QueuedDeliver %d ReceiptsSent %d after everything was delivered", st.QueuedDeliver, st.ReceiptsSent)
	}
}

// TestDeliverQueuedWithoutReceiver: receipts wait while only a transmitter
// is bound and flow once a receiver binds.
func TestDeliverQueuedWithoutReceiver(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	tx := bound(t, srv, idBindTX, "acme", "secret")
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		ids[tx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})] = true
	}
	tx.sync(t) // a transmitter gets no receipts
	st := waitFor(t, srv, "three receipts queued", func(s smsc.Stats) bool { return s.QueuedDeliver == 3 })
	if st.ReceiptsSent != 0 {
		t.Fatalf("ReceiptsSent %d with no receiver bound", st.ReceiptsSent)
	}
	// A receiver of another account does not take them.
	bound(t, srv, idBindRX, "limited", "pw").sync(t)
	rx := bound(t, srv, idBindRX, "acme", "secret")
	for i := 0; i < 3; i++ {
		r := rx.expectReceipt(t)
		if !ids[r.id] {
			t.Fatalf("receipt for unknown id %s", r.id)
		}
		delete(ids, r.id)
	}
	waitFor(t, srv, "the queue drained", func(s smsc.Stats) bool { return s.QueuedDeliver == 0 && s.ReceiptsAcked == 3 })
}

// TestDeliverWindow: no more than DeliverWindow receipts are unanswered on
// a bind; each answer lets exactly one more go.
func TestDeliverWindow(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts, Behaviour: smsc.Behaviour{DeliverWindow: 2}})
	tx := bound(t, srv, idBindTX, "acme", "secret")
	rx := bound(t, srv, idBindRX, "acme", "secret")
	rx.autoAck.Store(0) // withhold the resps
	for i := 0; i < 5; i++ {
		tx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	}
	waitFor(t, srv, "two sent, three queued", func(s smsc.Stats) bool { return s.ReceiptsSent == 2 && s.QueuedDeliver == 3 })
	a, b := rx.expect(t, idDeliverSM), rx.expect(t, idDeliverSM)
	rx.sync(t) // and no third
	if bs := srv.Binds(); pendingOf(bs, "bind_receiver") != 2 {
		t.Errorf("binds %+v, want 2 pending on the receiver", bs)
	}
	rx.send(t, deliverResp(a.Seq, stOK))
	c := rx.expect(t, idDeliverSM)
	rx.sync(t)
	for _, p := range []*rawPDU{b, c} {
		rx.send(t, deliverResp(p.Seq, stOK))
	}
	d, e := rx.expect(t, idDeliverSM), rx.expect(t, idDeliverSM)
	rx.sync(t)
	rx.send(t, deliverResp(d.Seq, stOK))
	rx.send(t, deliverResp(e.Seq, stOK))
	waitFor(t, srv, "all acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 5 && s.QueuedDeliver == 0 })
}

func pendingOf(bs []smsc.Bind, typ string) int {
	for _, b := range bs {
		if b.Type == typ {
			return b.Pending
		}
	}
	return -1
}

// TestDeliverAnswerMatching: an answer is matched by command class and
// sequence number, never by sequence alone; generic_nack counts as a failure.
func TestDeliverAnswerMatching(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(20 * time.Millisecond)}})
	e := bound(t, srv, idBindTRX, "a", "b")
	e.autoAck.Store(0)
	e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	p := e.expect(t, idDeliverSM)
	// A data_sm_resp with the deliver_sm's sequence number answers nothing.
	e.send(t, hdrOnly(idDataSMResp, stOK, p.Seq, cstr(nil, "")))
	e.sync(t)
	if st := srv.Stats(); st.ReceiptsAcked != 0 || st.ReceiptsNacked != 0 {
		t.Fatalf("a resp of the wrong command counted: %+v", st.Counters)
	}
	e.send(t, hdrOnly(idGenericNack, stSysErr, p.Seq, nil))
	again := e.expect(t, idDeliverSM)
	e.send(t, deliverResp(again.Seq, stOK))
	waitFor(t, srv, "nacked once, then acknowledged", func(s smsc.Stats) bool {
		return s.ReceiptsNacked == 1 && s.ReceiptsAcked == 1 && s.QueuedDeliver == 0
	})
}

// TestResetForgetsPendingReceipts: receipts already scheduled (by delay or
// retry) when the simulator is reset never arrive.
func TestResetForgetsPendingReceipts(t *testing.T) {
	t.Run("delayed", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{Delay: smsc.Dist{Min: smsc.Duration(50 * time.Millisecond)}}}})
		e := bound(t, srv, idBindTRX, "a", "b")
		e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("before reset")})
		srv.Reset()
		// Scheduled after the first one's: when this receipt comes, the
		// first one's time has passed.
		after := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("after reset")})
		if r := e.expectReceipt(t); r.id != after {
			t.Fatalf("receipt for %s from before the reset", r.id)
		}
		e.sync(t)
	})
	t.Run("retried", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(50 * time.Millisecond)}})
		e := bound(t, srv, idBindTRX, "a", "b")
		e.autoAck.Store(0)
		e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("before reset")})
		p := e.expect(t, idDeliverSM)
		e.send(t, deliverResp(p.Seq, stMsgQFul))
		waitFor(t, srv, "the nack", func(s smsc.Stats) bool { return s.ReceiptsNacked == 1 })
		srv.Reset()
		after := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("after reset")})
		p = e.expect(t, idDeliverSM)
		e.send(t, deliverResp(p.Seq, stMsgQFul)) // its retry is due after the first one's
		p = e.expect(t, idDeliverSM)
		if r := parseReceipt(t, p); r.id != after {
			t.Fatalf("receipt for %s from before the reset", r.id)
		}
		e.send(t, deliverResp(p.Seq, stOK))
		e.sync(t)
	})
}

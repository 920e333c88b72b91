package smpp_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
)

// TestSessionSMSCRequestsKeepTheBind: data_sm, an unknown command id,
// alert_notification, a malformed deliver_sm and enquire_link from the SMSC
// are each answered as SMPP says (or not at all) and the bind carries on;
// only the SMSC's unbind ends it, after unbind_resp.
func TestSessionSMSCRequestsKeepTheBind(t *testing.T) {
	inbound := make(chan *smpp.Inbound, 4)
	s, p := fakeBind(t, smpp.SessionConfig{Handler: func(in *smpp.Inbound) { inbound <- in }})

	// data_sm: handed to the handler, answered only by Respond.
	seq := p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.DataSM},
		Source: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550002222")}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550001111")},
		TLVs: []pdu.TLV{{Tag: pdu.TagMessagePayload, Value: []byte("hello via data_sm")}}})
	var in *smpp.Inbound
	select {
	case in = <-inbound:
	case <-time.After(waitTime):
		t.Fatal("data_sm not handed to the handler")
	}
	if in.PDU.ID != pdu.DataSM || in.PDU.Seq != seq {
		t.Fatalf("handler got %s seq %d", in.PDU.ID, in.PDU.Seq)
	}
	if v, _ := in.PDU.TLV(pdu.TagMessagePayload); string(v) != "hello via data_sm" {
		t.Fatalf("payload %q", v)
	}
	in.Respond(pdu.StatusOK)
	if r := p.expect(pdu.DataSMResp); r.Seq != seq || r.Status != pdu.StatusOK {
		t.Fatalf("data_sm_resp seq %d status %v", r.Seq, r.Status)
	}

	// An unknown command id: generic_nack ESME_RINVCMDID with its sequence.
	raw := make([]byte, 16)
	binary.BigEndian.PutUint32(raw[0:], 16)
	binary.BigEndian.PutUint32(raw[4:], 0x00000099)
	binary.BigEndian.PutUint32(raw[12:], 4242)
	p.writeRaw(raw)
	if r := p.expect(pdu.GenericNack); r.Seq != 4242 || r.Status != pdu.StatusInvCmdID {
		t.Fatalf("generic_nack seq %d status %v", r.Seq, r.Status)
	}

	// A deliver_sm whose body is cut short: generic_nack ESME_RINVCMDLEN.
	raw = make([]byte, 20)
	binary.BigEndian.PutUint32(raw[0:], 20)
	binary.BigEndian.PutUint32(raw[4:], uint32(pdu.DeliverSM))
	binary.BigEndian.PutUint32(raw[12:], 4243)
	raw[16] = 'x' // service_type without its NUL, then nothing
	p.writeRaw(raw)
	if r := p.expect(pdu.GenericNack); r.Seq != 4243 || r.Status != pdu.StatusInvCmdLen {
		t.Fatalf("generic_nack seq %d status %v", r.Seq, r.Status)
	}

	// alert_notification has no response; enquire_link right after it
	// shows nothing was sent for it.
	p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.AlertNotification},
		Source: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550002222")}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: []byte("15550001111")}})
	eseq := p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.EnquireLink}})
	if r := p.expect(pdu.EnquireLinkResp); r.Seq != eseq {
		t.Fatalf("enquire_link_resp seq %d, want %d", r.Seq, eseq)
	}

	// The bind still works.
	res := make(chan smpp.Result, 1)
	go func() { res <- s.Submit(context.Background(), submitPDU("still here")) }()
	req := p.expect(pdu.SubmitSM)
	p.respond(req, pdu.StatusOK, "id-1")
	if r := <-res; r.Err != nil || r.MessageID != "id-1" {
		t.Fatalf("submit after SMSC requests: %+v", r)
	}
	select {
	case <-s.Done():
		t.Fatalf("session ended: %v", s.Err())
	default:
	}
	st := s.Stats()
	if st.Undecodable != 2 || st.InboundAcked != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The SMSC unbinds: unbind_resp, then the connection closes.
	useq := p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.Unbind}})
	if r := p.expect(pdu.UnbindResp); r.Seq != useq {
		t.Fatalf("unbind_resp seq %d, want %d", r.Seq, useq)
	}
	p.readEOF()
	waitDone(t, s)
	if !errors.Is(s.Err(), smpp.ErrUnboundByPeer) {
		t.Fatalf("Err = %v", s.Err())
	}
}

// TestSessionNoHandlerRefusesInbound: without a Handler, deliver_sm is
// answered ESME_RX_T_APPN so the SMSC keeps it.
func TestSessionNoHandlerRefusesInbound(t *testing.T) {
	_, p := fakeBind(t, smpp.SessionConfig{})
	seq := p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM}, ShortMessage: []byte("mo")})
	if r := p.expect(pdu.DeliverSMResp); r.Seq != seq || r.Status != pdu.StatusXTAppn {
		t.Fatalf("deliver_sm_resp seq %d status %v", r.Seq, r.Status)
	}
}

// TestSessionSequenceWrap: numbering goes 0x7FFFFFFF → 1 and skips a number
// still outstanding from before the wrap.
func TestSessionSequenceWrap(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 10})
	r := newResults(8)
	if err := s.Send(context.Background(), submitPDU("first"), r.cb(0)); err != nil {
		t.Fatal(err)
	}
	first := p.expect(pdu.SubmitSM)
	if first.Seq != 2 { // the bind took 1
		t.Fatalf("first submit seq %d, want 2", first.Seq)
	}
	smpp.SetSeq(s, pdu.MaxSeq-1)
	want := []uint32{pdu.MaxSeq, 1, 3} // 2 is still outstanding
	var reqs []pdu.PDU
	for i, w := range want {
		if err := s.Send(context.Background(), submitPDU("wrap"), r.cb(i+1)); err != nil {
			t.Fatal(err)
		}
		q := p.expect(pdu.SubmitSM)
		if q.Seq != w {
			t.Fatalf("submit %d has seq %#x, want %#x", i+1, q.Seq, w)
		}
		reqs = append(reqs, q)
	}
	// Answer out of order; each answer reaches its own request.
	p.respond(reqs[1], pdu.StatusOK, "b")
	p.respond(first, pdu.StatusOK, "first")
	p.respond(reqs[2], pdu.StatusOK, "c")
	p.respond(reqs[0], pdu.StatusOK, "a")
	r.wait(t, 4)
	for i, id := range []string{"first", "a", "b", "c"} {
		if got := r.get(i); got.Err != nil || got.MessageID != id {
			t.Fatalf("result %d = %+v, want id %q", i, got, id)
		}
	}
}

// TestSessionReceiptSharingSeqIsNotAResponse: the SMSC numbers its own
// requests, so a deliver_sm can carry the sequence number of an outstanding
// submit_sm; so can a response of another class. Neither answers the submit.
func TestSessionReceiptSharingSeqIsNotAResponse(t *testing.T) {
	inbound := make(chan *smpp.Inbound, 1)
	s, p := fakeBind(t, smpp.SessionConfig{Handler: func(in *smpp.Inbound) { inbound <- in }})
	r := newResults(1)
	if err := s.Send(context.Background(), submitPDU("receipt please"), r.cb(0)); err != nil {
		t.Fatal(err)
	}
	req := p.expect(pdu.SubmitSM)
	// A response of the wrong class with the submit's sequence number.
	p.write(&pdu.PDU{Header: pdu.Header{ID: pdu.DataSMResp, Seq: req.Seq}, MessageID: []byte("wrong")})
	// The receipt, numbered like the submit.
	p.write(&pdu.PDU{Header: pdu.Header{ID: pdu.DeliverSM, Seq: req.Seq}, ESMClass: pdu.ESMClassReceipt,
		ShortMessage: []byte("id:77 sub:001 dlvrd:001 submit date:2601011200 done date:2601011200 stat:DELIVRD err:000 text:")})
	var in *smpp.Inbound
	select {
	case in = <-inbound:
	case <-time.After(waitTime):
		t.Fatal("receipt not handed to the handler")
	}
	if in.PDU.ID != pdu.DeliverSM || in.PDU.Seq != req.Seq {
		t.Fatalf("handler got %s seq %d", in.PDU.ID, in.PDU.Seq)
	}
	in.Respond(pdu.StatusOK)
	if ack := p.expect(pdu.DeliverSMResp); ack.Seq != req.Seq || ack.Status != pdu.StatusOK {
		t.Fatalf("deliver_sm_resp seq %d status %v", ack.Seq, ack.Status)
	}
	// Both were read before the ack went out: neither completed the submit.
	select {
	case <-r.ch:
		t.Fatalf("submit completed by a PDU that is not its response: %+v", r.get(0))
	default:
	}
	if st := s.Stats(); st.Unexpected != 1 || st.WindowInUse != 1 {
		t.Fatalf("stats %+v", st)
	}
	p.respond(req, pdu.StatusOK, "77")
	r.wait(t, 1)
	if got := r.get(0); got.Err != nil || got.Status != pdu.StatusOK || got.MessageID != "77" {
		t.Fatalf("result %+v", got)
	}
}

// TestSessionWindowWaitsWithContext: a full window makes Send wait; a
// context that ends first gives ErrNotSent wrapping the context's error and
// takes no slot; a freed slot lets a waiting sender through.
func TestSessionWindowWaitsWithContext(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 2})
	r := newResults(3)
	var reqs []pdu.PDU
	for i := 0; i < 2; i++ {
		if err := s.Send(context.Background(), submitPDU("fill"), r.cb(i)); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, p.expect(pdu.SubmitSM))
	}
	if ok, err := s.TrySend(submitPDU("try"), r.cb(99)); ok || err != nil {
		t.Fatalf("TrySend on a full window = %v, %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, submitPDU("late"), r.cb(98))
	if !errors.Is(err, smpp.ErrNotSent) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send on a full window with an ending context = %v", err)
	}
	if st := s.Stats(); st.WindowInUse != 2 || st.WindowSize != 2 {
		t.Fatalf("window %d/%d after the failed Send, want 2/2", st.WindowInUse, st.WindowSize)
	}

	// A sender without a deadline waits, and goes once a slot frees.
	sent := make(chan error, 1)
	go func() { sent <- s.Send(context.Background(), submitPDU("waiter"), r.cb(2)) }()
	select {
	case err := <-sent:
		t.Fatalf("Send returned %v on a full window", err)
	case <-time.After(20 * time.Millisecond): // it must still be waiting
	}
	p.respond(reqs[0], pdu.StatusOK, "a")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	third := p.expect(pdu.SubmitSM)
	p.respond(reqs[1], pdu.StatusOK, "b")
	p.respond(third, pdu.StatusOK, "c")
	r.wait(t, 3)
	if st := s.Stats(); st.WindowInUse != 0 || st.Submitted != 3 {
		t.Fatalf("stats after all answers %+v", st)
	}
	select {
	case i := <-r.ch:
		t.Fatalf("callback %d of a request that was never sent", i)
	default:
	}
}

// TestSessionResponseTimeoutKeepsSlot: a request without a response in time
// ends as ErrResponseTimeout (outcome unknown), yet its slot stays taken
// until the late response arrives, which is counted and not reported twice.
func TestSessionResponseTimeoutKeepsSlot(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 1, ResponseTimeout: 100 * time.Millisecond, EnquireLinkInterval: time.Hour})
	r := newResults(2)
	if err := s.Send(context.Background(), submitPDU("slow"), r.cb(0)); err != nil {
		t.Fatal(err)
	}
	req := p.expect(pdu.SubmitSM)
	r.wait(t, 1)
	got := r.get(0)
	if !errors.Is(got.Err, smpp.ErrResponseTimeout) || !errors.Is(got.Err, smpp.ErrOutcomeUnknown) || errors.Is(got.Err, smpp.ErrNotSent) {
		t.Fatalf("result %+v, want ErrResponseTimeout", got)
	}
	if st := s.Stats(); st.WindowInUse != 1 || st.Timeouts != 1 {
		t.Fatalf("stats after the timeout %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := s.Send(ctx, submitPDU("no room"), r.cb(9)); !errors.Is(err, smpp.ErrNotSent) {
		t.Fatalf("Send while the timed-out request holds the slot = %v", err)
	}
	p.respond(req, pdu.StatusOK, "late")
	pollUntil(t, "the late response to free the slot", func() bool {
		st := s.Stats()
		return st.WindowInUse == 0 && st.LateResponses == 1
	})
	if err := s.Send(context.Background(), submitPDU("next"), r.cb(1)); err != nil {
		t.Fatal(err)
	}
	p.respond(p.expect(pdu.SubmitSM), pdu.StatusOK, "next")
	r.wait(t, 1)
	if got := r.get(1); got.Err != nil || got.MessageID != "next" {
		t.Fatalf("result %+v", got)
	}
	if got := r.get(0); !errors.Is(got.Err, smpp.ErrResponseTimeout) {
		t.Fatalf("the timed-out request was reported again: %+v", got)
	}
}

// TestSessionBindLost: requests outstanding when the connection drops end
// as ErrBindLost (outcome unknown); answered ones keep their answer.
func TestSessionBindLost(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 5})
	r := newResults(3)
	var reqs []pdu.PDU
	for i := 0; i < 3; i++ {
		if err := s.Send(context.Background(), submitPDU("x"), r.cb(i)); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, p.expect(pdu.SubmitSM))
	}
	p.respond(reqs[0], pdu.StatusOK, "ok")
	r.wait(t, 1)
	p.conn.Close()
	r.wait(t, 2)
	waitDone(t, s)
	if got := r.get(0); got.Err != nil || got.MessageID != "ok" {
		t.Fatalf("answered request: %+v", got)
	}
	for i := 1; i < 3; i++ {
		got := r.get(i)
		if !errors.Is(got.Err, smpp.ErrBindLost) || !errors.Is(got.Err, smpp.ErrOutcomeUnknown) {
			t.Fatalf("outstanding request %d: %+v, want ErrBindLost", i, got)
		}
	}
	if err := s.Send(context.Background(), submitPDU("after"), r.cb(5)); !errors.Is(err, smpp.ErrNotSent) {
		t.Fatalf("Send after the bind is gone = %v", err)
	}
	if st := s.Stats(); st.WindowInUse != 0 {
		t.Fatalf("window in use %d after the bind is gone", st.WindowInUse)
	}
}

// TestSessionKeepAliveAndDeadLink: an idle session sends enquire_link on its
// interval; one left unanswered past DeadLinkTimeout ends the bind.
func TestSessionKeepAliveAndDeadLink(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{EnquireLinkInterval: 40 * time.Millisecond, DeadLinkTimeout: 150 * time.Millisecond})
	seen := map[uint32]bool{}
	for i := 0; i < 3; i++ {
		q := p.expect(pdu.EnquireLink)
		if seen[q.Seq] {
			t.Fatalf("enquire_link seq %d reused", q.Seq)
		}
		seen[q.Seq] = true
		p.respond(q, pdu.StatusOK, "")
	}
	select {
	case <-s.Done():
		t.Fatalf("answered keep-alives ended the session: %v", s.Err())
	default:
	}
	start := time.Now()
	p.expect(pdu.EnquireLink) // not answered
	waitDone(t, s)
	if !errors.Is(s.Err(), smpp.ErrDeadLink) {
		t.Fatalf("Err = %v, want ErrDeadLink", s.Err())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("dead link noticed after %v", d)
	}
}

// TestSessionGenericNackAnswersRequest: a generic_nack answers the request
// with its sequence number, whatever its class.
func TestSessionGenericNackAnswersRequest(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{})
	res := make(chan smpp.Result, 1)
	go func() { res <- s.Submit(context.Background(), submitPDU("nack me")) }()
	req := p.expect(pdu.SubmitSM)
	p.write(&pdu.PDU{Header: pdu.Header{ID: pdu.GenericNack, Status: pdu.StatusInvCmdLen, Seq: req.Seq}})
	if r := <-res; r.Err != nil || r.Status != pdu.StatusInvCmdLen {
		t.Fatalf("result %+v", r)
	}
	if st := s.Stats(); st.WindowInUse != 0 || st.Rejected != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSessionCloseWithoutAnswer: Close waits for the window only as long as
// its context allows; what is still outstanding then is outcome unknown.
func TestSessionCloseWithoutAnswer(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{})
	r := newResults(1)
	if err := s.Send(context.Background(), submitPDU("never answered"), r.cb(0)); err != nil {
		t.Fatal(err)
	}
	p.expect(pdu.SubmitSM)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	closed := make(chan struct{})
	go func() { s.Close(ctx); close(closed) }()
	select {
	case <-closed:
	case <-time.After(waitTime):
		t.Fatal("Close did not return")
	}
	r.wait(t, 1)
	if got := r.get(0); !errors.Is(got.Err, smpp.ErrOutcomeUnknown) {
		t.Fatalf("outstanding at Close: %+v, want outcome unknown", got)
	}
}

// TestSessionEndReasonAfterUnbind: an SMSC that hangs up right after an
// unbind, in either direction, ends the session for that reason, not with
// an I/O error.
func TestSessionEndReasonAfterUnbind(t *testing.T) {
	t.Run("our unbind", func(t *testing.T) {
		s, p := fakeBind(t, smpp.SessionConfig{})
		closed := make(chan struct{})
		go func() { s.Close(context.Background()); close(closed) }()
		q := p.expect(pdu.Unbind)
		resp, _ := pdu.Append(nil, &pdu.PDU{Header: pdu.Header{ID: pdu.UnbindResp, Seq: q.Seq}})
		p.writeRaw(resp)
		p.conn.Close()
		select {
		case <-closed:
		case <-time.After(waitTime):
			t.Fatal("Close did not return")
		}
		if !errors.Is(s.Err(), smpp.ErrClosed) {
			t.Fatalf("Err = %v, want ErrClosed", s.Err())
		}
	})
	t.Run("their unbind", func(t *testing.T) {
		s, p := fakeBind(t, smpp.SessionConfig{})
		p.request(&pdu.PDU{Header: pdu.Header{ID: pdu.Unbind}})
		p.conn.Close() // without waiting for unbind_resp
		waitDone(t, s)
		if !errors.Is(s.Err(), smpp.ErrUnboundByPeer) {
			t.Fatalf("Err = %v, want ErrUnboundByPeer", s.Err())
		}
	})
}

// TestSessionUnencodablePDU: a PDU that cannot be encoded is not sent, its
// callback never runs and its slot is free again.
func TestSessionUnencodablePDU(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 1})
	r := newResults(2)
	bad := submitPDU(strings.Repeat("x", 255)) // short_message holds 254 octets
	if err := s.Send(context.Background(), bad, r.cb(0)); !errors.Is(err, smpp.ErrNotSent) || !errors.Is(err, pdu.ErrFieldTooLong) {
		t.Fatalf("Send = %v, want ErrNotSent wrapping ErrFieldTooLong", err)
	}
	if st := s.Stats(); st.WindowInUse != 0 {
		t.Fatalf("window in use %d", st.WindowInUse)
	}
	if err := s.Send(context.Background(), submitPDU("good"), r.cb(1)); err != nil {
		t.Fatal(err)
	}
	q := p.expect(pdu.SubmitSM)
	p.respond(q, pdu.StatusOK, "ok")
	r.wait(t, 1)
	if got := r.get(1); got.Err != nil || got.MessageID != "ok" {
		t.Fatalf("result %+v", got)
	}
	select {
	case i := <-r.ch:
		t.Fatalf("callback %d ran", i)
	default:
	}
}

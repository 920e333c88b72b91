package smpp_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

func nextInbound(t *testing.T, ch <-chan *smpp.Inbound) *smpp.Inbound {
	t.Helper()
	select {
	case in := <-ch:
		return in
	case <-time.After(waitTime):
		t.Fatal("nothing handed to the handler")
		return nil
	}
}

// TestInboundAckedOnlyAfterRespond: the SMSC's receipt is acknowledged when
// the handler calls Respond, not when the session reads it.
func TestInboundAckedOnlyAfterRespond(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	inbound := make(chan *smpp.Inbound, 4)
	s := bindSession(t, srv.Addr(), smpp.SessionConfig{Handler: func(in *smpp.Inbound) { inbound <- in }})
	p := submitPDU("receipt please")
	p.RegisteredDelivery = 1
	if r := s.Submit(testCtx(t), p); r.Err != nil || r.Status != pdu.StatusOK {
		t.Fatalf("submit: %+v", r)
	}
	in := nextInbound(t, inbound)
	if in.PDU.ID != pdu.DeliverSM || in.PDU.ESMClass&pdu.ESMClassReceipt == 0 {
		t.Fatalf("handler got %s esm_class %#x", in.PDU.ID, in.PDU.ESMClass)
	}
	// A round trip on the same connection: an ack queued before the hand-off
	// would have reached the SMSC before this submit.
	if r := s.Submit(testCtx(t), submitPDU("round trip")); r.Err != nil {
		t.Fatal(r.Err)
	}
	if st := srv.Stats(); st.ReceiptsSent != 1 || st.ReceiptsAcked != 0 || st.ReceiptsNacked != 0 {
		t.Fatalf("before Respond: sent %d acked %d nacked %d", st.ReceiptsSent, st.ReceiptsAcked, st.ReceiptsNacked)
	}
	in.Respond(pdu.StatusOK)
	in.Respond(pdu.StatusMsgQFul) // only the first answer counts
	waitSMSC(t, srv, "the receipt acked", func(st smsc.Stats) bool { return st.ReceiptsAcked == 1 })
	if r := s.Submit(testCtx(t), submitPDU("round trip")); r.Err != nil {
		t.Fatal(r.Err)
	}
	if st := srv.Stats(); st.ReceiptsAcked != 1 || st.ReceiptsNacked != 0 {
		t.Fatalf("after Respond: acked %d nacked %d", st.ReceiptsAcked, st.ReceiptsNacked)
	}
	if st := s.Stats(); st.Inbound != 1 || st.InboundAcked != 1 {
		t.Fatalf("session stats %+v", st)
	}
}

// TestInboundRespondErrorMakesSMSCResend: Respond(0x14) leaves the message
// with the SMSC, which sends it again.
func TestInboundRespondErrorMakesSMSCResend(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(20 * time.Millisecond)}})
	inbound := make(chan *smpp.Inbound, 4)
	s := bindSession(t, srv.Addr(), smpp.SessionConfig{Handler: func(in *smpp.Inbound) { inbound <- in }})
	if _, err := srv.InjectMO(smsc.MO{From: "+15550002222", To: "12345", Text: "STOP"}); err != nil {
		t.Fatal(err)
	}
	first := nextInbound(t, inbound)
	first.Respond(pdu.StatusMsgQFul)
	again := nextInbound(t, inbound)
	if string(again.PDU.ShortMessage) != "STOP" || string(first.PDU.ShortMessage) != "STOP" {
		t.Fatalf("texts %q, %q", first.PDU.ShortMessage, again.PDU.ShortMessage)
	}
	again.Respond(pdu.StatusOK)
	waitSMSC(t, srv, "the resent MO acked", func(st smsc.Stats) bool { return st.MOAcked == 1 })
	if st := srv.Stats(); st.MONacked != 1 || st.MOSent != 2 {
		t.Fatalf("simulator: sent %d nacked %d acked %d", st.MOSent, st.MONacked, st.MOAcked)
	}
	if st := s.Stats(); st.InboundRefused != 1 || st.InboundAcked != 1 {
		t.Fatalf("session stats %+v", st)
	}
}

// TestInboundQueueOverflow: with the handler busy and its queue full, more
// inbound PDUs are answered 0x14 at once, the read loop keeps going, and
// the SMSC delivers them again later.
func TestInboundQueueOverflow(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(20 * time.Millisecond)}})
	release := make(chan struct{})
	var mu sync.Mutex
	var texts []string
	s := bindSession(t, srv.Addr(), smpp.SessionConfig{InboundQueue: 1, Handler: func(in *smpp.Inbound) {
		<-release
		mu.Lock()
		texts = append(texts, string(in.PDU.ShortMessage))
		mu.Unlock()
		in.Respond(pdu.StatusOK)
	}})
	const n = 4
	for i := 0; i < n; i++ {
		if _, err := srv.InjectMO(smsc.MO{From: "+15550002222", To: "12345", Text: string(rune('A' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	waitSMSC(t, srv, "an overflow answered 0x14", func(st smsc.Stats) bool { return st.MONacked >= 1 })
	// The read loop is not stuck behind the handler: a submit round-trips.
	if r := s.Submit(testCtx(t), submitPDU("while the handler is busy")); r.Err != nil || r.Status != pdu.StatusOK {
		t.Fatalf("submit while the handler is blocked: %+v", r)
	}
	if st := s.Stats(); st.InboundOverflow < 1 {
		t.Fatalf("session stats %+v", st)
	}
	close(release)
	waitSMSC(t, srv, "every MO acked", func(st smsc.Stats) bool { return st.MOAcked == n })
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, x := range texts {
		seen[x] = true
	}
	if len(seen) != n || len(texts) != n {
		t.Fatalf("handler got %q", texts)
	}
}

// TestSessionCloseDrainsThenUnbinds: Close waits for outstanding submits to
// be answered, then unbinds.
func TestSessionCloseDrainsThenUnbinds(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ResponseLatency: smsc.Dist{Min: smsc.Duration(150 * time.Millisecond)}}})
	s := bindSession(t, srv.Addr(), smpp.SessionConfig{Window: 10})
	const n = 5
	r := newResults(n)
	for i := 0; i < n; i++ {
		if err := s.Send(context.Background(), submitPDU("drain me"), r.cb(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r.wait(t, n)
	for i := 0; i < n; i++ {
		if got := r.get(i); got.Err != nil || got.Status != pdu.StatusOK {
			t.Fatalf("submit %d at Close: %+v", i, got)
		}
	}
	st := waitSMSC(t, srv, "the unbind", func(st smsc.Stats) bool { return st.Unbinds == 1 && st.BindsActive == 0 })
	if st.Messages != n {
		t.Fatalf("simulator has %d messages", st.Messages)
	}
	if !errors.Is(s.Err(), smpp.ErrClosed) {
		t.Fatalf("Err after Close = %v", s.Err())
	}
	if err := s.Send(context.Background(), submitPDU("after close"), r.cb(99)); !errors.Is(err, smpp.ErrNotSent) {
		t.Fatalf("Send after Close = %v", err)
	}
}

// TestSessionBindTypes: transmitter, receiver and transceiver binds are what
// the SMSC sees; a receiver cannot submit; a refused bind is a BindError.
func TestSessionBindTypes(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: []smsc.Account{{SystemID: "acme", Password: "secret"}}})
	for _, bt := range []smpp.BindType{smpp.Transmitter, smpp.Receiver, smpp.Transceiver} {
		s := bindSession(t, srv.Addr(), smpp.SessionConfig{SystemID: "acme", Password: "secret", BindType: bt})
		r := s.Submit(testCtx(t), submitPDU("x"))
		want := pdu.StatusOK
		if bt == smpp.Receiver {
			want = pdu.StatusInvBndSts
		}
		if r.Err != nil || r.Status != want {
			t.Fatalf("%v submit: %+v, want %v", bt, r, want)
		}
	}
	types := map[string]bool{}
	for _, b := range srv.Binds() {
		types[b.Type] = true
	}
	for _, want := range []string{"bind_transmitter", "bind_receiver", "bind_transceiver"} {
		if !types[want] {
			t.Fatalf("simulator binds %v lack %s", srv.Binds(), want)
		}
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, err = smpp.Bind(testCtx(t), conn, smpp.SessionConfig{SystemID: "acme", Password: "wrong"})
	var be *smpp.BindError
	if !errors.As(err, &be) || be.Status != pdu.StatusInvPaswd {
		t.Fatalf("bind with a wrong password: %v", err)
	}
}

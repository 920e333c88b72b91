package smpp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
)

// TestSessionWindowStuckEndsBind: an SMSC that silently drops submits fills
// the window with timed-out requests (each keeps its slot, as the SMSC may
// still answer). Once every slot is held that way for WindowStuckAfter
// (default 5 × ResponseTimeout) the bind can send nothing more, so the
// session ends and the pool binds afresh. A window only partly held keeps
// working.
func TestSessionWindowStuckEndsBind(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{Window: 2, ResponseTimeout: 100 * time.Millisecond, EnquireLinkInterval: time.Hour})
	r := newResults(3)
	if err := s.Send(context.Background(), submitPDU("dropped 1"), r.cb(0)); err != nil {
		t.Fatal(err)
	}
	p.expect(pdu.SubmitSM) // never answered
	r.wait(t, 1)
	if got := r.get(0); !errors.Is(got.Err, smpp.ErrResponseTimeout) {
		t.Fatalf("first: %+v", got)
	}
	// One slot held: the other still works.
	if err := s.Send(context.Background(), submitPDU("answered"), r.cb(1)); err != nil {
		t.Fatal(err)
	}
	p.respond(p.expect(pdu.SubmitSM), pdu.StatusOK, "ok")
	r.wait(t, 1)
	if got := r.get(1); got.Err != nil || got.MessageID != "ok" {
		t.Fatalf("second: %+v", got)
	}
	select {
	case <-s.Done():
		t.Fatalf("the session ended with one slot of two held: %v", s.Err())
	default:
	}
	// The second slot held too: the bind is dropped.
	if err := s.Send(context.Background(), submitPDU("dropped 2"), r.cb(2)); err != nil {
		t.Fatal(err)
	}
	p.expect(pdu.SubmitSM)
	r.wait(t, 1)
	if got := r.get(2); !errors.Is(got.Err, smpp.ErrResponseTimeout) {
		t.Fatalf("third: %+v", got)
	}
	waitDone(t, s)
	if !errors.Is(s.Err(), smpp.ErrWindowStuck) {
		t.Fatalf("session ended with %v, want ErrWindowStuck", s.Err())
	}
	p.readEOF()
}

package smpp_test

import (
	"context"
	"testing"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
)

// TestSessionGenericNackWithoutStatusIsARefusal: a generic_nack is a
// negative answer whatever its command_status says. One with status 0 (a
// broken SMSC) must not pass for an accepted submit with an empty
// message_id, which would leave the message waiting for a receipt that
// cannot come.
func TestSessionGenericNackWithoutStatusIsARefusal(t *testing.T) {
	s, p := fakeBind(t, smpp.SessionConfig{})
	res := make(chan smpp.Result, 1)
	go func() { res <- s.Submit(context.Background(), submitPDU("nack me, status 0")) }()
	req := p.expect(pdu.SubmitSM)
	p.write(&pdu.PDU{Header: pdu.Header{ID: pdu.GenericNack, Status: pdu.StatusOK, Seq: req.Seq}})
	r := <-res
	if r.Err != nil || r.Status == pdu.StatusOK {
		t.Fatalf("result %+v, want a refusal status", r)
	}
	if r.Status != pdu.StatusUnknownErr {
		t.Fatalf("status %v, want ESME_RUNKNOWNERR", r.Status)
	}
}

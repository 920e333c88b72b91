package smsc_test

import (
	"context"
	"testing"
	"time"

	gosmpp "github.com/fiorix/go-smpp/smpp"
	gopdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"smppbridge/testharness/smsc"
)

// TestGoSMPPTransceiverRoundTrip drives the simulator with go-smpp's own
// client: bind, submit with a receipt requested, receive the receipt.
func TestGoSMPPTransceiverRoundTrip(t *testing.T) {
	srv, err := smsc.Start(smsc.Config{Accounts: []smsc.Account{{SystemID: "acme", Password: "secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	receipts := make(chan gopdu.Body, 10)
	tx := &gosmpp.Transceiver{Addr: srv.Addr(), User: "acme", Passwd: "secret", RespTimeout: 5 * time.Second,
		Handler: func(p gopdu.Body) { receipts <- p }}
	conn := tx.Bind()
	defer tx.Close()
	select {
	case st := <-conn:
		if st.Status() != gosmpp.Connected {
			t.Fatalf("bind: %v %v", st.Status(), st.Error())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bind timed out")
	}
	sm, err := tx.Submit(&gosmpp.ShortMessage{Src: "15550001111", Dst: "15550002222", Text: pdutext.Raw("hello world"), Register: pdufield.FinalDeliveryReceipt})
	if err != nil {
		t.Fatal(err)
	}
	if sm.RespID() == "" {
		t.Fatal("empty message id")
	}
	select {
	case p := <-receipts:
		if p.Header().ID != gopdu.DeliverSMID {
			t.Fatalf("got %v", p.Header().ID)
		}
		t.Logf("receipt: %s", p.Fields()[pdufield.ShortMessage])
	case <-time.After(10 * time.Second):
		t.Fatal("no receipt")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Text != "hello world" || msgs[0].To != "15550002222" {
		t.Fatalf("message %+v", msgs[0])
	}
}

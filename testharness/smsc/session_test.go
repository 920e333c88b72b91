package smsc_test

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"

	"smppbridge/testharness/smsc"
)

var testAccounts = []smsc.Account{
	{SystemID: "acme", Password: "secret"},
	{SystemID: "limited", Password: "pw", MaxBinds: 2},
}

func TestBind(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts, SystemID: "carrierX"})
	for _, tc := range []struct {
		name         string
		id           uint32
		sysID, pw    string
		status       uint32
		wantIfaceTLV bool
	}{
		{"transmitter", idBindTX, "acme", "secret", stOK, true},
		{"receiver", idBindRX, "acme", "secret", stOK, true},
		{"transceiver", idBindTRX, "acme", "secret", stOK, true},
		{"unknown system_id", idBindTRX, "nobody", "secret", stInvSysID, false},
		{"wrong password", idBindTX, "acme", "guess", stInvPaswd, false},
		{"empty password", idBindRX, "acme", "", stInvPaswd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := dial(t, srv.Addr())
			p := e.bindAs(t, tc.id, tc.sysID, tc.pw)
			if p.Status != tc.status {
				t.Fatalf("status %#x, want %#x", p.Status, tc.status)
			}
			if got := p.field(t, pdufield.SystemID).String(); got != "carrierX" {
				t.Errorf("SMSC system_id %q, want the configured carrierX", got)
			}
			_, hasIface := p.Go.TLVFields()[tagSCIfVersion]
			if hasIface != tc.wantIfaceTLV {
				t.Errorf("sc_interface_version present %v, want %v", hasIface, tc.wantIfaceTLV)
			}
			if hasIface {
				if v := p.Go.TLVFields()[tagSCIfVersion].Bytes(); len(v) != 1 || v[0] != 0x34 {
					t.Errorf("sc_interface_version %x, want 34", v)
				}
			}
		})
	}
	st := srv.Stats()
	if st.Binds != 3 || st.BindsRefused != 3 || st.Accounts["acme"].Binds != 3 {
		t.Errorf("binds %d refused %d acme %d, want 3/3/3", st.Binds, st.BindsRefused, st.Accounts["acme"].Binds)
	}
}

func TestBindMaxBinds(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	first := bound(t, srv, idBindTRX, "limited", "pw")
	bound(t, srv, idBindRX, "limited", "pw")
	third := dial(t, srv.Addr())
	if p := third.bindAs(t, idBindTX, "limited", "pw"); p.Status != stBindFail {
		t.Fatalf("third bind: status %#x, want ESME_RBINDFAIL", p.Status)
	}
	// Other accounts are not limited by it.
	bound(t, srv, idBindTX, "acme", "secret")
	// A freed slot can be taken again, on the same connection.
	first.send(t, simplePDU(idUnbind, first.nextSeq()))
	first.expect(t, idUnbindResp)
	waitFor(t, srv, "the first bind to end", func(s smsc.Stats) bool { return s.Accounts["limited"].BindsActive == 1 })
	third.mustBind(t, idBindTX, "limited", "pw")
}

func TestBindWithoutAccountsAcceptsAnyone(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	for _, id := range []string{"whoever", "x", "another-one"} {
		e := bound(t, srv, idBindTRX, id, "anything")
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("hi")})
	}
	if got := len(srv.Binds()); got != 3 {
		t.Fatalf("%d binds listed, want 3", got)
	}
}

func TestBindStateErrors(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})

	t.Run("bind twice", func(t *testing.T) {
		e := bound(t, srv, idBindTX, "acme", "secret")
		if p := e.bindAs(t, idBindRX, "acme", "secret"); p.Status != stAlyBnd {
			t.Fatalf("second bind: status %#x, want ESME_RALYBND", p.Status)
		}
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("still bound")})
	})

	t.Run("requests before bind", func(t *testing.T) {
		e := dial(t, srv.Addr())
		seq := e.submit(t, sm{src: "1", dst: "2", text: gsm7("too early")})
		e.expectResp(t, idSubmitSMResp, seq, stInvBndSts)
		if q := e.query(t, "1", "1"); q.status != stInvBndSts {
			t.Fatalf("query_sm before bind: status %#x", q.status)
		}
		seq = e.nextSeq()
		e.send(t, dataSM(seq, sm{src: "1", dst: "2", tlvs: []tlv{{tagMessagePayload, []byte("x")}}}))
		e.expectResp(t, idDataSMResp, seq, stInvBndSts)
		// enquire_link needs no bind, and the connection can still bind.
		e.sync(t)
		e.mustBind(t, idBindTRX, "acme", "secret")
	})

	t.Run("receiver submitting", func(t *testing.T) {
		e := bound(t, srv, idBindRX, "acme", "secret")
		seq := e.submit(t, sm{src: "1", dst: "2", text: gsm7("rx cannot send")})
		e.expectResp(t, idSubmitSMResp, seq, stInvBndSts)
		seq = e.nextSeq()
		e.send(t, dataSM(seq, sm{src: "1", dst: "2", tlvs: []tlv{{tagMessagePayload, []byte("x")}}}))
		e.expectResp(t, idDataSMResp, seq, stInvBndSts)
		seq = e.nextSeq()
		e.send(t, submitMulti(seq, sm{src: "1", dests: []multiDest{{addr: "2"}}, text: []byte("x")}))
		e.expectResp(t, idSubmitMultiResp, seq, stInvBndSts)
	})
	if n := srv.Stats().Messages; n != 1 { // only "still bound" was accepted
		t.Fatalf("%d messages recorded, want 1: refused submits must not be", n)
	}
}

func TestUnbindFromClient(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	e := bound(t, srv, idBindTRX, "acme", "secret")
	seq := e.nextSeq()
	e.send(t, simplePDU(idUnbind, seq))
	e.expectResp(t, idUnbindResp, seq, stOK)
	e.expectClosed(t)
	waitFor(t, srv, "the bind to end", func(s smsc.Stats) bool { return s.BindsActive == 0 && s.Unbinds == 1 })
}

func TestUnbindFromServer(t *testing.T) {
	for _, via := range []string{"Server.Unbind", "POST /unbind"} {
		t.Run(via, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
			e := bound(t, srv, idBindTRX, "acme", "secret")
			other := bound(t, srv, idBindTRX, "limited", "pw")
			if via == "Server.Unbind" {
				if n := srv.Unbind("acme"); n != 1 {
					t.Fatalf("Unbind asked %d binds, want 1", n)
				}
			} else {
				hs := httptest.NewServer(srv.Handler())
				defer hs.Close()
				var got map[string]int
				doJSON(t, http.MethodPost, hs.URL+"/unbind?system_id=acme", "", http.StatusOK, &got)
				if got["unbound"] != 1 {
					t.Fatalf("POST /unbind: %v", got)
				}
			}
			p := e.expect(t, idUnbind)
			if p.Seq != 1 {
				t.Errorf("SMSC unbind seq %d, want 1: the SMSC numbers its own requests", p.Seq)
			}
			// Until answered the bind is still there, but gets no deliveries.
			e.send(t, simplePDU(idUnbindResp, p.Seq))
			e.expectClosed(t)
			waitFor(t, srv, "the unbound bind to end", func(s smsc.Stats) bool { return s.BindsActive == 1 })
			other.sync(t) // the other account was not asked
		})
	}
}

func TestEnquireLinkFromClient(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTRX, "a", "b")
	for i := 0; i < 3; i++ {
		e.sync(t)
	}
	if n := srv.Stats().EnquireLinksIn; n != 3 {
		t.Fatalf("EnquireLinksIn %d, want 3", n)
	}
}

func TestEnquireLinkFromServer(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{EnquireLinkInterval: smsc.Duration(50e6)}})
	e := bound(t, srv, idBindTRX, "a", "b") // client sequence numbers start at 1000
	for want := uint32(1); want <= 3; want++ {
		p := e.expect(t, idEnquireLink)
		if p.Seq != want {
			t.Fatalf("SMSC enquire_link seq %d, want %d (its own numbering, not the client's 1000+)", p.Seq, want)
		}
		e.send(t, simplePDU(idEnquireLinkResp, p.Seq))
	}
	waitFor(t, srv, "enquire_links counted", func(s smsc.Stats) bool { return s.EnquireLinksOut >= 3 })
	// The client's numbering is untouched by the SMSC's.
	e.autoEnq.Store(true)
	id := e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
	if id == "" {
		t.Fatal("empty message id")
	}
}

func TestGenericNack(t *testing.T) {
	srv := startSMSC(t, smsc.Config{MaxPDULength: 1024})

	t.Run("unknown command id", func(t *testing.T) {
		e := bound(t, srv, idBindTRX, "a", "b")
		e.send(t, hdrOnly(0x00000099, 0, 77, []byte{1, 2, 3}))
		e.expectResp(t, idGenericNack, 77, stInvCmdID)
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("still usable")})
	})

	t.Run("body does not fit", func(t *testing.T) {
		e := bound(t, srv, idBindTRX, "a", "b")
		// A submit_sm whose body ends inside service_type.
		e.send(t, hdrOnly(idSubmitSM, 0, 78, []byte("abc")))
		e.expectResp(t, idGenericNack, 78, stInvCmdLen)
		// An enquire_link with a body it must not have.
		e.send(t, hdrOnly(idEnquireLink, 0, 79, []byte{0, 0, 0, 0}))
		e.expectResp(t, idGenericNack, 79, stInvCmdLen)
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("still usable")})
	})

	for _, tc := range []struct {
		name   string
		length uint32
	}{
		{"command_length below 16", 8},
		{"command_length above the maximum", 2048},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bound(t, srv, idBindTRX, "a", "b")
			b := hdrOnly(idEnquireLink, 0, 80, nil)
			binary.BigEndian.PutUint32(b, tc.length)
			e.send(t, b)
			e.expectResp(t, idGenericNack, 80, stInvCmdLen)
			e.expectClosed(t) // the stream cannot be framed any more
		})
	}
	if st := srv.Stats(); st.GenericNacks != 5 {
		t.Errorf("GenericNacks %d, want 5", st.GenericNacks)
	}
}

package smsc_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"smppbridge/testharness/smsc"
)

// moPart is one received MO PDU, decoded as an ESME would.
type moPart struct {
	in           inbound
	concat       string // "", udh8, udh16, sar
	ref          uint16
	total, seq   int
	text         string
	udhLen, fill int
}

// decodeMO reads the concatenation facts and text of a deliver_sm/data_sm.
// packed says whether data_coding 0 is packed GSM-7 on this link.
func decodeMO(t testing.TB, p *rawPDU, packed bool) moPart {
	t.Helper()
	m := moPart{in: decodeInbound(t, p), total: 1, seq: 1}
	ud := m.in.sm
	if m.in.hasPayload {
		if len(m.in.sm) != 0 {
			t.Fatalf("both short_message and message_payload set")
		}
		ud = m.in.payload
	}
	if m.in.esm&esmUDHI != 0 {
		if m.in.udh == nil {
			t.Fatalf("UDHI set but go-smpp found no UDH")
		}
		m.udhLen = len(m.in.udh)
		h := m.in.udh[1:]
		for len(h) >= 2 {
			iei, l := h[0], int(h[1])
			data := h[2 : 2+l]
			switch {
			case iei == 0x00 && l == 3:
				m.concat, m.ref, m.total, m.seq = "udh8", uint16(data[0]), int(data[1]), int(data[2])
			case iei == 0x08 && l == 4:
				m.concat, m.ref, m.total, m.seq = "udh16", binary.BigEndian.Uint16(data), int(data[2]), int(data[3])
			}
			h = h[2+l:]
		}
	}
	if ref, ok := m.in.tlvs[tagSarMsgRefNum]; ok {
		tot, seq := m.in.tlvs[tagSarTotal], m.in.tlvs[tagSarSeq]
		if len(ref) != 2 || len(tot) != 1 || len(seq) != 1 {
			t.Fatalf("SAR TLV lengths %d/%d/%d, want 2/1/1", len(ref), len(tot), len(seq))
		}
		m.concat, m.ref, m.total, m.seq = "sar", binary.BigEndian.Uint16(ref), int(tot[0]), int(seq[0])
	}
	switch m.in.dc {
	case 0x00:
		septets := ud
		if packed {
			// Septets start at the next septet boundary after the UDH.
			m.fill = (7 - (m.udhLen*8)%7) % 7
			bits := len(ud)*8 - m.fill
			septets = unpackSeptets(ud, m.fill, bits/7)
			// 7 spare bits are padded with CR (GSM 03.38 §6.1.2.3.1), not text.
			if bits%7 == 0 && len(septets) > 0 && septets[len(septets)-1] == 0x0D {
				septets = septets[:len(septets)-1]
			}
		}
		m.text = string(pdutext.GSM7(septets).Decode())
	case 0x08:
		m.text = fromUCS2(ud)
	case 0x03:
		r := make([]rune, len(ud))
		for i, c := range ud {
			r[i] = rune(c)
		}
		m.text = string(r)
	default:
		t.Fatalf("unexpected data_coding %#x", m.in.dc)
	}
	return m
}

// reassemble puts parts in order and checks they belong together.
func reassemble(t testing.TB, parts []moPart) string {
	t.Helper()
	slices.SortFunc(parts, func(a, b moPart) int { return a.seq - b.seq })
	var sb strings.Builder
	for i, p := range parts {
		if p.seq != i+1 || p.total != len(parts) || p.ref != parts[0].ref || p.concat != parts[0].concat {
			t.Fatalf("part %d: concat %s ref %d seq %d of %d; first part ref %d", i, p.concat, p.ref, p.seq, p.total, parts[0].ref)
		}
		sb.WriteString(p.text)
	}
	return sb.String()
}

func TestInjectMO(t *testing.T) {
	long := longText(400)
	emoji := strings.Repeat("Grüße 😀 ", 20)
	for _, tc := range []struct {
		name    string
		packed  bool
		mo      smsc.MO
		parts   int
		pduID   uint32
		concat  string
		dc      byte
		payload bool
	}{
		{"short GSM-7", false, smsc.MO{Text: "Hello from a phone {€}"}, 1, idDeliverSM, "", 0, false},
		{"short GSM-7 packed", true, smsc.MO{Text: "Hello from a phone {€}"}, 1, idDeliverSM, "", 0, false},
		{"long GSM-7 UDH 8-bit", false, smsc.MO{Text: long}, 3, idDeliverSM, "udh8", 0, false},
		{"long GSM-7 UDH 8-bit packed", true, smsc.MO{Text: long}, 3, idDeliverSM, "udh8", 0, false},
		{"long GSM-7 UDH 16-bit", false, smsc.MO{Text: long, Concat: "udh16"}, 3, idDeliverSM, "udh16", 0, false},
		{"long GSM-7 UDH 16-bit packed", true, smsc.MO{Text: long, Concat: "udh16"}, 3, idDeliverSM, "udh16", 0, false},
		{"long UCS-2 with emoji", false, smsc.MO{Text: emoji}, 3, idDeliverSM, "udh8", 8, false},
		{"short UCS-2 forced", false, smsc.MO{Text: "plain", Encoding: "ucs2"}, 1, idDeliverSM, "", 8, false},
		{"Latin-1", false, smsc.MO{Text: "café ÿ", Encoding: "latin1"}, 1, idDeliverSM, "", 3, false},
		{"long SAR", false, smsc.MO{Text: long, Concat: "sar"}, 3, idDeliverSM, "sar", 0, false},
		{"long SAR packed", true, smsc.MO{Text: long, Concat: "sar"}, 3, idDeliverSM, "sar", 0, false},
		{"long payload", false, smsc.MO{Text: long, Concat: "payload"}, 1, idDeliverSM, "", 0, true},
		{"data_sm", false, smsc.MO{Text: long, PDU: "data_sm"}, 1, idDataSM, "", 0, true},
		{"data_sm UCS-2", false, smsc.MO{Text: emoji, PDU: "data_sm"}, 1, idDataSM, "", 8, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{GSM7Packed: tc.packed}})
			e := bound(t, srv, idBindRX, "a", "b")
			mo := tc.mo
			mo.From, mo.To = "+15551234567", "12345"
			n, err := srv.InjectMO(mo)
			if err != nil || n != tc.parts {
				t.Fatalf("InjectMO: %d parts, %v; want %d", n, err, tc.parts)
			}
			var parts []moPart
			for i := 0; i < n; i++ {
				p := e.expect(t, tc.pduID)
				m := decodeMO(t, p, tc.packed)
				if m.in.esm&esmReceipt != 0 {
					t.Fatalf("MO flagged as a receipt: esm_class %#x", m.in.esm)
				}
				if m.concat != tc.concat || m.in.dc != tc.dc || m.in.hasPayload != tc.payload {
					t.Fatalf("part %d: concat %q dc %d payload %v; want %q %d %v", i, m.concat, m.in.dc, m.in.hasPayload, tc.concat, tc.dc, tc.payload)
				}
				if m.in.src != "15551234567" || m.in.srcTON != 1 || m.in.srcNPI != 1 || m.in.dst != "12345" || m.in.dstTON != 3 {
					t.Fatalf("addresses %+v", m.in)
				}
				parts = append(parts, m)
			}
			if got := reassemble(t, parts); got != mo.Text {
				t.Fatalf("reassembled\n%q\nwant\n%q", got, mo.Text)
			}
			e.sync(t)
			waitFor(t, srv, "every part acknowledged", func(s smsc.Stats) bool { return s.MOSent == int64(n) && s.MOAcked == int64(n) })
		})
	}
}

func TestInjectMOAddresses(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTRX, "a", "b")
	for _, tc := range []struct {
		from     string
		ton, npi byte
		addr     string
	}{
		{"+4915112345678", 1, 1, "4915112345678"},
		{"4915112345678", 1, 1, "4915112345678"},
		{"ACME Bank", 5, 0, "ACME Bank"},
		{"12345", 3, 0, "12345"},
	} {
		if _, err := srv.InjectMO(smsc.MO{From: tc.from, To: "+15550000000", Text: "x"}); err != nil {
			t.Fatal(err)
		}
		in := decodeInbound(t, e.expect(t, idDeliverSM))
		if in.src != tc.addr || in.srcTON != tc.ton || in.srcNPI != tc.npi || in.dst != "15550000000" || in.dstTON != 1 {
			t.Errorf("from %q: source %d/%d %q dest %d %q", tc.from, in.srcTON, in.srcNPI, in.src, in.dstTON, in.dst)
		}
	}
}

func TestInjectMORouting(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	acmeTX := bound(t, srv, idBindTX, "acme", "secret")
	acmeTRX := bound(t, srv, idBindTRX, "acme", "secret")
	limited := bound(t, srv, idBindRX, "limited", "pw")
	for _, tc := range []struct {
		account string
		to      *esme
		quiet   []*esme
	}{
		{"limited", limited, []*esme{acmeTX, acmeTRX}},
		{"acme", acmeTRX, []*esme{acmeTX, limited}}, // a transmitter never gets MO
	} {
		if _, err := srv.InjectMO(smsc.MO{SystemID: tc.account, From: "1", To: "2", Text: "for " + tc.account}); err != nil {
			t.Fatal(err)
		}
		if m := decodeMO(t, tc.to.expect(t, idDeliverSM), false); m.text != "for "+tc.account {
			t.Fatalf("got %q", m.text)
		}
		for _, q := range tc.quiet {
			q.sync(t)
		}
	}
}

func TestInjectMOQueuedUntilBind(t *testing.T) {
	for _, account := range []string{"acme", ""} { // "" is any account
		t.Run("account="+account, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
			if _, err := srv.InjectMO(smsc.MO{SystemID: account, From: "1", To: "2", Text: "stored"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, srv, "the MO queued", func(s smsc.Stats) bool { return s.QueuedDeliver == 1 && s.MOSent == 0 })
			bound(t, srv, idBindTX, "acme", "secret").sync(t) // a transmitter cannot take it
			if account != "" {
				bound(t, srv, idBindRX, "limited", "pw").sync(t) // nor another account
			}
			rx := bound(t, srv, idBindRX, "acme", "secret")
			if m := decodeMO(t, rx.expect(t, idDeliverSM), false); m.text != "stored" {
				t.Fatalf("got %q", m.text)
			}
			waitFor(t, srv, "the MO delivered", func(s smsc.Stats) bool { return s.QueuedDeliver == 0 && s.MOAcked == 1 })
		})
	}
}

func TestInjectMORefused(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	for name, mo := range map[string]smsc.MO{
		"no from":          {To: "2", Text: "x"},
		"no to":            {From: "1", Text: "x"},
		"unknown encoding": {From: "1", To: "2", Text: "x", Encoding: "ebcdic"},
		"not GSM-7":        {From: "1", To: "2", Text: "😀", Encoding: "gsm7"},
		"not Latin-1":      {From: "1", To: "2", Text: "😀", Encoding: "latin1"},
		"unknown concat":   {From: "1", To: "2", Text: "x", Concat: "glue"},
		"unknown pdu":      {From: "1", To: "2", Text: "x", PDU: "submit_sm"},
		"unknown account":  {SystemID: "nobody", From: "1", To: "2", Text: "x"},
	} {
		if _, err := srv.InjectMO(mo); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if st := srv.Stats(); st.QueuedDeliver != 0 {
		t.Errorf("refused MO queued: %+v", st.Counters)
	}
}

func TestMONackRetried(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{DeliverRetry: smsc.Duration(50e6)}})
	e := bound(t, srv, idBindRX, "a", "b")
	e.autoAck.Store(0)
	if _, err := srv.InjectMO(smsc.MO{From: "1", To: "2", Text: "again"}); err != nil {
		t.Fatal(err)
	}
	p := e.expect(t, idDeliverSM)
	e.send(t, deliverResp(p.Seq, 0x64)) // ESME_RX_T_APPN: temporary
	p2 := e.expect(t, idDeliverSM)
	if m := decodeMO(t, p2, false); m.text != "again" {
		t.Fatalf("resent %q", m.text)
	}
	e.send(t, deliverResp(p2.Seq, stOK))
	waitFor(t, srv, "acknowledged", func(s smsc.Stats) bool { return s.MONacked == 1 && s.MOAcked == 1 && s.QueuedDeliver == 0 })
}

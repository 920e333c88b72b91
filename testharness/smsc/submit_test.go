package smsc_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"

	"smppbridge/testharness/smsc"
)

func TestSubmitSMRecorded(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Accounts: testAccounts})
	e := bound(t, srv, idBindTX, "acme", "secret")
	before := time.Now()
	id := e.submitOK(t, sm{src: "ACME", srcTON: 5, dst: "15550001111", dstTON: 1, dstNPI: 1,
		regDlv: 0, dc: 0, text: gsm7("Hello world")})
	msgs, err := srv.WaitMessages(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	want := smsc.Message{ID: id, IDs: []string{id}, SystemID: "acme", Command: "submit_sm", From: "ACME", To: "15550001111",
		SourceTON: 5, DestTON: 1, DestNPI: 1, Text: "Hello world", Segments: 1}
	if m.ID != want.ID || !slices.Equal(m.IDs, want.IDs) || m.SystemID != want.SystemID || m.Command != want.Command ||
		m.From != want.From || m.To != want.To || m.SourceTON != 5 || m.SourceNPI != 0 || m.DestTON != 1 || m.DestNPI != 1 ||
		m.Text != want.Text || m.Segments != 1 || m.Concat != "" || m.Incomplete || len(m.Parts) != 1 {
		t.Fatalf("message %+v\nwant like %+v", m, want)
	}
	if m.ReceivedAt.Before(before) || time.Since(m.ReceivedAt) > waitTime {
		t.Errorf("ReceivedAt %v", m.ReceivedAt)
	}
	if p := m.Parts[0]; p.ID != id || p.Seq != 1 || p.Text != "Hello world" || string(p.Data) != "Hello world" {
		t.Errorf("part %+v", p)
	}
	st := srv.Stats()
	if st.SubmitSM != 1 || st.Segments != 1 || st.Messages != 1 || st.Accounts["acme"].SubmitSM != 1 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestSubmitMulti(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTX, "a", "b")
	seq := e.nextSeq()
	e.send(t, submitMulti(seq, sm{src: "15550000000", srcTON: 1, srcNPI: 1, dstTON: 1, dstNPI: 1,
		dests: []multiDest{{addr: "15550000001"}, {dl: true, addr: "friends"}, {addr: "15550000002"}},
		text:  gsm7("to many")}))
	p := e.expectResp(t, idSubmitMultiResp, seq, stOK)
	id := p.messageID(t)
	if id == "" {
		t.Fatal("empty message id")
	}
	uns := p.field(t, pdufield.UnsuccessSme).(*pdufield.UnSmeList).Data
	if n := p.field(t, pdufield.NoUnsuccess).Bytes()[0]; n != 1 || len(uns) != 1 {
		t.Fatalf("no_unsuccess %d, entries %d, want 1", n, len(uns))
	}
	if got := uns[0].DestAddr.String(); got != "friends" {
		t.Errorf("unsuccess address %q, want the distribution list", got)
	}
	if st := uns[0].ErrCode.Data; len(st) != 4 || st[3] != stInvDLName || st[0]|st[1]|st[2] != 0 {
		t.Errorf("unsuccess error % x, want ESME_RINVDLNAME", st)
	}
	msgs, err := srv.WaitMessages(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	var to []string
	for _, m := range msgs {
		if m.ID != id || m.Command != "submit_multi" || m.Text != "to many" {
			t.Errorf("message %+v", m)
		}
		to = append(to, m.To)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"15550000001", "15550000002"}) {
		t.Errorf("recorded destinations %v", to)
	}
	if st := srv.Stats(); st.SubmitMulti != 1 || st.Messages != 2 || st.Segments != 2 { // the refused list is no segment
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestDataSM(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTRX, "a", "b")
	seq := e.nextSeq()
	e.send(t, dataSM(seq, sm{src: "15550000000", srcTON: 1, srcNPI: 1, dst: "15550000009", dstTON: 1, dstNPI: 1,
		tlvs: []tlv{{tagMessagePayload, gsm7("payload via data_sm")}}}))
	id := e.expectResp(t, idDataSMResp, seq, stOK).messageID(t)
	msgs, err := srv.WaitMessages(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.ID != id || m.Command != "data_sm" || m.Text != "payload via data_sm" || m.To != "15550000009" || m.Concat != "payload" || m.Segments != 1 {
		t.Fatalf("message %+v", m)
	}
	if st := srv.Stats(); st.DataSM != 1 {
		t.Errorf("DataSM %d", st.DataSM)
	}
}

func TestQuerySM(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Delay: smsc.Dist{Min: smsc.Duration(300 * time.Millisecond)}},
		Rules:    []smsc.Rule{{Dest: "15550000009", Stat: "UNDELIV", Err: "001"}},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	for _, tc := range []struct {
		dst     string
		state   byte
		errCode byte
	}{
		{"15550000001", 2, 0}, // DELIVERED
		{"15550000009", 5, 1}, // UNDELIVERABLE, err 001
	} {
		t.Run(tc.dst, func(t *testing.T) {
			id := e.submitOK(t, sm{src: "15550000000", dst: tc.dst, regDlv: 1, text: gsm7("query me")})
			q := e.query(t, id, "15550000000")
			if q.status != stOK || q.id != id || q.state != 1 || q.final != "" {
				t.Fatalf("before the receipt: %+v, want ENROUTE with no final_date", q)
			}
			parseReceipt(t, e.expect(t, idDeliverSM))
			q = e.query(t, id, "15550000000")
			if q.state != tc.state || q.errCode != tc.errCode {
				t.Fatalf("after the receipt: %+v, want state %d error %d", q, tc.state, tc.errCode)
			}
			// §7.1.1 absolute time: YYMMDDhhmmsstnnp
			if !regexp.MustCompile(`^\d{12}\d00[+-]$`).MatchString(q.final) {
				t.Fatalf("final_date %q is not an SMPP absolute time", q.final)
			}
			fd, _ := time.Parse("060102150405", q.final[:12])
			if d := time.Since(fd); d < -time.Minute || d > time.Minute {
				t.Errorf("final_date %s is %v from now", q.final, d)
			}
		})
	}
	if q := e.query(t, "no-such-id", "1"); q.status != stQueryFail {
		t.Errorf("unknown id: status %#x, want ESME_RQUERYFAIL", q.status)
	}
	// Another account cannot see the message.
	id := e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("mine")})
	other := bound(t, srv, idBindTRX, "someone-else", "x")
	if q := other.query(t, id, "1"); q.status != stQueryFail {
		t.Errorf("another account's message: status %#x", q.status)
	}
}

func TestCancelSM(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Delay: smsc.Dist{Min: smsc.Duration(time.Hour)}},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("cancel me")})
	if st := e.cancel(t, id, "1", "2"); st != stOK {
		t.Fatalf("cancel while pending: status %#x", st)
	}
	if q := e.query(t, id, "1"); q.state != 4 || q.final == "" {
		t.Fatalf("after cancel: %+v, want DELETED with a final_date", q)
	}
	if st := e.cancel(t, id, "1", "2"); st != stCancelFail {
		t.Errorf("second cancel: status %#x, want ESME_RCANCELFAIL", st)
	}
	if st := e.cancel(t, "unknown", "1", "2"); st != stCancelFail {
		t.Errorf("unknown id: status %#x, want ESME_RCANCELFAIL", st)
	}

	// Once final there is nothing left to cancel.
	if err := srv.SetBehaviour(smsc.Behaviour{}); err != nil {
		t.Fatal(err)
	}
	id = e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("already delivered")})
	parseReceipt(t, e.expect(t, idDeliverSM))
	if st := e.cancel(t, id, "1", "2"); st != stCancelFail {
		t.Errorf("cancel after the receipt: status %#x, want ESME_RCANCELFAIL", st)
	}
	e.sync(t) // the cancelled message never got a receipt
	if st := srv.Stats(); st.CancelSM != 4 || st.ReceiptsSent != 1 {
		t.Errorf("stats %+v", st.Counters)
	}
}

func TestMessageIDFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		width  int
		re     string
	}{
		{"decimal", 0, `^[1-9][0-9]*$`},
		{"hex", 0, `^[1-9A-F][0-9A-F]*$`},
		{"padded-decimal", 0, `^[0-9]{10}$`},
		{"padded-decimal", 16, `^[0-9]{16}$`},
		{"padded-hex", 0, `^[0-9A-F]{10}$`},
		{"uuid", 0, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.format, tc.width), func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{IDFormat: tc.format, IDWidth: tc.width}})
			e := bound(t, srv, idBindTX, "a", "b")
			const n = 300
			seqs := map[uint32]bool{}
			for i := 0; i < n; i++ { // pipelined: the simulator must mint ids under load
				seqs[e.submit(t, sm{src: "1", dst: "2", text: gsm7("x")})] = true
			}
			re := regexp.MustCompile(tc.re)
			seen := map[string]bool{}
			for i := 0; i < n; i++ {
				p := e.expect(t, idSubmitSMResp)
				if p.Status != stOK || !seqs[p.Seq] {
					t.Fatalf("resp %v", p)
				}
				id := p.messageID(t)
				if !re.MatchString(id) {
					t.Fatalf("id %q does not match %s", id, tc.re)
				}
				if seen[id] {
					t.Fatalf("id %q minted twice", id)
				}
				seen[id] = true
			}
		})
	}
}

// TestDecoding checks that each data_coding is understood, with text
// encoded here independently of the simulator's coding package.
func TestDecoding(t *testing.T) {
	const gsmText = "Hello {€} [~] @ £ ü Ω" // basic and extension table
	for _, tc := range []struct {
		name   string
		packed bool
		dc     byte
		body   []byte
		want   string
	}{
		{"GSM-7 unpacked", false, 0x00, gsm7(gsmText), gsmText},
		{"GSM-7 packed", true, 0x00, packSeptets(gsm7(gsmText), 0), gsmText},
		{"IA5", false, 0x01, []byte("plain ASCII ~|^{}"), "plain ASCII ~|^{}"},
		{"Latin-1", false, 0x03, latin1("café über ½ ÿ"), "café über ½ ÿ"},
		{"UCS-2 with emoji", false, 0x08, ucs2("Hi 😀 Привет 👍🏽"), "Hi 😀 Привет 👍🏽"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{GSM7Packed: tc.packed}})
			e := bound(t, srv, idBindTX, "a", "b")
			id := e.submitOK(t, sm{src: "1", dst: "2", dc: tc.dc, text: tc.body})
			msgs, err := srv.WaitMessages(testCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			if m := msgs[0]; m.Text != tc.want || m.DataCoding != tc.dc || m.ID != id {
				t.Fatalf("text %q dc %d, want %q dc %d", m.Text, m.DataCoding, tc.want, tc.dc)
			}
		})
	}
}

// longPart is one PDU of a long message as an ESME would send it.
type longPart struct {
	seq int
	m   sm
}

// splitLong builds the parts of a long message in one of the three
// concatenation styles. Text is cut on rune boundaries, as phones do.
func splitLong(style string, text string, ref uint16, packed bool) []longPart {
	var pieces []string
	var dc byte
	switch style {
	case "udh16-ucs2":
		pieces, dc = chunks(text, 60), 0x08
	default:
		pieces = chunks(text, 150)
	}
	total := byte(len(pieces))
	var parts []longPart
	for i, piece := range pieces {
		seq := byte(i + 1)
		m := sm{src: "15550000000", dst: "15550000001", dc: dc}
		var ud []byte
		if dc == 0x08 {
			ud = ucs2(piece)
		} else if packed {
			ud = nil // filled in below, after the UDH is known
		} else {
			ud = gsm7(piece)
		}
		switch style {
		case "udh8":
			m.esm = esmUDHI
			h := udh8(byte(ref), total, seq)
			if packed { // 6-octet UDH: 1 fill bit to the next septet boundary
				ud = packSeptets(gsm7(piece), 1)
			}
			m.text = append(h, ud...)
		case "udh16", "udh16-ucs2":
			m.esm = esmUDHI
			h := udh16(ref, total, seq)
			if packed { // 7-octet UDH: no fill bits needed
				ud = packSeptets(gsm7(piece), 0)
			}
			m.text = append(h, ud...)
		case "sar":
			if packed {
				ud = packSeptets(gsm7(piece), 0)
			}
			m.text = ud
			m.tlvs = []tlv{{tagSarMsgRefNum, []byte{byte(ref >> 8), byte(ref)}}, {tagSarTotal, []byte{total}}, {tagSarSeq, []byte{seq}}}
		}
		parts = append(parts, longPart{seq: int(seq), m: m})
	}
	return parts
}

func TestLongMessages(t *testing.T) {
	text := longText(400)
	ucsText := strings.Repeat("Grüße 😀 ", 20) // 180 runes, 200 UTF-16 units
	for _, tc := range []struct {
		name, style, text, concat string
		packed                    bool
		order                     []int // send order of part numbers
	}{
		{"UDH 8-bit", "udh8", text, "udh8", false, []int{1, 2, 3}},
		{"UDH 8-bit packed GSM-7", "udh8", text, "udh8", true, []int{1, 2, 3}},
		{"UDH 16-bit", "udh16", text, "udh16", false, []int{1, 2, 3}},
		{"UDH 16-bit packed GSM-7", "udh16", text, "udh16", true, []int{1, 2, 3}},
		{"UDH 16-bit UCS-2 emoji", "udh16-ucs2", ucsText, "udh16", false, []int{1, 2, 3}},
		{"SAR", "sar", text, "sar", false, []int{1, 2, 3}},
		{"SAR packed GSM-7", "sar", text, "sar", true, []int{1, 2, 3}},
		{"UDH 8-bit out of order", "udh8", text, "udh8", false, []int{3, 1, 2}},
		{"SAR out of order", "sar", text, "sar", false, []int{2, 3, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{GSM7Packed: tc.packed}})
			e := bound(t, srv, idBindTRX, "a", "b")
			parts := splitLong(tc.style, tc.text, 0x1234, tc.packed)
			if len(parts) != 3 {
				t.Fatalf("test text split into %d parts", len(parts))
			}
			idOf := map[int]string{}
			for _, n := range tc.order {
				idOf[n] = e.submitOK(t, parts[n-1].m)
				if n != tc.order[len(tc.order)-1] && srv.Stats().Messages != 0 {
					t.Fatal("message recorded before its last part arrived")
				}
			}
			msgs, err := srv.WaitMessages(testCtx(t), 1)
			if err != nil {
				t.Fatal(err)
			}
			m := msgs[0]
			if m.Text != tc.text {
				t.Fatalf("text\n%q\nwant\n%q", m.Text, tc.text)
			}
			wantIDs := []string{idOf[1], idOf[2], idOf[3]}
			if m.Concat != tc.concat || m.Segments != 3 || m.Incomplete || !slices.Equal(m.IDs, wantIDs) || m.ID != idOf[1] {
				t.Fatalf("concat %q segments %d incomplete %v ids %v id %s, want %s 3 false %v %s",
					m.Concat, m.Segments, m.Incomplete, m.IDs, m.ID, tc.concat, wantIDs, idOf[1])
			}
			for i, p := range m.Parts {
				if p.Seq != i+1 || p.ID != idOf[i+1] {
					t.Errorf("part %d: seq %d id %s", i, p.Seq, p.ID)
				}
			}
			if st := srv.Stats(); st.Messages != 1 || st.Segments != 3 {
				t.Errorf("stats %+v", st.Counters)
			}
		})
	}
}

func TestLongMessagePayload(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTRX, "a", "b")
	text := longText(400) // 153 septets per segment: 3 segments
	id := e.submitOK(t, sm{src: "1", dst: "2", tlvs: []tlv{{tagMessagePayload, gsm7(text)}}})
	ucs := strings.Repeat("😀", 40) + "x" // 81 UTF-16 units: 2 segments of 67
	id2 := e.submitOK(t, sm{src: "1", dst: "3", dc: 0x08, tlvs: []tlv{{tagMessagePayload, ucs2(ucs)}}})
	msgs, err := srv.WaitMessages(testCtx(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if m := msgs[0]; m.Text != text || m.Concat != "payload" || m.Segments != 3 || m.ID != id || len(m.Parts) != 1 {
		t.Errorf("GSM-7 payload: concat %q segments %d id %s parts %d", m.Concat, m.Segments, m.ID, len(m.Parts))
	}
	if m := msgs[1]; m.Text != ucs || m.Segments != 2 || m.ID != id2 {
		t.Errorf("UCS-2 payload: text %q segments %d", m.Text, m.Segments)
	}
}

func TestIncompleteLongMessage(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{ConcatTimeout: smsc.Duration(150 * time.Millisecond)}})
	e := bound(t, srv, idBindTRX, "a", "b")
	text := longText(400)
	parts := splitLong("udh8", text, 7, false)
	start := time.Now()
	id1 := e.submitOK(t, parts[0].m)
	id3 := e.submitOK(t, parts[2].m)
	msgs, err := srv.WaitMessages(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("recorded after %v, before concat_timeout", waited)
	}
	m := msgs[0]
	c := chunks(text, 150)
	if !m.Incomplete || m.Segments != 3 || len(m.Parts) != 2 || !slices.Equal(m.IDs, []string{id1, id3}) || m.Text != c[0]+c[2] {
		t.Fatalf("incomplete message %+v", m)
	}
}

// TestGSM7PackedIndependent cross-checks the test's packer against go-smpp's
// for a plain text, so both sides of TestDecoding are not the same mistake.
func TestGSM7PackedIndependent(t *testing.T) {
	const s = "hellohello" // 10 septets: no ambiguous trailing bits
	if got, want := packSeptets(gsm7(s), 0), pdutext.GSM7Packed(s).Encode(); string(got) != string(want) {
		t.Fatalf("packSeptets % x, go-smpp % x", got, want)
	}
	if got := string(pdutext.GSM7(unpackSeptets(packSeptets(gsm7(s), 3), 3, 10)).Decode()); got != s {
		t.Fatalf("round trip with fill bits: %q", got)
	}
}

func TestKeepMessagesRing(t *testing.T) {
	srv := startSMSC(t, smsc.Config{KeepMessages: 3})
	e := bound(t, srv, idBindTX, "a", "b")
	for i := 1; i <= 5; i++ {
		e.submitOK(t, sm{src: "1", dst: "2", text: gsm7(fmt.Sprint("m", i))})
	}
	msgs, err := srv.WaitMessages(testCtx(t), 5)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range msgs {
		texts = append(texts, m.Text)
	}
	if !slices.Equal(texts, []string{"m3", "m4", "m5"}) || srv.Stats().Messages != 5 {
		t.Fatalf("kept %v, want the newest three oldest first", texts)
	}
}

// A part whose message has left the log is forgotten once it is final, even
// when it became final after the eviction: a long-running simulator must not
// keep every part it ever accepted for query_sm.
func TestEvictedPartsForgottenWhenFinal(t *testing.T) {
	srv := startSMSC(t, smsc.Config{KeepMessages: 2, Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Delay: smsc.Dist{Min: smsc.Duration(300 * time.Millisecond)}},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	var ids []string
	for i := 1; i <= 4; i++ {
		ids = append(ids, e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7(fmt.Sprint("m", i))}))
	}
	// Evicted but not yet final: still known.
	if q := e.query(t, ids[0], "1"); q.status != stOK || q.state != 1 {
		t.Fatalf("evicted part before its receipt: %+v, want ENROUTE", q)
	}
	for range ids {
		parseReceipt(t, e.expect(t, idDeliverSM))
	}
	for _, id := range ids[:2] {
		if q := e.query(t, id, "1"); q.status != stQueryFail {
			t.Errorf("evicted final part %s: status %#x, want ESME_RQUERYFAIL", id, q.status)
		}
	}
	for _, id := range ids[2:] {
		if q := e.query(t, id, "1"); q.status != stOK || q.state != 2 {
			t.Errorf("kept part %s: %+v, want DELIVERED", id, q)
		}
	}
}

// A part sent again before the message is complete replaces the earlier
// copy: the message has each part once, the latest one.
func TestLongMessageResentPart(t *testing.T) {
	srv := startSMSC(t, smsc.Config{})
	e := bound(t, srv, idBindTRX, "a", "b")
	text := longText(400)
	parts := splitLong("udh8", text, 9, false)
	id1 := e.submitOK(t, parts[0].m)
	id2 := e.submitOK(t, parts[1].m)
	id1again := e.submitOK(t, parts[0].m)
	if srv.Stats().Messages != 0 {
		t.Fatal("message recorded with a part missing")
	}
	id3 := e.submitOK(t, parts[2].m)
	msgs, err := srv.WaitMessages(testCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.Text != text || len(m.Parts) != 3 || !slices.Equal(m.IDs, []string{id1again, id2, id3}) || id1again == id1 {
		t.Fatalf("text ok %v, ids %v, want [%s %s %s]", m.Text == text, m.IDs, id1again, id2, id3)
	}
}

package smsc_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// expectReceipt waits for the next PDU, which must be a receipt.
func (e *esme) expectReceipt(t testing.TB) receipt {
	t.Helper()
	p := e.next(t)
	if p.ID != idDeliverSM && p.ID != idDataSM {
		t.Fatalf("got %v, want a receipt", p)
	}
	return parseReceipt(t, p)
}

func TestReceiptRegisteredDelivery(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
		Rules: []smsc.Rule{{Dest: "15550000009", Stat: "UNDELIV", Err: "001"}},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	for _, tc := range []struct {
		regDlv byte
		dst    string
		want   string // stat of the expected receipt, "" for none
	}{
		{0, "15550000001", ""},
		{0, "15550000009", ""},
		{1, "15550000001", "DELIVRD"},
		{1, "15550000009", "UNDELIV"},
		{2, "15550000001", ""}, // failure receipts only
		{2, "15550000009", "UNDELIV"},
	} {
		t.Run(fmt.Sprintf("%d/%s", tc.regDlv, tc.dst), func(t *testing.T) {
			id := e.submitOK(t, sm{src: "1", dst: tc.dst, regDlv: tc.regDlv, text: gsm7("x")})
			if tc.want != "" {
				r := e.expectReceipt(t)
				if r.id != id || r.stat != tc.want {
					t.Fatalf("receipt id %s stat %s, want %s %s", r.id, r.stat, id, tc.want)
				}
			}
			e.sync(t) // no (further) receipt
		})
	}
}

// TestReceiptOutcomeMix checks the weighted mix statistically; the seed makes
// the run repeatable, the tolerance keeps it from depending on the seed.
func TestReceiptOutcomeMix(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Seed: 42, Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{Outcomes: []smsc.Outcome{
		{Stat: "DELIVRD", Weight: 1}, {Stat: "UNDELIV", Err: "001", Weight: 1},
	}}}})
	e := bound(t, srv, idBindTRX, "a", "b")
	const n = 1000
	for i := 0; i < n; i++ {
		e.submit(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	}
	stats := map[string]int{}
	resps := 0
	for resps < n || stats["DELIVRD"]+stats["UNDELIV"] < n {
		p := e.next(t)
		switch p.ID {
		case idSubmitSMResp:
			if p.Status != stOK {
				t.Fatalf("%v", p)
			}
			resps++
		case idDeliverSM:
			r := parseReceipt(t, p)
			stats[r.stat]++
			if want := map[string]string{"DELIVRD": "000", "UNDELIV": "001"}[r.stat]; r.err != want {
				t.Fatalf("stat %s with err %s", r.stat, r.err)
			}
		default:
			t.Fatalf("unexpected %v", p)
		}
	}
	if len(stats) != 2 || stats["DELIVRD"] < 400 || stats["DELIVRD"] > 600 {
		t.Fatalf("outcomes %v, want about 500 each", stats)
	}
	waitFor(t, srv, "all receipts acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == n })
}

func TestReceiptRules(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Outcomes: []smsc.Outcome{{Stat: "DELIVRD", Weight: 1}}},
		Rules: []smsc.Rule{
			{Dest: "+15550000009", Stat: "UNDELIV", Err: "001"},
			{Dest: "1666*", Stat: "EXPIRED", Err: "027"},
			{Dest: "1555*", Stat: "REJECTD"}, // after the exact rule: the first match wins
			{Dest: "1777*", SubmitStatus: stInvDstAdr},
			{Dest: "1888*", NoReceipt: true},
		},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	for _, tc := range []struct {
		dst, stat, err string
		submitStatus   uint32
	}{
		{"15550000009", "UNDELIV", "001", stOK},
		{"+15550000009", "UNDELIV", "001", stOK},
		{"16660001234", "EXPIRED", "027", stOK},
		{"15551234567", "REJECTD", "000", stOK},
		{"17770000000", "", "", stInvDstAdr},
		{"18880000000", "", "", stOK},
		{"19990000000", "DELIVRD", "000", stOK}, // no rule: the mix
	} {
		t.Run(tc.dst, func(t *testing.T) {
			seq := e.submit(t, sm{src: "1", dst: tc.dst, regDlv: 1, text: gsm7("x")})
			resp := e.expectResp(t, idSubmitSMResp, seq, tc.submitStatus)
			if tc.stat != "" {
				id := resp.messageID(t)
				r := e.expectReceipt(t)
				if r.id != id || r.stat != tc.stat || r.err != tc.err {
					t.Fatalf("receipt %s %s err %s, want %s %s err %s", r.id, r.stat, r.err, id, tc.stat, tc.err)
				}
			}
			e.sync(t)
		})
	}
	if st := srv.Stats(); st.Rejected != 1 {
		t.Errorf("Rejected %d, want 1", st.Rejected)
	}
}

func TestReceiptSegments(t *testing.T) {
	for _, tc := range []struct {
		segments string
		want     []int // part numbers that get a receipt
	}{
		{"all", []int{1, 2, 3}},
		{"first", []int{1}},
		{"last", []int{3}},
	} {
		t.Run(tc.segments, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
				Receipts: smsc.Receipts{Segments: tc.segments},
				Rules:    []smsc.Rule{{Dest: "15550000002", Stat: "UNDELIV", Err: "034", Segment: 2}},
			}})
			e := bound(t, srv, idBindTRX, "a", "b")
			e.autoAck.Store(0)
			ids := submitLongCollecting(t, e, "15550000001")
			var got []int
			for _, r := range ids.receipts {
				got = append(got, slices.Index(ids.ids, r.id)+1)
				if r.stat != "DELIVRD" {
					t.Errorf("part %s: %s", r.id, r.stat)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("receipts for parts %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("segment rule", func(t *testing.T) {
		srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
			Rules: []smsc.Rule{{Dest: "15550000002", Stat: "UNDELIV", Err: "034", Segment: 2}},
		}})
		e := bound(t, srv, idBindTRX, "a", "b")
		e.autoAck.Store(0)
		got := submitLongCollecting(t, e, "15550000002")
		want := map[string]string{got.ids[0]: "DELIVRD/000", got.ids[1]: "UNDELIV/034", got.ids[2]: "DELIVRD/000"}
		if len(got.receipts) != 3 {
			t.Fatalf("%d receipts, want 3", len(got.receipts))
		}
		for _, r := range got.receipts {
			if w := want[r.id]; w != r.stat+"/"+r.err {
				t.Errorf("part %s: %s/%s, want %s", r.id, r.stat, r.err, w)
			}
		}
	})
}

type longResult struct {
	ids      []string
	receipts []receipt
}

// submitLongCollecting submits a three-part message with receipts requested,
// answering receipts by hand so their order against the resps is visible.
func submitLongCollecting(t testing.TB, e *esme, dst string) longResult {
	t.Helper()
	var res longResult
	for _, p := range splitLong("udh8", longText(400), 9, false) {
		p.m.dst, p.m.regDlv = dst, 1
		seq := e.submit(t, p.m)
		for {
			q := e.next(t)
			if q.ID == idDeliverSM {
				res.receipts = append(res.receipts, parseReceipt(t, q))
				e.send(t, deliverResp(q.Seq, stOK))
				continue
			}
			if q.ID != idSubmitSMResp || q.Seq != seq || q.Status != stOK {
				t.Fatalf("got %v, want submit_sm_resp seq %d", q, seq)
			}
			res.ids = append(res.ids, q.messageID(t))
			break
		}
	}
	// Receipt delay is 0: every receipt was sent before the next request was read.
	for {
		seq := e.nextSeq()
		e.send(t, simplePDU(idEnquireLink, seq))
		q := e.next(t)
		if q.ID == idDeliverSM {
			res.receipts = append(res.receipts, parseReceipt(t, q))
			e.send(t, deliverResp(q.Seq, stOK))
			e.expectResp(t, idEnquireLinkResp, seq, stOK)
			continue
		}
		if q.ID != idEnquireLinkResp {
			t.Fatalf("unexpected %v", q)
		}
		return res
	}
}

func deliverResp(seq, status uint32) []byte {
	return hdrOnly(idDeliverSMResp, status, seq, cstr(nil, ""))
}

func TestReceiptFormats(t *testing.T) {
	for _, format := range []string{"text", "tlv", "both"} {
		for _, pduName := range []string{"deliver_sm", "data_sm"} {
			for _, secs := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/seconds=%v", format, pduName, secs), func(t *testing.T) {
					testReceiptFormat(t, format, pduName, secs)
				})
			}
		}
	}
}

func testReceiptFormat(t *testing.T, format, pduName string, secs bool) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{
		Receipts: smsc.Receipts{Format: format, PDU: pduName, DateSeconds: secs},
		Rules:    []smsc.Rule{{Dest: "15550000009", Stat: "UNDELIV", Err: "261"}},
	}})
	e := bound(t, srv, idBindTRX, "a", "b")
	for _, tc := range []struct {
		dst, stat, err string
		state          byte
		netErr         []byte
	}{
		{"15550000001", "DELIVRD", "000", 2, []byte{3, 0, 0}},
		{"15550000009", "UNDELIV", "261", 5, []byte{3, 0x01, 0x05}}, // 261 = 0x0105
	} {
		before := time.Now().UTC()
		const text = "Receipt text check: more than twenty characters"
		id := e.submitOK(t, sm{src: "15550000000", dst: tc.dst, regDlv: 1, text: gsm7(text)})
		p := e.next(t)
		wantID := map[string]uint32{"deliver_sm": idDeliverSM, "data_sm": idDataSM}[pduName]
		if p.ID != wantID {
			t.Fatalf("receipt came as %v, want %s", p, pduName)
		}
		r := parseReceipt(t, p)
		if r.in.src != tc.dst || r.in.dst != "15550000000" {
			t.Errorf("receipt from %s to %s: it should come from the handset", r.in.src, r.in.dst)
		}
		if r.hasText != (format != "tlv") || r.hasTLVs != (format != "text") {
			t.Fatalf("text %v TLVs %v in format %s", r.hasText, r.hasTLVs, format)
		}
		if r.hasText {
			dlvrd := map[bool]string{true: "001", false: "000"}[tc.stat == "DELIVRD"]
			if r.id != id || r.sub != "001" || r.dlvrd != dlvrd || r.stat != tc.stat || r.err != tc.err || r.text != text[:20] {
				t.Errorf("receipt text fields %+v", r)
			}
			layout := map[bool]string{false: "0601021504", true: "060102150405"}[secs]
			sub, err1 := time.Parse(layout, r.submitDate)
			done, err2 := time.Parse(layout, r.done)
			if err1 != nil || err2 != nil {
				t.Fatalf("dates %q %q are not %s: %v %v", r.submitDate, r.done, layout, err1, err2)
			}
			if done.Before(sub) || sub.Before(before.Truncate(time.Minute)) || sub.After(time.Now().UTC().Add(time.Minute)) {
				t.Errorf("submit date %v done date %v, submitted at %v", sub, done, before)
			}
		}
		if r.hasTLVs {
			if r.tlvID != id || len(r.tlvIDRaw) != len(id)+1 || r.tlvIDRaw[len(id)] != 0 {
				t.Errorf("receipted_message_id %q, want %q as a C-string", r.tlvIDRaw, id)
			}
			if len(r.tlvState) != 1 || r.tlvState[0] != tc.state {
				t.Errorf("message_state % x, want %d", r.tlvState, tc.state)
			}
			if string(r.netErr) != string(tc.netErr) {
				t.Errorf("network_error_code % x, want % x", r.netErr, tc.netErr)
			}
		}
	}
	waitFor(t, srv, "receipts acknowledged", func(s smsc.Stats) bool { return s.ReceiptsAcked == 2 })
}

func TestReceiptIDFormats(t *testing.T) {
	for _, tc := range []struct {
		ids, receipts string
		conv          func(respID string) string
	}{
		{"decimal", "same", func(id string) string { return id }},
		{"decimal", "hex", func(id string) string { n, _ := strconv.ParseUint(id, 10, 64); return fmt.Sprintf("%X", n) }},
		{"decimal", "padded-decimal", func(id string) string { return fmt.Sprintf("%010s", id) }},
		{"decimal", "padded-hex", func(id string) string { n, _ := strconv.ParseUint(id, 10, 64); return fmt.Sprintf("%010X", n) }},
		{"hex", "decimal", func(id string) string { n, _ := strconv.ParseUint(id, 16, 64); return strconv.FormatUint(n, 10) }},
		{"padded-hex", "hex", func(id string) string { n, _ := strconv.ParseUint(id, 16, 64); return fmt.Sprintf("%X", n) }},
		{"uuid", "same", func(id string) string { return id }},
	} {
		t.Run(tc.ids+"/"+tc.receipts, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{IDFormat: tc.ids, Receipts: smsc.Receipts{IDFormat: tc.receipts}}})
			e := bound(t, srv, idBindTRX, "a", "b")
			// Push the counter past 15 so hex and decimal differ.
			for i := 0; i < 20; i++ {
				e.submitOK(t, sm{src: "1", dst: "2", text: gsm7("x")})
			}
			id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
			r := e.expectReceipt(t)
			want := tc.conv(id)
			if r.id != want || r.tlvID != want {
				t.Fatalf("resp id %s: receipt text id %s, TLV id %s, want %s", id, r.id, r.tlvID, want)
			}
		})
	}
}

// TestReceiptBeforeResp: the receipt comes first and the submit_sm_resp is
// held until the ESME has acknowledged it.
func TestReceiptBeforeResp(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{BeforeResp: true}}})
	e := bound(t, srv, idBindTRX, "a", "b")
	e.autoAck.Store(0)
	seq := e.submit(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("early receipt")})
	p := e.expect(t, idDeliverSM)
	r := parseReceipt(t, p)
	e.sync(t) // the resp is held while the receipt is unanswered
	e.send(t, deliverResp(p.Seq, stOK))
	id := e.expectResp(t, idSubmitSMResp, seq, stOK).messageID(t)
	if r.id != id {
		t.Fatalf("receipt for %s, resp id %s", r.id, id)
	}
	// Without a receipt wanted the resp is not held.
	seq = e.submit(t, sm{src: "1", dst: "2", text: gsm7("no receipt")})
	e.expectResp(t, idSubmitSMResp, seq, stOK)
}

func TestReceiptOtherBind(t *testing.T) {
	for _, other := range []bool{false, true} {
		t.Run(fmt.Sprintf("other_bind=%v", other), func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Accounts: testAccounts, Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{OtherBind: other}}})
			trx := bound(t, srv, idBindTRX, "acme", "secret")
			rx := bound(t, srv, idBindRX, "acme", "secret")
			stranger := bound(t, srv, idBindRX, "limited", "pw")
			id := trx.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
			got, quiet := trx, rx
			if other {
				got, quiet = rx, trx
			}
			if r := got.expectReceipt(t); r.id != id {
				t.Fatalf("receipt for %s, want %s", r.id, id)
			}
			quiet.sync(t)
			stranger.sync(t) // never to another account
		})
	}
}

func TestReceiptDuplicates(t *testing.T) {
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{Duplicates: 2}}})
	e := bound(t, srv, idBindTRX, "a", "b")
	id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
	for i := 0; i < 3; i++ {
		if r := e.expectReceipt(t); r.id != id {
			t.Fatalf("copy %d for %s", i, r.id)
		}
	}
	e.sync(t)
	waitFor(t, srv, "three receipts acknowledged", func(s smsc.Stats) bool { return s.ReceiptsSent == 3 && s.ReceiptsAcked == 3 })
}

func TestReceiptSuppressed(t *testing.T) {
	for name, r := range map[string]smsc.Receipts{
		"never":        {Never: true},
		"drop_rate 1":  {DropRate: 1},
		"never+before": {Never: true, BeforeResp: true}, // nothing to wait for: the resp is not held
	} {
		t.Run(name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Receipts: r}})
			e := bound(t, srv, idBindTRX, "a", "b")
			for i := 0; i < 5; i++ {
				e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
			}
			e.sync(t)
			if st := srv.Stats(); st.ReceiptsSent != 0 || st.QueuedDeliver != 0 {
				t.Fatalf("stats %+v", st.Counters)
			}
		})
	}
}

// TestReceiptDelay measures the delay on the client's clock: each receipt
// arrives no earlier than Min after its submit_sm_resp was read.
func TestReceiptDelay(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, 200 * time.Millisecond
	srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{Receipts: smsc.Receipts{Delay: smsc.Dist{Min: smsc.Duration(lo), Max: smsc.Duration(hi)}}}})
	e := bound(t, srv, idBindTRX, "a", "b")
	const n = 10
	sent := map[string]time.Time{}
	for i := 0; i < n; i++ {
		start := time.Now()
		id := e.submitOK(t, sm{src: "1", dst: "2", regDlv: 1, text: gsm7("x")})
		sent[id] = start
	}
	var delays []time.Duration
	for i := 0; i < n; i++ {
		p := e.expect(t, idDeliverSM)
		r := parseReceipt(t, p)
		d := p.At.Sub(sent[r.id])
		if d < lo {
			t.Errorf("receipt %s after %v, before the minimum %v", r.id, d, lo)
		}
		delays = append(delays, d)
	}
	slices.Sort(delays)
	// The upper bound only catches gross errors: a loaded machine adds latency.
	if delays[n-1] > hi+2*time.Second {
		t.Errorf("delays %v exceed the maximum %v by far", delays, hi)
	}
	if delays[0] == delays[n-1] {
		t.Errorf("all delays equal %v: not drawn from [Min, Max]", delays[0])
	}
}

package dlrmap

import (
	"strings"
	"testing"
	"time"
)

func date(y, mo, d, h, mi, s int) time.Time {
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
}

// std is the appendix B receipt's dates: 2026-11-27 10:15 and 10:16.
var (
	stdSubmit = date(2026, 11, 27, 10, 15, 0)
	stdDone   = date(2026, 11, 27, 10, 16, 0)
)

// receiptCase is one carrier's way of saying something: the PDU parts the
// bridge hands over, what ParseReceipt must read, and what Map makes of it.
type receiptCase struct {
	name string
	text string
	tlv  TLVs
	want func(*Receipt) // edits a Receipt with every field absent
	ok   bool
	out  Outcome
	code int
}

// full sets the fields of the appendix B example.
func full(id, stat, err, text string) func(*Receipt) {
	return func(r *Receipt) {
		r.ID, r.Stat, r.Err, r.Text = id, stat, err, text
		r.Sub, r.Dlvrd = 1, 1
		r.SubmitDate, r.DoneDate = stdSubmit, stdDone
		if stat != StatDelivered {
			r.Dlvrd = 0
		}
	}
}

func std(id, stat, err, text string) string {
	dlvrd := "001"
	if stat != StatDelivered {
		dlvrd = "000"
	}
	return "id:" + id + " sub:001 dlvrd:" + dlvrd + " submit date:2611271015 done date:2611271016 stat:" + stat + " err:" + err + " text:" + text
}

func tlvID(s string) []byte { return []byte(s) }

var receiptCorpus = []receiptCase{
	// The spec form, one per stat.
	{name: "appendix B delivered", text: std("0123456789", "DELIVRD", "000", "Hello"),
		want: full("0123456789", "DELIVRD", "000", "Hello"), ok: true, out: Delivered},
	{name: "appendix B expired", text: std("1", "EXPIRED", "000", "x"),
		want: full("1", "EXPIRED", "000", "x"), ok: true, out: Failed, code: 4702},
	{name: "appendix B deleted", text: std("1", "DELETED", "000", "x"),
		want: full("1", "DELETED", "000", "x"), ok: true, out: Failed, code: 4750},
	{name: "appendix B rejected", text: std("1", "REJECTD", "000", "x"),
		want: full("1", "REJECTD", "000", "x"), ok: true, out: Failed, code: 4750},
	{name: "appendix B unknown", text: std("1", "UNKNOWN", "000", "x"),
		want: full("1", "UNKNOWN", "000", "x"), ok: true, out: Failed, code: 9999},
	{name: "appendix B enroute", text: std("1", "ENROUTE", "000", "x"),
		want: full("1", "ENROUTE", "000", "x"), ok: true, out: Pending},
	{name: "appendix B accepted", text: std("1", "ACCEPTD", "000", "x"),
		want: full("1", "ACCEPTD", "000", "x"), ok: true, out: Pending},
	{name: "appendix B undeliv unknown subscriber", text: std("1", "UNDELIV", "001", "x"),
		want: full("1", "UNDELIV", "001", "x"), ok: true, out: Failed, code: 4720},

	// Layout variants.
	{name: "dates with seconds",
		text: "id:77 sub:001 dlvrd:001 submit date:261127101530 done date:261127101645 stat:DELIVRD err:000 text:hi",
		want: func(r *Receipt) {
			full("77", "DELIVRD", "000", "hi")(r)
			r.SubmitDate, r.DoneDate = date(2026, 11, 27, 10, 15, 30), date(2026, 11, 27, 10, 16, 45)
		}, ok: true, out: Delivered},
	{name: "missing sub and dlvrd (cloudhopper #105)",
		text: "id:77 submit date:2611271015 done date:2611271016 stat:DELIVRD err:000 text:",
		want: func(r *Receipt) {
			r.ID, r.Stat, r.Err, r.SubmitDate, r.DoneDate = "77", "DELIVRD", "000", stdSubmit, stdDone
		}, ok: true, out: Delivered},
	{name: "Text: and Id: capitalised",
		text: "Id:77 sub:001 dlvrd:001 submit date:2611271015 done date:2611271016 stat:DELIVRD err:000 Text:Hi there",
		want: full("77", "DELIVRD", "000", "Hi there"), ok: true, out: Delivered},
	{name: "all keys upper case",
		text: "ID:77 SUB:001 DLVRD:001 SUBMIT DATE:2611271015 DONE DATE:2611271016 STAT:DELIVRD ERR:000 TEXT:Hi",
		want: full("77", "DELIVRD", "000", "Hi"), ok: true, out: Delivered},
	{name: "any field order",
		text: "stat:UNDELIV err:001 id:42 done date:2611271016 submit date:2611271015 dlvrd:000 sub:001 text:abc",
		want: full("42", "UNDELIV", "001", "abc"), ok: true, out: Failed, code: 4720},
	{name: "no text field",
		text: "id:5 sub:001 dlvrd:001 submit date:2611271015 done date:2611271016 stat:DELIVRD err:000",
		want: full("5", "DELIVRD", "000", ""), ok: true, out: Delivered},
	{name: "only id and stat",
		text: "id:5 stat:EXPIRED",
		want: func(r *Receipt) { r.ID, r.Stat = "5", "EXPIRED" }, ok: true, out: Failed, code: 4702},
	{name: "err alphanumeric (cloudhopper #40)",
		text: std("5", "UNDELIV", "B2A", "x"),
		want: full("5", "UNDELIV", "B2A", "x"), ok: true, out: Failed, code: 4750},
	{name: "extra unknown fields",
		text: "id:9 sub:001 dlvrd:000 submit date:2611271015 done date:2611271016 stat:UNDELIV err:006 msisdn:+15551234 mccmnc:310260 foo text:x",
		want: full("9", "UNDELIV", "006", "x"), ok: true, out: Failed, code: 4702},
	{name: "multiple spaces and tabs",
		text: "id:9   sub:001  dlvrd:000 submit date:2611271015\tdone  date:2611271016  stat:UNDELIV    err:027 text:x",
		want: full("9", "UNDELIV", "027", "x"), ok: true, out: Failed, code: 4702},
	{name: "stat lower case",
		text: std("9", "delivrd", "000", "x"),
		want: func(r *Receipt) { full("9", "DELIVRD", "000", "x")(r); r.Dlvrd = 0 }, ok: true, out: Delivered},
	{name: "stat mixed case, barred",
		text: "id:9 Stat:Undeliv Err:013",
		want: func(r *Receipt) { r.ID, r.Stat, r.Err = "9", "UNDELIV", "013" }, ok: true, out: Failed, code: 4772},
	{name: "stat spelled out DELIVERED",
		text: "id:9 stat:Delivered err:0",
		want: func(r *Receipt) { r.ID, r.Stat, r.Err = "9", "DELIVRD", "0" }, ok: true, out: Delivered},
	{name: "stat nobody maps",
		text: "id:9 stat:failed err:0",
		want: func(r *Receipt) { r.ID, r.Stat, r.Err = "9", "FAILED", "0" }, ok: true, out: Failed, code: 9999},
	{name: "id with leading zeros kept as sent",
		text: std("000123", "DELIVRD", "000", ""),
		want: full("000123", "DELIVRD", "000", ""), ok: true, out: Delivered},
	{name: "hex id (jasmin #1129)",
		text: std("00B8BE19", "DELIVRD", "000", ""),
		want: full("00B8BE19", "DELIVRD", "000", ""), ok: true, out: Delivered},
	{name: "UUID id (jasmin #643)",
		text: std("0a1b2c3d-4e5f-6789-abcd-ef0123456789", "DELIVRD", "000", ""),
		want: full("0a1b2c3d-4e5f-6789-abcd-ef0123456789", "DELIVRD", "000", ""), ok: true, out: Delivered},
	{name: "40-digit id",
		text: std("1234567890123456789012345678901234567890", "UNDELIV", "032", ""),
		want: full("1234567890123456789012345678901234567890", "UNDELIV", "032", ""), ok: true, out: Failed, code: 5650},
	{name: "keys inside the text are text",
		text: std("31", "DELIVRD", "000", "stat:UNDELIV err:034 id:999 sub:5"),
		want: full("31", "DELIVRD", "000", "stat:UNDELIV err:034 id:999 sub:5"), ok: true, out: Delivered},
	{name: "text before everything swallows the rest",
		text: "text:id:1 stat:DELIVRD",
		want: func(r *Receipt) { r.Text = "id:1 stat:DELIVRD" }, ok: false, out: Failed, code: 9999},
	{name: "trailing NULs",
		text: std("31", "DELIVRD", "000", "Hi\x00\x00"),
		want: full("31", "DELIVRD", "000", "Hi"), ok: true, out: Delivered},
	{name: "trailing CR LF",
		text: std("31", "DELIVRD", "000", "Hi\r\n"),
		want: full("31", "DELIVRD", "000", "Hi"), ok: true, out: Delivered},
	{name: "trailing CR LF NUL without text field",
		text: "id:31 stat:UNDELIV err:034\r\n\x00",
		want: func(r *Receipt) { r.ID, r.Stat, r.Err = "31", "UNDELIV", "034" }, ok: true, out: Failed, code: 5620},
	{name: "non-UTF-8 bytes",
		text: "id:\xff\xfe7 stat:UNDELIV err:\xc3 text:caf\xe9 \xff",
		want: func(r *Receipt) { r.ID, r.Stat, r.Err, r.Text = "\xff\xfe7", "UNDELIV", "\xc3", "caf\xe9 \xff" },
		ok:   true, out: Failed, code: 4750},
	{name: "space after the colon",
		text: "id: 12345 sub: 001 stat: DELIVRD err: 000",
		want: func(r *Receipt) { r.ID, r.Sub, r.Stat, r.Err = "12345", 1, "DELIVRD", "000" }, ok: true, out: Delivered},
	{name: "empty values do not swallow the next key",
		text: "id:8 err: stat:UNDELIV sub: text:",
		want: func(r *Receipt) { r.ID, r.Stat = "8", "UNDELIV" }, ok: true, out: Failed, code: 4750},
	{name: "underscored date keys",
		text: "id:8 submit_date:2611271015 done_date:2611271016 stat:DELIVRD",
		want: func(r *Receipt) { r.ID, r.Stat, r.SubmitDate, r.DoneDate = "8", "DELIVRD", stdSubmit, stdDone },
		ok:   true, out: Delivered},
	{name: "four-digit year tolerated",
		text: "id:8 submit date:20261127101530 done date:2611271016 stat:DELIVRD",
		want: func(r *Receipt) {
			r.ID, r.Stat, r.SubmitDate, r.DoneDate = "8", "DELIVRD", date(2026, 11, 27, 10, 15, 30), stdDone
		}, ok: true, out: Delivered},
	{name: "impossible dates are zero",
		text: "id:8 submit date:2613011015 done date:2602301016 stat:DELIVRD",
		want: func(r *Receipt) { r.ID, r.Stat = "8", "DELIVRD" }, ok: true, out: Delivered},
	{name: "odd-length and alphabetic dates are zero",
		text: "id:8 submit date:26112710150 done date:26112710aa stat:DELIVRD",
		want: func(r *Receipt) { r.ID, r.Stat = "8", "DELIVRD" }, ok: true, out: Delivered},
	{name: "non-numeric sub is absent",
		text: "id:8 sub:abc dlvrd:1 stat:DELIVRD",
		want: func(r *Receipt) { r.ID, r.Stat, r.Dlvrd = "8", "DELIVRD", 1 }, ok: true, out: Delivered},
	{name: "first occurrence of a key wins",
		text: "id:1 stat:DELIVRD id:2 stat:UNDELIV",
		want: func(r *Receipt) { r.ID, r.Stat = "1", "DELIVRD" }, ok: true, out: Delivered},
	{name: "keys glued to other words are not keys",
		text: "msgid:1 id:2 xstat:UNDELIV stat:DELIVRD",
		want: func(r *Receipt) { r.ID, r.Stat = "2", "DELIVRD" }, ok: true, out: Delivered},
	{name: "no id at all",
		text: "sub:001 dlvrd:001 stat:DELIVRD err:000",
		want: func(r *Receipt) { r.Sub, r.Dlvrd, r.Stat, r.Err = 1, 1, "DELIVRD", "000" }, ok: false, out: Delivered},
	{name: "empty id followed by a key",
		text: "id: sub:001 stat:DELIVRD",
		want: func(r *Receipt) { r.Sub, r.Stat = 1, "DELIVRD" }, ok: false, out: Delivered},
	{name: "empty everything",
		text: "",
		want: func(r *Receipt) {}, ok: false, out: Failed, code: 9999},

	// TLVs, alone and against the text.
	{name: "TLVs only",
		tlv:  TLVs{ReceiptedMessageID: tlvID("abc123\x00"), MessageState: []byte{2}},
		want: func(r *Receipt) { r.ID, r.State, r.Stat = "abc123", 2, "DELIVRD" }, ok: true, out: Delivered},
	{name: "TLV state only expired",
		tlv:  TLVs{ReceiptedMessageID: tlvID("9"), MessageState: []byte{3}},
		want: func(r *Receipt) { r.ID, r.State, r.Stat = "9", 3, "EXPIRED" }, ok: true, out: Failed, code: 4702},
	{name: "TLV and text agree",
		text: std("77", "DELIVRD", "000", "x"),
		tlv:  TLVs{ReceiptedMessageID: tlvID("77\x00"), MessageState: []byte{2}},
		want: func(r *Receipt) { full("77", "DELIVRD", "000", "x")(r); r.State = 2 }, ok: true, out: Delivered},
	{name: "TLV id wins over text id (hex vs decimal)",
		text: std("12107289", "DELIVRD", "000", "x"),
		tlv:  TLVs{ReceiptedMessageID: tlvID("00B8BE19\x00")},
		want: full("00B8BE19", "DELIVRD", "000", "x"), ok: true, out: Delivered},
	{name: "TLV state wins: text says UNDELIV, state DELIVERED",
		text: std("77", "UNDELIV", "001", "x"),
		tlv:  TLVs{MessageState: []byte{2}},
		want: func(r *Receipt) { full("77", "DELIVRD", "001", "x")(r); r.Dlvrd, r.State = 0, 2 }, ok: true, out: Delivered},
	{name: "TLV state wins: text says DELIVRD, state UNDELIVERABLE",
		text: std("77", "DELIVRD", "001", "x"),
		tlv:  TLVs{MessageState: []byte{5}},
		want: func(r *Receipt) { full("77", "UNDELIV", "001", "x")(r); r.Dlvrd, r.State = 1, 5 }, ok: true, out: Failed, code: 4720},
	{name: "TLV state out of range is ignored",
		text: "id:7 stat:REJECTD",
		tlv:  TLVs{MessageState: []byte{9}},
		want: func(r *Receipt) { r.ID, r.Stat = "7", "REJECTD" }, ok: true, out: Failed, code: 4750},
	{name: "GSM network error when err is zero",
		text: "id:7 stat:UNDELIV err:000",
		tlv:  TLVs{NetworkErrorCode: []byte{3, 0, 27}},
		want: func(r *Receipt) { r.ID, r.Stat, r.Err, r.NetErrType, r.NetErr = "7", "UNDELIV", "000", 3, 27 },
		ok:   true, out: Failed, code: 4702},
	{name: "GSM network error when err is absent",
		text: "id:7 stat:UNDELIV",
		tlv:  TLVs{NetworkErrorCode: []byte{3, 0, 9}},
		want: func(r *Receipt) { r.ID, r.Stat, r.NetErrType, r.NetErr = "7", "UNDELIV", 3, 9 },
		ok:   true, out: Failed, code: 4721},
	{name: "err wins over the GSM network error",
		text: "id:7 stat:UNDELIV err:013",
		tlv:  TLVs{NetworkErrorCode: []byte{3, 0, 9}},
		want: func(r *Receipt) { r.ID, r.Stat, r.Err, r.NetErrType, r.NetErr = "7", "UNDELIV", "013", 3, 9 },
		ok:   true, out: Failed, code: 4772},
	{name: "non-GSM network error is not a MAP cause",
		text: "id:7 stat:UNDELIV err:000",
		tlv:  TLVs{NetworkErrorCode: []byte{1, 0x01, 0x02}},
		want: func(r *Receipt) { r.ID, r.Stat, r.Err, r.NetErrType, r.NetErr = "7", "UNDELIV", "000", 1, 258 },
		ok:   true, out: Failed, code: 4750},
	{name: "short network error TLV is absent",
		text: "id:7 stat:UNDELIV err:000",
		tlv:  TLVs{NetworkErrorCode: []byte{3, 27}},
		want: func(r *Receipt) { r.ID, r.Stat, r.Err = "7", "UNDELIV", "000" }, ok: true, out: Failed, code: 4750},
	{name: "TLV id padded with spaces, no NUL",
		tlv:  TLVs{ReceiptedMessageID: tlvID(" 42 "), MessageState: []byte{8}},
		want: func(r *Receipt) { r.ID, r.State, r.Stat = "42", 8, "REJECTD" }, ok: true, out: Failed, code: 4750},
	{name: "empty TLV id falls back to the text",
		text: "id:43 stat:DELETED",
		tlv:  TLVs{ReceiptedMessageID: tlvID("\x00")},
		want: func(r *Receipt) { r.ID, r.Stat = "43", "DELETED" }, ok: true, out: Failed, code: 4750},
	{name: "intermediate notification enroute",
		text: "id:44 stat:ENROUTE",
		tlv:  TLVs{ReceiptedMessageID: tlvID("44\x00"), MessageState: []byte{1}},
		want: func(r *Receipt) { r.ID, r.Stat, r.State = "44", "ENROUTE", 1 }, ok: true, out: Pending},
	{name: "state accepted", tlv: TLVs{ReceiptedMessageID: tlvID("45"), MessageState: []byte{6}},
		want: func(r *Receipt) { r.ID, r.Stat, r.State = "45", "ACCEPTD", 6 }, ok: true, out: Pending},
	{name: "state unknown", tlv: TLVs{ReceiptedMessageID: tlvID("46"), MessageState: []byte{7}},
		want: func(r *Receipt) { r.ID, r.Stat, r.State = "46", "UNKNOWN", 7 }, ok: true, out: Failed, code: 9999},
	{name: "state deleted", tlv: TLVs{ReceiptedMessageID: tlvID("47"), MessageState: []byte{4}},
		want: func(r *Receipt) { r.ID, r.Stat, r.State = "47", "DELETED", 4 }, ok: true, out: Failed, code: 4750},
}

func TestParseReceiptCorpus(t *testing.T) {
	if len(receiptCorpus) < 40 {
		t.Fatalf("corpus has %d cases, want at least 40", len(receiptCorpus))
	}
	for _, c := range receiptCorpus {
		t.Run(c.name, func(t *testing.T) {
			want := Receipt{NetErr: -1, Sub: -1, Dlvrd: -1}
			c.want(&want)
			got, ok := ParseReceipt([]byte(c.text), c.tlv)
			if ok != c.ok {
				t.Errorf("ok = %v, want %v", ok, c.ok)
			}
			if got != want {
				t.Errorf("ParseReceipt(%q)\n got  %+v\n want %+v", c.text, got, want)
			}
			res := Map(got, nil)
			if res.Outcome != c.out || res.Code != c.code {
				t.Errorf("Map = %v %d (%s), want %v %d", res.Outcome, res.Code, res.Description, c.out, c.code)
			}
			if c.code != 0 && res.Description != Name(c.code) {
				t.Errorf("Description = %q, want %q", res.Description, Name(c.code))
			}
		})
	}
}

// TestParseReceiptDoesNotAliasInput: the bridge reuses its read buffer, so
// the receipt must own its strings.
func TestParseReceiptDoesNotAliasInput(t *testing.T) {
	text := []byte(std("55", "DELIVRD", "000", "hello"))
	tid := []byte("66\x00")
	r, _ := ParseReceipt(text, TLVs{ReceiptedMessageID: tid})
	for i := range text {
		text[i] = 'X'
	}
	tid[0] = 'X'
	if r.ID != "66" || r.Err != "000" || r.Text != "hello" || r.Stat != "DELIVRD" {
		t.Fatalf("receipt changed with its input: %+v", r)
	}
}

// TestParseReceiptBoundedWork: a 64 KiB message_payload of pathological
// content parses in linear time (no quadratic rescans of near-keys).
func TestParseReceiptBoundedWork(t *testing.T) {
	for _, chunk := range []string{"submit ", "id: ", "submit     ", " ", "x:", "done_", "err: "} {
		text := []byte(strings.Repeat(chunk, 65536/len(chunk)))
		start := time.Now()
		ParseReceipt(text, TLVs{})
		if d := time.Since(start); d > time.Second {
			t.Errorf("%q×%d took %v", chunk, 65536/len(chunk), d)
		}
	}
}

func TestIsReceipt(t *testing.T) {
	id := []byte("123\x00")
	cases := []struct {
		name string
		esm  byte
		tlv  TLVs
		want bool
	}{
		{"SMSC delivery receipt", 0x04, TLVs{}, true},
		{"SME delivery ack", 0x08, TLVs{}, true},
		{"intermediate notification", 0x20, TLVs{}, true},
		{"receipt with messaging mode bits", 0x07, TLVs{}, true},
		{"receipt with UDHI", 0x44, TLVs{}, true},
		{"receipt with reply path and GSM features", 0xC4, TLVs{}, true},
		{"receipt esm 0x04 and all TLVs (lesson 8)", 0x04, TLVs{ReceiptedMessageID: id, MessageState: []byte{2}, NetworkErrorCode: []byte{3, 0, 0}}, true},
		{"esm 0 with receipted_message_id", 0x00, TLVs{ReceiptedMessageID: id}, true},
		{"esm 0 with message_state", 0x00, TLVs{MessageState: []byte{2}}, true},
		{"esm 0 with a present but empty receipted_message_id", 0x00, TLVs{ReceiptedMessageID: []byte{}}, true},
		{"plain MO", 0x00, TLVs{}, false},
		{"MO whose text starts with id: (text is not looked at)", 0x00, TLVs{}, false},
		{"MO with UDHI", 0x40, TLVs{}, false},
		{"MO with only network_error_code", 0x00, TLVs{NetworkErrorCode: []byte{3, 0, 1}}, false},
		{"SME manual/user ack", 0x10, TLVs{}, false},
		{"conversation abort", 0x18, TLVs{}, false},
		{"reserved type 0x0C", 0x0C, TLVs{}, false},
		{"store-and-forward mode bits only", 0x03, TLVs{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IsReceipt(c.esm, c.tlv); got != c.want {
				t.Errorf("IsReceipt(%#02x, %+v) = %v, want %v", c.esm, c.tlv, got, c.want)
			}
		})
	}
}

// FuzzParseReceipt: never panics, ok ⇒ an id, no field longer than its
// source, Map always lands on a listed code.
func FuzzParseReceipt(f *testing.F) {
	for _, c := range receiptCorpus {
		f.Add([]byte(c.text), c.tlv.ReceiptedMessageID, c.tlv.MessageState, c.tlv.NetworkErrorCode)
	}
	f.Add([]byte("submit  date:"), []byte(nil), []byte(nil), []byte(nil))
	f.Add([]byte("id:\x00\x00 done"), []byte{0}, []byte{}, []byte{3})
	f.Fuzz(func(t *testing.T, text, id, state, nec []byte) {
		tlv := TLVs{ReceiptedMessageID: id, MessageState: state, NetworkErrorCode: nec}
		r, ok := ParseReceipt(text, tlv)
		if ok != (r.ID != "") {
			t.Fatalf("ok = %v with ID %q", ok, r.ID)
		}
		if len(r.ID) > max(len(text), len(id)) || len(r.Err) > len(text) || len(r.Text) > len(text) ||
			len(r.Stat) > max(len(text), len("UNDELIV")) {
			t.Fatalf("a field outgrew its input: %+v", r)
		}
		if r.ID != "" && (isSpace(r.ID[0]) || isSpace(r.ID[len(r.ID)-1])) {
			t.Fatalf("ID not trimmed: %q", r.ID)
		}
		if r.State < 0 || r.State > 8 || r.Sub < -1 || r.Dlvrd < -1 || r.NetErr < -1 || r.NetErr > 0xFFFF {
			t.Fatalf("out-of-range number: %+v", r)
		}
		for _, d := range []time.Time{r.SubmitDate, r.DoneDate} {
			if !d.IsZero() && d.Location() != time.UTC {
				t.Fatalf("date not UTC: %v", d)
			}
		}
		res := Map(r, nil)
		switch res.Outcome {
		case Failed:
			if Name(res.Code) == "" || res.Description != Name(res.Code) {
				t.Fatalf("Map = %+v: code not in the table", res)
			}
		case Delivered, Pending:
			if res.Code != 0 {
				t.Fatalf("Map = %+v: code on a non-failure", res)
			}
		default:
			t.Fatalf("Map = %+v", res)
		}
		_ = IsReceipt(0, tlv)
	})
}

// BenchmarkParseReceipt: the appendix B receipt as most carriers send it,
// alone and with the TLVs of an SMPP 3.4 SMSC whose ids differ in base.
func BenchmarkParseReceipt(b *testing.B) {
	text := []byte(std("0123456789", "DELIVRD", "000", "Hello world, this is"))
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := ParseReceipt(text, TLVs{}); !ok {
				b.Fatal("no id")
			}
		}
	})
	tlv := TLVs{ReceiptedMessageID: []byte("75BCD15\x00"), MessageState: []byte{2}, NetworkErrorCode: []byte{3, 0, 0}}
	b.Run("text+TLVs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := ParseReceipt(text, tlv); !ok {
				b.Fatal("no id")
			}
		}
	})
}

package smpp_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"smppbridge/smpp"
	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

func TestAddress(t *testing.T) {
	cases := []struct {
		cfg      smpp.TextConfig
		in       string
		ton, npi byte
		addr     string
		bad      bool
	}{
		{in: "+15550001111", ton: 1, npi: 1, addr: "15550001111"},
		{in: "+447911123456", ton: 1, npi: 1, addr: "447911123456"},
		{in: "+123456789012345", ton: 1, npi: 1, addr: "123456789012345"}, // 15 digits: the E.164 maximum
		{in: "15550001111", ton: 1, npi: 1, addr: "15550001111"},          // long digits without "+": international
		{in: "12345", ton: 3, npi: 0, addr: "12345"},                      // short code
		{in: "12345678", ton: 3, npi: 0, addr: "12345678"},
		{in: "123456789", ton: 1, npi: 1, addr: "123456789"},
		{cfg: smpp.TextConfig{ShortCodeTON: 2, ShortCodeNPI: 9}, in: "7726", ton: 2, npi: 9, addr: "7726"},
		{cfg: smpp.TextConfig{ShortCodeTON: 0, ShortCodeTONSet: true}, in: "7726", ton: 0, npi: 0, addr: "7726"},
		{in: "ACME", ton: 5, npi: 0, addr: "ACME"},
		{in: "ACME Bank", ton: 5, npi: 0, addr: "ACME Bank"},
		{in: "Info-24x7ab", ton: 5, npi: 0, addr: "Info-24x7ab"}, // 11 characters
		{in: "Info-24x7abc", bad: true},                          // 12
		{in: "+1234567890123456", bad: true},                     // 16 digits
		{in: "1234567890123456", bad: true},
		{in: "", bad: true},
		{in: "+", bad: true},
		{in: "+1555abc", bad: true},
		{in: "+1 555 0001", bad: true},
	}
	for _, c := range cases {
		a, err := c.cfg.Address(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("Address(%q) = %+v, want an error", c.in, a)
			}
			continue
		}
		if err != nil || a.TON != c.ton || a.NPI != c.npi || string(a.Addr) != c.addr {
			t.Errorf("Address(%q) = %d/%d %q, %v; want %d/%d %q", c.in, a.TON, a.NPI, a.Addr, err, c.ton, c.npi, c.addr)
		}
	}
	// An alphanumeric address can send but not receive.
	var tc smpp.TextConfig
	if _, _, err := tc.Encode(&smpp.Message{From: "+15550001111", To: "ACME", Text: "x"}, 1); err == nil {
		t.Error("Encode to an alphanumeric address succeeded")
	}
	if pdus, _, err := tc.Encode(&smpp.Message{From: "ACME", To: "+15550001111", Text: "x"}, 1); err != nil || pdus[0].Source.TON != 5 {
		t.Errorf("Encode from an alphanumeric address: %v", err)
	}
}

// wantSegments is an independent oracle for the segment count: greedy
// filling with per-rune costs, never splitting a character.
func wantSegments(text string, single, part int, cost func(rune) int) int {
	total := 0
	for _, r := range text {
		total += cost(r)
	}
	if total <= single {
		return 1
	}
	n, used := 1, 0
	for _, r := range text {
		c := cost(r)
		if used+c > part {
			n++
			used = 0
		}
		used += c
	}
	return n
}

func gsmCost(r rune) int {
	if strings.ContainsRune("^{}\\[]~|€\f", r) {
		return 2
	}
	return 1
}

func ucs2Cost(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

var modes = []struct {
	name   string
	mode   coding.Mode
	concat string
	gsm    int // septets per part
	ucs2   int // units per part
}{
	{"UDH8", coding.ModeUDH8, "udh8", 153, 67},
	{"UDH16", coding.ModeUDH16, "udh16", 152, 66},
	{"SAR", coding.ModeSAR, "sar", 153, 67},
	{"Payload", coding.ModePayload, "payload", 153, 67},
}

type segCase struct {
	name string
	text string
	want [4]int // segments per mode, in the order of modes
}

func segCases() []segCase {
	r := strings.Repeat
	gsm2048 := r("0123456789", 205)[:2048]
	ext2048 := r("ab{€", 512)
	ucs2048 := r("ж", 2048)
	emoji2048 := r("жж😀", 682) + "жж" // 2048 characters
	return []segCase{
		{"empty", "", [4]int{1, 1, 1, 1}},
		{"GSM 160", r("a", 160), [4]int{1, 1, 1, 1}},
		{"GSM 161", r("a", 161), [4]int{2, 2, 2, 2}},
		{"GSM 158+escape = 160", r("a", 158) + "€", [4]int{1, 1, 1, 1}},
		{"GSM 159+escape = 161", r("a", 159) + "€", [4]int{2, 2, 2, 2}},
		// The escape pair would straddle the 153rd septet: it moves on, so
		// 306 septets need 3 parts, not 2.
		{"GSM escape at the UDH8 edge", r("a", 152) + "€" + r("b", 152), [4]int{3, 3, 3, 3}},
		// The same at the 152nd septet of a UDH16 part.
		{"GSM escape at the UDH16 edge", r("a", 151) + "€" + r("b", 151), [4]int{2, 3, 2, 2}},
		{"GSM extension chars throughout", "[x]^{y}\\z|~€" + r("{}", 80), [4]int{3, 3, 3, 3}}, // 21 + 320 septets
		{"UCS-2 70", r("ж", 70), [4]int{1, 1, 1, 1}},
		{"UCS-2 71", r("ж", 71), [4]int{2, 2, 2, 2}},
		{"UCS-2 68+emoji = 70", r("ж", 68) + "😀", [4]int{1, 1, 1, 1}},
		{"UCS-2 69+emoji = 71", r("ж", 69) + "😀", [4]int{2, 2, 2, 2}},
		// The surrogate pair would straddle the 67th unit: 134 units, 3 parts.
		{"UCS-2 emoji at the UDH8 edge", r("ж", 66) + "😀" + r("ж", 66), [4]int{3, 3, 3, 3}},
		{"UCS-2 emoji at the UDH16 edge", r("ж", 65) + "😀" + r("ж", 65), [4]int{2, 3, 2, 2}},
		{"GSM text with one emoji is UCS-2", "Hello " + r("x", 60) + " 😀", [4]int{1, 1, 1, 1}},
		{"GSM 2048", gsm2048, [4]int{14, 14, 14, 14}},
		{"GSM 2048 with escapes", ext2048, [4]int{
			wantSegments(ext2048, 160, 153, gsmCost), wantSegments(ext2048, 160, 152, gsmCost),
			wantSegments(ext2048, 160, 153, gsmCost), wantSegments(ext2048, 160, 153, gsmCost)}},
		{"UCS-2 2048", ucs2048, [4]int{31, 32, 31, 31}},
		{"UCS-2 2048 with emoji", emoji2048, [4]int{
			wantSegments(emoji2048, 70, 67, ucs2Cost), wantSegments(emoji2048, 70, 66, ucs2Cost),
			wantSegments(emoji2048, 70, 67, ucs2Cost), wantSegments(emoji2048, 70, 67, ucs2Cost)}},
	}
}

// TestPlanMatchesEncode: Plan says exactly what Encode sends, and both
// agree with the independent count.
func TestPlanMatchesEncode(t *testing.T) {
	for mi, m := range modes {
		cfg := smpp.TextConfig{LongMode: m.mode}
		for _, c := range segCases() {
			msg := &smpp.Message{From: "+15550001111", To: "+15550002222", Text: c.text}
			plan := cfg.Plan(c.text)
			pdus, eplan, err := cfg.Encode(msg, 0x1234)
			if err != nil {
				t.Fatalf("%s/%s: %v", m.name, c.name, err)
			}
			if plan != eplan {
				t.Fatalf("%s/%s: Plan %+v, Encode's plan %+v", m.name, c.name, plan, eplan)
			}
			if plan.Segments != c.want[mi] || plan.Parts != len(pdus) {
				t.Fatalf("%s/%s: plan %+v with %d PDUs; want %d segments", m.name, c.name, plan, len(pdus), c.want[mi])
			}
			if m.mode == coding.ModePayload && plan.Parts != 1 {
				t.Fatalf("%s/%s: payload mode sends %d PDUs", m.name, c.name, plan.Parts)
			}
			for i, p := range pdus {
				if _, err := pdu.Append(nil, p); err != nil {
					t.Fatalf("%s/%s part %d does not encode: %v", m.name, c.name, i, err)
				}
			}
		}
	}
	// Beyond 255 parts nothing is sent.
	if _, _, err := (smpp.TextConfig{}).Encode(&smpp.Message{From: "1234", To: "+15550002222", Text: strings.Repeat("ж", 67*255+1)}, 1); err == nil {
		t.Fatal("a 256-part text encoded")
	}
}

// TestSegmentationAtSimulator sends every case in every long-message mode;
// the simulator reassembles and decodes each back to the original text.
func TestSegmentationAtSimulator(t *testing.T) {
	for mi, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{})
			p := startPool(t, srv, smpp.PoolConfig{Name: m.name, Binds: 1, Text: smpp.TextConfig{LongMode: m.mode}})
			cases := segCases()
			for i, c := range cases {
				res, err := p.Submit(testCtx(t), &smpp.Message{From: "+15550001111", To: fmt.Sprintf("+1555000%04d", i), Text: c.text})
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				requireAllOK(t, []smpp.SubmitResult{res})
			}
			got, err := srv.WaitMessages(testCtx(t), len(cases))
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				msg := got[i]
				if msg.To != fmt.Sprintf("1555000%04d", i) {
					t.Fatalf("%s: message %d is for %s", c.name, i, msg.To)
				}
				plan := smpp.TextConfig{LongMode: m.mode}.Plan(c.text)
				wantDC := byte(pdu.CodingDefault)
				if plan.Encoding == coding.UCS2 {
					wantDC = pdu.CodingUCS2
				}
				wantConcat := m.concat
				if c.want[mi] == 1 {
					wantConcat = ""
				}
				if msg.Text != c.text || msg.Incomplete {
					t.Fatalf("%s: the SMSC decoded %q (%d runes), sent %d runes", c.name, trunc(msg.Text), utf8.RuneCountInString(msg.Text), utf8.RuneCountInString(c.text))
				}
				if msg.Segments != c.want[mi] || len(msg.Parts) != plan.Parts || msg.Concat != wantConcat || msg.DataCoding != wantDC {
					t.Fatalf("%s: segments %d, parts %d, concat %q, data_coding %#x; want %d, %d, %q, %#x",
						c.name, msg.Segments, len(msg.Parts), msg.Concat, msg.DataCoding, c.want[mi], plan.Parts, wantConcat, wantDC)
				}
				if m.mode == coding.ModePayload {
					continue
				}
				for j, pt := range msg.Parts {
					if strings.ContainsRune(pt.Text, utf8.RuneError) {
						t.Fatalf("%s part %d carries half a character: %q", c.name, j+1, trunc(pt.Text))
					}
					units := wantSegments(pt.Text, 1<<30, 1<<30, gsmCost)
					limit := m.gsm
					if plan.Encoding == coding.UCS2 {
						units, limit = len(pt.Data)/2, m.ucs2
					}
					if len(msg.Parts) > 1 && units > limit {
						t.Fatalf("%s part %d holds %d units, more than %d", c.name, j+1, units, limit)
					}
				}
			}
		})
	}
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// codingCase is a text, the data_coding it must go out with and its parts.
type codingCase struct {
	text     string
	dc       byte
	segments int
}

// sendCodingCases checks Plan for each case, sends them all through a pool
// with cfg and checks the SMSC decoded each back with that data_coding.
func sendCodingCases(t *testing.T, cfg smpp.TextConfig, cases []codingCase) {
	t.Helper()
	srv := startSMSC(t, smsc.Config{})
	p := startPool(t, srv, smpp.PoolConfig{Name: "coding", Binds: 1, Text: cfg})
	for i, c := range cases {
		plan := cfg.Plan(c.text)
		if plan.DataCoding != c.dc || plan.Segments != c.segments {
			t.Fatalf("Plan(%q) = %+v; want data_coding %#x, %d segments", c.text, plan, c.dc, c.segments)
		}
		res, err := p.Submit(testCtx(t), &smpp.Message{From: "ACME", To: fmt.Sprintf("+1555000%04d", i), Text: c.text})
		if err != nil {
			t.Fatal(err)
		}
		requireAllOK(t, []smpp.SubmitResult{res})
	}
	got, err := srv.WaitMessages(testCtx(t), len(cases))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got[i].Text != c.text || got[i].DataCoding != c.dc || got[i].Segments != c.segments {
			t.Fatalf("SMSC got %q data_coding %#x, %d segments; sent %q as %#x", trunc(got[i].Text), got[i].DataCoding, got[i].Segments, c.text, c.dc)
		}
	}
}

// TestLatin1DataCoding: a carrier configured for Latin-1 gets
// GSM-compatible text as data_coding 0x03 when every character is in
// Latin-1, GSM-7 (0x00) otherwise, UCS-2 for the rest; the SMSC decodes
// each back.
func TestLatin1DataCoding(t *testing.T) {
	cases := []codingCase{
		{"café crème à 5 £", pdu.CodingLatin1, 1},
		{strings.Repeat("é", 140), pdu.CodingLatin1, 1},
		{strings.Repeat("é", 141), pdu.CodingLatin1, 2}, // 134 octets per part
		{"price 5 €", pdu.CodingDefault, 1},             // € is not Latin-1
		{"ΔΦΓ Greek capitals are GSM", pdu.CodingDefault, 1},
		{"日本語", pdu.CodingUCS2, 1},
	}
	sendCodingCases(t, smpp.TextConfig{Latin1: true}, cases)
	// Without the option the same text is GSM-7 as 0x00.
	if plan := (smpp.TextConfig{}).Plan(cases[0].text); plan.DataCoding != pdu.CodingDefault || plan.Encoding != coding.GSM7 {
		t.Fatalf("default Plan = %+v", plan)
	}
}

// TestGSM7PackedAtSimulator: packed septets, with the fill bits a UDH needs,
// decode at an SMSC that expects packing.
func TestGSM7PackedAtSimulator(t *testing.T) {
	texts := []string{
		"Hello packed world",
		"seven!!", // 7 septets: 7 spare bits in the last octet
		strings.Repeat("a", 160),
		strings.Repeat("a", 152) + "€" + strings.Repeat("b", 152) + ".",
		strings.Repeat("Grüße {aus} [Köln] ~ ", 20) + "!",
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := startSMSC(t, smsc.Config{Behaviour: smsc.Behaviour{GSM7Packed: true}})
			p := startPool(t, srv, smpp.PoolConfig{Name: "packed", Binds: 1, Text: smpp.TextConfig{LongMode: m.mode, GSM7Packed: true}})
			for i, text := range texts {
				res, err := p.Submit(testCtx(t), &smpp.Message{From: "+15550001111", To: fmt.Sprintf("+1555000%04d", i), Text: text})
				if err != nil {
					t.Fatal(err)
				}
				requireAllOK(t, []smpp.SubmitResult{res})
			}
			got, err := srv.WaitMessages(testCtx(t), len(texts))
			if err != nil {
				t.Fatal(err)
			}
			for i, text := range texts {
				if got[i].Text != text || got[i].DataCoding != 0 {
					t.Fatalf("SMSC decoded %q (data_coding %#x), sent %q", trunc(got[i].Text), got[i].DataCoding, trunc(text))
				}
			}
		})
	}
}

// TestIA5DataCoding: a carrier configured for IA5 gets ASCII text as
// data_coding 0x01, one octet per character ('@' as 0x40, not GSM's 0x00),
// GSM-7 (0x00) for GSM text that is not ASCII, UCS-2 for the rest; the SMSC
// decodes each back.
func TestIA5DataCoding(t *testing.T) {
	sendCodingCases(t, smpp.TextConfig{IA5: true}, []codingCase{
		{"mail me @ shop_42 {now}", pdu.CodingIA5, 1},
		{strings.Repeat("a", 140), pdu.CodingIA5, 1},
		{strings.Repeat("a", 141), pdu.CodingIA5, 2}, // 134 octets per part
		{"café", pdu.CodingDefault, 1},               // é is GSM-7, not ASCII
		{"日本語", pdu.CodingUCS2, 1},
	})
}

// The addresses, the optional fields and the text share one buffer: each
// must come out whole, none overwriting another.
func TestEncodeOptionalFieldsShareBuffer(t *testing.T) {
	var tc smpp.TextConfig
	for _, text := range []string{"hello", strings.Repeat("ж", 60), strings.Repeat("x", 200)} {
		m := &smpp.Message{From: "+15550001111", To: "77261", Text: text, ServiceType: "CMT", ValidityPeriod: "000001000000000R"}
		pdus, _, err := tc.Encode(m, 1)
		if err != nil || len(pdus) == 0 {
			t.Fatalf("%q: %v", text, err)
		}
		p := pdus[0]
		if string(p.Source.Addr) != "15550001111" || string(p.Dest.Addr) != "77261" || string(p.ServiceType) != "CMT" || string(p.ValidityPeriod) != "000001000000000R" {
			t.Fatalf("%q: source %q dest %q service_type %q validity %q", text, p.Source.Addr, p.Dest.Addr, p.ServiceType, p.ValidityPeriod)
		}
		if len(pdus) == 1 && len(p.ShortMessage) == 0 || text == "hello" && string(p.ShortMessage) != "hello" {
			t.Fatalf("%q: short_message %q", text, p.ShortMessage)
		}
	}
}

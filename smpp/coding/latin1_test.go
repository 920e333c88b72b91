package coding

import (
	"bytes"
	"testing"
)

func TestLatin1AllOctets(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s := DecodeLatin1(all)
	for i, r := range []rune(s) {
		if r != rune(i) { // ISO-8859-1 is the first 256 code points, C1 controls included
			t.Fatalf("octet %02X -> %U", i, r)
		}
	}
	back, ok := EncodeLatin1(nil, s)
	if !ok || !bytes.Equal(back, all) {
		t.Errorf("round trip: ok=%v % X", ok, back)
	}
}

func TestLatin1Golden(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"Olá ñ ÿ", "4F 6C E1 20 F1 20 FF", true},
		{"€", "3F", false}, // not in ISO-8859-1 (0x80 is € only in Windows-1252)
		{"a\xff", "61 3F", false},
	} {
		got, ok := EncodeLatin1(nil, tc.in)
		if !bytes.Equal(got, unhex(t, tc.want)) || ok != tc.ok {
			t.Errorf("EncodeLatin1(%q) = % X, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got := DecodeLatin1([]byte{0x80, 0xA4}); got != "\u0080¤" {
		t.Errorf("DecodeLatin1(80 A4) = %q", got)
	}
	if got := DecodeLatin1([]byte("plain")); got != "plain" {
		t.Errorf("DecodeLatin1 = %q", got)
	}
}

func TestIA5(t *testing.T) {
	got, ok := EncodeIA5(nil, "Hi {there}~")
	if !ok || string(got) != "Hi {there}~" {
		t.Errorf("EncodeIA5 = %q, %v", got, ok)
	}
	got, ok = EncodeIA5(nil, "né")
	if ok || string(got) != "n?" {
		t.Errorf("EncodeIA5(né) = %q, %v", got, ok)
	}
	if s := DecodeIA5([]byte{'o', 'k', 0x7F, 0x80, 0xFF}); s != "ok\x7f\uFFFD\uFFFD" {
		t.Errorf("DecodeIA5 = %q", s)
	}
}

func TestDecodeDataCoding(t *testing.T) {
	for _, tc := range []struct {
		dc     byte
		in     string
		packed bool
		fill   int
		want   string
	}{
		{0x00, "48 69 1B 28 1B 65", false, 0, "Hi{€"},
		{0x00, "E8 32 9B FD 46 97 D9 EC 37", true, 0, "hellohello"},
		{0x00, "D0 65 36 FB 8D 2E B3 D9 6F", true, 1, "hellohello"},
		{0x00, "61 F1 98 5C 36 9F 01", true, 0, "abcdefg"},
		{0x01, "48 69 80", false, 0, "Hi\uFFFD"},
		{0x03, "43 61 66 E9", false, 0, "Café"},
		{0x08, "00 48 D8 3D DE 00", false, 0, "H😀"},
		{0x02, "00 FF", false, 0, "\x00ÿ"},
		{0x04, "00 FF", false, 0, "\x00ÿ"},
		{0x06, "E9", false, 0, "é"},
		// GSM 03.38 groups: message class (flash 0xF0) GSM-7 or 8-bit,
		// message waiting GSM-7 (0xC0–0xDF) or UCS-2 (0xE0–0xEF).
		{0xF0, "48 69 1B 65", false, 0, "Hi€"},
		{0xF1, "C8 34", true, 0, "Hi"},
		{0xF4, "E9", false, 0, "é"},
		{0xD8, "48 69", false, 0, "Hi"},
		{0xE0, "00 48 D8 3D DE 00", false, 0, "H😀"},
	} {
		if got := Decode(tc.dc, unhex(t, tc.in), tc.packed, tc.fill); got != tc.want {
			t.Errorf("Decode(%02X, %s, %v, %d) = %q, want %q", tc.dc, tc.in, tc.packed, tc.fill, got, tc.want)
		}
	}
}

func TestEncodingNames(t *testing.T) {
	for _, tc := range []struct {
		e    Encoding
		name string
		dc   byte
	}{
		{GSM7, "GSM7", 0x00}, {UCS2, "UCS2", 0x08}, {Latin1, "Latin1", 0x03}, {IA5, "IA5", 0x01},
		{Encoding(9), "Encoding(9)", 0x00},
	} {
		if tc.e.String() != tc.name || tc.e.DataCoding() != tc.dc {
			t.Errorf("%d: %q %02X", tc.e, tc.e.String(), tc.e.DataCoding())
		}
	}
}

func TestChoose(t *testing.T) {
	for s, want := range map[string]Encoding{
		"":              GSM7,
		"Hello {world}": GSM7,
		"€ ΔΣ ñ à":      GSM7,
		"ç":             UCS2,
		"Hi 😀":          UCS2,
		"Привет":        UCS2,
		"`backtick`":    UCS2, // not in GSM 03.38
	} {
		if got := Choose(s); got != want {
			t.Errorf("Choose(%q) = %v, want %v", s, got, want)
		}
	}
}

package coding

import (
	"testing"
	"unicode/utf8"
)

// TestJoinPartsSplitCharacters: a surrogate pair or an escape cut between
// two parts comes out whole; what has no partner shows as the whole-message
// decoders show it; text parts (other codings, or stored before parts were
// kept undecoded) join as they are.
func TestJoinPartsSplitCharacters(t *testing.T) {
	ucs2 := EncodeUCS2(nil, "ab😀c")   // a b D83D DE00 c
	gsm, _ := EncodeGSM7(nil, "x€{y") // x ESC 65 ESC 28 y
	cases := []struct {
		name  string
		parts []string
		want  string
	}{
		{"pair cut", []string{DecodePart(8, ucs2[:6], false, 0), DecodePart(8, ucs2[6:], false, 0)}, "ab😀c"},
		{"pair kept", []string{DecodePart(8, ucs2[:4], false, 0), DecodePart(8, ucs2[4:], false, 0)}, "ab😀c"},
		{"high surrogate ends the message", []string{DecodePart(8, ucs2[:6], false, 0)}, "ab\uFFFD"},
		{"low surrogate starts the message", []string{DecodePart(8, ucs2[6:], false, 0)}, "\uFFFDc"},
		{"odd octet dropped per part", []string{DecodePart(8, append(ucs2[:4:4], 0x41), false, 0), DecodePart(8, ucs2[4:], false, 0)}, "ab😀c"},
		{"escape cut", []string{DecodePart(0, gsm[:2], false, 0), DecodePart(0, gsm[2:], false, 0)}, "x€{y"},
		{"second escape cut", []string{DecodePart(0, gsm[:4], false, 0), DecodePart(0, gsm[4:], false, 0)}, "x€{y"},
		{"escape ends the message", []string{DecodePart(0, gsm[:2], false, 0)}, "x "},
		{"packed, escape cut", []string{
			DecodePart(0, PackSeptets(nil, gsm[:2], 1), true, 1),
			DecodePart(0, PackSeptets(nil, gsm[2:], 1), true, 1)}, "x€{y"},
		{"text parts", []string{"héllo ", "wörld"}, "héllo wörld"},
		{"latin-1 between", []string{DecodePart(0, gsm[:2], false, 0), DecodePart(3, []byte{0xE9}, false, 0), DecodePart(0, gsm[2:], false, 0)}, "x ée{y"}, // not consecutive: a lone escape, then e
		{"invalid stored text", []string{"ok\xff"}, "ok\uFFFD"},
	}
	for _, c := range cases {
		if got := JoinParts(c.parts); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// FuzzJoinParts: cutting a message anywhere into two parts (at a code unit
// for UCS-2) and joining them decodes exactly as the whole message does,
// and the result is always valid UTF-8.
func FuzzJoinParts(f *testing.F) {
	f.Add([]byte{0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00}, uint8(2), true)
	f.Add([]byte{0x78, 0x1B, 0x65, 0x1B, 0x1B, 0x1B}, uint8(2), false)
	f.Fuzz(func(t *testing.T, b []byte, cut uint8, ucs2 bool) {
		at := min(int(cut), len(b))
		var whole, got string
		if ucs2 {
			at &^= 1
			whole = DecodeUCS2(b)
			got = JoinParts([]string{DecodePart(8, b[:at], false, 0), DecodePart(8, b[at:], false, 0)})
		} else {
			whole = DecodeGSM7(b)
			got = JoinParts([]string{DecodePart(0, b[:at], false, 0), DecodePart(0, b[at:], false, 0)})
		}
		if got != whole {
			t.Fatalf("cut at %d: %q, whole %q", at, got, whole)
		}
		if !utf8.ValidString(JoinParts([]string{string(b)})) {
			t.Fatalf("invalid UTF-8 from %q", b)
		}
	})
}

package coding

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

// specBasic is the GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), row by row as
// printed in the specification, typed independently of gsmBasic. Position 0x1B is the
// escape and holds a placeholder.
var specBasic = []rune("" +
	"@£$¥èéùìòÇ\nØø\rÅå" +
	"Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ" +
	" !\"#¤%&'()*+,-./" +
	"0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNO" +
	"PQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmno" +
	"pqrstuvwxyzäöñüà")

// specExt is the extension table (23.038 §6.2.1.1).
var specExt = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGSM7BasicTableRoundTrip(t *testing.T) {
	if len(specBasic) != 128 {
		t.Fatalf("spec table has %d entries", len(specBasic))
	}
	for i, r := range specBasic {
		if i == esc {
			continue
		}
		got, ok := EncodeGSM7(nil, string(r))
		if !ok || !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("EncodeGSM7(%q) = % X, %v; want %02X", r, got, ok, i)
		}
		if s := DecodeGSM7([]byte{byte(i)}); s != string(r) {
			t.Errorf("DecodeGSM7(%02X) = %q, want %q", i, s, r)
		}
		if n, ok := GSM7Septets(string(r)); n != 1 || !ok {
			t.Errorf("GSM7Septets(%q) = %d, %v", r, n, ok)
		}
	}
}

func TestGSM7ExtensionTableRoundTrip(t *testing.T) {
	for x, r := range specExt {
		got, ok := EncodeGSM7(nil, string(r))
		if !ok || !bytes.Equal(got, []byte{esc, x}) {
			t.Errorf("EncodeGSM7(%q) = % X, %v; want 1B %02X", r, got, ok, x)
		}
		if s := DecodeGSM7([]byte{esc, x}); s != string(r) {
			t.Errorf("DecodeGSM7(1B %02X) = %q, want %q", x, s, r)
		}
		if n, ok := GSM7Septets(string(r)); n != 2 || !ok {
			t.Errorf("GSM7Septets(%q) = %d, %v; want 2", r, n, ok)
		}
	}
}

// Exactly the 127 basic and 10 extension characters are representable: nothing extra
// (no Greek look-alikes, no 'ç' folded to 'Ç'), nothing missing.
func TestGSM7RepresentableSetIsExact(t *testing.T) {
	want := map[rune]bool{}
	for i, r := range specBasic {
		if i != esc {
			want[r] = true
		}
	}
	for _, r := range specExt {
		want[r] = true
	}
	n := 0
	for r := rune(0); r <= 0x10FFFF; r++ {
		if _, _, ok := gsmLookup(r); ok {
			n++
			if !want[r] {
				t.Errorf("%U is encodable but not in GSM 03.38", r)
			}
		}
	}
	if n != 137 {
		t.Errorf("%d encodable runes, want 137", n)
	}
}

func TestEncodeGSM7Golden(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
		n    int
	}{
		{"", "", true, 0},
		{"@", "00", true, 1},
		{"Hello", "48 65 6C 6C 6F", true, 5},
		{"{x}", "1B 28 78 1B 29", true, 5},
		{"€5", "1B 65 35", true, 3},
		{"a\fb", "61 1B 0A 62", true, 4},
		{"^~|\\[]", "1B 14 1B 3D 1B 40 1B 2F 1B 3C 1B 3E", true, 12},
		{"ΔΞ", "10 1A", true, 2},
		{"a😀b", "61 3F 62", false, 3},    // unrepresentable -> '?'
		{"ç", "3F", false, 1},            // only capital Ç is in the table
		{"a\xffb", "61 3F 62", false, 3}, // invalid UTF-8
	} {
		got, ok := EncodeGSM7(nil, tc.in)
		if !bytes.Equal(got, unhex(t, tc.want)) || ok != tc.ok {
			t.Errorf("EncodeGSM7(%q) = % X, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if n, ok := GSM7Septets(tc.in); n != tc.n || ok != tc.ok {
			t.Errorf("GSM7Septets(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
		if IsGSM7(tc.in) != tc.ok {
			t.Errorf("IsGSM7(%q) = %v", tc.in, !tc.ok)
		}
	}
}

func TestEncodeGSM7Appends(t *testing.T) {
	got, _ := EncodeGSM7([]byte{0xAA}, "A")
	if !bytes.Equal(got, []byte{0xAA, 0x41}) {
		t.Errorf("got % X", got)
	}
}

func TestDecodeGSM7Tolerant(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"", ""},
		{"1B 41", "A"},     // unassigned extension code: basic character (03.38)
		{"1B 0D", "\r"},    // CR2 is not a character: basic CR
		{"1B 1B 41", " A"}, // ESC ESC is reserved: space, then the next septet
		{"41 1B", "A "},    // lone trailing escape: space
		{"C1 E8", "Ah"},    // bit 7 ignored
		{"9B A8", "{"},     // bit 7 ignored on both halves of an escape
		{"1B 65 1B", "€ "}, // escape pair then lone escape
		{"00 1B 28 7F", "@{à"},
	} {
		if got := DecodeGSM7(unhex(t, tc.in)); got != tc.want {
			t.Errorf("DecodeGSM7(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGSM7TextRoundTrip(t *testing.T) {
	var all []rune
	for i, r := range specBasic {
		if i != esc {
			all = append(all, r)
		}
	}
	for _, r := range specExt {
		all = append(all, r)
	}
	s := string(all)
	enc, ok := EncodeGSM7(nil, s)
	if !ok {
		t.Fatal("not ok")
	}
	if got := DecodeGSM7(enc); got != s {
		t.Errorf("round trip: %q != %q", got, s)
	}
	if got := DecodeGSM7(UnpackSeptets(nil, PackSeptets(nil, enc, 0), 0, len(enc))); got != s {
		t.Errorf("packed round trip: %q != %q", got, s)
	}
}

func TestGSM7NoAllocs(t *testing.T) {
	s := "Hello {world} – no, Hello [world] €5 ΔΣ" // '–' is not GSM: exercises the '?' path
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { EncodeGSM7(buf[:0], s) }); n != 0 {
		t.Errorf("EncodeGSM7: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { GSM7Septets(s) }); n != 0 {
		t.Errorf("GSM7Septets: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { IsGSM7(s) }); n != 0 {
		t.Errorf("IsGSM7: %v allocs", n)
	}
	septets, _ := EncodeGSM7(nil, s)
	out := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { PackSeptets(out[:0], septets, 1) }); n != 0 {
		t.Errorf("PackSeptets: %v allocs", n)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeGSM7(septets) }); n != 1 {
		t.Errorf("DecodeGSM7: %v allocs, want 1", n)
	}
}

// refPack is a bit-at-a-time packer written straight from 03.38 §6.1.2.1.1: septets are
// laid out least significant bit first, after fill zero bits.
func refPack(septets []byte, fill int) []byte {
	if len(septets) == 0 {
		return nil
	}
	var bits []byte
	for range fill {
		bits = append(bits, 0)
	}
	for _, s := range septets {
		for j := range 7 {
			bits = append(bits, s>>j&1)
		}
	}
	out := make([]byte, (len(bits)+7)/8)
	for i, b := range bits {
		out[i/8] |= b << (i % 8)
	}
	return out
}

func TestPackSeptetsGolden(t *testing.T) {
	hello, _ := EncodeGSM7(nil, "hellohello")
	for _, tc := range []struct {
		name    string
		septets []byte
		fill    int
		want    string
	}{
		// The classic example from the 03.38 packing description.
		{"hellohello", hello, 0, "E8 32 9B FD 46 97 D9 EC 37"},
		// After a 6-octet UDH one fill bit aligns text to septet 7 of the UD: the same bit
		// stream shifted left by one.
		{"hellohello fill 1", hello, 1, "D0 65 36 FB 8D 2E B3 D9 6F"},
		{"7 septets leave 7 spare bits", []byte("abcdefg"), 0, "61 F1 98 5C 36 9F 01"},
		{"8 septets fill 7 octets", []byte("abcdefgh"), 0, "61 F1 98 5C 36 9F D1"},
		{"one septet", []byte{0x7F}, 0, "7F"},
		{"one septet fill 6", []byte{0x7F}, 6, "C0 1F"},
		{"bit 7 ignored", []byte{0xFF}, 0, "7F"},
		{"empty", nil, 3, ""},
	} {
		got := PackSeptets(nil, tc.septets, tc.fill)
		if !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("%s: PackSeptets = % X, want %s", tc.name, got, tc.want)
		}
	}
}

// A complete concatenated part as it goes on the air: UDH, one fill bit, packed text.
func TestPackAfterUDH(t *testing.T) {
	ud := AppendConcatUDH(nil, Concat{Ref: 0xCC, Total: 2, Seq: 1})
	hello, _ := EncodeGSM7(nil, "hellohello")
	ud = PackSeptets(ud, hello, FillBits(len(ud)))
	want := unhex(t, "05 00 03 CC 02 01 D0 65 36 FB 8D 2E B3 D9 6F")
	if !bytes.Equal(ud, want) {
		t.Fatalf("UD = % X, want % X", ud, want)
	}
	_, _, hl, err := ParseUDH(ud)
	if err != nil || hl != 6 {
		t.Fatal(hl, err)
	}
	if got := Decode(0x00, ud[hl:], true, FillBits(hl)); got != "hellohello" {
		t.Errorf("decoded %q", got)
	}
}

func TestFillBits(t *testing.T) {
	for udh, want := range map[int]int{0: 0, 6: 1, 7: 0, 5: 2, 12: 2, 140: 0} {
		if got := FillBits(udh); got != want {
			t.Errorf("FillBits(%d) = %d, want %d", udh, got, want)
		}
	}
}

func TestPackMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		septets := make([]byte, rng.IntN(200))
		for i := range septets {
			septets[i] = byte(rng.IntN(128))
		}
		fill := rng.IntN(7)
		got := PackSeptets(nil, septets, fill)
		if want := refPack(septets, fill); !bytes.Equal(got, want) {
			t.Fatalf("PackSeptets(% X, %d) = % X, want % X", septets, fill, got, want)
		}
		if back := UnpackSeptets(nil, got, fill, len(septets)); !bytes.Equal(back, septets) {
			t.Fatalf("Unpack(Pack(% X, %d)) = % X", septets, fill, back)
		}
	}
}

func TestUnpackSeptets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		packed string
		fill   int
		count  int
		want   string
	}{
		{"hellohello", "E8 32 9B FD 46 97 D9 EC 37", 0, -1, "hellohello"},
		{"hellohello fill 1", "D0 65 36 FB 8D 2E B3 D9 6F", 1, -1, "hellohello"},
		// 7 septets in 7 octets: the 7 zero spare bits look like a trailing '@'. Dropped.
		{"trailing padding dropped", "61 F1 98 5C 36 9F 01", 0, -1, "abcdefg"},
		// A real '@' in that position cannot be told from padding without the count.
		{"trailing @ lost without count", "61 F1 98 5C 36 9F 01", 0, 8, "abcdefg@"},
		// Not a multiple of 7 bits: no ambiguity, a trailing '@' is kept.
		{"trailing @ kept", "00 00", 0, -1, "@@"},
		{"8 septets", "61 F1 98 5C 36 9F D1", 0, -1, "abcdefgh"},
		{"count limits", "E8 32 9B FD 46 97 D9 EC 37", 0, 5, "hello"},
		{"count beyond data", "E8 32", 0, 50, "he"},
		{"count zero", "E8 32", 0, 0, ""},
		{"empty", "", 0, -1, ""},
		{"fill consumes all", "00", 6, -1, ""},
		{"fill clamped above 6", "C0 1F", 9, -1, "à"},
		{"negative fill is 0", "E8 32", -1, -1, "he"},
	} {
		got := UnpackSeptets(nil, unhex(t, tc.packed), tc.fill, tc.count)
		var want []byte
		for _, r := range tc.want {
			s, _, _ := gsmLookup(r)
			want = append(want, s)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: UnpackSeptets = % X, want % X", tc.name, got, want)
		}
	}
}

// A '@' inside the message is never mistaken for padding (go-smpp drops it, see
// gosmpp_test.go).
func TestUnpackKeepsInnerAt(t *testing.T) {
	for _, s := range []string{"abcdef1@xyz", "@@@@@@@@@", "1234567@8", "@"} {
		septets, _ := EncodeGSM7(nil, s)
		got := DecodeGSM7(UnpackSeptets(nil, PackSeptets(nil, septets, 0), 0, -1))
		if got != s {
			t.Errorf("%q -> %q", s, got)
		}
	}
}

package coding

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeUCS2Golden(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"A", "00 41"},
		{"é", "00 E9"},
		{"€", "20 AC"},
		{"😀", "D8 3D DE 00"}, // U+1F600: surrogate pair
		{"𐍈", "D8 00 DF 48"}, // U+10348
		{"\U0010FFFF", "DB FF DF FF"},
		{"a\xffb", "00 61 FF FD 00 62"}, // invalid UTF-8 -> U+FFFD
		{"\uFEFF", "FE FF"},             // a BOM in the text is kept, not added
	} {
		if got := EncodeUCS2(nil, tc.in); !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("EncodeUCS2(%q) = % X, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDecodeUCS2(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"00 41 20 AC", "A€"},
		{"D8 3D DE 00", "😀"},
		{"D8 3D", "\uFFFD"},              // lone high surrogate at the end
		{"DE 00", "\uFFFD"},              // lone low surrogate
		{"D8 3D 00 41", "\uFFFDA"},       // high surrogate not followed by a low one
		{"DE 00 D8 3D", "\uFFFD\uFFFD"},  // reversed pair
		{"D8 3D D8 3D DE 00", "\uFFFD😀"}, // the second high surrogate pairs
		{"00 41 00", "A"},                // odd trailing byte ignored
		{"00", ""},
		{"FE FF 00 41", "\uFEFFA"},
	} {
		if got := DecodeUCS2(unhex(t, tc.in)); got != tc.want {
			t.Errorf("DecodeUCS2(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// randText mixes ASCII, Latin-1, BMP and astral characters, and GSM extension characters.
func randText(rng *rand.Rand, n int) string {
	pool := []rune("aZ09 @£{}[]~€^|\\\f\nÇßΔΩжя中文한😀🎉𐍈\u00a0\u200b")
	var sb strings.Builder
	for range n {
		sb.WriteRune(pool[rng.IntN(len(pool))])
	}
	return sb.String()
}

func TestUCS2RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		s := randText(rng, rng.IntN(100))
		b := EncodeUCS2(nil, s)
		if len(b) != 2*Units(s, UCS2) {
			t.Fatalf("%q: %d octets for %d units", s, len(b), Units(s, UCS2))
		}
		if got := DecodeUCS2(b); got != s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	}
	// Every BMP code point except the surrogates, and the first and last astral ones.
	var sb strings.Builder
	for r := rune(0); r <= 0xFFFF; r++ {
		if r < 0xD800 || r > 0xDFFF {
			sb.WriteRune(r)
		}
	}
	sb.WriteString("\U00010000\U0010FFFF")
	s := sb.String()
	if got := DecodeUCS2(EncodeUCS2(nil, s)); got != s {
		t.Error("full BMP round trip failed")
	}
}

func TestUCS2Allocs(t *testing.T) {
	s := strings.Repeat("Привет 😀 ", 10)
	buf := make([]byte, 0, 2*len(s))
	if n := testing.AllocsPerRun(100, func() { EncodeUCS2(buf[:0], s) }); n != 0 {
		t.Errorf("EncodeUCS2: %v allocs", n)
	}
	b := EncodeUCS2(nil, s)
	if n := testing.AllocsPerRun(100, func() { DecodeUCS2(b) }); n != 1 {
		t.Errorf("DecodeUCS2: %v allocs, want 1", n)
	}
}

func TestDecodeUCS2ValidUTF8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(4) == 0 {
				b[i] = 0xD8 + byte(rng.IntN(8)) // lots of surrogates
			}
		}
		if s := DecodeUCS2(b); !utf8.ValidString(s) {
			t.Fatalf("DecodeUCS2(% X) = %q: invalid UTF-8", b, s)
		}
	}
}

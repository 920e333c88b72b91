// Differential tests against the independent codecs in go-smpp's pdutext (imported
// only here). go-smpp is compared only where it is correct; the inputs where it is not
// are pinned in TestGoSMPPKnownBugs, which asserts our behaviour and logs go-smpp's.

package coding

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
)

// gsmAlphabet is every GSM 03.38 character, '@' repeated so that zero septets, where
// packing is ambiguous, come up often.
var gsmAlphabet = func() []rune {
	var rs []rune
	for i, r := range specBasic {
		if i != esc {
			rs = append(rs, r)
		}
	}
	for _, r := range specExt {
		rs = append(rs, r)
	}
	return append(rs, '@', '@', '@', '@', '@', '@', '@', '@')
}()

func randGSM(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteRune(gsmAlphabet[rng.IntN(len(gsmAlphabet))])
	}
	return sb.String()
}

// goSMPPUnpackWrong reports whether go-smpp's packed decoder gets these septets wrong. It
// takes the 8th septet of each 7-octet group only when that group's last octet is
// non-zero: it drops a real '@' there when the septet before it is below 0x40, and it
// invents an '@' after 7 septets whose last is 0x40 or above.
func goSMPPUnpackWrong(septets []byte) bool {
	n := len(septets)
	for g := 0; g < n; g += 8 {
		switch {
		case g+7 < n:
			if septets[g+7] == 0 && septets[g+6]&0x40 == 0 {
				return true
			}
		case n-g == 7:
			if septets[n-1]&0x40 != 0 {
				return true
			}
		}
	}
	return false
}

func TestGoSMPPGSM7Unpacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 3000 {
		s := randGSM(rng, 1+rng.IntN(200))
		ours, ok := EncodeGSM7(nil, s)
		if !ok {
			t.Fatalf("%q not GSM7", s)
		}
		if theirs := pdutext.GSM7(s).Encode(); !bytes.Equal(ours, theirs) {
			t.Fatalf("encode %q: ours % X, go-smpp % X", s, ours, theirs)
		}
		if theirs := string(pdutext.GSM7(ours).Decode()); theirs != DecodeGSM7(ours) {
			t.Fatalf("decode % X: ours %q, go-smpp %q", ours, DecodeGSM7(ours), theirs)
		}
	}
}

func TestGoSMPPGSM7Packed(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	compared := 0
	for range 5000 {
		s := randGSM(rng, 1+rng.IntN(200))
		septets, _ := EncodeGSM7(nil, s)
		ours := PackSeptets(nil, septets, 0)
		if theirs := pdutext.GSM7Packed(s).Encode(); !bytes.Equal(ours, theirs) {
			t.Fatalf("pack %q: ours % X, go-smpp % X", s, ours, theirs)
		}
		n := len(septets)
		if goSMPPUnpackWrong(septets) || n%8 == 0 && septets[n-1] == 0 {
			continue // go-smpp bug, or a trailing '@' no decoder can tell from padding
		}
		compared++
		theirs := string(pdutext.GSM7Packed(ours).Decode())
		if got := DecodeGSM7(UnpackSeptets(nil, ours, 0, -1)); got != theirs || got != s {
			t.Fatalf("unpack % X: ours %q, go-smpp %q, want %q", ours, got, theirs, s)
		}
	}
	if compared < 1000 {
		t.Errorf("only %d packed decodes compared", compared)
	}
}

func TestGoSMPPUCS2(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 3000 {
		s := randText(rng, rng.IntN(200))
		ours := EncodeUCS2(nil, s)
		if theirs := pdutext.UCS2(s).Encode(); !bytes.Equal(ours, theirs) {
			t.Fatalf("encode %q: ours % X, go-smpp % X", s, ours, theirs)
		}
		if theirs := string(pdutext.UCS2(ours).Decode()); theirs != DecodeUCS2(ours) {
			t.Fatalf("decode % X: ours %q, go-smpp %q", ours, DecodeUCS2(ours), theirs)
		}
	}
	// Arbitrary even-length input, heavy in surrogates: both replace unpaired ones, except
	// that x/text merges a lone low surrogate with a following one (see known bugs).
	for range 3000 {
		b := make([]byte, 2*rng.IntN(20))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if i%2 == 0 && rng.IntN(3) == 0 {
				b[i] = 0xD8 + byte(rng.IntN(8))
			}
		}
		if xtextMergesLowSurrogates(b) {
			continue
		}
		if theirs := string(pdutext.UCS2(b).Decode()); theirs != DecodeUCS2(b) {
			t.Fatalf("decode % X: ours %q, go-smpp %q", b, DecodeUCS2(b), theirs)
		}
	}
}

// xtextMergesLowSurrogates reports whether b has an unpaired low surrogate followed by
// another low surrogate; x/text (under go-smpp) decodes the two as a single U+FFFD.
func xtextMergesLowSurrogates(b []byte) bool {
	low := func(i int) bool { return i+1 < len(b) && b[i]&0xFC == 0xDC }
	for i := 0; i < len(b); {
		_, n := ucs2DecodeAt(b, i)
		if n == 2 && low(i) && low(i+2) {
			return true
		}
		i += n
	}
	return false
}

// TestGoSMPPKnownBugs pins the inputs where go-smpp is wrong: ours must be right, and
// go-smpp's answer is logged so a changed pin shows up in -v output.
func TestGoSMPPKnownBugs(t *testing.T) {
	check := func(name, ours, theirs, want string) {
		t.Helper()
		if ours != want {
			t.Errorf("%s: ours %q, want %q", name, ours, want)
		}
		if theirs != want {
			t.Logf("%s: go-smpp bug reproduced: %q, want %q", name, theirs, want)
		} else {
			t.Logf("%s: go-smpp now agrees", name)
		}
	}
	unpack := func(s string) (ours, theirs string) {
		septets, _ := EncodeGSM7(nil, s)
		packed := PackSeptets(nil, septets, 0)
		return DecodeGSM7(UnpackSeptets(nil, packed, 0, -1)), string(pdutext.GSM7Packed(packed).Decode())
	}

	// Packed: 7 septets leave 7 spare bits; go-smpp reads them as '@' when the 7th
	// septet has bit 6 set (its last octet is then 0x01, not 0x00).
	ours, theirs := unpack("abcdefg")
	check("packed 7 septets", ours, theirs, "abcdefg")

	// Packed: a real '@' at septet 8k+7 is dropped when the septet before it is < 0x40.
	ours, theirs = unpack("abcdef1@xyz")
	check("packed inner @", ours, theirs, "abcdef1@xyz")

	// Unrepresentable text: go-smpp's Encode returns the UTF-8 input unchanged, which would
	// go out as GSM septets (garbage) instead of failing.
	enc, ok := EncodeGSM7(nil, "héllo 😀")
	if ok {
		t.Error("EncodeGSM7 accepted an emoji")
	}
	check("unrepresentable", string(enc), string(pdutext.GSM7("héllo 😀").Encode()), "h\x05llo ?")

	// Unknown escape and lone escape: 03.38 says show the basic character / a space;
	// go-smpp fails the whole decode and returns the raw septets as if they were text.
	check("unknown escape", DecodeGSM7([]byte{'A', esc, 'B'}), string(pdutext.GSM7([]byte{'A', esc, 'B'}).Decode()), "AB")
	check("lone escape", DecodeGSM7([]byte{'A', esc}), string(pdutext.GSM7([]byte{'A', esc}).Decode()), "A ")
	// Bit 7 set (some SMSCs do not clear it): go-smpp fails, returns raw bytes.
	check("bit 7 set", DecodeGSM7([]byte{0xC1}), string(pdutext.GSM7([]byte{0xC1}).Decode()), "A")

	// Latin1 is Windows-1252 in go-smpp: octet 0x80 decodes to '€' and '€' encodes to 0x80,
	// which an ISO-8859-1 SMSC delivers as a C1 control.
	check("latin1 0x80", DecodeLatin1([]byte{0x80}), string(pdutext.Latin1([]byte{0x80}).Decode()), "\u0080")
	l1, _ := EncodeLatin1(nil, "€")
	check("latin1 €", string(l1), string(pdutext.Latin1("€").Encode()), "?")

	// UCS2: two unpaired low surrogates are two U+FFFD (one per bad code unit, as the
	// Unicode standard recommends); x/text pairs them up and emits one.
	lows := []byte{0xDE, 0x00, 0xDE, 0x01}
	check("ucs2 lone low surrogates", DecodeUCS2(lows), string(pdutext.UCS2(lows).Decode()), "\uFFFD\uFFFD")
}

package coding

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// esc is the GSM 03.38 escape to the extension table.
const esc = 0x1B

// gsmBasic is the GSM 03.38 default alphabet indexed by septet. Entry 0x1B is the
// escape, not a character; a space stands there because 03.38 says to show a space for
// ESC ESC (reserved for a further table), and we show the same for a lone trailing ESC.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', ' ', 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExt is the extension table (reached by 0x1B xx); 0 marks an unassigned code.
var gsmExt = [128]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

// gsmEnc maps runes to septets for every table character but '€' (U+20AC): Latin-1
// and the Greek capitals all lie below U+0400. An array keeps the hot path an index, not
// a map lookup. Zero means not representable ('@' is septet 0x00, hence the flags).
var gsmEnc [0x400]uint16

const (
	inBasic  = 0x100
	inExt    = 0x200
	euroCode = inExt | 0x65
)

func init() {
	for i, r := range gsmBasic {
		if i != esc {
			gsmEnc[r] = inBasic | uint16(i)
		}
	}
	for i, r := range gsmExt {
		if r != 0 && r != '€' {
			gsmEnc[r] = inExt | uint16(i)
		}
	}
}

// gsmLookup returns the septet for r, whether it needs the escape, and ok=false if r is
// in neither table. Small enough to inline into the per-rune loops.
func gsmLookup(r rune) (septet byte, escaped, ok bool) {
	var v uint16
	if uint32(r) < uint32(len(gsmEnc)) {
		v = gsmEnc[r]
	} else if r == '€' {
		v = euroCode
	}
	return byte(v), v&inExt != 0, v != 0
}

// gsmCost is the septets r takes; an unrepresentable rune counts 1, as EncodeGSM7
// replaces it by '?'.
func gsmCost(r rune) int {
	if _, escaped, _ := gsmLookup(r); escaped {
		return 2
	}
	return 1
}

// EncodeGSM7 appends s as GSM 03.38 septets, one per byte (unpacked), extension
// characters as 0x1B xx. ok=false if any rune is not representable; such runes are
// written as '?' so out is still a usable lossy encoding. It does not allocate when dst
// has room for GSM7Septets(s) more bytes.
func EncodeGSM7(dst []byte, s string) (out []byte, ok bool) {
	ok = true
	for _, r := range s {
		septet, escaped, found := gsmLookup(r)
		switch {
		case !found:
			dst = append(dst, '?')
			ok = false
		case escaped:
			dst = append(dst, esc, septet)
		default:
			dst = append(dst, septet)
		}
	}
	return dst, ok
}

// GSM7Septets counts the septets s takes in GSM7, escapes included. ok=false if any
// rune is not representable (each such rune counts 1, like the '?' EncodeGSM7 writes).
func GSM7Septets(s string) (n int, ok bool) {
	ok = true
	for _, r := range s {
		_, escaped, found := gsmLookup(r)
		switch {
		case !found:
			ok = false
			n++
		case escaped:
			n += 2
		default:
			n++
		}
	}
	return n, ok
}

// IsGSM7 reports whether every rune of s is in the basic or extension table.
func IsGSM7(s string) bool {
	for _, r := range s {
		if _, _, ok := gsmLookup(r); !ok {
			return false
		}
	}
	return true
}

// gsmDecodeAt decodes the character at septets[i] and returns it with the number of
// septets used. Per 03.38 an escape to an unassigned extension code shows the basic
// character of that code; ESC ESC (reserved for a further table) and a lone trailing
// ESC show a space. Bit 7 is ignored so any byte input is safe.
func gsmDecodeAt(septets []byte, i int) (rune, int) {
	c := septets[i] & 0x7F
	if c != esc {
		return gsmBasic[c], 1
	}
	if i+1 == len(septets) {
		return ' ', 1
	}
	x := septets[i+1] & 0x7F
	if r := gsmExt[x]; r != 0 {
		return r, 2
	}
	return gsmBasic[x], 2 // gsmBasic[esc] is the space for ESC ESC
}

// DecodeGSM7 decodes unpacked septets (one per byte) to UTF-8. It is tolerant: it never
// fails or panics, bytes above 0x7F are taken &0x7F, unknown escapes decode as above.
func DecodeGSM7(septets []byte) string {
	// Size first so the result costs exactly one allocation.
	size := 0
	for i := 0; i < len(septets); {
		r, n := gsmDecodeAt(septets, i)
		size += utf8.RuneLen(r)
		i += n
	}
	var sb strings.Builder
	sb.Grow(size)
	for i := 0; i < len(septets); {
		r, n := gsmDecodeAt(septets, i)
		sb.WriteRune(r)
		i += n
	}
	return sb.String()
}

// FillBits returns the padding bits needed after a UDH of udhLen octets (UDHL octet
// included) so packed septets start on a septet boundary (03.40 §9.2.3.24): 1 for the
// 6-octet 8-bit concat UDH, 0 for the 7-octet 16-bit one.
func FillBits(udhLen int) int {
	return (7 - udhLen*8%7) % 7
}

func clampFill(fillBits int) int {
	return min(max(fillBits, 0), 6)
}

// PackSeptets appends septets packed 8 into 7 octets, least significant bit first
// (GSM 03.38 §6.1.2.1.1). fillBits (0..6, clamped) zero bits take the low end of the
// first output octet, before the first septet, as when packed text follows a UDH (see
// FillBits). Bit 7 of each septet is ignored. No septets append nothing.
func PackSeptets(dst, septets []byte, fillBits int) []byte {
	if len(septets) == 0 {
		return dst
	}
	fill := clampFill(fillBits)
	dst = slices.Grow(dst, (fill+7*len(septets)+7)/8)
	var acc uint32 // < 15 bits pending
	nbits := fill
	for _, s := range septets {
		acc |= uint32(s&0x7F) << nbits
		nbits += 7
		if nbits >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	if nbits > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// UnpackSeptets appends the septets packed in packed after fillBits (0..6, clamped)
// padding bits, one per byte. count ≥ 0 unpacks at most count septets (fewer if packed
// is too short). count < 0 unpacks as many as fit, with one rule for the ambiguity
// packing leaves: when the bits after the fill are an exact multiple of 7 and the last
// septet is 0x00, that septet is dropped, because a sender packing n septets with 7
// spare bits in its last octet leaves exactly that zero septet as padding. A real
// trailing '@' in that position is therefore lost; callers that know the septet count
// (e.g. from a TP-UDL) should pass it.
func UnpackSeptets(dst, packed []byte, fillBits int, count int) []byte {
	fill := clampFill(fillBits)
	bits := len(packed)*8 - fill
	n := max(bits, 0) / 7
	if count >= 0 {
		n = min(n, count)
	}
	dst = slices.Grow(dst, n)
	for k := range n {
		p := fill + 7*k
		i, shift := p/8, uint(p%8)
		v := packed[i] >> shift
		if shift > 1 { // the septet continues into the next octet
			v |= packed[i+1] << (8 - shift)
		}
		dst = append(dst, v&0x7F)
	}
	if count < 0 && n > 0 && bits%7 == 0 && dst[len(dst)-1] == 0 {
		dst = dst[:len(dst)-1]
	}
	return dst
}

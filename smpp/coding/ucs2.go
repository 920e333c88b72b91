package coding

import (
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SMPP calls data_coding 0x08 "UCS2", but handsets send and expect UTF-16BE: characters
// outside the BMP (emoji) travel as surrogate pairs. So this is really UTF-16BE, and
// lengths are counted in 16-bit code units, not characters.

// ucs2Units is the number of UTF-16 code units r takes.
func ucs2Units(r rune) int {
	if r > 0xFFFF {
		return 2
	}
	return 1
}

// EncodeUCS2 appends s as UTF-16BE, no byte order mark. Invalid UTF-8 becomes U+FFFD.
// It does not allocate when dst has room for 2*len(s) more bytes.
func EncodeUCS2(dst []byte, s string) []byte {
	dst = slices.Grow(dst, 2*len(s)) // UTF-16 never takes more than twice the UTF-8 bytes
	for _, r := range s {            // range yields U+FFFD for invalid UTF-8
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			dst = append(dst, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		dst = append(dst, byte(r>>8), byte(r))
	}
	return dst
}

// ucs2DecodeAt decodes the code unit at b[i:] (len(b) even) and returns the rune and
// the bytes used. An unpaired surrogate becomes U+FFFD and consumes only itself, so the
// unit after a lone high surrogate is still decoded.
func ucs2DecodeAt(b []byte, i int) (rune, int) {
	u := rune(b[i])<<8 | rune(b[i+1])
	if !utf16.IsSurrogate(u) {
		return u, 2
	}
	if u < 0xDC00 && i+3 < len(b) {
		if r := utf16.DecodeRune(u, rune(b[i+2])<<8|rune(b[i+3])); r != utf8.RuneError {
			return r, 4
		}
	}
	return utf8.RuneError, 2
}

// DecodeUCS2 decodes UTF-16BE to UTF-8. An odd trailing byte is ignored; unpaired
// surrogates become U+FFFD. It never panics.
func DecodeUCS2(b []byte) string {
	b = b[:len(b)&^1]
	size := 0
	for i := 0; i < len(b); {
		r, n := ucs2DecodeAt(b, i)
		size += utf8.RuneLen(r)
		i += n
	}
	var sb strings.Builder
	sb.Grow(size)
	for i := 0; i < len(b); {
		r, n := ucs2DecodeAt(b, i)
		sb.WriteRune(r)
		i += n
	}
	return sb.String()
}

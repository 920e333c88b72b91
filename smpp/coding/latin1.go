package coding

import (
	"strings"
	"unicode/utf8"
)

// EncodeLatin1 appends s as ISO-8859-1, one octet per rune. ok=false if a rune is above
// U+00FF; it is written as '?' so out is still a usable lossy encoding. This is true
// ISO-8859-1, not Windows-1252: octets 0x80–0x9F are the C1 controls, and '€' is not
// representable.
func EncodeLatin1(dst []byte, s string) ([]byte, bool) {
	ok := true
	for _, r := range s {
		if r > 0xFF { // includes U+FFFD from invalid UTF-8
			r, ok = '?', false
		}
		dst = append(dst, byte(r))
	}
	return dst, ok
}

// DecodeLatin1 decodes ISO-8859-1; every octet is a character, so it cannot fail.
func DecodeLatin1(b []byte) string {
	size := len(b)
	for _, c := range b {
		if c >= utf8.RuneSelf {
			size++ // U+0080..U+00FF take two UTF-8 bytes
		}
	}
	if size == len(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// EncodeIA5 appends s as IA5/ASCII. ok=false if a rune is above 0x7F; it is written
// as '?'.
func EncodeIA5(dst []byte, s string) ([]byte, bool) {
	ok := true
	for _, r := range s {
		if r >= utf8.RuneSelf {
			r, ok = '?', false
		}
		dst = append(dst, byte(r))
	}
	return dst, ok
}

// DecodeIA5 decodes IA5/ASCII. Octets above 0x7F are not IA5 and become U+FFFD rather
// than being guessed at.
func DecodeIA5(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c >= utf8.RuneSelf {
			sb.WriteRune(utf8.RuneError)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

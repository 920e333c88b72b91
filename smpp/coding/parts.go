package coding

import (
	"strings"
	"unicode/utf8"
)

// Senders should never split a UTF-16 surrogate pair or a GSM-7 escape
// across the parts of a concatenated message, but some phones and SMSCs do
// (they cut at a fixed octet count). Decoded part by part, such a character
// becomes two replacement characters (UCS-2) or a space and the wrong letter
// (GSM-7). So a GSM-7 or UCS-2 part is kept undecoded until the message is
// whole: DecodePart returns its septets or octets behind a marker byte that
// no UTF-8 text starts with, and JoinParts decodes each run of consecutive
// such parts as one. A part kept as text (another coding, or stored by an
// older version) joins as it is.
const (
	rawGSM7 = 0xFE // then unpacked septets, one per byte
	rawUCS2 = 0xFD // then UTF-16BE octets
)

// DecodePart is Decode for one part of a concatenated message. Its result is
// for JoinParts only: for GSM-7 and UCS-2 it is not text.
func DecodePart(dataCoding byte, b []byte, gsm7Packed bool, fillBits int) string {
	switch alphabetOf(dataCoding) {
	case 0x00:
		out := []byte{rawGSM7}
		if gsm7Packed {
			return string(UnpackSeptets(out, b, fillBits, -1))
		}
		return string(append(out, b...))
	case 0x08:
		return string(append([]byte{rawUCS2}, b[:len(b)&^1]...))
	}
	return Decode(dataCoding, b, gsm7Packed, fillBits)
}

// JoinParts joins the parts of a concatenated message, in order, into its
// text: consecutive GSM-7 (or UCS-2) parts are decoded together, so a
// character the sender split across two of them comes out whole. Parts that
// did not follow each other (one missing in between) must not be passed in
// one call. The result is valid UTF-8.
func JoinParts(parts []string) string {
	var sb strings.Builder
	var run []byte
	kind := byte(0)
	flush := func() {
		switch kind {
		case rawGSM7:
			sb.WriteString(DecodeGSM7(run))
		case rawUCS2:
			sb.WriteString(DecodeUCS2(run))
		}
		run, kind = run[:0], 0
	}
	for _, p := range parts {
		if p != "" && (p[0] == rawGSM7 || p[0] == rawUCS2) {
			if p[0] != kind {
				flush()
				kind = p[0]
			}
			run = append(run, p[1:]...)
			continue
		}
		flush()
		sb.WriteString(strings.ToValidUTF8(p, string(utf8.RuneError)))
	}
	flush()
	return sb.String()
}

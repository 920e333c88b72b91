// Package coding converts SMS text between UTF-8 and the SMPP alphabets (GSM 03.38
// 7-bit, UCS-2/UTF-16BE, Latin-1, IA5), packs GSM septets, reads and writes the
// concatenation user data header, and splits long text into parts.
//
// It is shared by the bridge's SMPP client and the SMSC simulator so that both count
// and cut segments identically. Encoders append to a caller-owned slice and do not
// allocate when it has room; counting functions never allocate.
package coding

import "strconv"

// Encoding is the alphabet a text is sent in.
type Encoding uint8

// Encodings. Values are ours, not SMPP data_coding; see DataCoding.
const (
	GSM7   Encoding = iota // GSM 03.38 default alphabet incl. extension table (escape 0x1B)
	UCS2                   // UTF-16BE; characters outside the BMP are surrogate pairs (2 units)
	Latin1                 // ISO-8859-1, one octet per character
	IA5                    // ASCII (data_coding 0x01), one octet per character, 7-bit only
)

func (e Encoding) String() string {
	switch e {
	case GSM7:
		return "GSM7"
	case UCS2:
		return "UCS2"
	case Latin1:
		return "Latin1"
	case IA5:
		return "IA5"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// DataCoding returns the SMPP data_coding value for e. GSM7 is sent as 0x00 (SMSC
// default alphabet), which is what carriers expect for GSM text; an unknown Encoding
// maps to 0x00 as well.
func (e Encoding) DataCoding() byte {
	switch e {
	case UCS2:
		return 0x08
	case Latin1:
		return 0x03
	case IA5:
		return 0x01
	}
	return 0x00
}

// Decode turns a short_message/message_payload body (already stripped of its UDH) into
// UTF-8 according to SMPP data_coding: 0x00 -> GSM7 (packed if gsm7Packed, with
// fillBits), 0x01 -> IA5, 0x03 -> Latin1, 0x08 -> UCS2, 0x02/0x04 (binary) -> Latin1
// as-is, anything else -> Latin1. Latin-1 is the fallback because it maps every octet to
// a character, so nothing is lost and nothing panics. When gsm7Packed is set the septet
// count is inferred from len(b) (see UnpackSeptets for the trailing-'@' rule) and
// fillBits is FillBits(headerLen) of the stripped UDH, 0 without one.
func Decode(dataCoding byte, b []byte, gsm7Packed bool, fillBits int) string {
	switch alphabetOf(dataCoding) {
	case 0x00:
		if gsm7Packed {
			// Unpack into a stack buffer for typical lengths (≤ 254 octets → ≤ 290 septets).
			var buf [296]byte
			return DecodeGSM7(UnpackSeptets(buf[:0], b, fillBits, -1))
		}
		return DecodeGSM7(b)
	case 0x01:
		return DecodeIA5(b)
	case 0x08:
		return DecodeUCS2(b)
	}
	return DecodeLatin1(b)
}

// alphabetOf maps the data_coding values SMPP 3.4 §5.2.19 leaves to GSM
// 03.38 (0xC0–0xFF: message waiting indication and message class groups,
// used for flash messages) onto the alphabet they carry: 0x00 GSM-7, 0x08
// UCS-2 or 0x04 8-bit data. Other values are their own.
func alphabetOf(dataCoding byte) byte {
	switch {
	case dataCoding >= 0xC0 && dataCoding <= 0xDF, dataCoding >= 0xF0 && dataCoding&0x04 == 0:
		return 0x00
	case dataCoding >= 0xE0 && dataCoding <= 0xEF:
		return 0x08
	case dataCoding >= 0xF0:
		return 0x04
	}
	return dataCoding
}

// Choose picks GSM7 when every character is in the basic or extension table, else UCS2.
// Latin1 and IA5 are never chosen: which of them a carrier accepts is configuration.
func Choose(s string) Encoding {
	if IsGSM7(s) {
		return GSM7
	}
	return UCS2
}

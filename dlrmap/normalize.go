package dlrmap

import (
	"strconv"
	"strings"
)

// IDFormat is a carrier's configured relation between the id in its
// submit_sm_resp and the id in its receipts (lessons 6, 21, 44).
type IDFormat int

const (
	// IDAuto: not configured. The id is tried as sent first, then as the
	// other base. For small numeric ids this is ambiguous ("10" decimal is
	// "a" hex, but "10" read as hex is 16, another message's id): configure
	// the carrier when it is known.
	IDAuto IDFormat = iota
	// IDHex: receipts carry the id in hex, submit_sm_resp in decimal.
	IDHex
	// IDDecimal: receipts carry the id in decimal, submit_sm_resp in hex.
	IDDecimal
	// IDSame: both carry the same form; ids are compared as normalised
	// strings only, never converted.
	IDSame
)

// NormalizeID returns the canonical form under which both the submit_sm_resp
// id and a receipt id are indexed: spaces and NULs trimmed, leading zeros
// stripped (keeping "0"), and lower-cased when it is made of hex digits (and
// hyphens, for UUIDs). Other ids keep their case: some carriers' ids are
// case-sensitive and folding could merge two messages. The same function on
// both sides makes "00B8BE19" and "b8be19" (or a UUID with and without its
// leading 0) meet.
func NormalizeID(id string) string {
	id = strings.TrimFunc(id, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
	n := 0
	for n < len(id)-1 && id[n] == '0' && !isSpace(id[n+1]) { // a zero before a space stays, so the result stays trimmed
		n++
	}
	id = id[n:]
	upper := false
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c == '-':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return id // not hex-like: case is significant
		}
	}
	if upper {
		return strings.ToLower(id)
	}
	return id
}

// ConvertID re-expresses a receipt id in the base its submit_sm_resp used,
// normalised: with IDHex the receipt id is read as hex and returned in
// decimal; with IDDecimal it is read as decimal and returned in hex. ok is
// false when the id is not a number in that base or does not fit 64 bits.
// IDAuto and IDSame do not convert: the normalised id, true.
func ConvertID(receiptID string, f IDFormat) (string, bool) {
	id := NormalizeID(receiptID)
	switch f {
	case IDHex:
		if v, ok := parseUint(id, 16); ok {
			return strconv.FormatUint(v, 10), true
		}
		return "", false
	case IDDecimal:
		if v, ok := parseUint(id, 10); ok {
			return strconv.FormatUint(v, 16), true
		}
		return "", false
	}
	return id, true
}

// Candidates returns the normalised forms under which a receipt id may match
// a submit id, given the carrier's configured format, most likely first:
//   - IDAuto: the id as sent; its hex form when it is all decimal digits;
//     its decimal form when it is all hex digits (both fitting 64 bits);
//   - IDHex, IDDecimal: the converted form only — the id as sent would
//     match another message's id in the other base; when the id cannot be
//     converted (not a number in that base, over 64 bits) it is compared as sent;
//   - IDSame: the id as sent.
//
// Ids over 64 bits (UUIDs, 40 digits) are only compared as strings. Returns
// nil for an empty id, never more than three forms.
func Candidates(receiptID string, f IDFormat) []string {
	id := NormalizeID(receiptID)
	if id == "" {
		return nil
	}
	switch f {
	case IDHex, IDDecimal:
		if c, ok := ConvertID(id, f); ok {
			return []string{c}
		}
		return []string{id}
	case IDSame:
		return []string{id}
	}
	out := make([]string, 1, 3)
	out[0] = id
	if v, ok := parseUint(id, 10); ok {
		out = appendNew(out, strconv.FormatUint(v, 16))
	}
	if v, ok := parseUint(id, 16); ok {
		out = appendNew(out, strconv.FormatUint(v, 10))
	}
	return out
}

func appendNew(out []string, s string) []string {
	for _, o := range out {
		if o == s {
			return out
		}
	}
	return append(out, s)
}

// parseUint accepts only plain digits of the base (no sign, no 0x, no
// underscores, which strconv would take with base 0) and fails beyond 64 bits.
func parseUint(s string, base int) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || base == 16 && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

package coding

// Mode is how a long text is carried, which sets the room left for text in each part.
type Mode uint8

// Modes.
const (
	ModeUDH8    Mode = iota // UDH, IEI 0x00
	ModeUDH16               // UDH, IEI 0x08
	ModeSAR                 // sar_* TLVs, same per-part limits as ModeUDH8
	ModePayload             // one PDU with message_payload; segment count still reported as if UDH8
)

// Limits returns how much text fits a single message and each part of a longer one, in
// the units of enc: septets (GSM7, escapes count 2), UTF-16 code units (UCS2) or octets
// (Latin1, IA5).
//
// A single message holds 140 octets: 160 septets / 70 units / 140 octets. Parts lose the
// UDH: 6 octets for ModeUDH8 (153 / 67 / 134), 7 for ModeUDH16 (152 / 66 / 133). SAR
// TLVs keep the UDH out of short_message, yet ModeSAR uses the ModeUDH8 limits because
// carriers re-wrap SAR parts into UDH parts for the air interface, and a fuller part
// would be re-split there. ModePayload sends one PDU, but the network still delivers
// UDH8-sized segments, so that is what it counts. Unknown encodings count as octets,
// unknown modes as ModeUDH8.
func Limits(enc Encoding, mode Mode) (single, part int) {
	udh := 6
	if mode == ModeUDH16 {
		udh = 7
	}
	switch enc {
	case GSM7:
		return 160, (140 - udh) * 8 / 7
	case UCS2:
		return 70, (140 - udh) / 2
	}
	return 140, 140 - udh
}

// cost is the units r takes in enc (see Limits).
func cost(r rune, enc Encoding) int {
	switch enc {
	case GSM7:
		return gsmCost(r)
	case UCS2:
		return ucs2Units(r)
	}
	return 1
}

// Units returns the length of s in the units of enc (see Limits). Runes enc cannot
// represent count as the one-unit '?' the encoders write for them.
func Units(s string, enc Encoding) int {
	n := 0
	for _, r := range s {
		n += cost(r, enc)
	}
	return n
}

// cut returns the byte length of the longest prefix of s that fits limit units. It cuts
// only between runes, so an escape pair or a surrogate pair (one rune each) always moves
// whole to the next part.
func cut(s string, enc Encoding, limit int) int {
	used := 0
	for i, r := range s {
		used += cost(r, enc)
		if used > limit {
			return i
		}
	}
	return len(s)
}

// Split returns the text of each part (substrings of s, split on rune boundaries, never
// inside an escape or surrogate pair). One part when the text fits a single message;
// empty text gives one empty part. For ModePayload the parts are the segments the
// network will deliver; the PDU still carries s whole. Split does not cap the count:
// a UDH or SAR message allows at most 255 parts, which callers must check.
func Split(s string, enc Encoding, mode Mode) []string {
	single, part := Limits(enc, mode)
	n := Units(s, enc)
	if n <= single {
		return []string{s}
	}
	// Every part but the last holds at least part-1 units (a pair may move on), so this
	// capacity is never exceeded.
	parts := make([]string, 0, n/(part-1)+1)
	for len(s) > 0 {
		i := cut(s, enc, part)
		parts = append(parts, s[:i])
		s = s[i:]
	}
	return parts
}

// Segments returns len(Split(s, enc, mode)) without allocating.
func Segments(s string, enc Encoding, mode Mode) int {
	single, part := Limits(enc, mode)
	if Units(s, enc) <= single {
		return 1
	}
	n := 0
	for len(s) > 0 {
		s = s[cut(s, enc, part):]
		n++
	}
	return n
}

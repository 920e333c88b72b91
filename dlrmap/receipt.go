package dlrmap

import (
	"bytes"
	"strings"
	"time"
)

// Receipt is what a carrier said about one submitted part.
type Receipt struct {
	ID         string    // receipted message id, as sent (TLV wins over text); spaces and NULs trimmed
	Stat       string    // DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD, ENROUTE ("" if absent); from message_state when that TLV is present; an unrecognised value upper-cased as sent
	State      int       // message_state TLV 1..8, 0 if absent (or out of range)
	Err        string    // text err field as sent (3 chars usually; may be alphanumeric)
	NetErr     int       // network_error_code TLV's 2-byte code, -1 if absent
	NetErrType int       // its type byte (1 ANSI-136, 2 IS-95, 3 GSM, ...), 0 if absent
	Sub, Dlvrd int       // -1 if absent
	SubmitDate time.Time // zero if absent/unparseable; UTC; YYMMDDhhmm or YYMMDDhhmmss
	DoneDate   time.Time
	Text       string
}

// TLVs carries the receipt-related optional parameters of a deliver_sm/data_sm, already extracted by the caller.
type TLVs struct {
	ReceiptedMessageID []byte // 0x001E, C-string (may include the NUL), nil if absent
	MessageState       []byte // 0x0427, 1 byte, nil if absent
	NetworkErrorCode   []byte // 0x0423, 3 bytes, nil if absent
}

// Receipt stat values, and the message_state TLV values they correspond to.
const (
	StatEnroute   = "ENROUTE" // 1
	StatDelivered = "DELIVRD" // 2
	StatExpired   = "EXPIRED" // 3
	StatDeleted   = "DELETED" // 4
	StatUndeliv   = "UNDELIV" // 5
	StatAccepted  = "ACCEPTD" // 6
	StatUnknown   = "UNKNOWN" // 7
	StatRejected  = "REJECTD" // 8
)

// stateStat is message_state → stat; index 0 is "absent".
var stateStat = [...]string{"", StatEnroute, StatDelivered, StatExpired, StatDeleted, StatUndeliv, StatAccepted, StatUnknown, StatRejected}

// statAliases are the stat spellings seen in the wild besides the
// canonical seven letters; matched case-insensitively.
var statAliases = [...]struct{ alias, stat string }{
	{StatEnroute, StatEnroute}, {StatDelivered, StatDelivered}, {StatExpired, StatExpired},
	{StatDeleted, StatDeleted}, {StatUndeliv, StatUndeliv}, {StatAccepted, StatAccepted},
	{StatUnknown, StatUnknown}, {StatRejected, StatRejected},
	{"DELIVERED", StatDelivered}, {"UNDELIVERABLE", StatUndeliv}, {"UNDELIVERED", StatUndeliv},
	{"ACCEPTED", StatAccepted}, {"REJECTED", StatRejected},
}

// esm_class message types (bits 2-5) that mean "this is about a message
// we sent", not a mobile-originated one.
const (
	esmTypeMask         = 0x3C
	esmSMSCReceipt      = 0x04
	esmSMEDeliveryAck   = 0x08
	esmIntermediateNote = 0x20
)

// IsReceipt reports whether a deliver_sm/data_sm is a delivery receipt:
// esm_class bits 2-5 (mask 0x3C) == 0x04 (SMSC delivery receipt) or 0x08
// (SME delivery ack) or 0x20 (intermediate notification), OR a
// receipted_message_id/message_state TLV is present. The text is never
// looked at: an MO whose text starts with "id:" is still an MO (and a receipt
// with esm_class 0x04 is a receipt whatever its text, lesson 8).
func IsReceipt(esmClass byte, t TLVs) bool {
	switch esmClass & esmTypeMask {
	case esmSMSCReceipt, esmSMEDeliveryAck, esmIntermediateNote:
		return true
	}
	// Some SMSCs leave esm_class at 0 on receipts and rely on the TLVs;
	// those two TLVs have no meaning on an MO.
	return t.ReceiptedMessageID != nil || t.MessageState != nil
}

// ParseReceipt parses the text (appendix B form and real-world variants) and
// the TLVs; TLVs win. ok=false only when no id can be found at all; r holds
// whatever else was found even then.
//
// The text is read as space-separated "key:value" tokens in any order, keys
// case-insensitive; unknown keys are skipped; the first occurrence of a key
// wins; "text:" ends the parse and runs to the end, so keys inside the
// message text are never read. Work is one pass over the input. A typical
// receipt costs one allocation (the text as a string, shared by every field),
// two when the receipted_message_id TLV differs from the text's id.
func ParseReceipt(text []byte, t TLVs) (r Receipt, ok bool) {
	r = Receipt{NetErr: -1, Sub: -1, Dlvrd: -1}
	var textID string
	if len(text) > 0 {
		textID = parseText(string(text), &r)
	}

	// TLVs win over the text.
	r.ID = textID
	if id := trimID(t.ReceiptedMessageID); len(id) > 0 {
		if string(id) != textID { // the comparison does not allocate
			r.ID = string(id)
		}
	}
	if len(t.MessageState) > 0 {
		if s := int(t.MessageState[0]); s >= 1 && s < len(stateStat) {
			r.State = s
			r.Stat = stateStat[s]
		}
	}
	if b := t.NetworkErrorCode; len(b) >= 3 {
		r.NetErrType = int(b[0])
		r.NetErr = int(b[1])<<8 | int(b[2])
	}
	return r, r.ID != ""
}

// trimID cuts a C-string at its NUL and trims spaces.
func trimID(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

type field int

const (
	fNone field = iota
	fID
	fSub
	fDlvrd
	fSubmitDate
	fDoneDate
	fStat
	fErr
	fText
)

// parseText fills r from the receipt text and returns the text's id.
// Every string it stores is a substring of s or a constant.
func parseText(s string, r *Receipt) (id string) {
	var seen [fText + 1]bool
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		f, j := matchKey(s, i)
		if f == fNone {
			i = tokenEnd(s, i)
			continue
		}
		if f == fText {
			r.Text = strings.TrimRight(s[j:], "\x00\r\n")
			break
		}
		v, next := value(s, j)
		i = next
		if seen[f] {
			continue
		}
		seen[f] = true
		switch f {
		case fID:
			id = v
		case fSub:
			r.Sub = smallInt(v)
		case fDlvrd:
			r.Dlvrd = smallInt(v)
		case fSubmitDate:
			r.SubmitDate = parseDate(v)
		case fDoneDate:
			r.DoneDate = parseDate(v)
		case fStat:
			r.Stat = canonicalStat(v)
		case fErr:
			r.Err = v
		}
	}
	return id
}

// isSpace: separators between fields. NUL counts, for SMSCs that pad.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == '\v' || c == '\f'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func tokenEnd(s string, i int) int {
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return i
}

// matchKey reports which known key starts at s[i] and the index just past
// its colon; fNone when the token there is not a known key.
func matchKey(s string, i int) (field, int) {
	j := i
	for j < len(s) && isLetter(s[j]) {
		j++
	}
	var f field
	switch w := s[i:j]; {
	case strings.EqualFold(w, "id"):
		f = fID
	case strings.EqualFold(w, "sub"):
		f = fSub
	case strings.EqualFold(w, "dlvrd"):
		f = fDlvrd
	case strings.EqualFold(w, "stat"):
		f = fStat
	case strings.EqualFold(w, "err"):
		f = fErr
	case strings.EqualFold(w, "text"):
		f = fText
	case strings.EqualFold(w, "submitdate"):
		f = fSubmitDate
	case strings.EqualFold(w, "donedate"):
		f = fDoneDate
	case strings.EqualFold(w, "submit"), strings.EqualFold(w, "done"):
		// "submit date", "submit_date", "Submit  Date"
		k := j
		for k < len(s) && (s[k] == ' ' || s[k] == '_') {
			k++
		}
		if k == j || len(s)-k < 4 || !strings.EqualFold(s[k:k+4], "date") {
			return fNone, i
		}
		f = fSubmitDate
		if len(w) == 4 {
			f = fDoneDate
		}
		j = k + 4
	default:
		return fNone, i
	}
	if j >= len(s) || s[j] != ':' {
		return fNone, i
	}
	return f, j + 1
}

// value reads the value starting at s[j] (just past a colon): the token up
// to the next space. "err: 000" is read as "000", but in "err: stat:..." the
// err is empty: a known key is never taken as a value.
func value(s string, j int) (v string, next int) {
	k := j
	for k < len(s) && isSpace(s[k]) {
		k++
	}
	if k > j {
		if k >= len(s) {
			return "", k
		}
		if f, _ := matchKey(s, k); f != fNone {
			return "", k
		}
	}
	e := tokenEnd(s, k)
	return s[k:e], e
}

// canonicalStat maps a stat value onto its canonical constant; anything
// else is kept, ASCII upper-cased, so per-carrier tables can name it.
func canonicalStat(v string) string {
	for _, a := range statAliases {
		if strings.EqualFold(v, a.alias) {
			return a.stat
		}
	}
	return asciiUpper(v)
}

// asciiUpper upper-cases ASCII letters only: strings.ToUpper would turn
// each invalid UTF-8 byte into a 3-byte U+FFFD.
func asciiUpper(v string) string {
	i := 0
	for i < len(v) && !(v[i] >= 'a' && v[i] <= 'z') {
		i++
	}
	if i == len(v) {
		return v
	}
	b := []byte(v)
	for ; i < len(b); i++ {
		if b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// smallInt parses sub/dlvrd ("001"); -1 unless it is 1..9 significant digits.
func smallInt(v string) int {
	if v == "" {
		return -1
	}
	n, digits := 0, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return -1
		}
		if n == 0 && c == '0' {
			continue
		}
		if digits++; digits > 9 {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// parseDate reads YYMMDDhhmm, YYMMDDhhmmss or (tolerated) YYYYMMDDhhmmss as
// UTC; the zero time when it is anything else or not a real date.
func parseDate(v string) time.Time {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return time.Time{}
		}
	}
	d := func(k int) int { return int(v[k]-'0')*10 + int(v[k+1]-'0') }
	var year, p int
	switch len(v) {
	case 10, 12:
		year, p = 2000+d(0), 2
	case 14:
		year, p = d(0)*100+d(2), 4
	default:
		return time.Time{}
	}
	month, day, hour, min := d(p), d(p+2), d(p+4), d(p+6)
	sec := 0
	if len(v)-p == 10 {
		sec = d(p + 8)
	}
	if month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 59 {
		return time.Time{}
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if t.Day() != day { // 31 February and the like
		return time.Time{}
	}
	return t
}

// StateStat is the stat of a message_state TLV value (1..8), for tables
// written in message_state terms; "" for other values.
func StateStat(state int) string {
	if state >= 1 && state < len(stateStat) {
		return stateStat[state]
	}
	return ""
}

// CanonicalStat is the form Map compares table keys with: the canonical
// seven letters for known spellings ("delivered" → "DELIVRD"), anything
// else upper-cased.
func CanonicalStat(stat string) string { return canonicalStat(stat) }

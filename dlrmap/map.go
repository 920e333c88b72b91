package dlrmap

import (
	"fmt"
	"strings"
)

// V2 codes the receipt mapping reports (with CodeRejected, CodeUnknown,
// CodeInvalidDest, CodeMalformed and CodeDestAppError of submit.go).
const (
	CodeInvalidServiceType    = 4700 // invalid-service-type
	CodeSubscriberUnavailable = 4702 // destination-subscriber-unavailable
	CodeTNDeactivated         = 4721 // destination-tn-deactivated
	CodeHandsetRejected       = 4753 // destination-rejected-handset
	CodeTNBlocked             = 4772 // rejected-tn-blocked
	CodeDestFailed            = 5650 // destination-failed
)

// Outcome is where a receipt leaves the message.
type Outcome int

const (
	Pending   Outcome = iota // not terminal: wait for another receipt (or 9902)
	Delivered                // message-delivered
	Failed                   // message-failed with Result.Code
)

func (o Outcome) String() string {
	switch o {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "outcome(?)"
}

// Result is a receipt's meaning for the V2 callback.
type Result struct {
	Outcome     Outcome
	Code        int    // V2 error code when Failed, 0 otherwise
	Description string // the code's name from error-codes.tsv; "delivered" or "pending" otherwise
}

// Table holds per-carrier overrides; its entries override every default row.
// A code of 0 marks the receipt delivered and a negative code pending (not
// terminal); any other code fails it with that code.
type Table struct {
	// ByStat: stat → code, e.g. "UNDELIV": 4750, or a carrier's own stat
	// value such as "FAILED". Stats match case-insensitively.
	ByStat map[string]int
	// ByStatErr: "STAT:err" → code, e.g. "UNDELIV:001". The err matches as
	// given (case-insensitively) and, when both are decimal, numerically:
	// "UNDELIV:1" covers err "001". When the receipt's err is absent or zero,
	// the network_error_code's code is tried numerically instead.
	ByStatErr map[string]int
	// Treat ACCEPTD / ENROUTE as delivered (carriers that never send more).
	AcceptedIsDelivered, EnrouteIsDelivered bool
}

// Validate reports the first bad entry — a code that is not a V2 code, a
// ByStatErr key without ":err" — so that a typo in configuration is refused
// at load rather than sent to customers.
func (t *Table) Validate() error {
	if t == nil {
		return nil
	}
	for k, c := range t.ByStat {
		if c > 0 && Name(c) == "" {
			return fmt.Errorf("dlrmap: receipt table %q: %d is not a V2 error code", k, c)
		}
	}
	for k, c := range t.ByStatErr {
		if !strings.Contains(k, ":") {
			return fmt.Errorf("dlrmap: receipt table key %q is not \"STAT:err\"", k)
		}
		if c > 0 && Name(c) == "" {
			return fmt.Errorf("dlrmap: receipt table %q: %d is not a V2 error code", k, c)
		}
	}
	return nil
}

// Map turns a receipt into a V2 outcome; t may be nil (defaults only).
// Order: t.ByStatErr, t.ByStat, the Accepted/Enroute options, then the
// defaults of smpp-notes.md. The stat is r.Stat, or the message_state when
// the stat is absent or not one of the eight; none at all is UNKNOWN.
func Map(r Receipt, t *Table) Result {
	stat := effectiveStat(r)
	if t != nil {
		if c, ok := t.lookupStatErr(stat, r); ok {
			return result(c)
		}
		if c, ok := lookupStat(t.ByStat, stat); ok {
			return result(c)
		}
		if stat == StatAccepted && t.AcceptedIsDelivered || stat == StatEnroute && t.EnrouteIsDelivered {
			return result(0)
		}
	}
	switch stat {
	case StatDelivered:
		return result(0)
	case StatEnroute, StatAccepted:
		return result(-1)
	case StatExpired:
		return result(CodeSubscriberUnavailable)
	case StatDeleted, StatRejected:
		return result(CodeRejected)
	case StatUndeliv:
		return result(undelivCode(r))
	}
	return result(CodeUnknown) // UNKNOWN, or a stat nobody mapped
}

// effectiveStat: the canonical stat; the message_state when the stat is
// absent, or is a value of no known meaning while the state has one.
func effectiveStat(r Receipt) string {
	validState := r.State >= 1 && r.State < len(stateStat)
	if r.Stat != "" {
		if s := canonicalStat(r.Stat); isCanonical(s) || !validState {
			return s
		}
	}
	if validState {
		return stateStat[r.State]
	}
	return StatUnknown
}

func isCanonical(s string) bool {
	for _, c := range stateStat[1:] {
		if s == c {
			return true
		}
	}
	return false
}

func result(code int) Result {
	switch {
	case code == 0:
		return Result{Outcome: Delivered, Description: "delivered"}
	case code < 0:
		return Result{Outcome: Pending, Description: "pending"}
	}
	d := Name(code)
	if d == "" {
		d = Name(CodeUnknown) // a table code Validate would have refused
	}
	return Result{Outcome: Failed, Code: code, Description: d}
}

// cause is the GSM MAP cause of an UNDELIV: the err as a number, or the
// GSM network_error_code when err is absent or zero; -1 when there is none.
func cause(r Receipt) int {
	if n := smallInt(r.Err); n > 0 {
		return n
	}
	if r.NetErrType == 3 && r.NetErr > 0 && (r.Err == "" || smallInt(r.Err) == 0) {
		return r.NetErr
	}
	return -1
}

func undelivCode(r Receipt) int {
	switch cause(r) {
	case 1, 5: // unknown subscriber
		return CodeInvalidDest
	case 6, 27: // absent subscriber
		return CodeSubscriberUnavailable
	case 9: // illegal subscriber
		return CodeTNDeactivated
	case 11, 21: // teleservice / facility not provisioned
		return CodeInvalidServiceType
	case 12: // illegal equipment
		return CodeHandsetRejected
	case 13: // call barred
		return CodeTNBlocked
	case 31, 33: // subscriber busy, message waiting list full
		return CodeSubscriberUnavailable
	case 32: // delivery failure
		return CodeDestFailed
	case 34: // system failure
		return CodeDestAppError
	case 35, 36: // data missing, unexpected data value
		return CodeMalformed
	}
	return CodeRejected
}

func lookupStat(m map[string]int, stat string) (int, bool) {
	if c, ok := m[stat]; ok {
		return c, true
	}
	for k, c := range m { // configuration may spell it in lower case
		if strings.EqualFold(k, stat) {
			return c, true
		}
	}
	return 0, false
}

// lookupStatErr finds the (stat, err) entry: the err as given, then
// numerically, then the network error code numerically. Among several keys
// equal only numerically ("UNDELIV:1", "UNDELIV:01") the smallest key wins,
// so the choice does not depend on map order.
func (t *Table) lookupStatErr(stat string, r Receipt) (int, bool) {
	if len(t.ByStatErr) == 0 {
		return 0, false
	}
	try := func(err string, n int) (int, bool) {
		code, best, found := 0, "", false
		for k, c := range t.ByStatErr {
			ks, ke, ok := strings.Cut(k, ":")
			if !ok || !strings.EqualFold(ks, stat) {
				continue
			}
			if err != "" && strings.EqualFold(ke, err) {
				return c, true
			}
			if n >= 0 && smallInt(ke) == n && (!found || k < best) {
				code, best, found = c, k, true
			}
		}
		return code, found
	}
	n := smallInt(r.Err)
	if r.Err != "" {
		if c, ok := try(r.Err, n); ok {
			return c, true
		}
	}
	if r.NetErr >= 0 && (r.Err == "" || n == 0) {
		return try("", r.NetErr)
	}
	return 0, false
}

// Aggregate combines the per-part results of a long message (parts[i] is
// part i's latest result, the zero Result while none has arrived; receipts
// may arrive in any order) into the message's outcome; done is false while
// it is still pending. total is the number of parts (len(parts) when ≤ 0).
//
//   - "all" (the default): every part gets a receipt. Failed with the
//     failing part of lowest index as soon as any part fails; delivered when
//     all total parts are delivered; pending otherwise.
//   - "first" / "last": the carrier reports one part only, and that part's
//     result decides. Should that part still be pending while another part
//     has a terminal result, the lowest such part decides: a carrier that
//     reports another part than configured would otherwise leave the message
//     pending for good (lesson 5).
func Aggregate(parts []Result, total int, mode string) (Result, bool) {
	n := total
	if n <= 0 {
		n = len(parts)
	}
	at := func(i int) Result {
		if i < len(parts) {
			return parts[i]
		}
		return Result{}
	}
	pending := Result{Outcome: Pending, Description: "pending"}
	if n == 0 {
		return pending, false
	}
	switch strings.ToLower(mode) {
	case "first", "last":
		i := 0
		if strings.EqualFold(mode, "last") {
			i = n - 1
		}
		if r := at(i); r.Outcome != Pending {
			return r, true
		}
		for j := 0; j < n; j++ {
			if r := at(j); r.Outcome != Pending {
				return r, true
			}
		}
		return pending, false
	}
	delivered := 0
	var last Result
	for i := 0; i < n; i++ {
		switch r := at(i); r.Outcome {
		case Failed:
			return r, true
		case Delivered:
			delivered++
			last = r
		}
	}
	if delivered == n {
		return last, true
	}
	return pending, false
}

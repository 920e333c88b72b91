package bridge

import (
	"strings"
)

// Policy error codes (error-codes.tsv). All of them end a recipient's copy
// as message-failed after the 202, like Bandwidth reports them; only a
// from number the application does not own is a 400 at intake (issue #4's
// contract), and a disabled account is refused at authentication (403).
const (
	codeForbiddenCountry = 4432 // rejected-forbidden-country
	codeBlockedFrom      = 4481 // rejected-from-number-in-blacklist
	codeBlockedTo        = 4482 // rejected-to-number-in-blacklist
	codeEmergency        = 4492 // reject-emergency
	codeOptedOut         = 4775 // destination-rejected-due-to-user-opt-out
)

// Blocking directions of a blocked number.
const (
	BlockFrom = "from" // it may not send (4481)
	BlockTo   = "to"   // it may not receive (4482)
	BlockBoth = "both"
)

// DefaultEmergencyNumbers are the emergency numbers refused with 4492 when
// the configuration names none.
var DefaultEmergencyNumbers = []string{"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108"}

func (b *Bridge) isEmergency(to string) bool {
	return b.emergency[strings.TrimPrefix(to, "+")]
}

// policyCode is the error code that stops one recipient's copy, or 0. The
// order decides which code a copy breaking several rules gets.
func (b *Bridge) policyCode(d *directory, acc *account, from, to string) int {
	if to == from {
		return codeRoutingError // a loop: error-codes.tsv's first example of 4401
	}
	if b.isEmergency(to) {
		return codeEmergency
	}
	if dir := d.blocked[from]; dir == BlockFrom || dir == BlockBoth {
		return codeBlockedFrom
	}
	if dir := d.blocked[to]; dir == BlockTo || dir == BlockBoth {
		return codeBlockedTo
	}
	if acc != nil && len(acc.Countries) > 0 {
		digits := strings.TrimPrefix(to, "+")
		ok := false
		for _, cc := range acc.Countries {
			if strings.HasPrefix(digits, cc) {
				ok = true
				break
			}
		}
		if !ok {
			return codeForbiddenCountry
		}
	}
	if b.optedOut(from, to) {
		return codeOptedOut
	}
	return 0
}

func optOutKey(number, sender string) string { return number + "|" + sender }

// optedOut: sender sent STOP to number (and not START since).
func (b *Bridge) optedOut(number, sender string) bool {
	if b.dir.optOutCount.Load() == 0 {
		return false // the usual case: no key to build
	}
	_, ok := b.dir.optOuts.Load(optOutKey(number, sender))
	return ok
}

// Opt-out keywords: the whole inbound text, trimmed, in any case.
var (
	optOutWords = []string{"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
	optInWords  = []string{"START", "UNSTOP"}
)

// optKeyword records an inbound STOP (opt-out of number for sender) or
// START (opt back in), durably before the inbound message is acknowledged.
func (b *Bridge) optKeyword(number, sender, text string) error {
	word := strings.ToUpper(strings.TrimSpace(text))
	out := contains(optOutWords, word)
	if !out && !contains(optInWords, word) {
		return nil
	}
	return b.SetOptOut(number, sender, out)
}

// SetOptOut puts sender on (or takes it off) number's opt-out list.
func (b *Bridge) SetOptOut(number, sender string, optedOut bool) error {
	key := optOutKey(number, sender)
	if b.dir.store != nil {
		e := storeEntry(dirOptOut, key, nil)
		if optedOut {
			e.Value = []byte("1")
		}
		if err := b.dir.store.PutDirectory(entries(e)); err != nil {
			return err
		}
	}
	if optedOut {
		b.addOptOut(key)
		b.log.Info("recipient opted out", "number", number, "sender", sender)
	} else {
		if _, had := b.dir.optOuts.LoadAndDelete(key); had {
			b.dir.optOutCount.Add(-1)
		}
		b.log.Info("recipient opted back in", "number", number, "sender", sender)
	}
	return nil
}

func (b *Bridge) addOptOut(key string) {
	if _, had := b.dir.optOuts.LoadOrStore(key, struct{}{}); !had {
		b.dir.optOutCount.Add(1)
	}
}

// OptOut is one opt-out list entry.
type OptOut struct {
	Number string `json:"number"` // the application's number
	Sender string `json:"sender"` // who sent STOP to it
}

// OptOuts lists the opt-out entries, for number only when it is not "".
func (b *Bridge) OptOuts(number string) []OptOut {
	var out []OptOut
	b.dir.optOuts.Range(func(k, _ any) bool {
		n, s, _ := strings.Cut(k.(string), "|")
		if number == "" || n == number {
			out = append(out, OptOut{Number: n, Sender: s})
		}
		return true
	})
	return out
}

// numberClass is the class of a from number as the record's product
// (v2-api.md §4.1: P2P, LOCAL_A2P, TOLL_FREE, SHORT_CODE_REACH,
// ALPHA_NUMERIC) and its campaign id: for records and MDR rows.
func (b *Bridge) numberClass(from string) (product, campaignID string) {
	class, campaign := b.directory().classOf(from)
	return Product(class), campaign
}

// classOf is a from number's class: as assigned, else inferred.
func (d *directory) classOf(from string) (class, campaignID string) {
	if n := d.numbers[from]; n != nil && n.Class != "" {
		return n.Class, n.CampaignID
	}
	return InferClass(from), ""
}

// ownedBy: number is assigned to app.
func (d *directory) ownedBy(number string, app *application) bool {
	n := d.numbers[number]
	return n != nil && n.app == app
}

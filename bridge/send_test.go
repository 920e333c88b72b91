package bridge

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewMessageID(t *testing.T) {
	at := time.Date(2020, 3, 27, 15, 1, 13, 456e6, time.UTC)
	re := regexp.MustCompile(`^1585321273456[0-9a-z]{16}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := newMessageID(at)
		if !re.MatchString(id) {
			t.Fatalf("id %q is not 13-digit epoch ms + 16 base-36 characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestNumberForms(t *testing.T) {
	e164 := map[string]bool{"+15550001111": true, "+442071234567": true, "+12345678": true, "+123456789012345": true,
		"15550001111": false, "+1invalid": false, "+0123456789": false, "+1234567": false, "+1234567890123456": false, "": false}
	for s, want := range e164 {
		if got := isE164(s); got != want {
			t.Errorf("isE164(%q) = %v", s, got)
		}
	}
	alnum := map[string]bool{"ACME": true, "Acme Ltd": true, "A-1_B+&": true, "12345": false, "ACME!": false,
		"TwelveChars1": false, "": false}
	for s, want := range alnum {
		if got := isAlphanumeric(s); got != want {
			t.Errorf("isAlphanumeric(%q) = %v", s, got)
		}
	}
}

func TestRouteLongestPrefix(t *testing.T) {
	b := &Bridge{}
	us := &carrierQueue{name: "us"}
	us555 := &carrierQueue{name: "us555"}
	acctOnly := &carrierQueue{name: "acct"}
	tollFree := &carrierQueue{name: "tf"}
	b.set.Store(&carrierSet{routes: []route{{prefix: "+1555", carrier: us555}, {prefix: "+44", carrier: acctOnly, accounts: []string{"7"}},
		{prefix: "+1", carrier: tollFree, classes: []string{ClassTollFree}}, {prefix: "+1", carrier: us}}}) // sorted longest first, as newCarrierSet does
	cases := []struct{ acct, class, to, want string }{
		{"1", ClassP2P, "+15550001111", "us555"},
		{"1", ClassP2P, "+16170001111", "us"},
		{"1", ClassTollFree, "+16170001111", "tf"},
		{"7", ClassP2P, "+442071234567", "acct"},
		{"1", ClassP2P, "+442071234567", ""},
		{"1", ClassP2P, "+33123456789", ""},
	}
	for _, c := range cases {
		q := b.route(c.acct, "+15550001111", c.class, c.to)
		got := ""
		if q != nil {
			got = q.name
		}
		if got != c.want {
			t.Errorf("route(%s, %s, %s) = %q, want %q", c.acct, c.class, c.to, got, c.want)
		}
	}
}

// TestValidateDuplicateRecipients: duplicates are found the same way in
// small groups (scanned) and large ones (a set), each repeat reported once
// per extra occurrence.
func TestValidateDuplicateRecipients(t *testing.T) {
	b := &Bridge{}
	b.opts.GroupLimit, b.opts.MaxTextLength = 1000, 2048
	for _, n := range []int{2, 16, 17, 200} {
		to := make([]string, n)
		for i := range to {
			to[i] = fmt.Sprintf("+1555%07d", i)
		}
		to[n-1] = to[0] // one repeat of the first
		if n > 2 {
			to[n/2], to[n-2] = "+1bad", "+1bad" // invalid: reported as such, not as a repeat
		}
		_, verr := b.validate(&directory{}, &SendRequest{AccountID: "a", ApplicationID: "app", From: "+15559999999", To: to, Text: "x"})
		if verr == nil {
			t.Fatalf("n=%d: accepted", n)
		}
		var dups []string
		for _, f := range verr.Fields {
			if strings.Contains(f.Description, "appears more than once") {
				dups = append(dups, f.Description)
			}
		}
		if want := []string{"'" + to[0] + "' appears more than once; recipients must be unique"}; !slices.Equal(dups, want) {
			t.Errorf("n=%d: duplicates reported %q, want %q", n, dups, want)
		}
	}
}

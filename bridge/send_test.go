package bridge

import (
	"regexp"
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

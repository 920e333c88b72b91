package daemon_test

import (
	"strings"
	"testing"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestFailedBeforeCarrierSegmentCount: a copy that fails before reaching a
// carrier (no route: 4420) still reports the message's segmentCount, the
// one the 202 gave, in its message-failed callback and in the search; V2
// never reports 0 segments (v2-api.md §1.3, §2.4, §5).
func TestFailedBeforeCarrierSegmentCount(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	cases := []struct {
		name string
		to   []string
		text string
	}{
		{"single, no route", []string{"+442071234567"}, "no route"},
		{"group, one without a route", []string{"+442071234568", "+15550008111"}, strings.Repeat("long text ", 20)},
	}
	for _, c := range cases {
		r := e.send(msgBody(c.to, c.text, ""))
		id := e.accepted(r)
		want, _ := r.body["segmentCount"].(float64)
		if want < 1 {
			t.Fatalf("%s: 202 segmentCount %v", c.name, r.body["segmentCount"])
		}
		for range c.to {
			ev := oneEvent(t, e.hooks.next(t))
			m, _ := ev["message"].(map[string]any)
			if m["id"] != id || m["segmentCount"] != want {
				t.Fatalf("%s: callback for %v: message.segmentCount %v, want %v (the 202's): %v", c.name, ev["to"], m["segmentCount"], want, ev)
			}
		}
		msgs, _, _ := e.search("messageId=" + id)
		if len(msgs) != len(c.to) {
			t.Fatalf("%s: search found %d records, want %d", c.name, len(msgs), len(c.to))
		}
		for _, m := range msgs {
			if m["segmentCount"] != want {
				t.Fatalf("%s: search record to %v: segmentCount %v, want %v", c.name, m["destinationTn"], m["segmentCount"], want)
			}
		}
	}
}

package daemon_test

import (
	"fmt"
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

// TestStatusCallbackCarriesMedia: the message object of an outbound
// message's status callbacks lists the media URLs the request sent, as
// given (v2-api.md §2.4: "outbound: the original URLs"); a message without
// media has no media field.
func TestStatusCallbackCarriesMedia(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550008302", Stat: "UNDELIV", Err: "001"}}}, `media = "links"`, daemon.Options{})
	media := []any{"https://example.com/a.jpg", "https://example.com/b%20c.png?x=1&y=2"}
	id := e.accepted(e.send(msgBody([]string{"+15550008301", "+15550008302"}, "see these",
		`,"media":["https://example.com/a.jpg","https://example.com/b%20c.png?x=1&y=2"]`)))
	types := map[string]bool{}
	for range 2 {
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		got, _ := m["media"].([]any)
		if m["id"] != id || fmt.Sprint(got) != fmt.Sprint(media) {
			t.Fatalf("%v callback for %v: message.media %v, want %v: %v", ev["type"], ev["to"], m["media"], media, ev)
		}
		types[ev["type"].(string)] = true
	}
	if !types["message-delivered"] || !types["message-failed"] {
		t.Fatalf("callback types %v, want one delivered and one failed", types)
	}

	e.accepted(e.send(msgBody([]string{"+15550008303"}, "no media", "")))
	m, _ := oneEvent(t, e.hooks.next(t))["message"].(map[string]any)
	if _, has := m["media"]; has {
		t.Fatalf("message without media carries media: %v", m)
	}
}

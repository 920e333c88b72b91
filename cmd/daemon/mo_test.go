package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestInboundMessages: MO from the simulator — short GSM-7, long UCS-2 with
// an emoji split by 8-bit UDH, 16-bit UDH, SAR — reaches the application
// owning the number as one message-received callback each, reassembled.
func TestInboundMessages(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	long := strings.Repeat("Привет, это длинное сообщение 👋 ", 6) // UCS-2, several parts
	cases := []struct {
		name string
		mo   smsc.MO
	}{
		{"short gsm7", smsc.MO{From: "+15550007001", To: num, Text: "STOP"}},
		{"long ucs2 udh8", smsc.MO{From: "+15550007002", To: num, Text: long}},
		{"long gsm7 udh16", smsc.MO{From: "+15550007003", To: num, Text: strings.Repeat("sixteen bit ref {} ", 15), Concat: "udh16"}},
		{"long sar", smsc.MO{From: "+15550007004", To: num, Text: strings.Repeat("sar parts ", 40), Concat: "sar"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts, err := e.sim.InjectMO(c.mo)
			if err != nil {
				t.Fatal(err)
			}
			ev := oneEvent(t, e.hooks.next(t))
			m, _ := ev["message"].(map[string]any)
			if ev["type"] != "message-received" || ev["to"] != num || ev["description"] != "Incoming message received" {
				t.Fatalf("event %v", ev)
			}
			if m["text"] != c.mo.Text || m["from"] != c.mo.From || m["owner"] != num || m["direction"] != "in" ||
				m["segmentCount"] != float64(parts) || m["applicationId"] != app || len(m["id"].(string)) != 29 {
				t.Fatalf("message %v (want %d parts, text %q)", m, parts, c.mo.Text)
			}
		})
	}
	if n, err := e.d.Store.MOPartsPending(); err != nil || n != 0 {
		t.Fatalf("%d inbound parts left (%v)", n, err)
	}
}

// TestInboundUnknownNumber: an MO for a number no application owns is
// acknowledged (not retried forever) and produces no callback.
func TestInboundUnknownNumber(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007005", To: "+15550004444", Text: "nobody"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.sim.WaitFor(ctx, func() bool { return e.sim.Stats().MOAcked >= 1 }); err != nil {
		t.Fatalf("MO not acknowledged: %v", err)
	}
	// A known-number MO after it proves the sender is idle, not slow.
	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007006", To: num, Text: "known"}); err != nil {
		t.Fatal(err)
	}
	ev := oneEvent(t, e.hooks.next(t))
	if m, _ := ev["message"].(map[string]any); m["text"] != "known" {
		t.Fatalf("first callback is %v", ev)
	}
}

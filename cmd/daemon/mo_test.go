package daemon_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/smpp/coding"
	"smppbridge/store"
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
		// Peer lesson 8 (jasmin#1050), the other way round: an inbound text
		// shaped like a receipt is still an inbound message.
		{"text shaped like a receipt", smsc.MO{From: "+15550007007", To: num,
			Text: "id:0123456789 sub:001 dlvrd:001 submit date:2611271200 done date:2611271201 stat:DELIVRD err:000 text:hi"}},
		// Peer lesson 34 (go-smpp#116): MO as data_sm, short and long.
		{"data_sm", smsc.MO{From: "+15550007008", To: num, Text: "by data_sm", PDU: "data_sm"}},
		{"long data_sm latin1 udh16", smsc.MO{From: "+15550007009", To: num, Text: strings.Repeat("Grüße à data_sm ", 12), PDU: "data_sm", Encoding: "latin1", Concat: "udh16"}},
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
			// The application acknowledged the callback: the record
			// goes from RECEIVED to ACCEPTED (polled: nothing notifies).
			id := m["id"].(string)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				r, err := e.d.Store.Record(id, 0)
				if err == nil && r.Status == store.StatusAccepted {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("record of %s after the acknowledged callback: %s, %v; want ACCEPTED", id, r.Status, err)
				}
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

// TestInboundPackedGSM7: a carrier sending data_coding 0 packed (8 septets
// in 7 octets, after a UDH with its fill bits) is read right with
// mo_gsm7_packed = true: short, 8-bit UDH (1 fill bit), 16-bit UDH (none)
// and SAR parts, with extension characters. Without the key the same
// message comes out garbled, so the key is what decodes it.
func TestInboundPackedGSM7(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{GSM7Packed: true}, "mo_gsm7_packed = true", daemon.Options{})
	long := strings.Repeat("Packed {septets} € and @ signs ", 12)
	for _, mo := range []smsc.MO{
		{From: "+15550007101", To: num, Text: "Packed short text @ [€]"},
		{From: "+15550007102", To: num, Text: long},
		{From: "+15550007103", To: num, Text: long, Concat: "udh16"},
		{From: "+15550007104", To: num, Text: long, Concat: "sar"},
		{From: "+15550007105", To: num, Text: long, Concat: "payload"},
	} {
		parts, err := e.sim.InjectMO(mo)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := oneEvent(t, e.hooks.next(t))["message"].(map[string]any)
		if m["text"] != mo.Text || m["from"] != mo.From || m["segmentCount"] != float64(parts) {
			t.Fatalf("%s (%s): message %v, want text %q in %d parts", mo.From, mo.Concat, m, mo.Text, parts)
		}
	}

	unpacked := startReceiptEnv(t, smsc.Behaviour{GSM7Packed: true}, "", daemon.Options{})
	if _, err := unpacked.sim.InjectMO(smsc.MO{From: "+15550007106", To: num, Text: "Packed short text"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := oneEvent(t, unpacked.hooks.next(t))["message"].(map[string]any); m["text"] == "Packed short text" {
		t.Fatal("packed text decoded right without mo_gsm7_packed: the test proves nothing")
	}
}

// TestInboundConcatTimeout: a long message whose second part never comes
// waits (its parts stored, no callback) until mo_concat_timeout after its
// first part, then reaches the application with the parts that did arrive;
// an incomplete message survives a restart and is delivered after it. The
// bridge runs on a clock the test moves.
func TestInboundConcatTimeout(t *testing.T) {
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	opts := daemon.Options{Clock: clock, MOSweepInterval: 10 * time.Millisecond}
	e := startReceiptEnv(t, smsc.Behaviour{}, `mo_concat_timeout = "10m"`, opts)
	text := strings.Repeat("Part of a long message that loses its middle. ", 9)
	split := coding.Split(text, coding.GSM7, coding.ModeUDH8)
	if len(split) != 3 {
		t.Fatalf("text splits into %d parts, want 3", len(split))
	}
	waitPending := func(e *receiptEnv, n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err := e.d.Store.MOPartsPending()
			if err != nil {
				t.Fatal(err)
			}
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d inbound parts stored, want %d", got, n)
			}
			time.Sleep(5 * time.Millisecond) // polling the store; nothing notifies a stored part
		}
	}
	check := func(body []byte, from string) {
		t.Helper()
		ev := oneEvent(t, body)
		m, _ := ev["message"].(map[string]any)
		if ev["type"] != "message-received" || ev["description"] != "Incoming message incomplete: parts 1, 3 of 3 arrived (concatenation timeout)" ||
			m["text"] != split[0]+split[2] || m["segmentCount"] != 2.0 || m["from"] != from || m["owner"] != num || len(m["id"].(string)) != 29 {
			t.Fatalf("event %v", ev)
		}
	}

	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007201", To: num, Text: text, SkipParts: []int{2}}); err != nil {
		t.Fatal(err)
	}
	waitPending(e, 2)
	// Just before the timeout nothing happens; a complete message sent
	// meanwhile goes out at once and proves the sender is not stuck.
	ahead.Store(int64(9 * time.Minute)) // a minute of slack for a slow machine
	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007202", To: num, Text: "meanwhile"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := oneEvent(t, e.hooks.next(t))["message"].(map[string]any); m["text"] != "meanwhile" {
		t.Fatalf("first callback %v, want the complete message", m)
	}
	if n, _ := e.d.Store.MOPartsPending(); n != 2 {
		t.Fatalf("%d parts pending before the timeout, want 2", n)
	}
	ahead.Store(int64(10*time.Minute + time.Second))
	check(e.hooks.next(t), "+15550007201")
	waitPending(e, 0)
	// The counter moves after the commit that made the callback, so the
	// callback can be first: poll it.
	for deadline := time.Now().Add(20 * time.Second); e.d.Bridge.InboundStats().Incomplete != 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("incomplete count %d, want 1", e.d.Bridge.InboundStats().Incomplete)
		}
	}

	// Restart with an incomplete message stored: delivered after it.
	ahead.Store(0)
	if _, err := e.sim.InjectMO(smsc.MO{From: "+15550007203", To: num, Text: text, SkipParts: []int{2}}); err != nil {
		t.Fatal(err)
	}
	waitPending(e, 2)
	e.shutdown()
	ahead.Store(int64(11 * time.Minute))
	e2 := startDaemonWith(t, e.sim, configWith(t, e.sim.Addr(), e.dbPath, configOptions{CarrierExtra: `mo_concat_timeout = "10m"`, CallbackURL: e.hooks.srv.URL + "/status"}),
		daemon.Options{Clock: clock, MOSweepInterval: 10 * time.Millisecond, CallbackPollInterval: 20 * time.Millisecond})
	check(e.hooks.next(t), "+15550007203")
	waitPending(&receiptEnv{env: e2, hooks: e.hooks}, 0)
}

// TestInboundSplitCharacters: a sender that cuts a long message at a fixed
// number of septets or octets splits a UCS-2 surrogate pair (an emoji) or a
// GSM-7 escape (€) between two parts; the application still gets the text
// as written, packed or not, by 8-bit and 16-bit UDH and by SAR.
func TestInboundSplitCharacters(t *testing.T) {
	// UDH8 parts hold 67 UCS-2 units and 153 septets: the emoji's pair and
	// the euro's escape straddle the first cut (one unit/septet less for
	// the 7-octet UDH16, which the tail of 'a's also covers).
	emoji := strings.Repeat("a", 66) + "😀 ünïcödé tail"
	euro := strings.Repeat("a", 152) + "€ and {more} after the cut"
	emoji16 := strings.Repeat("a", 65) + "😀 ünïcödé tail"
	euro16 := strings.Repeat("a", 151) + "€ and {more} after the cut"
	for _, packed := range []bool{false, true} {
		conf := ""
		if packed {
			conf = "mo_gsm7_packed = true"
		}
		e := startReceiptEnv(t, smsc.Behaviour{GSM7Packed: packed}, conf, daemon.Options{})
		for i, mo := range []smsc.MO{
			{Text: emoji, Encoding: "ucs2"},
			{Text: euro, Encoding: "gsm7"},
			{Text: emoji16, Encoding: "ucs2", Concat: "udh16"},
			{Text: euro16, Encoding: "gsm7", Concat: "udh16"},
			{Text: emoji, Encoding: "ucs2", Concat: "sar"},
			{Text: euro, Encoding: "gsm7", Concat: "sar"},
		} {
			mo.From, mo.To, mo.SplitAnywhere = "+1555000720"+string(rune('0'+i)), num, true
			parts, err := e.sim.InjectMO(mo)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := oneEvent(t, e.hooks.next(t))["message"].(map[string]any)
			if m["text"] != mo.Text || m["from"] != mo.From || m["segmentCount"] != float64(parts) || parts != 2 {
				t.Fatalf("packed %v, %s %s: got text %q in %v parts, want %q in 2 (sent %d)", packed, mo.Encoding, mo.Concat, m["text"], m["segmentCount"], mo.Text, parts)
			}
		}
	}
}

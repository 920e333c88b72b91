package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestShortCodeTONZero: a carrier configured with short_code_ton = 0 (the
// notes allow TON 3 or 0 for short codes; conf accepts 0 and full.toml shows
// it) gets short-code senders with TON 0, not the library default 3.
func TestShortCodeTONZero(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{
		CarrierExtra: "short_code_ton = 0\nshort_code_npi = 0",
	})
	cfg.Accounts[0].Applications[0].Numbers = append(cfg.Accounts[0].Applications[0].Numbers, "12345")
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	tos, _ := json.Marshal([]string{"+15550007601"})
	e.accepted(e.send(fmt.Sprintf(`{"applicationId":%q,"to":%s,"from":"12345","text":"code 1234"}`, app, tos)))
	m := waitMessages(t, sim, 1)[0]
	if m.From != "12345" || m.SourceTON != 0 || m.SourceNPI != 0 {
		t.Fatalf("arrived from %q TON %d NPI %d, want \"12345\" TON 0 NPI 0 as configured", m.From, m.SourceTON, m.SourceNPI)
	}
}

// TestSubmitPermanentAppError: ESME_RX_P_APPN (0x65), the SMSC
// application's permanent refusal, fails the message with 4750 like its
// sibling 0x66, not 9999 as an unmapped status.
func TestSubmitPermanentAppError(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{Rules: []smsc.Rule{{Dest: "15550007602", SubmitStatus: 0x65}}})
	e := startDaemon(t, sim, "", "")
	id := e.accepted(e.send(msgBody([]string{"+15550007602"}, "refused for good", "")))
	wantRecord(t, e.waitRecord(id, 0), "FAILED", 4750)
	if st := sim.Stats(); st.SubmitSM != 1 {
		t.Fatalf("simulator got %d submits, want 1: a permanent error is not resent", st.SubmitSM)
	}
}

// TestSubmitTransientErrorsResent: 0x08 (system error) and 0x64 (temporary
// application error) are sent again a bounded number of times (twice,
// docs/operations.md), then fail with 5620 destination-app-error; a
// permanent refusal next to them is sent once.
func TestSubmitTransientErrorsResent(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{Rules: []smsc.Rule{
		{Dest: "15550007611", SubmitStatus: 0x08},
		{Dest: "15550007612", SubmitStatus: 0x64},
		{Dest: "15550007613", SubmitStatus: 0x45},
	}})
	e := startDaemon(t, sim, "", "")
	sysErr := e.accepted(e.send(msgBody([]string{"+15550007611"}, "system error", "")))
	appErr := e.accepted(e.send(msgBody([]string{"+15550007612"}, "temporary app error", "")))
	failed := e.accepted(e.send(msgBody([]string{"+15550007613"}, "submit failed", "")))
	wantRecord(t, e.waitRecord(sysErr, 0), "FAILED", 5620)
	wantRecord(t, e.waitRecord(appErr, 0), "FAILED", 5620)
	wantRecord(t, e.waitRecord(failed, 0), "FAILED", 5610)
	if st := sim.Stats(); st.SubmitSM != 3+3+1 || st.Messages != 0 {
		t.Fatalf("simulator: %d submits, %d messages; want 7 (1 + 2 resends for each transient error, 1 for 0x45), 0", st.SubmitSM, st.Messages)
	}
}

// TestInboundToNumberWithTONUnknown: an SMSC that sends the destination
// (the application's own number) with TON 0 "unknown" and NPI 0 or 1,
// international digits without "+", still reaches the application owning
// +<digits>, instead of being acknowledged and dropped as for a number
// nobody owns. The callback names the number as the application knows it.
func TestInboundToNumberWithTONUnknown(t *testing.T) {
	e := startReceiptEnv(t, smsc.Behaviour{}, "", daemon.Options{})
	for i, npi := range []byte{1, 0} {
		ton := byte(0)
		from := fmt.Sprintf("+1555000770%d", i)
		if _, err := e.sim.InjectMO(smsc.MO{From: from, To: num, Text: "ton unknown", ToTON: &ton, ToNPI: &npi}); err != nil {
			t.Fatal(err)
		}
		ev := oneEvent(t, e.hooks.next(t))
		m, _ := ev["message"].(map[string]any)
		if ev["type"] != "message-received" || ev["to"] != num || m["text"] != "ton unknown" || m["from"] != from || m["owner"] != num {
			t.Fatalf("NPI %d: event %v", npi, ev)
		}
	}
}

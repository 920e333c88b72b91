package daemon_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"smppbridge/testharness/smsc"
)

// waitReady polls /readyz until it answers status, and returns the body.
func waitReady(t *testing.T, e *env, status int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + e.d.AdminAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == status {
			return string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz %d %q, want %d", resp.StatusCode, body, status)
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
}

// TestReadinessFollowsBinds: ready once the binds are up; when the SMSC
// drops them and refuses new ones, not ready with the carrier and the
// refusal named; ready again once it accepts binds.
func TestReadinessFollowsBinds(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	e := startDaemon(t, sim, "", "")
	e.waitBinds(2)
	waitReady(t, e, 200)

	b := sim.Behaviour()
	b.RefuseBinds = true
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
	sim.DropBinds("")
	body := waitReady(t, e, 503)
	if !strings.Contains(body, "carrier sim") {
		t.Fatalf("/readyz body %q does not name the carrier", body)
	}
	// The reason becomes the refusal once a bind attempt was refused.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(body, "bind refused: ESME_RBINDFAIL") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz body %q gives no reason", body)
		}
		body = waitReady(t, e, 503)
	}

	b.RefuseBinds = false
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, 200)
}

// TestReadinessNeedsReceivers: a transmitter_receiver carrier whose
// receiver binds are refused can send but would never see its receipts or
// inbound messages: not ready, with the reason; ready once they bind.
func TestReadinessNeedsReceivers(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{RefuseReceivers: true})
	e := startDaemon(t, sim, "", `bind_type = "transmitter_receiver"`+"\n")
	e.waitBinds(2) // the transmitters
	body := waitReady(t, e, 503)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(body, "carrier sim: no receiver bind up: smpp: bind refused: ESME_RBINDFAIL") {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz body %q does not give the receivers' refusal", body)
		}
		body = waitReady(t, e, 503)
	}
	if strings.Contains(body, "carrier sim: no bind up") {
		t.Fatalf("/readyz body %q reports the transmitters down", body)
	}
	b := sim.Behaviour()
	b.RefuseReceivers = false
	if err := sim.SetBehaviour(b); err != nil {
		t.Fatal(err)
	}
	waitReady(t, e, 200)
}

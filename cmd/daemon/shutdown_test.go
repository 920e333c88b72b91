package daemon_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// TestShutdownBoundedByShutdownTimeout: SIGTERM's drain is bounded by
// api.shutdown_timeout, as docs/operations.md and the unit's
// TimeoutStopSec rely on, even when the carrier never answers a submit
// and its response_timeout is longer: the submits still waiting then end
// with their outcome unknown, and the daemon stops.
func TestShutdownBoundedByShutdownTimeout(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{NoResponseRate: 1})
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{
		CarrierExtra: `response_timeout = "120s"` + "\n" + `enquire_link_interval = "120s"`,
		API:          `shutdown_timeout = "1s"`,
	})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(2)
	if r := e.send(msgBody([]string{"+15550006001"}, "never answered", "")); r.status != 202 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	// Submitted: the carrier holds it unanswered.
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := sim.WaitFor(wctx, func() bool { return sim.Stats().NotAnswered >= 1 }); err != nil {
		t.Fatalf("the submit did not reach the simulator: %v", err)
	}

	start := time.Now()
	e.stop()
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("stopped with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("still draining 60 s after the stop with shutdown_timeout = 1s (response_timeout is 120 s)")
	}
	e.stop = nil
	// 1 s of budget; the rest is closing the binds and the store, slow
	// only on a loaded machine.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the stop took %v with shutdown_timeout = 1s", took)
	}
}

// TestShutdownPastBudgetKeepsUnsentParts: a long message whose first part
// went out (never answered) while its second waited for a window slot is
// not cut in two by a stop past its budget: it stays queued and is sent
// whole after the next start (at least once, as after a kill).
func TestShutdownPastBudgetKeepsUnsentParts(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{NoResponseRate: 1})
	dbPath := filepath.Join(t.TempDir(), "bridge.db")
	cfg := configWith(t, sim.Addr(), dbPath, configOptions{
		CarrierExtra: "binds = 1\nwindow = 1\n" + `response_timeout = "120s"` + "\n" + `enquire_link_interval = "120s"`,
		API:          `shutdown_timeout = "1s"`,
	})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	e.waitBinds(1)
	text := strings.Repeat("a long message in two parts ", 8) // 224 GSM-7 characters
	if r := e.send(msgBody([]string{"+15550006002"}, text, "")); r.status != 202 || r.body["segmentCount"] != float64(2) {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := sim.WaitFor(wctx, func() bool { return sim.Stats().NotAnswered >= 1 }); err != nil {
		t.Fatalf("the first part did not reach the simulator: %v", err)
	}
	e.shutdown()

	st, err := store.Open(dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := st.QueueLen()
	st.Close()
	if q != 1 {
		t.Fatalf("%d copies queued after the stop; want the long message's 1 (its second part was never sent)", q)
	}

	if err := sim.SetBehaviour(smsc.Behaviour{}); err != nil {
		t.Fatal(err)
	}
	e2 := startDaemonWith(t, sim, cfg, daemon.Options{})
	e2.waitBinds(1)
	deadline := time.Now().Add(30 * time.Second)
	for {
		whole := false
		for _, m := range sim.Messages() {
			whole = whole || (m.Text == text && m.Segments == 2)
		}
		if whole {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the long message did not arrive whole after the restart: %+v", sim.Messages())
		}
		time.Sleep(20 * time.Millisecond) // polling, bounded by the deadline
	}
}

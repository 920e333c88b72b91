package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/bridge"
	"smppbridge/cmd/daemon"
	"smppbridge/testharness/smsc"
)

// TestDeadLetters: a callback whose endpoint failed for the whole retry
// period is dead-lettered; the admin API lists it without its body,
// requeues it once the endpoint works (delivered with the same body).
func TestDeadLetters(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	sim := startSim(t, smsc.Behaviour{})
	h := newHookReceiver(t)
	h.failFirst.Store(1 << 30)
	cfg := configWith(t, sim.Addr(), filepath.Join(t.TempDir(), "bridge.db"), configOptions{CallbackURL: h.srv.URL + "/status"})
	cfg.Admin.Username, cfg.Admin.PasswordHash = adminUser, fastHash(t, adminPass)
	e := startDaemonWith(t, sim, cfg, daemon.Options{CallbackClock: clock, CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)

	id := e.accepted(e.send(msgBody([]string{"+15550008701"}, "dead letter", "")))
	first := <-h.bodies
	list := func() []bridge.DeadCallback {
		t.Helper()
		r := e.mustAdmin(200, "GET", "/v1/callbacks/dead", nil)
		var out []bridge.DeadCallback
		if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
			t.Fatalf("dead letters %s: %v", r.raw, err)
		}
		return out
	}
	// Past the 24 h retry period on the callback clock: the next failure
	// dead-letters it.
	deadline := time.Now().Add(30 * time.Second)
	var dead []bridge.DeadCallback
	for len(dead) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("callback not dead-lettered after 30 s of clock moves")
		}
		offset.Add(int64(2 * time.Hour))
		e.d.Webhooks.Notify()
		select {
		case <-h.bodies:
		case <-time.After(50 * time.Millisecond):
		}
		dead = list()
	}
	d := dead[0]
	if len(dead) != 1 || d.Kind != "status" || d.URL != h.srv.URL+"/status" || d.Events != 1 || d.Attempts < 2 ||
		d.LastError == "" || d.ApplicationID != app {
		t.Fatalf("dead letters %+v", dead)
	}
	e.mustAdmin(400, "POST", "/v1/callbacks/dead/x/retry", nil)
	e.mustAdmin(404, "POST", fmt.Sprintf("/v1/callbacks/dead/%d/retry", d.ID+1000), nil)

	// The endpoint works again: requeued, delivered with the same body.
	h.failFirst.Store(0)
	for len(h.bodies) > 0 {
		<-h.bodies
	}
	e.mustAdmin(200, "POST", fmt.Sprintf("/v1/callbacks/dead/%d/retry", d.ID), nil)
	select {
	case again := <-h.bodies:
		if string(again) != string(first) {
			t.Fatalf("requeued body differs:\n%s\n%s", first, again)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("requeued callback not delivered")
	}
	if left := list(); len(left) != 0 {
		t.Fatalf("dead letters after requeue: %+v", left)
	}
	wantRecord(t, e.waitRecord(id, 0), "DELIVERED", 0)
}

package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/store"
	"smppbridge/testharness/smsc"
)

// bindRemotes lists the simulator's connections of one system_id: the
// same list before and after means no bind was dropped or reconnected.
func bindRemotes(sim *smsc.Server, systemID string) []string {
	var out []string
	for _, b := range sim.Binds() {
		if b.SystemID == systemID {
			out = append(out, b.Remote)
		}
	}
	slices.Sort(out)
	return out
}

func waitFor(t *testing.T, sim *smsc.Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func poolRate(d *daemon.Daemon, name string) (float64, bool) {
	for _, p := range d.CurrentPools() {
		if p.Name() == name {
			return p.Stats().Rate, true
		}
	}
	return 0, false
}

// TestReloadCarriers: a reload changes one carrier's rate and routes live
// without touching any bind, adds a carrier (it binds and takes its route)
// and removes another (it unbinds); an invalid one changes nothing.
func TestReloadCarriers(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	db := filepath.Join(t.TempDir(), "bridge.db")
	mk := func(o configOptions) *conf.Config { return configWith(t, sim.Addr(), db, o) }
	before := configOptions{Carriers: []carrierSpec{{Name: "gone", Addr: sim.Addr(), Extra: `system_id = "gone"` + "\nroutes = [\"+44\"]"}}}
	e := startDaemonWith(t, sim, mk(before), daemon.Options{})
	waitFor(t, sim, "binds of sim and gone", func() bool {
		return len(bindRemotes(sim, "bridge")) == 2 && len(bindRemotes(sim, "gone")) == 1
	})
	simBinds := bindRemotes(sim, "bridge")
	bindsBefore := sim.Stats().Binds
	if rate, _ := poolRate(e.d, "sim"); rate != 1000 {
		t.Fatalf("rate before reload %v", rate)
	}
	if r := e.send(msgBody([]string{"+33123456789"}, "no route yet", "")); r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}

	after := configOptions{
		CarrierExtra: "segments_per_second = 250\nroutes = [\"+1\", \"+33\"]",
		Carriers:     []carrierSpec{{Name: "added", Addr: sim.Addr(), Extra: `system_id = "added"` + "\nroutes = [\"+49\"]"}},
	}
	if err := e.d.Reload(mk(after)); err != nil {
		t.Fatal(err)
	}
	if rate, _ := poolRate(e.d, "sim"); rate != 250 {
		t.Fatalf("rate after reload %v, want 250", rate)
	}
	for _, q := range e.d.Bridge.Queues() {
		if q.Carrier == "sim" && q.Capacity != 250*900 {
			t.Fatalf("queue capacity %d, want %d", q.Capacity, 250*900)
		}
	}
	if _, ok := poolRate(e.d, "gone"); ok {
		t.Fatal("removed carrier still has a pool")
	}
	waitFor(t, sim, "added binds, removed unbinds", func() bool {
		return len(bindRemotes(sim, "added")) == 1 && len(bindRemotes(sim, "gone")) == 0
	})
	if got := bindRemotes(sim, "bridge"); !slices.Equal(got, simBinds) {
		t.Fatalf("binds of the unchanged carrier changed: %v, were %v", got, simBinds)
	}
	if got := sim.Stats().Binds; got != bindsBefore+1 {
		t.Fatalf("binds made %d, want %d (only the added carrier's)", got, bindsBefore+1)
	}

	// The new routes carry traffic: +33 through sim, +49 through added.
	for _, to := range []string{"+33123456780", "+4915112345678"} {
		if r := e.send(msgBody([]string{to}, "after reload", "")); r.status != 202 {
			t.Fatalf("to %s: status %d: %s", to, r.status, r.raw)
		}
	}
	waitFor(t, sim, "messages on the new routes", func() bool {
		return sim.Stats().Accounts["bridge"].Messages >= 1 && sim.Stats().Accounts["added"].Messages >= 1
	})

	// Invalid: a carrier CA file that does not exist. Refused, nothing changes.
	bad := after
	bad.CarrierExtra = "segments_per_second = 10\nroutes = [\"+1\", \"+33\"]\ntls = true\ntls_ca_file = \"/nonexistent/ca.pem\""
	badCfg := mk(bad)
	if err := e.d.Reload(badCfg); err == nil {
		t.Fatal("reload with a missing CA file accepted")
	}
	if rate, _ := poolRate(e.d, "sim"); rate != 250 {
		t.Fatalf("rate after refused reload %v, want 250", rate)
	}
	if got := bindRemotes(sim, "bridge"); !slices.Equal(got, simBinds) {
		t.Fatalf("binds changed by a refused reload: %v, were %v", got, simBinds)
	}
}

// TestReloadUnderTraffic: carriers replaced by reloads (a changed window
// reconnects them) while messages are being accepted: every accepted
// message reaches the SMSC exactly once.
func TestReloadUnderTraffic(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	db := filepath.Join(t.TempDir(), "bridge.db")
	mk := func(window int) *conf.Config {
		return configWith(t, sim.Addr(), db, configOptions{CarrierExtra: fmt.Sprintf("window = %d\nsegments_per_second = 200", window)})
	}
	e := startDaemonWith(t, sim, mk(20), daemon.Options{})
	e.waitBinds(2)

	const senders, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := e.tryPost(acct, user, pass, "application/json", msgBody([]string{fmt.Sprintf("+1555%03d%04d", s, i)}, "reload traffic", ""))
				if err == nil && r.status != 202 {
					err = fmt.Errorf("status %d: %s", r.status, r.raw)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	// Reload while messages wait in the queue, so there is something to hand over.
	deadline := time.Now().Add(20 * time.Second)
	for e.d.Bridge.Queues()[0].Segments == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing ever queued")
		}
		time.Sleep(time.Millisecond) // polling, bounded by the deadline
	}
	for _, w := range []int{5, 30, 7} {
		if err := e.d.Reload(mk(w)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs := waitMessages(t, sim, senders*each)
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.To]++
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s arrived %d times", to, n)
		}
	}
	if len(seen) != senders*each {
		t.Fatalf("%d distinct recipients arrived, want %d", len(seen), senders*each)
	}
}

// TestReloadAccounts: a reload applies the file's accounts as the
// directory's bootstrap: a credential added to the file works at once, and
// one removed from it is refused at once.
func TestReloadAccounts(t *testing.T) {
	sim := startSim(t, smsc.Behaviour{})
	db := filepath.Join(t.TempDir(), "bridge.db")
	cfg := configWith(t, sim.Addr(), db, configOptions{})
	e := startDaemonWith(t, sim, cfg, daemon.Options{})
	body := msgBody([]string{"+15550002222"}, "reloaded", "")
	if r := e.post(acct, "ops", "second-secret", "application/json", body); r.status != 401 {
		t.Fatalf("unknown credential: status %d: %s", r.status, r.raw)
	}

	next := configWith(t, sim.Addr(), db, configOptions{})
	next.Accounts[0].Credentials = []conf.Credential{{Username: "ops", PasswordHash: fastHash(t, "second-secret")}}
	if err := e.d.Reload(next); err != nil {
		t.Fatal(err)
	}
	if r := e.post(acct, "ops", "second-secret", "application/json", body); r.status != 202 {
		t.Fatalf("credential added by reload: status %d: %s", r.status, r.raw)
	}
	if r := e.send(body); r.status != 401 {
		t.Fatalf("credential removed by reload still accepted: status %d: %s", r.status, r.raw)
	}
}

// TestReloadWarnsRestartOnlySections: a reload that changes a section it
// does not apply says so, per section, instead of dropping the change in
// silence ([policy] included).
func TestReloadWarnsRestartOnlySections(t *testing.T) {
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	sim := startSim(t, smsc.Behaviour{})
	dbPath := filepath.Join(t.TempDir(), "bridge.db")
	e := startDaemonWith(t, sim, testConfig(t, sim.Addr(), dbPath, ""), daemon.Options{Logger: log})
	next := testConfig(t, sim.Addr(), dbPath, "")
	next.Policy.EmergencyNumbers = []string{"911", "5555"}
	next.API.GroupLimit = 5
	if err := e.d.Reload(next); err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, rec := range logs.lines(t, "reload: settings changed that take effect at the next start") {
		sections[fmt.Sprint(rec["section"])] = true
	}
	if !sections["policy"] || !sections["api"] || len(sections) != 2 {
		t.Fatalf("warned about %v, want policy and api", sections)
	}
}

// TestReloadBoundedWhileCarrierSilent: a reload that reconnects a carrier
// whose submits are never answered (response_timeout 60 s) returns within
// api.shutdown_timeout, not after the response timeout; and a stop that
// arrives during a reload with a long budget cuts the reload short, so the
// stop is not held up by it either. The cut-off copies stay SENT with
// their outcome unknown, never sent again.
func TestReloadBoundedWhileCarrierSilent(t *testing.T) {
	for _, c := range []struct {
		name, budget string
		stop         bool
	}{
		{"reload within its budget", "500ms", false},
		{"stop during a reload", "60s", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim := startSim(t, smsc.Behaviour{NoResponseRate: 1})
			db := filepath.Join(t.TempDir(), "bridge.db")
			mk := func(extra string) *conf.Config {
				return configWith(t, sim.Addr(), db, configOptions{API: `shutdown_timeout = "` + c.budget + `"`,
					CarrierExtra: "response_timeout = \"60s\"" + extra})
			}
			e := startDaemonWith(t, sim, mk(""), daemon.Options{})
			e.waitBinds(2)
			ids := make([]string, 3)
			for i := range ids {
				ids[i] = e.accepted(e.send(msgBody([]string{fmt.Sprintf("+155500091%02d", i)}, "never answered", "")))
			}
			waitFor(t, sim, "submits at the carrier", func() bool { return sim.Stats().NotAnswered >= int64(len(ids)) })

			// A changed window reconnects the carrier: its old pool retires
			// with three submits unanswered.
			reloaded := make(chan error, 1)
			start := time.Now()
			go func() { reloaded <- e.d.Reload(mk("\nwindow = 7")) }()
			stopped := make(chan struct{})
			if c.stop {
				waitFor(t, sim, "the new pool's binds", func() bool { return sim.Stats().Binds >= 4 })
				go func() { defer close(stopped); e.shutdown() }()
			}
			deadline := time.After(20 * time.Second)
			select {
			case err := <-reloaded:
				if err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				t.Fatalf("reload still waiting after 20 s (response_timeout 60 s, shutdown_timeout %s)", c.budget)
			}
			t.Logf("reload returned after %v", time.Since(start).Round(time.Millisecond))
			if c.stop {
				select {
				case <-stopped:
				case <-deadline:
					t.Fatal("the stop still waiting after 20 s")
				}
			} else {
				e.shutdown()
			}
			st, err := store.Open(db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, id := range ids {
				if r, err := st.Record(id, 0); err != nil || r.Status != "SENT" || r.Unknown != 1 {
					t.Fatalf("record %s after the cut-off: %+v (%v), want SENT with its outcome unknown", id, r, err)
				}
			}
			if n := sim.Stats().SubmitSM; n != int64(len(ids)) {
				t.Fatalf("the carrier got %d submits, want %d: cut-off copies were sent again", n, len(ids))
			}
		})
	}
}

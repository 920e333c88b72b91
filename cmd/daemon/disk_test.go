//go:build linux

package daemon_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"smppbridge/cmd/daemon"
	"smppbridge/conf"
	"smppbridge/testharness/smsc"
)

// TestDiskFull runs the store on a small tmpfs that the test fills up
// (issue 8). While the disk is full a send is answered 500 "not accepted"
// (the V2 shape of 5220 temporary-store-error) or, where bbolt still has
// room in its file, 202; everything answered 202 is delivered; when space
// returns the daemon accepts again without a restart, and after one nothing
// accepted is missing. Needs root (mount); skipped otherwise.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) // after the daemon's shutdown (cleanups run last first)

	sim := startSim(t, smsc.Behaviour{})
	dbPath := filepath.Join(dir, "bridge.db")
	hooks := newHookReceiver(t)
	cfg := func() *conf.Config {
		return configWith(t, sim.Addr(), dbPath, configOptions{CallbackURL: hooks.srv.URL + "/status"})
	}
	e := startDaemonWith(t, sim, cfg(), daemon.Options{CallbackPollInterval: 20 * time.Millisecond})
	e.waitBinds(2)

	var accepted []string // destinations of 202s
	var ids []string      // their message ids
	refused := map[string]bool{}
	send := func(to string) int {
		r, err := e.tryPost(acct, user, pass, "application/json", msgBody([]string{to}, "disk "+to, ""))
		if err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
		switch {
		case r.status == 202:
			accepted = append(accepted, strings.TrimPrefix(to, "+"))
			ids = append(ids, r.body["id"].(string))
		case r.status == 500 && r.body["type"] == "internal-server-error" && strings.Contains(fmt.Sprint(r.body["description"]), "not accepted"):
			refused[strings.TrimPrefix(to, "+")] = true
		default:
			t.Fatalf("send to %s: %d %s, want 202 or 500 not accepted", to, r.status, r.raw)
		}
		return r.status
	}
	for i := range 20 {
		if s := send(fmt.Sprintf("+1555720%04d", i)); s != 202 {
			t.Fatalf("before the disk is full: %d", s)
		}
	}
	waitMessages(t, sim, 20)

	// Fill the filesystem.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
		if i > 1000 {
			t.Fatal("a 4 MB tmpfs took 64 MB")
		}
	}
	f.Close()
	full := 0
	for i := range 200 {
		if send(fmt.Sprintf("+1555721%04d", i)) == 500 {
			full++
		}
		if full >= 10 {
			break
		}
	}
	if full == 0 {
		t.Fatal("no send failed on a full disk")
	}
	// Readiness says so: a load balancer stops sending here.
	if status, body := readyz(t, e); status != 503 || !strings.Contains(body, "store: the latest commit failed") {
		t.Fatalf("/readyz on a full disk: %d %q, want 503 naming the store", status, body)
	}
	t.Logf("disk full: %d sends refused with 500, %d accepted in total so far", full, len(accepted))
	// Inbound messages while the disk is full: a part is acknowledged once
	// stored (bbolt may still have room in its file) or answered with an
	// error, so the carrier keeps it and sends it again later.
	inbound := []smsc.MO{
		{From: "+15557300001", To: num, Text: "inbound on a full disk"},
		{From: "+15557300002", To: num, Text: strings.Repeat("a long inbound message on a full disk ", 8)},
	}
	for _, mo := range inbound {
		if _, err := sim.InjectMO(mo); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.WaitFor(ctx, func() bool { st := sim.Stats(); return st.MOAcked+st.MONacked >= 3 }); err != nil {
		t.Fatalf("inbound parts neither acknowledged nor refused: %+v", sim.Stats().Counters)
	}
	t.Logf("inbound parts on the full disk: %d acknowledged, %d refused", sim.Stats().MOAcked, sim.Stats().MONacked)

	// Space returns: accepted again, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if s := send(fmt.Sprintf("+1555722%04d", i)); s != 202 {
			t.Fatalf("after space returned, send %d: %d", i, s)
		}
	}
	if status, body := readyz(t, e); status != 200 {
		t.Fatalf("/readyz after space returned and sends were stored: %d %q", status, body)
	}

	// Without a restart: outcomes and receipts that could not be written
	// while the disk was full are written now, so every accepted copy ends
	// in its callback.
	re := &receiptEnv{env: e, hooks: hooks}
	re.outcomes(ids, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for _, mo := range inbound {
		for !hasInbound(t, hooks, mo.Text) {
			if time.Now().After(deadline) {
				t.Fatalf("no message-received callback for %q after space returned", mo.Text)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// And after a restart every accepted copy has reached the carrier, and
	// none of the refused ones.
	e.shutdown()
	e = startDaemonWith(t, sim, cfg(), daemon.Options{})
	deadline = time.Now().Add(30 * time.Second)
	for {
		got := arrivals(sim)
		missing := 0
		for _, to := range accepted {
			if got[to] == 0 {
				missing++
			}
		}
		if missing == 0 {
			for to := range refused {
				if got[to] > 0 {
					t.Errorf("%s was refused but reached the carrier", to)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted messages never reached the carrier", missing, len(accepted))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyz is the admin listener's /readyz answer (embedded admin: no credentials).
func readyz(t *testing.T, e *env) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + e.d.AdminAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// hasInbound: a message-received callback carrying text arrived.
func hasInbound(t *testing.T, h *hookReceiver, text string) bool {
	for _, body := range h.delivered() {
		var evs []struct {
			Type    string
			Message struct{ Text string }
		}
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Fatalf("callback body: %v", err)
		}
		for _, ev := range evs {
			if ev.Type == "message-received" && ev.Message.Text == text {
				return true
			}
		}
	}
	return false
}

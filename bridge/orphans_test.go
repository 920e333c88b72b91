package bridge

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/store"
)

// expirePasses records the expiry passes of a bridge (expirePassed).
type expirePasses struct {
	mu     sync.Mutex
	passes []expirePass
}

type expirePass struct {
	carrier string
	wait    time.Duration
}

func (p *expirePasses) add(carrier string, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passes = append(p.passes, expirePass{carrier, wait})
}

// since returns the passes recorded from index i on, and the next index.
func (p *expirePasses) since(i int) ([]expirePass, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.passes[i:]), len(p.passes)
}

func orphanTestBridge(t *testing.T, st *store.Store, carriers []Carrier, removedWait time.Duration, now func() time.Time, passes *expirePasses) *Bridge {
	t.Helper()
	b, err := New(Options{Store: st, Carriers: carriers, CheckPassword: func(string, string) bool { return true },
		Accounts: []Account{{ID: "1", Applications: []Application{{ID: "app", CallbackURL: "http://127.0.0.1:9/cb",
			Numbers: []Number{{Number: "+15550001111"}}}}}},
		RemovedCarrierReceiptWait: removedWait, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if passes != nil {
		b.expirePassed = passes.add
	}
	b.Start()
	return b
}

func closeBridge(t *testing.T, b *Bridge) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitRecord polls the store until the copy's record satisfies cond.
func waitRecord(t *testing.T, st *store.Store, id, what string, cond func(store.Record) bool) store.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := st.Record(id, 0)
		if err == nil && cond(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: record %+v (%v)", what, rec, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOrphanExpiryAfterRestart: a copy sent through a carrier that is gone
// after a restart still ends with 9902, after RemovedCarrierReceiptWait
// (an orphan expiry); a reload that adds the carrier again stops that
// expiry, and the carrier's own queue ends the copy after its own wait;
// a reload that removes it again starts one with that wait.
func TestOrphanExpiryAfterRestart(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "bridge.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sim := func() Carrier {
		return Carrier{Name: "sim", Sender: &okSender{to: make(chan string, 10)}, Routes: []string{"+1"}, Workers: 1}
	}
	gone := func(wait time.Duration) Carrier {
		return Carrier{Name: "gone", Sender: &okSender{to: make(chan string, 10)}, Routes: []string{"+44"}, Workers: 1,
			RegisteredDelivery: 1, ReceiptWait: wait}
	}

	// Sent through "gone", which never sends a receipt.
	b1 := orphanTestBridge(t, st, []Carrier{sim(), gone(2 * time.Hour)}, 0, nil, nil)
	id := sendTo(t, b1, "+442071234567")
	sent := waitRecord(t, st, id, "sent", func(r store.Record) bool { return r.Status == "SENT" })
	closeBridge(t, b1)

	// Restarted without "gone". The clock stands at the copy's send time
	// until the test moves it: the orphan expiry runs (its passes are
	// seen) but cannot end the copy yet.
	var clock atomic.Int64
	clock.Store(sent.SentAt.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	passes := &expirePasses{}
	const orphanWait, ownWait = 40 * time.Millisecond, 400 * time.Millisecond
	b2 := orphanTestBridge(t, st, []Carrier{sim()}, orphanWait, now, passes)
	defer closeBridge(t, b2)
	waitPasses(t, passes, 0, expirePass{"gone", orphanWait}, 1)
	if rec, _ := st.Record(id, 0); rec.Status != "SENT" {
		t.Fatalf("ended before its wait: %+v", rec)
	}

	// A reload adds "gone" again with a longer wait: the orphan expiry
	// stops before SetCarriers returns, and no pass with its wait follows.
	if err := b2.SetCarriers([]Carrier{sim(), gone(ownWait)}); err != nil {
		t.Fatal(err)
	}
	_, mark := passes.since(0)
	clock.Store(sent.SentAt.Add(ownWait / 2).UnixNano()) // past the orphan's wait, within the carrier's
	waitPasses(t, passes, mark, expirePass{"gone", ownWait}, 2)
	got, _ := passes.since(mark)
	if slices.Contains(got, expirePass{"gone", orphanWait}) {
		t.Fatalf("the orphan expiry still runs after the carrier came back: %v", got)
	}
	if rec, _ := st.Record(id, 0); rec.Status != "SENT" {
		t.Fatalf("ended by the removed carrier's wait although the carrier is back: %+v", rec)
	}

	// Past the carrier's own wait its queue ends the copy, with a callback.
	clock.Store(sent.SentAt.Add(2 * ownWait).UnixNano())
	rec := waitRecord(t, st, id, "expired", func(r store.Record) bool { return r.Status != "SENT" })
	if rec.Status != "FAILED" || rec.ErrorCode != 9902 {
		t.Fatalf("record %+v, want FAILED 9902", rec)
	}
	if c, err := st.CallbackStats(); err != nil || c.Pending() != 1 {
		t.Fatalf("callback jobs %+v %v, want 1", c, err)
	}

	// Removed by a reload: an orphan expiry with the carrier's own wait.
	if err := b2.SetCarriers([]Carrier{sim()}); err != nil {
		t.Fatal(err)
	}
	_, mark = passes.since(0)
	waitPasses(t, passes, mark, expirePass{"gone", ownWait}, 1)
	b2.carrierMu.Lock()
	running := b2.orphans["gone"] != nil
	b2.carrierMu.Unlock()
	if !running {
		t.Fatal("no orphan expiry for the carrier the reload removed")
	}
}

// waitPasses waits until passes recorded from index from on include n
// passes like want.
func waitPasses(t *testing.T, passes *expirePasses, from int, want expirePass, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := passes.since(from)
		c := 0
		for _, p := range got {
			if p == want {
				c++
			}
		}
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d passes %+v, want %d; all: %v", c, want, n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNoReceiptCarrierHasNoOrphans: a copy sent through a carrier that asks
// for no receipts (bind_type transmitter) waits for none, so a restart
// finds nothing waiting and starts no orphan expiry that would end it
// with 9902; it stays SENT, as documented.
func TestNoReceiptCarrierHasNoOrphans(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "bridge.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx := func() Carrier {
		return Carrier{Name: "tx", Sender: &okSender{to: make(chan string, 10)}, Routes: []string{"+"}, Workers: 1}
	}
	b1 := orphanTestBridge(t, st, []Carrier{tx()}, 0, nil, nil)
	id := sendTo(t, b1, "+15550002222")
	waitRecord(t, st, id, "sent", func(r store.Record) bool { return r.Status == "SENT" })
	closeBridge(t, b1)
	if names, err := st.AwaitingCarriers(); err != nil || len(names) != 0 {
		t.Fatalf("carriers with copies waiting for receipts: %v (%v), want none", names, err)
	}

	b2 := orphanTestBridge(t, st, []Carrier{tx()}, time.Millisecond, nil, nil)
	defer closeBridge(t, b2)
	b2.carrierMu.Lock()
	n := len(b2.orphans)
	b2.carrierMu.Unlock()
	if n != 0 {
		t.Fatalf("%d orphan expiries started for a carrier that asks for no receipts", n)
	}
}

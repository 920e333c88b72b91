package bridge

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"smppbridge/dlrmap"
	"smppbridge/store"
)

// fakeReceipts is a ReceiptStore that counts what the bridge asks of it.
type fakeReceipts struct {
	mu      sync.Mutex
	applied []store.Receipt
	asked   int  // KnowsCarrierID calls
	knows   bool // what KnowsCarrierID answers
}

func (f *fakeReceipts) ApplyReceipt(r store.Receipt) (store.ReceiptResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, r)
	return store.ReceiptResult{Matched: f.knows}, nil
}
func (f *fakeReceipts) SetReceiptHooks(store.ReceiptHooks) {}
func (f *fakeReceipts) ExpireReceipts(string, time.Time, time.Time, int) (int, bool, error) {
	return 0, false, nil
}
func (f *fakeReceipts) ExpirePendingReceipts(string, time.Time, int) (int, bool, error) {
	return 0, false, nil
}
func (f *fakeReceipts) AwaitingCarriers() ([]string, error) { return nil, nil }
func (f *fakeReceipts) ApplyLateSubmit(store.LateSubmit) (store.LateSubmitResult, error) {
	return store.LateSubmitResult{}, nil
}
func (f *fakeReceipts) KnowsCarrierID(string, []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	return f.knows, nil
}

func (f *fakeReceipts) counts() (applied, asked int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied), f.asked
}

type applyResult struct {
	matched, waited bool
	err             error
}

// applyReceipt is what handleInbound does with a terminal receipt, with
// an inbound worker's timer (armed for its idle wait, as there) or nil.
func applyReceipt(ctx context.Context, o *outcomeIDs, rs ReceiptStore, r store.Receipt, timer *time.Timer) applyResult {
	handled, matched, waited, err := o.apply(ctx, rs, &r, timer)
	if !handled {
		var rr store.ReceiptResult
		rr, err = rs.ApplyReceipt(r)
		matched = rr.Matched
	}
	return applyResult{matched, waited, err}
}

func applyAsync(o *outcomeIDs, rs ReceiptStore, r store.Receipt) <-chan applyResult {
	ch := make(chan applyResult, 1)
	go func() { ch <- applyReceipt(context.Background(), o, rs, r, time.NewTimer(time.Hour)) }()
	return ch
}

// waitFor polls cond under o.mu (the receipt goroutine's progress is only
// visible there).
func waitFor(t *testing.T, o *outcomeIDs, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o.mu.Lock()
		ok := cond()
		o.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10s", what)
		}
		time.Sleep(time.Millisecond) // polling another goroutine's progress
	}
}

func resultOf(t *testing.T, ch <-chan applyResult) applyResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("receipt not applied within 10s")
		return applyResult{}
	}
}

func sentOutcome(seq uint64, ids ...string) store.Completion {
	return store.Completion{Seq: seq, Record: store.Record{MessageID: "m", Carrier: "sim", Status: "SENT", CarrierIDs: ids}}
}

func delivered(id string) store.Receipt {
	return store.Receipt{Carrier: "sim", Candidates: dlrmap.Candidates(id, dlrmap.IDAuto), Outcome: int(dlrmap.Delivered)}
}

// TestReceiptRidesAlong: a receipt for an outcome not yet written goes
// into that outcome's write (id forms normalised on both sides), takes
// its result from it and is not written on its own; the outcome's ids are
// forgotten once written.
func TestReceiptRidesAlong(t *testing.T) {
	o, f := newOutcomeIDs(), &fakeReceipts{}
	c := sentOutcome(1, "00AB12")
	o.add(&c)
	got := applyAsync(o, f, delivered("ab12"))
	waitFor(t, o, "receipt riding along", func() bool {
		s := o.findLocked("sim", []string{"ab12"})
		return s != nil && len(s.receipts) == 1
	})
	batch := []store.Completion{c}
	o.take(batch)
	if len(batch[0].Receipts) != 1 || batch[0].Receipts[0].Candidates[0] != "ab12" {
		t.Fatalf("outcome carries receipts %+v", batch[0].Receipts)
	}
	batch[0].ReceiptResults = []store.ReceiptResult{{Matched: true, Terminal: true}} // as store.Complete does
	o.written(batch, true)
	r := resultOf(t, got)
	if r.err != nil || !r.waited || !r.matched {
		t.Fatalf("result %+v", r)
	}
	if applied, _ := f.counts(); applied != 0 {
		t.Fatalf("receipt also written on its own (%d)", applied)
	}
	o.mu.Lock()
	left := len(o.ids)
	o.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d ids still held after the write", left)
	}
}

// TestReceiptRideAlongFallback: when the outcome write is given up, or the
// store did not apply the receipts it carried, the receipt is written on
// its own.
func TestReceiptRideAlongFallback(t *testing.T) {
	for _, c := range []struct {
		name    string
		ok      bool
		results bool
	}{{"write given up", false, false}, {"store ignores receipts", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			o, f := newOutcomeIDs(), &fakeReceipts{}
			out := sentOutcome(7, "4711")
			o.add(&out)
			got := applyAsync(o, f, delivered("4711"))
			waitFor(t, o, "receipt riding along", func() bool {
				s := o.findLocked("sim", []string{"4711"})
				return s != nil && len(s.receipts) == 1
			})
			batch := []store.Completion{out}
			o.take(batch)
			o.written(batch, c.ok)
			r := resultOf(t, got)
			if applied, _ := f.counts(); applied != 1 || r.err != nil || !r.waited {
				t.Fatalf("written on its own %d times; result %+v", applied, r)
			}
		})
	}
}

// finishedReceipt records how written finished a receipt that rode along
// without a waiter.
type finishedReceipt struct {
	mu                sync.Mutex
	calls             int
	r                 store.Receipt
	matched, fallback bool
}

func (f *finishedReceipt) finish(r store.Receipt, matched, fallback bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.r, f.matched, f.fallback = r, matched, fallback
}

// TestReceiptRidesAlongAsync: a receipt handed over without a waiter
// (rideAsync) goes into its outcome's write and is finished once, after
// the write, with the store's result; when the write is given up or did
// not apply it, it is finished as a fallback (to be written on its own).
// An outcome already being written takes no such receipt.
func TestReceiptRidesAlongAsync(t *testing.T) {
	for _, c := range []struct {
		name         string
		ok, results  bool
		wantFallback bool
	}{{"written", true, true, false}, {"write given up", false, false, true}, {"store ignores receipts", true, false, true}} {
		t.Run(c.name, func(t *testing.T) {
			o := newOutcomeIDs()
			out := sentOutcome(5, "00CD34")
			o.add(&out)
			f := &finishedReceipt{}
			if !o.rideAsync(ptr(delivered("cd34")), f) {
				t.Fatal("receipt did not ride along")
			}
			batch := []store.Completion{out}
			o.take(batch)
			if len(batch[0].Receipts) != 1 || batch[0].Receipts[0].Candidates[0] != "cd34" {
				t.Fatalf("outcome carries receipts %+v", batch[0].Receipts)
			}
			if f.calls != 0 {
				t.Fatal("receipt finished before its outcome's write")
			}
			if c.results {
				batch[0].ReceiptResults = []store.ReceiptResult{{Matched: true, Terminal: true}}
			}
			o.written(batch, c.ok)
			if f.calls != 1 || f.fallback != c.wantFallback || f.matched == c.wantFallback || f.r.Candidates[0] != "cd34" {
				t.Fatalf("finished %d times: matched %v fallback %v (receipt %+v)", f.calls, f.matched, f.fallback, f.r)
			}
			if o.rideAsync(ptr(delivered("cd34")), &finishedReceipt{}) {
				t.Fatal("receipt rode along with an outcome already written")
			}
		})
	}
	o := newOutcomeIDs()
	out := sentOutcome(6, "beef")
	o.add(&out)
	o.take([]store.Completion{out})
	if o.rideAsync(ptr(delivered("beef")), &finishedReceipt{}) {
		t.Fatal("receipt rode along with an outcome already being written")
	}
}

func ptr[T any](v T) *T { return &v }

// TestReceiptWaitsForOutcomeBeingWritten: a receipt that comes while its
// outcome is being written waits for that commit, then is written on its
// own (and finds its record).
func TestReceiptWaitsForOutcomeBeingWritten(t *testing.T) {
	o, f := newOutcomeIDs(), &fakeReceipts{}
	c := sentOutcome(3, "beef")
	o.add(&c)
	batch := []store.Completion{c}
	o.take(batch)
	got := applyAsync(o, f, delivered("BEEF"))
	// It must wait for the outcome commit, not be written before it.
	waitFor(t, o, "receipt waiting for the commit", func() bool { return o.commitWaiters.Load() == 1 })
	select {
	case r := <-got:
		t.Fatalf("receipt written before its outcome's commit: %+v", r)
	default:
	}
	if len(batch[0].Receipts) != 0 {
		t.Fatalf("receipt rode along with an outcome already being written")
	}
	o.written(batch, true)
	r := resultOf(t, got)
	if applied, _ := f.counts(); applied != 1 || !r.waited || r.err != nil {
		t.Fatalf("written %d times; result %+v", applied, r)
	}
}

// TestReceiptForUnknownID: a receipt whose id the store knows goes
// straight to it; one whose id nobody knows waits for an outcome carrying
// it (and rides along); one whose id never comes is written on its own
// after receiptIDWait, and the carrier's next such receipt does not wait
// (after two timed-out waits in a row, the next three).
func TestReceiptForUnknownID(t *testing.T) {
	o := newOutcomeIDs()
	worker := time.NewTimer(inboundIdle) // one timer for all its receipts, as an inbound worker's
	defer worker.Stop()
	known := &fakeReceipts{knows: true}
	r := applyReceipt(context.Background(), o, known, delivered("1234"), worker)
	if applied, _ := known.counts(); r.err != nil || r.waited || !r.matched || applied != 1 {
		t.Fatalf("known id: written %d times, %+v", applied, r)
	}

	f := &fakeReceipts{}
	got := applyAsync(o, f, delivered("5678"))
	waitFor(t, o, "receipt waiting for its id", func() bool { return o.awaited[outcomeID{"sim", "5678"}] != nil })
	c := sentOutcome(9, "5678")
	o.add(&c)
	waitFor(t, o, "receipt riding along", func() bool {
		s := o.findLocked("sim", []string{"5678"})
		return s != nil && len(s.receipts) == 1
	})
	batch := []store.Completion{c}
	o.take(batch)
	batch[0].ReceiptResults = []store.ReceiptResult{{Matched: true}}
	o.written(batch, true)
	if res := resultOf(t, got); !res.waited || !res.matched || res.err != nil {
		t.Fatalf("result %+v", res)
	}

	t0 := time.Now()
	r = applyReceipt(context.Background(), o, f, delivered("9999"), worker)
	if applied, asked := f.counts(); r.err != nil || r.waited || applied != 1 || asked != 2 || time.Since(t0) < receiptIDWait {
		t.Fatalf("never-known id: %+v, written %d, store asked %d, after %s", r, applied, asked, time.Since(t0))
	}
	o.mu.Lock()
	held := len(o.awaited)
	o.mu.Unlock()
	if held != 0 {
		t.Fatalf("%d awaited ids left", held)
	}
	// The next unknown id goes straight on, without asking the store; the
	// one after waits again, times out, and the next three go straight on.
	for i, wantWait := range []bool{false, true, false, false, false, true} {
		_, asked0 := f.counts()
		if r := applyReceipt(context.Background(), o, f, delivered("8888"), worker); r.err != nil {
			t.Fatal(r.err)
		}
		if _, asked := f.counts(); (asked > asked0) != wantWait {
			t.Fatalf("receipt %d after the timed-out wait: waited %v, want %v", i, asked > asked0, wantWait)
		}
	}
	// The worker's timer, fired and stopped by those waits, still serves
	// its idle wait: no stale value, then one firing.
	worker.Reset(time.Hour)
	select {
	case <-worker.C:
		t.Fatal("stale value in the worker's timer")
	default:
	}
	worker.Reset(time.Millisecond)
	select {
	case <-worker.C:
	case <-time.After(10 * time.Second):
		t.Fatal("worker's timer did not fire after the receipt waits")
	}
}

// TestReceiptWaitEndsWithBridge: a receipt waiting for an unknown id stops
// waiting when the bridge stops.
func TestReceiptWaitEndsWithBridge(t *testing.T) {
	o, f := newOutcomeIDs(), &fakeReceipts{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := applyReceipt(ctx, o, f, delivered("77"), nil); r.waited || r.err != nil {
		t.Fatalf("%+v", r)
	}
	if applied, _ := f.counts(); applied != 1 {
		t.Fatalf("written %d times", applied)
	}
}

// BenchmarkReceiptRideAlong: receipts riding along with their outcomes
// (outcomeIDs add → apply → take → written), 64 outcomes per commit, each
// receipt handed to one of 64 worker goroutines; mode=async hands it over
// without waiting (rideAsync, finished by written, as handleInbound does),
// timer=worker waits for the commit reusing the worker's timer, timer=own
// takes a new timer per receipt (as before).
//
//	go test -run xxx -bench ReceiptRideAlong -benchmem ./bridge/
func BenchmarkReceiptRideAlong(b *testing.B) {
	for _, mode := range []string{"mode=async", "timer=worker", "timer=own"} {
		reuse, async := mode == "timer=worker", mode == "mode=async"
		b.Run(mode, func(b *testing.B) {
			const perCommit = 64
			o, f := newOutcomeIDs(), &fakeReceipts{}
			work := make(chan store.Receipt)
			var done sync.WaitGroup
			var workers sync.WaitGroup
			for range perCommit {
				workers.Add(1)
				go func() {
					defer workers.Done()
					var timer *time.Timer
					if reuse {
						timer = time.NewTimer(inboundIdle)
						defer timer.Stop()
					}
					for r := range work {
						if async {
							if !o.rideAsync(&r, &benchFinisher{b: b, done: &done}) {
								b.Error("receipt did not ride along")
							}
							continue
						}
						if handled, _, _, err := o.apply(context.Background(), f, &r, timer); !handled || err != nil {
							b.Errorf("receipt not handled with its outcome: %v", err)
						}
						done.Done()
					}
				}()
			}
			batch := make([]store.Completion, perCommit)
			receipts := make([]store.Receipt, perCommit)
			seq := uint64(0)
			cpu0 := processCPU()
			for b.Loop() {
				for i := range batch {
					seq++
					id := fmt.Sprintf("%x", seq)
					batch[i] = sentOutcome(seq, id)
					o.add(&batch[i])
					receipts[i] = delivered(id)
				}
				done.Add(perCommit)
				for _, r := range receipts {
					work <- r
				}
				for spins := 0; ; spins++ { // until all ride along (a benchmark may spin)
					o.mu.Lock()
					n := 0
					for i := range batch {
						if s := o.slotLocked(&batch[i]); s != nil {
							n += len(s.receipts)
						}
					}
					o.mu.Unlock()
					if n == perCommit {
						break
					}
					if spins > 1e7 {
						b.Fatal("receipts did not ride along")
					}
					runtime.Gosched()
				}
				o.take(batch)
				for i := range batch {
					batch[i].ReceiptResults = []store.ReceiptResult{{Matched: true}}
				}
				o.written(batch, true)
				done.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perCommit), "ns/receipt")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N*perCommit), "cpu-µs/receipt")
			close(work)
			workers.Wait()
		})
	}
}

// benchFinisher ends a benchmark receipt that rode along without a waiter.
type benchFinisher struct {
	b    *testing.B
	done *sync.WaitGroup
}

func (f *benchFinisher) finish(_ store.Receipt, matched, fallback bool) {
	if !matched || fallback {
		f.b.Error("receipt not applied with its outcome")
	}
	f.done.Done()
}

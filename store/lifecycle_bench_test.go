//go:build unix

package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMessageLifecycle runs every store write of a message's life, as
// the daemon makes them, through the group commit: 64 HTTP-handler-like
// callers Enqueue one message each, one completer writes the outcomes
// (SENT, one carrier id) a batch per commit as bridge.completeLoop does, 64
// receivers apply a DELIVERED receipt each (its callback job is added in
// the same commit), and one webhook sender takes jobs with NextCallbacks
// and reports them with CallbackDone. One op is one message's whole life.
// Keys follow smppload: time-prefixed message ids, destinations that
// ascend, decimal carrier ids; STORE_BENCH_RANDOM_KEYS=1 makes destinations
// and carrier ids random, as real traffic and some carriers have them.
//
// Reported besides ns/op (wall time per message with all stages
// overlapping) and allocs/op: cpu-µs/msg (the process's user+system CPU,
// which is what the daemon pays), commits/msg, writes/commit (write
// requests sharing a commit), pages/commit (bbolt page writes, meta
// included), commit-µs/msg (the committer's busy time) and fdatasyncs are 2 per commit. STORE_BENCH_NOSYNC=1 skips
// fsync; STORE_BENCH_COMMIT_DELAY sets Options.CommitDelay (default the
// daemon's 300µs); STORE_BENCH_CALLERS sets the callers and receivers (default 64
// each; more make bigger groups, as a higher load does).
//
// Sub-benchmarks: outcome_first is the order above; receipt_first applies
// each receipt before its outcome is written (it is kept pending, and
// Complete applies it), which is what the daemon mostly sees with the
// simulator: the receipt follows the submit_sm_resp at once; since the
// bridge holds such receipts back for their outcome, receipt_folded hands
// each receipt to Complete with its outcome (Completion.Receipts), the
// daemon's usual path: three commits per message (intake, outcome with the
// receipt folded in and its callback job, callback done).
//
//	go test -run '^$' -bench MessageLifecycle -benchtime 20000x -count 3 ./store/
func BenchmarkMessageLifecycle(b *testing.B) {
	b.Run("outcome_first", func(b *testing.B) { benchLifecycle(b, lifecycleOutcomeFirst) })
	b.Run("receipt_first", func(b *testing.B) { benchLifecycle(b, lifecycleReceiptFirst) })
	b.Run("receipt_folded", func(b *testing.B) { benchLifecycle(b, lifecycleReceiptFolded) })
}

// Orders of a message's outcome and receipt in BenchmarkMessageLifecycle.
const (
	lifecycleOutcomeFirst  = iota // outcome committed, then ApplyReceipt
	lifecycleReceiptFirst         // ApplyReceipt (kept pending), then the outcome
	lifecycleReceiptFolded        // the receipt handed to Complete with its outcome, as the daemon mostly does
)

type benchReceipt struct {
	id      string
	applied *sync.WaitGroup // receipt_first: done once it is stored
}

func benchLifecycle(b *testing.B, order int) {
	receiptFirst := order == lifecycleReceiptFirst
	// The daemon's default commit delay (conf store.commit_delay);
	// STORE_BENCH_COMMIT_DELAY overrides it ("0s": plain group commit).
	commitDelay := 300 * time.Microsecond
	if v, err := time.ParseDuration(os.Getenv("STORE_BENCH_COMMIT_DELAY")); err == nil {
		commitDelay = v
	}
	s, _ := openTemp(b, Options{NoSync: os.Getenv("STORE_BENCH_NOSYNC") != "", CommitDelay: commitDelay})
	defer s.Close()
	body := []byte(`[{"type":"message-delivered","time":"2026-11-27T09:00:00.000Z","to":"+15550000000","description":"ok","message":{"id":"x","owner":"+15550001111","applicationId":"app","time":"2026-11-27T09:00:00.000Z","segmentCount":1,"direction":"out","to":["+15550000000"],"from":"+15550001111","text":"","tag":""}}]`)
	wake := make(chan struct{}, 1)
	s.SetReceiptHooks(ReceiptHooks{
		Callbacks: func(rec *Record) []CallbackJob {
			return []CallbackJob{{ApplicationID: rec.ApplicationID, Kind: "status", URL: "http://127.0.0.1:9/cb", Body: body, RequestID: rec.RequestID}}
		},
		Added: func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		},
	})
	randomKeys := os.Getenv("STORE_BENCH_RANDOM_KEYS") != ""
	callers, receivers := 64, 64
	if v, err := strconv.Atoi(os.Getenv("STORE_BENCH_CALLERS")); err == nil && v > 0 {
		callers, receivers = v, v
	}
	n := int64(b.N)
	var next, carrierSeq atomic.Int64
	completions := make(chan Completion, 4096)
	receipts := make(chan benchReceipt, 4096)
	var failed atomic.Pointer[error]
	fail := func(err error) {
		failed.CompareAndSwap(nil, &err)
	}
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	st0 := s.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	var callersWG sync.WaitGroup
	for c := range callers {
		callersWG.Add(1)
		go func() {
			defer callersWG.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7)) // ids must be unique across callers
			for {
				i := next.Add(1)
				if i > n || failed.Load() != nil {
					return
				}
				id := fmt.Sprintf("%013d%016x", time.Now().UnixMilli(), rng.Uint64())
				to := fmt.Sprintf("+1555%07d", i*7%10_000_000)
				if randomKeys {
					to = fmt.Sprintf("+1%010d", rng.Uint64N(10_000_000_000))
				}
				its := []QueueItem{{Carrier: "sim", MessageID: id, AccountID: "1", ApplicationID: "app", From: "+15550001111",
					To: []string{to}, Text: "Your verification code is " + strconv.FormatInt(100000+i, 10),
					Segments: 1, ReceivedAt: time.Now(), RequestID: id}}
				if err := s.Enqueue(its); err != nil {
					fail(err)
					return
				}
				rec := NewRecord(&its[0])
				rec.Status, rec.SentAt = StatusSent, time.Now()
				completions <- Completion{Seq: its[0].Seq, Record: rec}
			}
		}()
	}
	go func() {
		callersWG.Wait()
		close(completions)
	}()
	completerDone := make(chan struct{})
	go func() { // bridge.completeLoop: whatever is waiting, one Complete
		defer close(completerDone)
		defer close(receipts)
		batch := make([]Completion, 0, 4096)
		for c := range completions {
			batch = append(batch[:0], c)
		drain:
			for len(batch) < cap(batch) {
				select {
				case c, ok := <-completions:
					if !ok {
						break drain
					}
					batch = append(batch, c)
				default:
					break drain
				}
			}
			ids := make([]string, len(batch))
			for i := range batch {
				ids[i] = strconv.FormatInt(carrierSeq.Add(1), 10)
				if randomKeys { // a carrier that gives UUIDs
					ids[i] = fmt.Sprintf("%016x-%x", rand.Uint64(), carrierSeq.Load())
				}
				batch[i].Record.CarrierIDs = []string{ids[i]}
				if order == lifecycleReceiptFolded {
					batch[i].Receipts = []Receipt{{Carrier: "sim", Candidates: []string{ids[i]}, Outcome: OutcomeDelivered}}
				}
			}
			if receiptFirst {
				var applied sync.WaitGroup
				applied.Add(len(ids))
				for _, id := range ids {
					receipts <- benchReceipt{id: id, applied: &applied}
				}
				applied.Wait()
			}
			if err := s.Complete(batch); err != nil {
				fail(err)
				return
			}
			if order == lifecycleReceiptFolded {
				for i := range batch {
					if rs := batch[i].ReceiptResults; len(rs) != 1 || !rs[0].Terminal || rs[0].Callbacks != 1 {
						fail(fmt.Errorf("folded receipt for %s: %+v", ids[i], rs))
						return
					}
				}
			}
			if order == lifecycleOutcomeFirst {
				for _, id := range ids {
					receipts <- benchReceipt{id: id}
				}
			}
		}
	}()
	var receiversWG sync.WaitGroup
	for range receivers {
		receiversWG.Add(1)
		go func() {
			defer receiversWG.Done()
			for r := range receipts {
				res, err := s.ApplyReceipt(Receipt{Carrier: "sim", Candidates: []string{r.id}, Outcome: OutcomeDelivered})
				if r.applied != nil {
					r.applied.Done()
				}
				if err != nil {
					fail(err)
					return
				}
				if res.Terminal == receiptFirst { // pending when first, terminal when after the outcome
					fail(fmt.Errorf("receipt for %s: %+v", r.id, res))
					return
				}
			}
		}()
	}
	// The webhook sender: take what is due, report it delivered.
	var delivered int64
	deadline := time.After(10 * time.Minute)
	for delivered < n && failed.Load() == nil {
		jobs, err := s.NextCallbacks(time.Now(), 100, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			select {
			case <-wake:
			case <-completerDone: // a failure ends the stages early
			case <-deadline:
				b.Fatalf("%d of %d callbacks after 10 minutes", delivered, n)
			}
			continue
		}
		ids := make([]uint64, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
		}
		if err := s.CallbackDone(ids); err != nil {
			b.Fatal(err)
		}
		delivered += int64(len(ids))
	}
	receiversWG.Wait()
	b.StopTimer()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	st := s.Stats()
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	commits := float64(st.Commits - st0.Commits)
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/msg")
	b.ReportMetric(commits/float64(n), "commits/msg")
	b.ReportMetric(float64(st.Writes-st0.Writes)/commits, "writes/commit")
	b.ReportMetric(float64(st.PageWrites-st0.PageWrites)/commits, "pages/commit")
	b.ReportMetric(float64(st.PageWrites-st0.PageWrites)/float64(n), "pages/msg")
	// The committer's busy time (its transactions, fsync included): with
	// STORE_BENCH_NOSYNC=1 nearly all of it is the committer's CPU, the
	// serial part of the store.
	b.ReportMetric(float64((st.CommitTime-st0.CommitTime).Microseconds())/float64(n), "commit-µs/msg")
}

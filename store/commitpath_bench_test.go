//go:build unix

package store

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCommitPath measures the store's serial part alone: one caller
// drives a message's three writes in fixed groups of 16 (the daemon's mean
// group commit), one commit each: Enqueue of 16, their Complete with the
// receipt folded in (DELIVERED, one callback job each), then
// NextCallbacks and CallbackDone of the 16 jobs. NoSync, so cpu-µs/msg (the process's CPU) is that of the preparation, the transactions and bbolt's commit (page
// writes to the page cache) per message, without the noise of concurrent
// callers. The file first holds 50,000 messages' records so the B-trees
// have a realistic depth. STORE_BENCH_SYNC=1 syncs, as the daemon does
// (sys-µs/msg then shows the kernel's share). STORE_BENCH_RANDOM_KEYS=1: random destinations
// and carrier ids.
//
//	go test -run '^$' -bench CommitPath -benchtime 40000x -count 5 ./store/
func BenchmarkCommitPath(b *testing.B) { benchCommitPath(b, false) }

// BenchmarkCompleteOutcomes is BenchmarkCommitPath timing only the
// outcome commits (Complete, receipts folded in): ns/op is the wall time
// per outcome, which with NoSync and one caller is CPU.
//
//	go test -run '^$' -bench CompleteOutcomes -benchtime 32000x -count 5 ./store/
func BenchmarkCompleteOutcomes(b *testing.B) { benchCommitPath(b, true) }

func benchCommitPath(b *testing.B, onlyComplete bool) {
	s, _ := openTemp(b, Options{NoSync: os.Getenv("STORE_BENCH_SYNC") == ""})
	defer s.Close()
	body := []byte(`[{"type":"message-delivered","time":"2026-11-27T09:00:00.000Z","to":"+15550000000","description":"ok","message":{"id":"x","owner":"+15550001111","applicationId":"app","time":"2026-11-27T09:00:00.000Z","segmentCount":1,"direction":"out","to":["+15550000000"],"from":"+15550001111","text":"","tag":""}}]`)
	s.SetReceiptHooks(ReceiptHooks{Callbacks: func(rec *Record) []CallbackJob {
		return []CallbackJob{{ApplicationID: rec.ApplicationID, Kind: "status", URL: "http://127.0.0.1:9/cb", Body: body, RequestID: rec.RequestID}}
	}})
	randomKeys := os.Getenv("STORE_BENCH_RANDOM_KEYS") != ""
	const group = 16
	var seq int64
	var pages [3]int64 // page writes of the intake, outcome and callback-done commits
	timed := false
	round := func(tb testing.TB) {
		items := make([]QueueItem, group)
		now := time.Now()
		for i := range items {
			seq++
			id := fmt.Sprintf("%013d%016x", now.UnixMilli(), seq)
			to := fmt.Sprintf("+1555%07d", seq*7%10_000_000)
			if randomKeys {
				to = fmt.Sprintf("+1%010d", (seq*2654435761)%10_000_000_000)
			}
			items[i] = QueueItem{Carrier: "sim", MessageID: id, AccountID: "1", ApplicationID: "app", From: "+15550001111",
				To: []string{to}, Text: "Your verification code is " + strconv.FormatInt(100000+seq, 10),
				Segments: 1, ReceivedAt: now, RequestID: id}
		}
		p0 := s.Stats().PageWrites
		if err := s.Enqueue(items); err != nil {
			tb.Fatal(err)
		}
		if timed && onlyComplete {
			b.StartTimer()
		}
		cs := make([]Completion, group)
		for i := range items {
			rec := NewRecord(&items[i])
			cid := strconv.FormatInt(items[i].ReceivedAt.UnixNano()/1000+int64(i), 10)
			if randomKeys {
				cid = fmt.Sprintf("%016x", uint64(seq+int64(i))*0x9E3779B97F4A7C15)
			}
			rec.Status, rec.SentAt, rec.CarrierIDs = StatusSent, time.Now(), []string{cid}
			cs[i] = Completion{Seq: items[i].Seq, Record: rec,
				Receipts: []Receipt{{Carrier: "sim", Candidates: []string{cid}, Outcome: OutcomeDelivered}}}
		}
		p1 := s.Stats().PageWrites
		pages[0] += p1 - p0
		if err := s.Complete(cs); err != nil {
			tb.Fatal(err)
		}
		if timed && onlyComplete {
			b.StopTimer()
		}
		p2 := s.Stats().PageWrites
		pages[1] += p2 - p1
		jobs, err := s.NextCallbacks(time.Now(), 100, nil)
		if err != nil || len(jobs) != group {
			tb.Fatalf("%d jobs, %v", len(jobs), err)
		}
		ids := make([]uint64, len(jobs))
		for i := range jobs {
			ids[i] = jobs[i].ID
		}
		if err := s.CallbackDone(ids); err != nil {
			tb.Fatal(err)
		}
		pages[2] += s.Stats().PageWrites - p2
	}
	for range 50_000 / group {
		round(b)
	}
	st0 := s.Stats()
	pages = [3]int64{}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	b.ResetTimer()
	timed = true
	if onlyComplete {
		b.StopTimer()
	}
	for i := 0; i < b.N; i += group {
		round(b)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	if !onlyComplete { // the process's CPU covers every stage
		b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(b.N), "cpu-µs/msg")
		b.ReportMetric(float64(ru1.Stime.Nano()-ru0.Stime.Nano())/1000/float64(b.N), "sys-µs/msg")
	}
	st := s.Stats()
	b.ReportMetric(float64(st.PageWrites-st0.PageWrites)/float64(b.N), "pages/msg")
	rounds := float64((b.N + group - 1) / group)
	b.ReportMetric(float64(pages[0])/rounds, "pages/intake-commit")
	b.ReportMetric(float64(pages[1])/rounds, "pages/outcome-commit")
	b.ReportMetric(float64(pages[2])/rounds, "pages/done-commit")
}

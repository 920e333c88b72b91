package store

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"smppbridge/dlrmap"
)

// BenchmarkReceiptWithOutcome compares the three ways a receipt meets its
// submit outcome. One op is a batch of 256 copies (one Complete) whose
// receipts are written concurrently, sharing commits as the bridge's
// inbound goroutines do; µs/copy is the figure to compare:
//   - pending: the receipt is written before the outcome (kept pending,
//     applied again inside Complete) — what most receipts did before the
//     bridge held them back;
//   - after: the outcome's commit first, then the receipt on its own;
//   - ride-along: the receipt in Completion.Receipts (one write).
func BenchmarkReceiptWithOutcome(b *testing.B) {
	const batch = 256
	for _, mode := range []string{"pending", "after", "ride-along"} {
		b.Run(mode, func(b *testing.B) {
			for _, sync := range []bool{false, true} {
				b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
					s, _ := openTemp(b, Options{NoSync: !sync, NormalizeID: dlrmap.NormalizeID})
					defer s.Close()
					s.SetReceiptHooks(ReceiptHooks{Callbacks: func(rec *Record) []CallbackJob {
						return []CallbackJob{{ApplicationID: rec.ApplicationID, Kind: "status", URL: "http://127.0.0.1:9/cb",
							Body: []byte(`[{"to":"` + rec.To + `","status":"` + rec.Status + `"}]`)}}
					}})
					n := 0
					commits0 := s.Stats().Commits
					for b.Loop() {
						b.StopTimer()
						items := make([]QueueItem, batch)
						for i := range items {
							items[i] = item("m"+strconv.Itoa(n+i), i)
						}
						if err := s.Enqueue(items); err != nil {
							b.Fatal(err)
						}
						cs := make([]Completion, batch)
						rs := make([]Receipt, batch)
						for i, it := range items {
							cid := strconv.FormatUint(uint64(0x10000000+n+i), 16)
							cs[i] = Completion{Seq: it.Seq, Record: Record{MessageID: it.MessageID, ApplicationID: "app", Carrier: "sim",
								To: it.To[0], Status: "SENT", Segments: 1, CarrierIDs: []string{cid}, SentAt: time.Now()}}
							rs[i] = Receipt{Carrier: "sim", Candidates: dlrmap.Candidates(cid, dlrmap.IDAuto), Outcome: OutcomeDelivered}
						}
						n += batch
						b.StartTimer()
						switch mode {
						case "pending":
							applyAll(b, s, rs)
							complete(b, s, cs)
						case "after":
							complete(b, s, cs)
							applyAll(b, s, rs)
						case "ride-along":
							for i := range cs {
								cs[i].Receipts = rs[i : i+1]
							}
							complete(b, s, cs)
							for i := range cs {
								if r := cs[i].ReceiptResults; len(r) != 1 || !r[0].Matched {
									b.Fatalf("receipt not applied: %+v", r)
								}
							}
						}
					}
					b.ReportMetric(float64(s.Stats().Commits-commits0)/float64(n), "commits/op")
					if n > 0 {
						b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(n), "µs/copy")
					}
				})
			}
		})
	}
}

func complete(b *testing.B, s *Store, cs []Completion) {
	if err := s.Complete(cs); err != nil {
		b.Fatal(err)
	}
}

func applyAll(b *testing.B, s *Store, rs []Receipt) {
	var wg sync.WaitGroup
	errs := make(chan error, len(rs))
	for _, r := range rs {
		wg.Go(func() {
			if _, err := s.ApplyReceipt(r); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

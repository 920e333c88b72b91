package store

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"smppbridge/dlrmap"
)

// receiptStore opens a store whose hooks add one callback job per terminal
// record and count the wake-ups.
func receiptStore(t *testing.T) (*Store, *atomic.Int64) {
	t.Helper()
	s, _ := openTemp(t, Options{NoSync: true, NormalizeID: dlrmap.NormalizeID, Aggregate: testAggregate})
	t.Cleanup(func() { s.Close() })
	var woken atomic.Int64
	s.SetReceiptHooks(ReceiptHooks{
		Callbacks: func(rec *Record) []CallbackJob {
			return []CallbackJob{{ApplicationID: rec.ApplicationID, Kind: "status", URL: "http://127.0.0.1:9/cb",
				Body: []byte(`[{"to":"` + rec.To + `","status":"` + rec.Status + `"}]`)}}
		},
		Added: func() { woken.Add(1) },
	})
	return s, &woken
}

// testAggregate is bridge.AggregateParts (the store cannot import bridge).
func testAggregate(parts []PartOutcome, total int, mode string) (PartOutcome, bool) {
	rs := make([]dlrmap.Result, len(parts))
	for i, p := range parts {
		rs[i] = dlrmap.Result{Outcome: dlrmap.Outcome(p.Outcome), Code: p.Code}
	}
	r, done := dlrmap.Aggregate(rs, total, mode)
	return PartOutcome{Outcome: int(r.Outcome), Code: r.Code}, done
}

func completeSent(t *testing.T, s *Store, id string, cids ...string) {
	t.Helper()
	it := item(id, 1)
	if err := s.Enqueue([]QueueItem{it}); err != nil {
		t.Fatal(err)
	}
	its := []QueueItem{}
	s.LoadQueue(func(q QueueItem) error { its = append(its, q); return nil })
	rec := Record{MessageID: id, ApplicationID: "app", Carrier: "sim", To: "+15550002222", Status: "SENT",
		Segments: len(cids), CarrierIDs: cids, SentAt: time.Now()}
	if err := s.Complete([]Completion{{Seq: its[len(its)-1].Seq, Record: rec}}); err != nil {
		t.Fatal(err)
	}
}

func pendingJobs(t *testing.T, s *Store) int {
	t.Helper()
	c, err := s.CallbackStats()
	if err != nil {
		t.Fatal(err)
	}
	return c.Pending()
}

func rcpt(id string, o dlrmap.Outcome, code int) Receipt {
	return Receipt{Carrier: "sim", Candidates: dlrmap.Candidates(id, dlrmap.IDAuto), Outcome: int(o), Code: code}
}

func TestApplyReceiptDeliveredOnce(t *testing.T) {
	s, woken := receiptStore(t)
	completeSent(t, s, "m1", "00AB12")
	res, err := s.ApplyReceipt(rcpt("ab12", dlrmap.Delivered, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Matched || !res.Terminal || res.Callbacks != 1 || res.Record.Status != "DELIVERED" || res.Record.DoneAt.IsZero() {
		t.Fatalf("first receipt: %+v", res)
	}
	for range 2 { // duplicates, even a contradicting one
		res, err = s.ApplyReceipt(rcpt("AB12", dlrmap.Failed, 4720))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Matched || res.Terminal || res.Callbacks != 0 {
			t.Fatalf("duplicate receipt: %+v", res)
		}
	}
	r, _ := s.Record("m1", 0)
	if r.Status != "DELIVERED" || r.ErrorCode != 0 || len(r.Parts) != 1 || r.Parts[0].Outcome != OutcomeDelivered {
		t.Fatalf("record = %+v", r)
	}
	if n := pendingJobs(t, s); n != 1 || woken.Load() != 1 {
		t.Fatalf("callback jobs = %d, wake-ups = %d; want 1, 1", n, woken.Load())
	}
}

func TestApplyReceiptBeforeComplete(t *testing.T) {
	s, woken := receiptStore(t)
	res, err := s.ApplyReceipt(rcpt("4711", dlrmap.Failed, 4720))
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched || res.Callbacks != 0 {
		t.Fatalf("early receipt: %+v", res)
	}
	if n, _ := s.PendingReceipts(); n == 0 {
		t.Fatal("early receipt not kept")
	}
	completeSent(t, s, "m2", "4711")
	r, _ := s.Record("m2", 0)
	if r.Status != "FAILED" || r.ErrorCode != 4720 {
		t.Fatalf("record after complete = %+v", r)
	}
	if n, _ := s.PendingReceipts(); n != 0 {
		t.Fatalf("pending receipts left: %d", n)
	}
	if n := pendingJobs(t, s); n != 1 || woken.Load() != 1 {
		t.Fatalf("callback jobs = %d, wake-ups = %d; want 1, 1", n, woken.Load())
	}
	// The same receipt again, now matched: nothing more.
	res, err = s.ApplyReceipt(rcpt("4711", dlrmap.Failed, 4720))
	if err != nil || !res.Matched || res.Callbacks != 0 {
		t.Fatalf("late duplicate: %+v %v", res, err)
	}
}

func TestApplyReceiptAggregates(t *testing.T) {
	s, _ := receiptStore(t)
	completeSent(t, s, "long", "1001", "1002", "1003")
	res, _ := s.ApplyReceipt(rcpt("1002", dlrmap.Delivered, 0))
	if res.Terminal || res.Record.Status != "SENT" {
		t.Fatalf("after one of three delivered: %+v", res)
	}
	res, _ = s.ApplyReceipt(rcpt("1003", dlrmap.Failed, 4702))
	if !res.Terminal || res.Record.Status != "FAILED" || res.Record.ErrorCode != 4702 || res.Callbacks != 1 {
		t.Fatalf("after a failed part: %+v", res)
	}
	res, _ = s.ApplyReceipt(rcpt("1001", dlrmap.Failed, 4720))
	if res.Terminal || res.Callbacks != 0 || res.Record.ErrorCode != 4702 {
		t.Fatalf("after the copy was terminal: %+v", res)
	}
	if n := pendingJobs(t, s); n != 1 {
		t.Fatalf("callback jobs = %d; want 1", n)
	}

	completeSent(t, s, "long2", "2001", "2002")
	for _, id := range []string{"2002", "2001"} {
		res, _ = s.ApplyReceipt(rcpt(id, dlrmap.Delivered, 0))
	}
	if !res.Terminal || res.Record.Status != "DELIVERED" {
		t.Fatalf("all parts delivered: %+v", res)
	}

	// "last": the last part alone decides.
	completeSent(t, s, "long3", "3001", "3002")
	r := rcpt("3002", dlrmap.Delivered, 0)
	r.Mode = "last"
	if res, _ = s.ApplyReceipt(r); !res.Terminal || res.Record.Status != "DELIVERED" {
		t.Fatalf("mode last: %+v", res)
	}
	if n := pendingJobs(t, s); n != 3 {
		t.Fatalf("callback jobs = %d; want 3", n)
	}
}

func TestApplyReceiptPendingOutcomeIgnored(t *testing.T) {
	s, _ := receiptStore(t)
	completeSent(t, s, "m3", "55")
	if res, err := s.ApplyReceipt(rcpt("55", dlrmap.Pending, 0)); err != nil || res.Matched {
		t.Fatalf("ENROUTE: %+v %v", res, err)
	}
	if n, _ := s.PendingReceipts(); n != 0 {
		t.Fatalf("non-terminal receipt kept: %d", n)
	}
	if res, _ := s.ApplyReceipt(rcpt("55", dlrmap.Delivered, 0)); !res.Terminal {
		t.Fatalf("delivered after ENROUTE: %+v", res)
	}
}

func TestExpireReceipts(t *testing.T) {
	s, woken := receiptStore(t)
	completeSent(t, s, "old", "9001")
	completeSent(t, s, "delivered", "9002")
	completeSent(t, s, "unknown", "9003", "") // second part's outcome unknown
	r, _ := s.Record("unknown", 0)
	r.Unknown = 1
	its := []QueueItem{item("x", 1)}
	s.Enqueue(its)
	if _, err := s.ApplyReceipt(rcpt("9002", dlrmap.Delivered, 0)); err != nil {
		t.Fatal(err)
	}
	// The unknown one again, now with Unknown set (Complete overwrites).
	r.SentAt = time.Now()
	if err := s.Complete([]Completion{{Seq: its[0].Seq, Record: r}}); err != nil {
		t.Fatal(err)
	}
	cut := time.Now().Add(time.Second)
	if n, more, err := s.ExpireReceipts("other", cut, cut, 10); err != nil || n != 0 || more {
		t.Fatalf("other carrier: %d %v %v", n, more, err)
	}
	n, more, err := s.ExpireReceipts("sim", cut, cut, 1)
	if err != nil || n != 1 || !more {
		t.Fatalf("first call: %d %v %v", n, more, err)
	}
	for more {
		if _, more, err = s.ExpireReceipts("sim", cut, cut, 1); err != nil {
			t.Fatal(err)
		}
	}
	if rec, _ := s.Record("old", 0); rec.Status != "FAILED" || rec.ErrorCode != 9902 || !rec.DoneAt.Equal(cut) {
		t.Fatalf("old: %+v", rec)
	}
	if rec, _ := s.Record("delivered", 0); rec.Status != "DELIVERED" {
		t.Fatalf("delivered: %+v", rec)
	}
	if rec, _ := s.Record("unknown", 0); rec.Status != "FAILED" || rec.ErrorCode != 5630 {
		t.Fatalf("unknown: %+v", rec)
	}
	// delivered + old + unknown
	if n := pendingJobs(t, s); n != 3 || woken.Load() != 3 {
		t.Fatalf("callback jobs = %d, wake-ups = %d; want 3, 3", n, woken.Load())
	}
	// A receipt after the wait ended adds nothing.
	if res, _ := s.ApplyReceipt(rcpt("9001", dlrmap.Delivered, 0)); res.Terminal || res.Callbacks != 0 {
		t.Fatalf("late receipt: %+v", res)
	}
	if n, more, err := s.ExpireReceipts("sim", cut, cut, 10); n != 0 || more || err != nil {
		t.Fatalf("second sweep: %d %v %v", n, more, err)
	}
}

// TestApplyReceiptDefaults: without Options.NormalizeID and Aggregate, ids
// match as given and every part must be delivered.
func TestApplyReceiptDefaults(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	completeSent(t, s, "d", "A1", "A2")
	r := Receipt{Carrier: "sim", Candidates: []string{"a1"}, Outcome: OutcomeDelivered}
	if res, _ := s.ApplyReceipt(r); res.Matched {
		t.Fatalf("case-folded id matched without NormalizeID: %+v", res)
	}
	r.Candidates = []string{"A1"}
	if res, _ := s.ApplyReceipt(r); !res.Matched || res.Terminal {
		t.Fatalf("first part: %+v", res)
	}
	r.Candidates = []string{"A2"}
	if res, _ := s.ApplyReceipt(r); !res.Terminal || res.Record.Status != "DELIVERED" {
		t.Fatalf("second part: %+v", res)
	}
}

// TestExpirePendingReceipts: receipts whose id never became known go once
// they are older than the cut, oldest first and limit at a time; younger
// ones, other carriers' and matched ones are left alone.
func TestExpirePendingReceipts(t *testing.T) {
	s, _ := receiptStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	apply := func(carrier, id string, at time.Time) {
		t.Helper()
		r := rcpt(id, dlrmap.Delivered, 0)
		r.Carrier, r.At, r.Candidates = carrier, at, []string{id} // one key each: removals count receipts
		if _, err := s.ApplyReceipt(r); err != nil {
			t.Fatal(err)
		}
	}
	apply("sim", "1001", t0)
	apply("sim", "1002", t0.Add(time.Second))
	apply("sim", "1001", t0.Add(time.Hour)) // a second receipt under the same id, younger
	apply("other", "1003", t0)
	apply("sim", "1004", t0)
	completeSent(t, s, "m9", "1004") // matched: its index entry dangles
	before, _ := s.PendingReceipts()

	if n, more, err := s.ExpirePendingReceipts("sim", t0, 10); err != nil || n != 0 || more {
		t.Fatalf("nothing older than t0: %d, %v, %v", n, more, err)
	}
	removed := 0
	for pass := 0; ; pass++ {
		n, more, err := s.ExpirePendingReceipts("sim", t0.Add(time.Minute), 1)
		if err != nil {
			t.Fatal(err)
		}
		removed += n
		if !more {
			break
		}
		if pass > 10 {
			t.Fatal("more for ever")
		}
	}
	if removed != 2 {
		t.Fatalf("removed %d receipts, want 2 (1001 at t0 and 1002)", removed)
	}
	after, _ := s.PendingReceipts()
	// 1002's keys went; 1001's stay for its younger receipt; 1003 is another carrier's.
	if after >= before || after == 0 {
		t.Fatalf("pending keys %d → %d", before, after)
	}
	if n, _, _ := s.ExpirePendingReceipts("sim", t0.Add(2*time.Hour), 10); n != 1 {
		t.Fatalf("the younger receipt: removed %d, want 1", n)
	}
	if n, _, _ := s.ExpirePendingReceipts("other", t0.Add(time.Minute), 10); n != 1 {
		t.Fatalf("the other carrier's: removed %d, want 1", n)
	}
	if n, _ := s.PendingReceipts(); n != 0 {
		t.Fatalf("%d pending keys left", n)
	}
	if r, _ := s.Record("m9", 0); r.Status != "DELIVERED" {
		t.Fatalf("matched record %+v", r)
	}
}

// TestCompleteWithReceipts: receipts handed to Complete with the outcomes
// are applied in the same commit as ApplyReceipt right after it would be
// (those for the copy's own ids folded into its record first):
// matched (also against another outcome of the same call, and a long
// message's parts), duplicates changing nothing, one for an id no outcome
// carries kept pending; their callbacks added and woken once; the results
// back in ReceiptResults.
func TestCompleteWithReceipts(t *testing.T) {
	s, woken := receiptStore(t)
	items := []QueueItem{item("a", 1), item("b", 2), item("c", 3)}
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sent := func(i int, ids ...string) Completion {
		return Completion{Seq: items[i].Seq, Record: Record{MessageID: items[i].MessageID, ApplicationID: "app", Carrier: "sim",
			To: items[i].To[0], Status: "SENT", Segments: len(ids), CarrierIDs: ids, SentAt: now}}
	}
	cs := []Completion{sent(0, "00AB12"), sent(1, "1001", "1002"), sent(2, "77")}
	// a's receipt twice, b's first part also with a (its id belongs to
	// b: it matches across the call), and one for an id nobody carries.
	cs[0].Receipts = []Receipt{rcpt("AB12", dlrmap.Delivered, 0), rcpt("ab12", dlrmap.Failed, 4720), rcpt("1001", dlrmap.Delivered, 0)}
	cs[1].Receipts = []Receipt{rcpt("1002", dlrmap.Delivered, 0)}
	cs[2].Receipts = []Receipt{rcpt("4242", dlrmap.Delivered, 0), {Carrier: "sim", Candidates: []string{"77"}, Outcome: OutcomePending}}
	if err := s.Complete(cs); err != nil {
		t.Fatal(err)
	}
	type want struct{ matched, terminal bool }
	// b's own receipt goes into its record before the write; a's receipt
	// for b's first part, applied after the outcomes, ends b.
	wants := [][]want{{{true, true}, {true, false}, {true, true}}, {{true, false}}, {{false, false}, {false, false}}}
	for i, ws := range wants {
		if len(cs[i].ReceiptResults) != len(ws) {
			t.Fatalf("completion %d: %d results, want %d", i, len(cs[i].ReceiptResults), len(ws))
		}
		for j, w := range ws {
			if r := cs[i].ReceiptResults[j]; r.Matched != w.matched || r.Terminal != w.terminal {
				t.Fatalf("completion %d receipt %d: %+v, want %+v", i, j, r, w)
			}
		}
	}
	for id, status := range map[string]string{"a": "DELIVERED", "b": "DELIVERED", "c": "SENT"} {
		if r, err := s.Record(id, 0); err != nil || r.Status != status {
			t.Fatalf("record %s: %s (%v), want %s", id, r.Status, err, status)
		}
	}
	if n := pendingJobs(t, s); n != 2 || woken.Load() != 1 {
		t.Fatalf("callback jobs %d, wake-ups %d; want 2, 1", n, woken.Load())
	}
	if n, _ := s.PendingReceipts(); n == 0 {
		t.Fatal("the receipt for an unknown id was not kept")
	}
	// Only c still waits for a receipt.
	if ended, _, err := s.ExpireReceipts("sim", now.Add(time.Hour), now.Add(time.Hour), 100); err != nil || ended != 1 {
		t.Fatalf("ended %d waits (%v), want 1", ended, err)
	}
	for ids, want := range map[string]bool{"ab12": true, "1002": true, "4242": false} {
		if known, err := s.KnowsCarrierID("sim", []string{"x", ids}); err != nil || known != want {
			t.Fatalf("KnowsCarrierID(%s) = %v (%v)", ids, known, err)
		}
	}
}

// TestFoldedReceiptsSnapshots: receipts folded into one copy's record each
// report the parts as they stood after that receipt (Complete cuts them
// from one allocation: none may see a later receipt), the record keeps
// every part's outcome, and the completion's own record is left as it was.
func TestFoldedReceiptsSnapshots(t *testing.T) {
	s, _ := receiptStore(t)
	items := []QueueItem{item("long", 1)}
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cs := []Completion{{Seq: items[0].Seq, Record: Record{MessageID: "long", ApplicationID: "app", Carrier: "sim", To: items[0].To[0],
		Status: "SENT", Segments: 2, CarrierIDs: []string{"501", "502"}, SentAt: now},
		Receipts: []Receipt{rcpt("501", dlrmap.Delivered, 0), rcpt("502", dlrmap.Failed, 4720)}}}
	if err := s.Complete(cs); err != nil {
		t.Fatal(err)
	}
	rs := cs[0].ReceiptResults
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	first, second := rs[0].Record.Parts, rs[1].Record.Parts
	if len(first) != 2 || first[0].Outcome != OutcomeDelivered || first[1].Outcome != OutcomePending || rs[0].Terminal {
		t.Fatalf("first result %+v terminal %v", first, rs[0].Terminal)
	}
	if len(second) != 2 || second[0].Outcome != OutcomeDelivered || second[1] != (PartOutcome{Outcome: OutcomeFailed, Code: 4720}) || !rs[1].Terminal {
		t.Fatalf("second result %+v terminal %v", second, rs[1].Terminal)
	}
	if cs[0].Record.Parts != nil {
		t.Fatalf("the completion's record changed: %+v", cs[0].Record.Parts)
	}
	r, err := s.Record("long", 0)
	if err != nil || r.Status != "FAILED" || len(r.Parts) != 2 || r.Parts[0].Outcome != OutcomeDelivered || r.Parts[1].Code != 4720 {
		t.Fatalf("record %+v (%v)", r, err)
	}
}

// TestAwaitingCarriers: every carrier with a copy waiting for a receipt or
// a receipt waiting for its id is listed once, sorted, also when one name
// is a prefix of another ("a", "ab"); a carrier whose copies all ended is
// not.
func TestAwaitingCarriers(t *testing.T) {
	s, _ := receiptStore(t)
	if got, err := s.AwaitingCarriers(); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	seq := 0
	sent := func(carrier, id, cid string) {
		t.Helper()
		seq++
		it := item(id, seq)
		it.Carrier = carrier
		if err := s.Enqueue([]QueueItem{it}); err != nil {
			t.Fatal(err)
		}
		var last QueueItem
		s.LoadQueue(func(q QueueItem) error { last = q; return nil })
		rec := Record{MessageID: id, ApplicationID: "app", Carrier: carrier, To: it.To[0], Status: "SENT",
			Segments: 1, CarrierIDs: []string{cid}, SentAt: time.Now().Add(time.Duration(seq) * time.Millisecond)}
		if err := s.Complete([]Completion{{Seq: last.Seq, Record: rec}}); err != nil {
			t.Fatal(err)
		}
	}
	// Several copies each for "ab" and "a" (the seek must skip all of a
	// carrier's keys, whatever their times), one for "b".
	sent("ab", "m1", "1")
	sent("a", "m2", "2")
	sent("ab", "m3", "3")
	sent("a", "m4", "4")
	sent("b", "m5", "5")
	sent("done", "m6", "6")
	if res, err := s.ApplyReceipt(Receipt{Carrier: "done", Candidates: []string{"6"}, Outcome: OutcomeDelivered}); err != nil || !res.Terminal {
		t.Fatalf("receipt for done: %+v %v", res, err)
	}
	// Only a pending receipt (an id never seen) for "c" and "a-".
	for _, c := range []string{"c", "a-"} {
		if _, err := s.ApplyReceipt(Receipt{Carrier: c, Candidates: []string{"777"}, Outcome: OutcomeDelivered, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AwaitingCarriers()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "a-", "ab", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("carriers %q, want %q", got, want)
	}
	// Once their waits end they are no longer listed.
	cut := time.Now().Add(time.Hour)
	for _, c := range []string{"a", "b"} {
		if _, more, err := s.ExpireReceipts(c, cut, cut, 100); err != nil || more {
			t.Fatalf("expire %s: %v %v", c, more, err)
		}
	}
	if _, _, err := s.ExpirePendingReceipts("c", cut, 100); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AwaitingCarriers(); !slices.Equal(got, []string{"a-", "ab"}) {
		t.Fatalf("after expiry: %q", got)
	}
}

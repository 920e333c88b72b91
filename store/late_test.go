package store

import (
	"errors"
	"testing"
	"time"

	"smppbridge/dlrmap"
)

// completeUnknown writes a SENT outcome whose parts with an empty id are
// outcome unknown (their submit_sm_resp timed out).
func completeUnknown(t *testing.T, s *Store, id string, cids ...string) Record {
	t.Helper()
	if err := s.Enqueue([]QueueItem{item(id, 1)}); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	s.LoadQueue(func(q QueueItem) error { seq = q.Seq; return nil })
	rec := Record{MessageID: id, ApplicationID: "app", AccountID: "1", Carrier: "sim", To: "+15550002222", Status: StatusSent,
		Segments: len(cids), CarrierIDs: cids, SentAt: time.Now()}
	for _, c := range cids {
		if c == "" {
			rec.Unknown++
		}
	}
	if err := s.Complete([]Completion{{Seq: seq, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	return rec
}

func late(id string, part int, cid string, code int) LateSubmit {
	return LateSubmit{Carrier: "sim", MessageID: id, Part: part, CarrierID: cid, Code: code}
}

func mustLate(t *testing.T, s *Store, l LateSubmit) LateSubmitResult {
	t.Helper()
	res, err := s.ApplyLateSubmit(l)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestApplyLateSubmitBeforeOutcome: while the copy is queued (its outcome
// on its way) or unknown, the caller is told to try again.
func TestApplyLateSubmitBeforeOutcome(t *testing.T) {
	for _, wal := range []bool{false, true} {
		s, _ := openTemp(t, Options{NoSync: true, WAL: wal})
		if res := mustLate(t, s, late("nobody", 0, "1", 0)); !res.NotYet || res.Applied {
			t.Fatalf("wal %v, unknown message: %+v", wal, res)
		}
		if err := s.Enqueue([]QueueItem{item("q1", 1)}); err != nil {
			t.Fatal(err)
		}
		if res := mustLate(t, s, late("q1", 0, "1", 0)); !res.NotYet || res.Applied {
			t.Fatalf("wal %v, queued message: %+v", wal, res)
		}
		s.Close()
	}
}

// TestApplyLateSubmitThenReceipt: the late id is recorded and indexed, so
// the receipt that follows ends the copy; a repeat changes nothing.
func TestApplyLateSubmitThenReceipt(t *testing.T) {
	s, woken := receiptStore(t)
	completeUnknown(t, s, "m1", "")
	res := mustLate(t, s, late("m1", 0, "00AB12", 0))
	if !res.Applied || res.Terminal || res.Callbacks != 0 || res.Record.Unknown != 0 || res.Record.CarrierIDs[0] != "00AB12" || res.Record.Status != StatusSent {
		t.Fatalf("late id: %+v", res)
	}
	if r, err := s.RecordByCarrierID("sim", "ab12"); err != nil || r.MessageID != "m1" {
		t.Fatalf("record by the late id: %+v, %v", r, err)
	}
	if res := mustLate(t, s, late("m1", 0, "00AB13", 0)); res.Applied || res.NotYet || res.Record.CarrierIDs[0] != "00AB12" {
		t.Fatalf("second late answer: %+v", res)
	}
	rr, err := s.ApplyReceipt(rcpt("AB12", dlrmap.Delivered, 0))
	if err != nil || !rr.Matched || !rr.Terminal || rr.Callbacks != 1 {
		t.Fatalf("receipt after the late id: %+v, %v", rr, err)
	}
	if n := pendingJobs(t, s); n != 1 || woken.Load() != 1 {
		t.Fatalf("callback jobs %d, wake-ups %d; want 1, 1", n, woken.Load())
	}
}

// TestApplyLateSubmitAppliesHeldReceipt: a receipt that came before the
// late answer was held; the late id applies it, with the callback, in the
// same write.
func TestApplyLateSubmitAppliesHeldReceipt(t *testing.T) {
	s, woken := receiptStore(t)
	completeUnknown(t, s, "m2", "")
	if rr, err := s.ApplyReceipt(rcpt("4711", dlrmap.Delivered, 0)); err != nil || rr.Matched {
		t.Fatalf("receipt before the late id: %+v, %v", rr, err)
	}
	res := mustLate(t, s, late("m2", 0, "4711", 0))
	if !res.Applied || !res.Terminal || res.Callbacks != 1 || res.Record.Status != "DELIVERED" {
		t.Fatalf("late id with a held receipt: %+v", res)
	}
	if n, _ := s.PendingReceipts(); n != 0 {
		t.Fatalf("%d receipts still held", n)
	}
	if n := pendingJobs(t, s); n != 1 || woken.Load() != 1 {
		t.Fatalf("callback jobs %d, wake-ups %d; want 1, 1", n, woken.Load())
	}
	// Its wait is over: the expiry has nothing left to end.
	if n, _, err := s.ExpireReceipts("sim", time.Now().Add(time.Hour), time.Now(), 10); err != nil || n != 0 {
		t.Fatalf("expiry ended %d (%v), want 0", n, err)
	}
}

// TestApplyLateSubmitLongMessage: one part of three was unknown; its late
// id completes the set, and the receipts of all three end the copy.
func TestApplyLateSubmitLongMessage(t *testing.T) {
	s, _ := receiptStore(t)
	completeUnknown(t, s, "m3", "31", "", "33")
	for _, id := range []string{"31", "33"} {
		if rr, err := s.ApplyReceipt(rcpt(id, dlrmap.Delivered, 0)); err != nil || !rr.Matched || rr.Terminal {
			t.Fatalf("receipt %s: %+v, %v", id, rr, err)
		}
	}
	if res := mustLate(t, s, late("m3", 1, "", 0)); res.Applied {
		t.Fatalf("an accepted late answer without an id was applied: %+v", res)
	}
	res := mustLate(t, s, late("m3", 1, "32", 0))
	if !res.Applied || res.Terminal || res.Record.Unknown != 0 {
		t.Fatalf("late id of part 2: %+v", res)
	}
	rr, err := s.ApplyReceipt(rcpt("32", dlrmap.Delivered, 0))
	if err != nil || !rr.Terminal || rr.Callbacks != 1 || rr.Record.Status != "DELIVERED" {
		t.Fatalf("last receipt: %+v, %v", rr, err)
	}
}

// TestApplyLateSubmitRefused: a late refusal fails the copy with its code
// and callback, and ends its receipt wait.
func TestApplyLateSubmitRefused(t *testing.T) {
	s, woken := receiptStore(t)
	completeUnknown(t, s, "m4", "")
	res := mustLate(t, s, late("m4", 0, "", dlrmap.CodeInvalidDest))
	if !res.Applied || !res.Terminal || res.Callbacks != 1 || res.Record.Status != "FAILED" || res.Record.ErrorCode != dlrmap.CodeInvalidDest || res.Record.DoneAt.IsZero() {
		t.Fatalf("late refusal: %+v", res)
	}
	r, _ := s.Record("m4", 0)
	if r.Status != "FAILED" || r.ErrorCode != dlrmap.CodeInvalidDest || r.Unknown != 0 {
		t.Fatalf("record %+v", r)
	}
	if n, _, err := s.ExpireReceipts("sim", time.Now().Add(time.Hour), time.Now(), 10); err != nil || n != 0 {
		t.Fatalf("expiry ended %d (%v), want 0", n, err)
	}
	if n := pendingJobs(t, s); n != 1 || woken.Load() != 1 {
		t.Fatalf("callback jobs %d, wake-ups %d; want 1, 1", n, woken.Load())
	}
}

// TestApplyLateSubmitAfterEnd: once the copy ended 5630, a late answer,
// accepted or refused, changes nothing and adds no callback.
func TestApplyLateSubmitAfterEnd(t *testing.T) {
	s, _ := receiptStore(t)
	completeUnknown(t, s, "m5", "")
	if n, _, err := s.ExpireReceipts("sim", time.Now().Add(time.Hour), time.Now(), 10); err != nil || n != 1 {
		t.Fatalf("expiry ended %d (%v), want 1", n, err)
	}
	for _, l := range []LateSubmit{late("m5", 0, "4712", 0), late("m5", 0, "", dlrmap.CodeInvalidDest)} {
		res := mustLate(t, s, l)
		if res.Applied || res.NotYet || res.Callbacks != 0 || res.Record.ErrorCode != 5630 {
			t.Fatalf("late answer %+v after the end: %+v", l, res)
		}
	}
	if _, err := s.RecordByCarrierID("sim", "4712"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the late id was indexed: %v", err)
	}
	if n := pendingJobs(t, s); n != 1 {
		t.Fatalf("callback jobs %d, want 1 (the 5630)", n)
	}
	// Another carrier's answer for the same message id is not this copy's.
	completeUnknown(t, s, "m6", "")
	l := late("m6", 0, "4713", 0)
	l.Carrier = "other"
	if res := mustLate(t, s, l); res.Applied {
		t.Fatalf("another carrier's late answer applied: %+v", res)
	}
}

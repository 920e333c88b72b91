package bridge

import (
	"path/filepath"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

// TestLateResultWaitsForItsOutcome: a late response that comes before its
// copy's outcome is written (the outcome is still on its way to
// completeLoop) is recorded once that outcome is committed.
func TestLateResultWaitsForItsOutcome(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "late.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := orphanTestBridge(t, st, nil, time.Hour, nil, nil)
	defer closeBridge(t, b)

	it := store.QueueItem{Carrier: "sim", MessageID: "late-1", AccountID: "1", ApplicationID: "app", From: "+15550001111",
		To: []string{"+15550002222"}, Text: "slow", Segments: 1, ReceivedAt: time.Now()}
	if err := st.Enqueue([]store.QueueItem{it}); err != nil {
		t.Fatal(err)
	}
	st.LoadQueue(func(q store.QueueItem) error { it.Seq = q.Seq; return nil })

	b.LateResultHandler("sim")(smpp.LateResult{Ref: &it, Part: 0, Parts: 1, Result: smpp.PartResult{MessageID: "4242", Status: pdu.StatusOK}})
	// Not written yet: the response waits for the outcome.
	if st := b.LateResponses()["sim"]; st.Applied+st.TooLate != 0 {
		t.Fatalf("late response handled before its outcome was written: %+v", st)
	}
	rec := b.record(&it, "sim")
	rec.Status, rec.SentAt, rec.CarrierIDs, rec.Unknown = "SENT", time.Now(), []string{""}, 1
	b.complete(store.Completion{Seq: it.Seq, Record: rec})

	deadline := time.Now().Add(20 * time.Second)
	for b.LateResponses()["sim"].Applied == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("late response not applied within 20s: %+v", b.LateResponses())
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := st.RecordByCarrierID("sim", "4242")
	if err != nil || got.MessageID != "late-1" || got.Unknown != 0 || got.Status != "SENT" {
		t.Fatalf("record by the late id: %+v, %v", got, err)
	}
}

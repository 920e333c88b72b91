package store

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openRecords(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "rec.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var rt0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// seedRecords enqueues n single-recipient messages for account "a1", one
// a second from rt0, to +1555000000(i%5) from +1999000000(i%2), and some for
// account "a2"; every third is completed SENT, message 4 FAILED 4720 and 5
// FAILED 4405.
func seedRecords(t testing.TB, s *Store, n int) []QueueItem {
	t.Helper()
	var items []QueueItem
	for i := 0; i < n; i++ {
		items = append(items, QueueItem{Carrier: "sim", MessageID: fmt.Sprintf("m%04d", i), AccountID: "a1", ApplicationID: "app",
			From: fmt.Sprintf("+1999000000%d", i%2), To: []string{fmt.Sprintf("+1555000000%d", i%5)}, Text: "hello", Segments: 1,
			ReceivedAt: rt0.Add(time.Duration(i) * time.Second)})
	}
	items = append(items, QueueItem{Carrier: "sim", MessageID: "other", AccountID: "a2", From: "+19990000000", To: []string{"+15550000000"},
		Text: "x", Segments: 1, ReceivedAt: rt0})
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	var cs []Completion
	for i := 0; i < n; i += 3 {
		r := NewRecord(&items[i])
		r.Status, r.SentAt, r.CarrierIDs = StatusSent, rt0.Add(time.Hour), []string{fmt.Sprint("c", i)}
		cs = append(cs, Completion{Seq: items[i].Seq, Record: r})
	}
	if n > 5 {
		r := NewRecord(&items[4])
		r.Status, r.ErrorCode = StatusFailed, 4720
		cs = append(cs, Completion{Seq: items[4].Seq, Record: r})
		r = NewRecord(&items[5])
		r.Status, r.ErrorCode = StatusFailed, 4405
		cs = append(cs, Completion{Seq: items[5].Seq, Record: r})
	}
	if err := s.Complete(cs); err != nil {
		t.Fatal(err)
	}
	return items
}

func recIDs(rs []Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.MessageID)
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 20)
	code := 4720
	cases := []struct {
		name string
		q    RecordQuery
		want []string // newest first unless Ascending
	}{
		{"all of an account", RecordQuery{Limit: 3}, []string{"m0019", "m0018", "m0017"}},
		{"ascending", RecordQuery{Limit: 2, Ascending: true}, []string{"m0000", "m0001"}},
		{"to exact", RecordQuery{To: []string{"+15550000003"}}, []string{"m0018", "m0013", "m0008", "m0003"}},
		{"to list", RecordQuery{To: []string{"+15550000003", "+15550000004"}, Limit: 3}, []string{"m0019", "m0018", "m0014"}},
		{"to list naming a number twice", RecordQuery{To: []string{"+15550000003", "+15550000003"}}, []string{"m0018", "m0013", "m0008", "m0003"}},
		{"from list naming a number twice", RecordQuery{From: []string{"+19990000001", "+19990000001"}, Limit: 3}, []string{"m0019", "m0017", "m0015"}},
		{"to partial", RecordQuery{ToPrefix: []string{"+155500000"}, Limit: 2}, []string{"m0019", "m0018"}},
		{"from exact and to", RecordQuery{From: []string{"+19990000001"}, To: []string{"+15550000003"}}, []string{"m0013", "m0003"}},
		{"status sent", RecordQuery{Status: StatusSent, Limit: 3}, []string{"m0018", "m0015", "m0012"}},
		{"status failed, two error codes", RecordQuery{Status: StatusFailed}, []string{"m0005", "m0004"}},
		{"status failed ascending", RecordQuery{Status: StatusFailed, Ascending: true}, []string{"m0004", "m0005"}},
		{"status and error code", RecordQuery{Status: StatusFailed, ErrorCode: &code}, []string{"m0004"}},
		{"error code 0", RecordQuery{ErrorCode: new(int), Limit: 3}, []string{"m0019", "m0018", "m0017"}},
		{"error code 0 and sent", RecordQuery{ErrorCode: new(int), Status: StatusSent, Limit: 2}, []string{"m0018", "m0015"}},
		{"status queued with from", RecordQuery{Status: StatusQueued, From: []string{"+19990000000"}, Limit: 2}, []string{"m0016", "m0014"}},
		{"error code", RecordQuery{ErrorCode: &code}, []string{"m0004"}},
		{"time window", RecordQuery{Since: rt0.Add(5 * time.Second), Until: rt0.Add(8 * time.Second)}, []string{"m0007", "m0006", "m0005"}},
		{"message id", RecordQuery{MessageID: "m0007"}, []string{"m0007"}},
		{"message id of another account", RecordQuery{MessageID: "other"}, []string{}},
		{"carrier", RecordQuery{Carrier: "SIM", Limit: 1}, []string{"m0019"}},
		{"carrier unknown", RecordQuery{Carrier: "nope"}, []string{}},
		{"direction in", RecordQuery{Direction: "in"}, []string{}},
		{"type sms", RecordQuery{Type: "sms", Limit: 1}, []string{"m0019"}},
		{"type mms", RecordQuery{Type: "mms"}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.AccountID = "a1"
			p, err := s.SearchRecords(c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := recIDs(p.Records); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestSearchPaging walks every page forwards and back, in both orders, for
// an indexed-only query and a filtered one, with records inserted between
// pages (newer than every page: they must not shift positions).
func TestSearchPaging(t *testing.T) {
	s := openRecords(t)
	items := seedRecords(t, s, 23)
	extras := 0 // each insert is beyond every earlier one
	for _, base := range []RecordQuery{{}, {From: []string{"+19990000000"}}, {Direction: "out"}, {ToPrefix: []string{"+1555"}}} {
		for _, asc := range []bool{false, true} {
			q := base
			q.AccountID, q.Ascending, q.Limit = "a1", asc, 5
			all := q
			all.Limit = 1000
			full, err := s.SearchRecords(all)
			if err != nil {
				t.Fatal(err)
			}
			if full.Total != len(full.Records) || full.TotalCapped || full.Next != nil || full.Prev != nil {
				t.Fatalf("%+v: one page: total %d of %d, capped %v, next %x prev %x", base, full.Total, len(full.Records), full.TotalCapped, full.Next, full.Prev)
			}
			var pages [][]Record
			var got []Record
			inserted := false
			for pg := 0; ; pg++ {
				if pg > 10 {
					t.Fatal("paging does not end")
				}
				p, err := s.SearchRecords(q)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != full.Total && !(inserted && p.Total == full.Total+1) {
					t.Fatalf("page %d: total %d, want %d", pg, p.Total, full.Total)
				}
				if (pg == 0) != (p.Prev == nil) {
					t.Fatalf("page %d: prev %x", pg, p.Prev)
				}
				pages = append(pages, p.Records)
				got = append(got, p.Records...)
				if pg == 1 { // a newer insert between pages
					extra := QueueItem{Carrier: "sim", MessageID: fmt.Sprintf("new%d", extras), AccountID: "a1", From: "+19990000000",
						To: []string{"+15550000001"}, Text: "x", Segments: 1, ReceivedAt: rt0.Add(time.Duration(1+extras) * time.Hour)}
					if asc {
						extra.ReceivedAt = rt0.Add(-time.Duration(1+extras) * time.Hour)
					}
					extras++
					inserted = true
					_ = items
					if err := s.Enqueue([]QueueItem{extra}); err != nil {
						t.Fatal(err)
					}
				}
				if p.Next == nil {
					break
				}
				q.After, q.Backward = p.Next, false
				if pg >= 1 { // walk back one page and check it is the previous one
					back := q
					back.After, back.Backward = p.Prev, true
					bp, err := s.SearchRecords(back)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(recIDs(bp.Records), recIDs(pages[pg-1])) {
						t.Fatalf("page %d back: %v, want %v", pg, recIDs(bp.Records), recIDs(pages[pg-1]))
					}
				}
			}
			if !reflect.DeepEqual(recIDs(got), recIDs(full.Records)) {
				t.Fatalf("%+v asc=%v: pages %v, want %v", base, asc, recIDs(got), recIDs(full.Records))
			}
			if n := len(pages[len(pages)-1]); n == 0 {
				t.Fatalf("empty last page")
			}
		}
	}
	// Past the end: an empty page without Next.
	p, err := s.SearchRecords(RecordQuery{AccountID: "a1", After: positionOf(&Record{MessageID: "m0000", ReceivedAt: rt0.Add(-48 * time.Hour)})})
	if err != nil || len(p.Records) != 0 || p.Next != nil {
		t.Fatalf("past the end: %v, next %x, %v", recIDs(p.Records), p.Next, err)
	}
}

// TestSearchWidePrefix: a partial number matching more numbers than are
// merged becomes a filter on the time index, with the same answer.
func TestSearchWidePrefix(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 20)
	q := RecordQuery{AccountID: "a1", ToPrefix: []string{"+155500000"}, Limit: 4}
	narrow, err := s.SearchRecords(q)
	if err != nil {
		t.Fatal(err)
	}
	old := maxPrefixNumbers
	maxPrefixNumbers = 2
	defer func() { maxPrefixNumbers = old }()
	wide, err := s.SearchRecords(q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recIDs(wide.Records), recIDs(narrow.Records)) || wide.Total != narrow.Total || narrow.Total != 20 {
		t.Fatalf("wide %v (%d), narrow %v (%d)", recIDs(wide.Records), wide.Total, recIDs(narrow.Records), narrow.Total)
	}
	maxPrefixNumbers = 0 // every partial number becomes a filter, answered from the summaries
	p, err := s.SearchRecords(RecordQuery{AccountID: "a1", ToPrefix: []string{"+15550000003"}, Direction: "out"})
	if err != nil || !reflect.DeepEqual(recIDs(p.Records), []string{"m0018", "m0013", "m0008", "m0003"}) {
		t.Fatalf("filtered by summary: %v, %v", recIDs(p.Records), err)
	}
}

func TestSearchTotalCapped(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 30)
	p, err := s.SearchRecords(RecordQuery{AccountID: "a1", Limit: 2, CountLimit: 10})
	if err != nil || p.Total != 10 || !p.TotalCapped {
		t.Fatalf("total %d capped %v, %v; want 10, capped", p.Total, p.TotalCapped, err)
	}
}

// TestStatusIndexFollowsUpdates: a receipt and an expiry move the record
// between status index entries; the old status finds it no longer.
func TestStatusIndexFollowsUpdates(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 7)
	count := func(st string) int {
		p, err := s.SearchRecords(RecordQuery{AccountID: "a1", Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Records)
	}
	if q, sent := count(StatusQueued), count(StatusSent); q != 2 || sent != 3 { // 0,3,6 sent; 4, 5 failed
		t.Fatalf("queued %d sent %d", q, sent)
	}
	if _, err := s.ApplyReceipt(Receipt{Carrier: "sim", Candidates: []string{"c3"}, Outcome: OutcomeDelivered}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ExpireReceipts("sim", rt0.Add(2*time.Hour), rt0.Add(3*time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if sent, del, failed := count(StatusSent), count(StatusDelivered), count(StatusFailed); sent != 0 || del != 1 || failed != 4 {
		t.Fatalf("sent %d delivered %d failed %d; want 0 1 4", sent, del, failed)
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, 20) // a1: 0..19 s after rt0; sent: 0,3,...,18; failed 4
	cut := rt0.Add(10 * time.Second)
	sweep := func(waitSince time.Time) int {
		total := 0
		for i := 0; ; i++ {
			if i > 20 {
				t.Fatal("retention does not end")
			}
			n, more, err := s.DeleteRecordsBefore(cut, waitSince, 2)
			if err != nil {
				t.Fatal(err)
			}
			total += n
			if !more {
				return total
			}
		}
	}
	// Before the cut: a1 0..9 (sent 0,3,6,9 at rt0+1h; failed 4,5; 4
	// queued kept) and a2's one queued record (kept). Sent records whose
	// receipt wait may still run (sent at or after waitSince) are kept.
	if n := sweep(rt0.Add(time.Hour)); n != 2 {
		t.Fatalf("deleted %d, want the 2 failed records", n)
	}
	if _, err := s.Record("m0003", 0); err != nil {
		t.Fatalf("m0003, still waiting for its receipt, deleted: %v", err)
	}
	if n := sweep(rt0.Add(time.Hour + time.Nanosecond)); n != 4 {
		t.Fatalf("deleted %d, want the 4 sent records", n)
	}
	if _, err := s.Record("m0003", 0); err != ErrNotFound {
		t.Fatalf("m0003 still there: %v", err)
	}
	if _, err := s.RecordByCarrierID("sim", "c3"); err != ErrNotFound {
		t.Fatalf("carrier id of a deleted record still indexed: %v", err)
	}
	p, _ := s.SearchRecords(RecordQuery{AccountID: "a1", Ascending: true, Limit: 1000})
	if len(p.Records) != 14 || p.Records[0].MessageID != "m0001" {
		t.Fatalf("left %v", recIDs(p.Records))
	}
	for _, st := range []string{StatusSent, StatusFailed} {
		p, _ := s.SearchRecords(RecordQuery{AccountID: "a1", Status: st, Limit: 1000, Until: cut})
		if len(p.Records) != 0 {
			t.Fatalf("%s index still lists %v", st, recIDs(p.Records))
		}
	}
}

func TestExportRecords(t *testing.T) {
	s := openRecords(t)
	seedRecords(t, s, exportChunk+10)
	var got []string
	err := s.ExportRecords("a1", rt0.Add(time.Second), time.Time{}, func(r *Record) error {
		got = append(got, r.MessageID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != exportChunk+9 || got[0] != "m0001" || got[len(got)-1] != fmt.Sprintf("m%04d", exportChunk+9) {
		t.Fatalf("exported %d, first %s last %s", len(got), got[0], got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("out of order at %d: %s after %s", i, got[i], got[i-1])
		}
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	r := Record{MessageID: "m", Recipient: 2, AccountID: "a", ApplicationID: "app", Direction: "out", From: "+1", To: "+2",
		Carrier: "c", Segments: 3, Status: StatusFailed, ErrorCode: 4720, CarrierIDs: []string{"x", "", "z"}, Unknown: 1,
		ReceivedAt: rt0, SentAt: rt0.Add(time.Second), DoneAt: rt0.Add(time.Minute), Tag: "t", HasTag: true, Length: 300,
		AllTo: []string{"+2", "+3", "+4"}, Parts: []PartOutcome{{Outcome: 1}, {Outcome: 2, Code: 4720}}, Type: "mms", Media: 2, Size: 400,
		Product: "P2P", CampaignID: "C1", MediaURLs: []string{"https://e.test/a.jpg", "https://e.test/b.png"}}
	v, _ := encodeRecord(&r)
	var back Record
	if err := decodeRecord(v, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for i := 2; i < len(v); i++ {
		if decodeRecord(v[:i], &back) == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded", i, len(v))
		}
	}
}

// TestOldRecordsIndexedAtOpen: records written as JSON before records
// were indexed are converted and indexed by the Open that adds rec_idx.
func TestOldRecordsIndexedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < 3; i++ {
			v, _ := json.Marshal(&Record{MessageID: fmt.Sprint("old", i), AccountID: "a1", Direction: "out", From: "+1", To: "+2",
				Status: StatusDelivered, ReceivedAt: rt0.Add(time.Duration(i) * time.Second)})
			if err := tx.Bucket(bucketRecords).Put(recordKey(fmt.Sprint("old", i), 0), v); err != nil {
				return err
			}
		}
		return tx.DeleteBucket(bucketRecIdx)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.SearchRecords(RecordQuery{AccountID: "a1", Status: StatusDelivered})
	if err != nil || !reflect.DeepEqual(recIDs(p.Records), []string{"old2", "old1", "old0"}) {
		t.Fatalf("after reopen: %v, %v", recIDs(p.Records), err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRecords).Get(recordKey("old0", 0)); len(v) == 0 || v[0] != recordFormat {
			t.Errorf("record not converted: %q", v)
		}
		return nil
	})
}

// TestSearchStatusNobodyHas: a status no record has now finds nothing,
// also when records had it at insertion (the time index's summaries keep
// the status at insertion and must not answer a status query).
func TestSearchStatusNobodyHas(t *testing.T) {
	s := openRecords(t)
	items := seedRecords(t, s, 3) // m0000 SENT, m0001 and m0002 QUEUED
	var cs []Completion
	for _, it := range items[1:3] {
		r := NewRecord(&it)
		r.Status, r.SentAt = StatusSent, rt0.Add(time.Hour)
		cs = append(cs, Completion{Seq: it.Seq, Record: r})
	}
	if err := s.Complete(cs); err != nil {
		t.Fatal(err)
	}
	for _, st := range []string{StatusQueued, StatusSending, StatusUndelivered} {
		p, err := s.SearchRecords(RecordQuery{AccountID: "a1", Status: st})
		if err != nil || len(p.Records) != 0 || p.Total != 0 {
			t.Fatalf("%s: %v (total %d), %v; want none", st, recIDs(p.Records), p.Total, err)
		}
	}
}

// TestCompleteMovesStatusEntryOnce: an outcome replaces the QUEUED status
// entry Enqueue wrote; an outcome written again for the same copy (its
// status entry is no longer QUEUED) moves it from where it is, leaving one
// entry per record either way.
func TestCompleteMovesStatusEntryOnce(t *testing.T) {
	s := openRecords(t)
	items := seedRecords(t, s, 7)
	count := func(st string) int {
		t.Helper()
		p, err := s.SearchRecords(RecordQuery{AccountID: "a1", Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Records)
	}
	r := NewRecord(&items[1])
	r.Status, r.ErrorCode = StatusFailed, 4720
	for range 2 {
		if err := s.Complete([]Completion{{Seq: items[1].Seq, Record: r}}); err != nil {
			t.Fatal(err)
		}
		if q, failed := count(StatusQueued), count(StatusFailed); q != 1 || failed != 3 {
			t.Fatalf("queued %d failed %d; want 1 and 3", q, failed)
		}
	}
	r.Status, r.ErrorCode = StatusDelivered, 0
	if err := s.Complete([]Completion{{Seq: items[1].Seq, Record: r}}); err != nil {
		t.Fatal(err)
	}
	if q, failed, del := count(StatusQueued), count(StatusFailed), count(StatusDelivered); q != 1 || failed != 2 || del != 1 {
		t.Fatalf("queued %d failed %d delivered %d; want 1, 2, 1", q, failed, del)
	}
}

// TestCompleteWithoutRecord: an outcome for a copy that has no record yet
// (queued by a version that wrote none) writes the record with every
// index entry.
func TestCompleteWithoutRecord(t *testing.T) {
	s := openRecords(t)
	it := QueueItem{Carrier: "sim", MessageID: "late", AccountID: "a1", ApplicationID: "app", From: "+19990000009",
		To: []string{"+15550000009"}, Text: "x", Segments: 1, ReceivedAt: rt0}
	r := NewRecord(&it)
	r.Status, r.SentAt, r.CarrierIDs = StatusSent, rt0.Add(time.Second), []string{"c-late"}
	if err := s.Complete([]Completion{{Seq: 99, Record: r}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []RecordQuery{{AccountID: "a1"}, {AccountID: "a1", To: []string{"+15550000009"}},
		{AccountID: "a1", From: []string{"+19990000009"}}, {AccountID: "a1", Status: StatusSent}} {
		p, err := s.SearchRecords(q)
		if err != nil || !reflect.DeepEqual(recIDs(p.Records), []string{"late"}) {
			t.Fatalf("%+v: %v, %v", q, recIDs(p.Records), err)
		}
	}
}

func TestStatusCodeMatchesTable(t *testing.T) {
	for name, code := range statusCodes {
		if got := statusCode(name); got != code {
			t.Errorf("statusCode(%q) = %d, want %d", name, got, code)
		}
	}
	if statusCode("NOPE") != 0 || statusCode("") != 0 {
		t.Error("unknown status has a code")
	}
}

// TestDeleteRecordsBeforePastQueued: records still queued are kept, but
// they must not stop the sweep: with more expired queued records at the
// start of an account than one commit examines, the expired records after
// them (and in other accounts) are still deleted, in a bounded number of
// calls.
func TestDeleteRecordsBeforePastQueued(t *testing.T) {
	s := openRecords(t)
	var items []QueueItem
	for i := 0; i < 12; i++ { // a1: 10 queued, then 2 to be sent; all expired
		items = append(items, QueueItem{Carrier: "sim", MessageID: fmt.Sprintf("q%04d", i), AccountID: "a1", From: "+19990000000",
			To: []string{"+15550000000"}, Text: "x", Segments: 1, ReceivedAt: rt0.Add(time.Duration(i) * time.Second)})
	}
	items = append(items, QueueItem{Carrier: "sim", MessageID: "b0000", AccountID: "a2", From: "+19990000000",
		To: []string{"+15550000000"}, Text: "x", Segments: 1, ReceivedAt: rt0})
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	var cs []Completion
	for _, i := range []int{10, 11, 12} {
		r := NewRecord(&items[i])
		r.Status, r.SentAt = StatusSent, rt0.Add(time.Hour)
		cs = append(cs, Completion{Seq: items[i].Seq, Record: r})
	}
	if err := s.Complete(cs); err != nil {
		t.Fatal(err)
	}
	cut := rt0.Add(time.Minute)
	total := 0
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatalf("retention does not end: %d deleted after %d calls", total, i)
		}
		n, more, err := s.DeleteRecordsBefore(cut, rt0.Add(2*time.Hour), 2) // examines at most 8 entries per call
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if !more {
			break
		}
	}
	if total != 3 {
		t.Fatalf("deleted %d, want the 3 sent records", total)
	}
	for _, id := range []string{"q0010", "q0011", "b0000"} {
		if _, err := s.Record(id, 0); err != ErrNotFound {
			t.Errorf("%s still there: %v", id, err)
		}
	}
	if _, err := s.Record("q0000", 0); err != nil {
		t.Errorf("queued q0000 deleted: %v", err)
	}
}

// TestSearchEmptyPageHasPrev: the match a page's Next promised can be gone
// when the next page is asked for (here: delivered, so no longer SENT). That
// page is empty, but it still has a Prev that leads back to the page before.
func TestSearchEmptyPageHasPrev(t *testing.T) {
	for _, asc := range []bool{false, true} {
		s := openRecords(t)
		seedRecords(t, s, 7) // SENT: m0000, m0003, m0006 (carrier ids c0, c3, c6)
		q := RecordQuery{AccountID: "a1", Status: StatusSent, Limit: 2, Ascending: asc}
		first, err := s.SearchRecords(q)
		if err != nil || len(first.Records) != 2 || first.Next == nil {
			t.Fatalf("asc=%v: first page %v, next %x, %v", asc, recIDs(first.Records), first.Next, err)
		}
		gone := "c0" // the third match, newest first
		if asc {
			gone = "c6"
		}
		if _, err := s.ApplyReceipt(Receipt{Carrier: "sim", Candidates: []string{gone}, Outcome: OutcomeDelivered}); err != nil {
			t.Fatal(err)
		}
		q.After = first.Next
		second, err := s.SearchRecords(q)
		if err != nil || len(second.Records) != 0 || second.Next != nil {
			t.Fatalf("asc=%v: second page %v, next %x, %v", asc, recIDs(second.Records), second.Next, err)
		}
		if second.Prev == nil {
			t.Fatalf("asc=%v: an empty page after a token has no Prev", asc)
		}
		q.After, q.Backward = second.Prev, true
		back, err := s.SearchRecords(q)
		if err != nil || !reflect.DeepEqual(recIDs(back.Records), recIDs(first.Records)) {
			t.Fatalf("asc=%v: back from the empty page: %v, want %v (%v)", asc, recIDs(back.Records), recIDs(first.Records), err)
		}
	}
}

// TestSearchEmptyPageBackHasNext: walking back to a page whose matches are
// all gone (delivered meanwhile) gives an empty page; it still has a Next
// that leads forward to the page the client came from.
func TestSearchEmptyPageBackHasNext(t *testing.T) {
	for _, asc := range []bool{false, true} {
		s := openRecords(t)
		seedRecords(t, s, 7) // SENT: m0000, m0003, m0006 (carrier ids c0, c3, c6)
		q := RecordQuery{AccountID: "a1", Status: StatusSent, Limit: 1, Ascending: asc}
		first, err := s.SearchRecords(q)
		if err != nil || len(first.Records) != 1 || first.Next == nil {
			t.Fatalf("asc=%v: first page %v, %v", asc, recIDs(first.Records), err)
		}
		q.After = first.Next
		second, err := s.SearchRecords(q)
		if err != nil || len(second.Records) != 1 || second.Prev == nil {
			t.Fatalf("asc=%v: second page %v, prev %x, %v", asc, recIDs(second.Records), second.Prev, err)
		}
		gone := map[bool]string{false: "c6", true: "c0"}[asc] // the first page's record
		if _, err := s.ApplyReceipt(Receipt{Carrier: "sim", Candidates: []string{gone}, Outcome: OutcomeDelivered}); err != nil {
			t.Fatal(err)
		}
		q.After, q.Backward = second.Prev, true
		back, err := s.SearchRecords(q)
		if err != nil || len(back.Records) != 0 {
			t.Fatalf("asc=%v: back %v, %v", asc, recIDs(back.Records), err)
		}
		if back.Next == nil {
			t.Fatalf("asc=%v: an empty page walked back to has no Next", asc)
		}
		q.After, q.Backward = back.Next, false
		again, err := s.SearchRecords(q)
		if err != nil || !reflect.DeepEqual(recIDs(again.Records), recIDs(second.Records)) {
			t.Fatalf("asc=%v: forward again: %v, want %v (%v)", asc, recIDs(again.Records), recIDs(second.Records), err)
		}
	}
}

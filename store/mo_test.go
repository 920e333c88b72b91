package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAddMOPart: parts in any order, one repeated, complete the message
// once; the callback job is written with the last part and the parts go.
func TestAddMOPart(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "mo.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var built []string
	build := func(texts []string) ([]CallbackJob, *Record) {
		built = texts
		return []CallbackJob{{ApplicationID: "app", Kind: "inbound", URL: "http://127.0.0.1:9/in", Body: []byte(`[{"t":"` + strings.Join(texts, "") + `"}]`)}},
			&Record{MessageID: "mo1", AccountID: "acct", Direction: "in", From: "+1", To: "+2", Status: StatusReceived, Segments: len(texts), ReceivedAt: time.Unix(1e9, 0)}
	}
	for i, seq := range []int{3, 1, 3, 2} { // 3 arrives twice
		done, err := s.AddMOPart(MOPart{Key: "sim|+1|+2|7|3", Seq: seq, Total: 3, Text: string(rune('a' + seq - 1))}, build)
		if err != nil {
			t.Fatal(err)
		}
		if done != (i == 3) {
			t.Fatalf("part %d (seq %d): complete = %v", i, seq, done)
		}
	}
	if strings.Join(built, "") != "abc" {
		t.Fatalf("texts %q, want a b c in order", built)
	}
	if n, _ := s.MOPartsPending(); n != 0 {
		t.Fatalf("%d parts left after completion", n)
	}
	if c, _ := s.CallbackStats(); c.New != 1 {
		t.Fatalf("callback jobs %+v, want one", c)
	}
	if rec, err := s.Record("mo1", 0); err != nil || rec.Status != StatusReceived || rec.Segments != 3 || rec.Direction != "in" {
		t.Fatalf("inbound record %+v, %v; want RECEIVED with 3 segments", rec, err)
	}
	if _, err := s.AddMOPart(MOPart{Key: "x", Seq: 4, Total: 3}, build); err == nil {
		t.Fatal("part 4 of 3 accepted")
	}
}

// TestExpireMOParts: an incomplete message is handed over with the parts
// that arrived once its deadline (from the first part) passes, also after
// a restart; a completed one leaves nothing to expire; limit bounds a pass.
func TestExpireMOParts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mo.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := func(text string) []CallbackJob {
		return []CallbackJob{{ApplicationID: "app", Kind: "inbound", URL: "http://127.0.0.1:9/in", Body: []byte(`["` + text + `"]`)}}
	}
	never := func(texts []string) ([]CallbackJob, *Record) { return job(strings.Join(texts, "")), nil }
	add := func(key string, seq, total int, deadline time.Time) {
		t.Helper()
		if _, err := s.AddMOPart(MOPart{Key: key, Seq: seq, Total: total, Text: fmt.Sprint(seq), Deadline: deadline, Info: "info " + key}, never); err != nil {
			t.Fatal(err)
		}
	}
	add("lost", 3, 3, t0.Add(time.Minute))
	add("lost", 1, 3, t0.Add(time.Hour)) // the first part's deadline counts
	add("whole", 2, 2, t0.Add(time.Minute))
	add("whole", 1, 2, t0.Add(time.Minute))
	add("later", 1, 2, t0.Add(2*time.Minute))

	var got []IncompleteMO
	build := func(m IncompleteMO) ([]CallbackJob, *Record) {
		got = append(got, m)
		rec := &Record{MessageID: fmt.Sprintf("in-%s-%d", m.Key, len(got)), AccountID: "acct", Direction: "in",
			Status: StatusReceived, ReceivedAt: t0, Segments: len(m.Texts)}
		return job(strings.Join(m.Texts, "")), rec
	}
	if n, more, err := s.ExpireMOParts(t0.Add(59*time.Second), 10, build); err != nil || n != 0 || more || len(got) != 0 {
		t.Fatalf("before the deadline: %d expired, more %v, %v", n, more, err)
	}
	s.Close()
	if s, err = Open(path, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, more, err := s.ExpireMOParts(t0.Add(time.Minute), 10, build); err != nil || n != 1 || more {
		t.Fatalf("at the deadline: %d expired, more %v, %v", n, more, err)
	}
	if len(got) != 1 || got[0].Key != "lost" || got[0].Info != "info lost" || got[0].Total != 3 ||
		fmt.Sprint(got[0].Seqs) != "[1 3]" || fmt.Sprint(got[0].Texts) != "[1 3]" {
		t.Fatalf("handed over %+v", got)
	}
	if c, _ := s.CallbackStats(); c.New != 2 { // "whole" and "lost"
		t.Fatalf("callback jobs %+v, want 2", c)
	}
	if r, err := s.Record("in-lost-1", 0); err != nil || r.Segments != 2 || r.Status != StatusReceived {
		t.Fatalf("record of the incomplete message: %+v, %v", r, err)
	}
	if n, _ := s.MOPartsPending(); n != 1 { // "later"
		t.Fatalf("%d parts pending, want 1", n)
	}
	// A late part of the expired message starts a new one.
	add("lost", 2, 3, t0.Add(3*time.Minute))
	add("more", 1, 2, t0.Add(3*time.Minute))
	n, more, err := s.ExpireMOParts(t0.Add(time.Hour), 2, build)
	if err != nil || n != 2 || !more {
		t.Fatalf("limited pass: %d expired, more %v, %v", n, more, err)
	}
	if n, more, err = s.ExpireMOParts(t0.Add(time.Hour), 2, build); err != nil || n != 1 || more {
		t.Fatalf("last pass: %d expired, more %v, %v", n, more, err)
	}
	if len(got) != 4 || got[1].Key != "later" || got[2].Key != "lost" || fmt.Sprint(got[2].Seqs) != "[2]" {
		t.Fatalf("handed over %+v", got)
	}
	if n, _ := s.MOPartsPending(); n != 0 {
		t.Fatalf("%d parts left", n)
	}
}

// TestInboundAccepted: an inbound message's record is RECEIVED until its
// message-received job is delivered, then ACCEPTED, and the status index
// follows; a job given up leaves it RECEIVED.
func TestInboundAccepted(t *testing.T) {
	s := openRecords(t)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"in-1", "in-2"} {
		rec := Record{MessageID: id, AccountID: "acct", Direction: "in", From: "+1", To: "+2", Status: StatusReceived, Segments: 1, ReceivedAt: at}
		job := CallbackJob{ApplicationID: "app", Kind: "inbound", URL: "http://127.0.0.1:9/in", Body: []byte(`[]`), Created: at, AcceptsRecord: id}
		if err := s.AddInbound(rec, []CallbackJob{job}); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := s.NextCallbacks(at.Add(time.Hour), 10, func(string, string) Pick { return PickTake })
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %d, %v", len(jobs), err)
	}
	ids := map[string]uint64{}
	for _, j := range jobs {
		ids[j.AcceptsRecord] = j.ID
	}
	if err := s.CallbackDone([]uint64{ids["in-1"]}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallbackDead([]CallbackFailure{{ID: ids["in-2"], At: at.Add(time.Hour), Error: "gone"}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"in-1": StatusAccepted, "in-2": StatusReceived} {
		if r, err := s.Record(id, 0); err != nil || r.Status != want {
			t.Fatalf("%s: %s, %v; want %s", id, r.Status, err, want)
		}
		p, err := s.SearchRecords(RecordQuery{AccountID: "acct", Status: want})
		if err != nil || len(p.Records) != 1 || p.Records[0].MessageID != id {
			t.Fatalf("search %s: %v, %v", want, recIDs(p.Records), err)
		}
	}
	// A repeated report changes nothing.
	if err := s.CallbackDone([]uint64{ids["in-1"]}); err != nil {
		t.Fatal(err)
	}
}

package store

import (
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

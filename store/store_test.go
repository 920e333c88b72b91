package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t testing.TB, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

func item(id string, i int) QueueItem {
	return QueueItem{Carrier: "sim", MessageID: id, Recipient: 0, AccountID: "1", ApplicationID: "app",
		From: "+15550001111", To: []string{fmt.Sprintf("+1555000%04d", i)}, Text: "hello " + id, Segments: 1,
		ReceivedAt: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
}

// TestQueueSurvivesReopen: what Enqueue returned for is there after a
// restart, in FIFO order, and Complete removes it with its text.
func TestQueueSurvivesReopen(t *testing.T) {
	s, path := openTemp(t, Options{})
	items := []QueueItem{item("a", 1), item("b", 2), item("c", 3)}
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	if items[0].Seq == 0 || items[1].Seq <= items[0].Seq || items[2].Seq <= items[1].Seq {
		t.Fatalf("sequences not assigned in order: %d %d %d", items[0].Seq, items[1].Seq, items[2].Seq)
	}
	rec := Record{MessageID: "b", Recipient: 0, Carrier: "sim", Status: "SENT", CarrierIDs: []string{"77", ""}}
	if err := s.Complete([]Completion{{Seq: items[1].Seq, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	if err := s.LoadQueue(func(it QueueItem) error { got = append(got, it.MessageID+":"+it.Text); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a:hello a c:hello c]" {
		t.Fatalf("queue after reopen = %v", got)
	}
	if stored, _ := s.TextStored("b"); stored {
		t.Fatal("text of a completed message is still stored")
	}
	r, err := s.RecordByCarrierID("sim", "77")
	if err != nil || r.MessageID != "b" || r.Status != "SENT" {
		t.Fatalf("record by carrier id = %+v, %v", r, err)
	}
	if _, err := s.RecordByCarrierID("sim", "78"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown carrier id: %v", err)
	}
	if _, err := s.RecordByCarrierID("other", "77"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("carrier ids must be per carrier: %v", err)
	}
}

// TestSecondOpenFails: a second daemon on the same file gets an error, not a hang.
func TestSecondOpenFails(t *testing.T) {
	s, path := openTemp(t, Options{})
	defer s.Close()
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second Open of a locked file succeeded")
	}
}

// TestConcurrentEnqueueUniqueSeqs: batched commits never hand out a sequence twice.
func TestConcurrentEnqueueUniqueSeqs(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	const writers, each = 16, 50
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				its := []QueueItem{item(fmt.Sprintf("%d-%d", w, i), i)}
				if err := s.Enqueue(its); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[its[0].Seq] {
					t.Errorf("seq %d assigned twice", its[0].Seq)
				}
				seen[its[0].Seq] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n, _ := s.QueueLen(); n != writers*each {
		t.Fatalf("queue holds %d items, want %d", n, writers*each)
	}
}

// BenchmarkEnqueueParallel measures durable (fsync'd) enqueues from 64
// concurrent callers, as the HTTP handlers make them;
// STORE_BENCH_WAL=1 uses the intake log (Options.WAL).
func BenchmarkEnqueueParallel(b *testing.B) {
	s, _ := openTemp(b, Options{WAL: os.Getenv("STORE_BENCH_WAL") != ""})
	defer s.Close()
	b.SetParallelism(32) // × GOMAXPROCS(2) = 64 goroutines
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := s.Enqueue([]QueueItem{item("x", i)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkEnqueueThenComplete is the daemon's write pattern: every
// message is enqueued by an HTTP handler and completed by a sender.
func BenchmarkEnqueueThenComplete(b *testing.B) {
	s, _ := openTemp(b, Options{NoSync: os.Getenv("STORE_BENCH_NOSYNC") != "", WAL: os.Getenv("STORE_BENCH_WAL") != ""})
	defer s.Close()
	b.SetParallelism(32)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			its := []QueueItem{item(fmt.Sprintf("%013d%d", time.Now().UnixMilli(), i), i)}
			if err := s.Enqueue(its); err != nil {
				b.Error(err)
				return
			}
			rec := Record{MessageID: its[0].MessageID, Carrier: "sim", Status: "SENT", CarrierIDs: []string{strconv.Itoa(i)}}
			if err := s.Complete([]Completion{{Seq: its[0].Seq, Record: rec}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	st := s.db.Stats()
	b.ReportMetric(float64(st.TxStats.GetWriteTime().Microseconds())/float64(max(1, st.TxStats.GetWrite())), "µs-write/commit")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

// TestPointCursor: get and delete through one reused cursor behave as
// Bucket.Get and Bucket.Delete, also after writes through the bucket.
func TestPointCursor(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketQueue)
		for _, k := range []string{"b", "d", "f"} {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		c := newPointCursor(b)
		for k, want := range map[string]string{"a": "", "b": "vb", "c": "", "d": "vd", "f": "vf", "g": ""} {
			if got := string(c.get([]byte(k))); got != want {
				return fmt.Errorf("get %q = %q, want %q", k, got, want)
			}
		}
		if err := c.delete([]byte("c")); err != nil { // absent: nothing happens
			return err
		}
		if err := c.delete([]byte("d")); err != nil {
			return err
		}
		if err := b.Put([]byte("e"), []byte("ve")); err != nil {
			return err
		}
		if got := string(c.get([]byte("e"))); got != "ve" {
			return fmt.Errorf("get after Put = %q", got)
		}
		var keys []string
		err := b.ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
		if fmt.Sprint(keys) != "[b e f]" {
			return fmt.Errorf("keys %v after deletes, want [b e f]", keys)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestQueueItemCodecRoundTrip(t *testing.T) {
	full := QueueItem{Carrier: "c", High: true, MessageID: "m", Recipient: 1, AccountID: "a", ApplicationID: "app",
		From: "+1", To: []string{"+2", "+3"}, Text: "héllo 😀", Media: []string{"https://x/y"}, Tag: "t", HasTag: true,
		Segments: 3, ReceivedAt: time.Unix(0, 1_800_000_000_123_456_789).UTC(), Expiration: time.Unix(1_900_000_000, 5).UTC(),
		FailCode: 4420, RequestID: "r", Product: "P2P", CampaignID: "C1"}
	for _, it := range []QueueItem{full, {To: []string{"+2"}}} {
		var got QueueItem
		if err := decodeQueueItem(appendQueueItem(nil, &it), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, it) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, it)
		}
	}
	// Items queued by earlier versions are JSON.
	js, _ := json.Marshal(&full)
	var got QueueItem
	if err := decodeQueueItem(js, &got); err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("JSON item: %v %+v", err, got)
	}
	if err := decodeQueueItem(append(appendQueueItem(nil, &full), 0), &got); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

// writeSegment writes a log segment holding items with sequences from
// first on, as the log writes them, and returns its path.
func writeSegment(t *testing.T, dbPath string, first uint64, items []QueueItem) string {
	t.Helper()
	dir := dbPath + ".wal"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w := &intakeLog{}
	for i := range items {
		w.appendFrame(first+uint64(i), appendQueueItem(nil, &items[i]))
	}
	path := filepath.Join(dir, segmentName(first))
	if err := os.WriteFile(path, w.buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func queueIDs(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	if err := s.LoadQueue(func(it QueueItem) error { ids = append(ids, it.MessageID); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

func removeSegments(t *testing.T, dbPath string) {
	t.Helper()
	names, err := listSegments(dbPath + ".wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(dbPath+".wal", n)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWALReplayOnce: entries bbolt already has are not applied again (a
// completed message is never queued twice); the others are, with records.
func TestWALReplayOnce(t *testing.T) {
	s, path := openTemp(t, Options{WAL: true})
	items := []QueueItem{item("a", 1), item("b", 2), item("c", 3)}
	if err := s.Enqueue(items); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete([]Completion{{Seq: items[0].Seq, Record: Record{MessageID: "a", Carrier: "sim", Status: "SENT"}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A log as a crash would leave it: the three applied entries and two
	// that bbolt never committed.
	removeSegments(t, path)
	all := []QueueItem{item("a", 1), item("b", 2), item("c", 3), item("d", 4), item("e", 5)}
	writeSegment(t, path, items[0].Seq, all)

	s, err := Open(path, Options{WAL: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(queueIDs(t, s)); got != "[b c d e]" {
		t.Fatalf("queue after replay = %s", got)
	}
	if r, err := s.Record("e", 0); err != nil || r.Status != StatusQueued {
		t.Fatalf("record of a replayed entry: %+v %v", r, err)
	}
	if r, _ := s.Record("a", 0); r.Status != "SENT" {
		t.Fatalf("completed record rewritten by replay: %+v", r)
	}
	more := []QueueItem{item("f", 6)}
	if err := s.Enqueue(more); err != nil {
		t.Fatal(err)
	}
	if more[0].Seq != items[0].Seq+5 {
		t.Fatalf("sequence after replay = %d, want %d", more[0].Seq, items[0].Seq+5)
	}
	s.Close()
	// Reopening replays nothing twice.
	s, err = Open(path, Options{WAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := fmt.Sprint(queueIDs(t, s)); got != "[b c d e f]" {
		t.Fatalf("queue after second open = %s", got)
	}
}

func TestWALTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(data []byte, lastFrame int) []byte
	}{
		{"partial frame", func(d []byte, last int) []byte { return d[:len(d)-5] }},
		{"partial header", func(d []byte, last int) []byte { return d[:last+3] }},
		{"bad checksum", func(d []byte, last int) []byte { d[len(d)-1] ^= 0xff; return d }},
		{"zeros", func(d []byte, last int) []byte { return append(d, make([]byte, 64)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "test.db")
			items := []QueueItem{item("a", 1), item("b", 2), item("c", 3)}
			seg := writeSegment(t, path, 1, items)
			data, _ := os.ReadFile(seg)
			single := &intakeLog{}
			single.appendFrame(3, appendQueueItem(nil, &items[2]))
			lastFrame := len(data) - len(single.buf)
			data = tc.tear(data, lastFrame)
			if err := os.WriteFile(seg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{WAL: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			want := "[a b]"
			if tc.name == "zeros" {
				want = "[a b c]"
			}
			if got := fmt.Sprint(queueIDs(t, s)); got != want {
				t.Fatalf("queue = %s, want %s", got, want)
			}
			more := []QueueItem{item("d", 4)}
			if err := s.Enqueue(more); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestWALCorruptionInTheMiddleRefused(t *testing.T) {
	t.Run("within the last segment", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "test.db")
		seg := writeSegment(t, path, 1, []QueueItem{item("a", 1), item("b", 2), item("c", 3)})
		data, _ := os.ReadFile(seg)
		data[walFrameHeader+10] ^= 0xff // inside the first entry
		os.WriteFile(seg, data, 0o600)
		if s, err := Open(path, Options{WAL: true}); err == nil || !strings.Contains(err.Error(), "corrupt") {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open = %v, want a corruption error", err)
		}
	})
	t.Run("an older segment", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "test.db")
		seg := writeSegment(t, path, 1, []QueueItem{item("a", 1), item("b", 2)})
		writeSegment(t, path, 3, []QueueItem{item("c", 3)})
		data, _ := os.ReadFile(seg)
		os.WriteFile(seg, data[:len(data)-2], 0o600)
		if s, err := Open(path, Options{WAL: true}); err == nil || !strings.Contains(err.Error(), "corrupt") {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open = %v, want a corruption error", err)
		}
	})
}

// TestWALRotation: small segments rotate, applied ones are deleted, and
// nothing is lost or doubled across a reopen.
func TestWALRotation(t *testing.T) {
	s, path := openTemp(t, Options{WAL: true, WALSegmentSize: 2048})
	const n = 300
	for i := range n {
		if err := s.Enqueue([]QueueItem{item(fmt.Sprintf("m%03d", i), i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.awaitIntake()
	// One more group lets the log delete what bbolt has committed.
	if err := s.Enqueue([]QueueItem{item("last", n)}); err != nil {
		t.Fatal(err)
	}
	names, _ := listSegments(path + ".wal")
	if len(names) > 3 {
		t.Fatalf("%d segments left; applied ones are not deleted", len(names))
	}
	s.Close()
	s, err := Open(path, Options{WAL: true, WALSegmentSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := queueIDs(t, s)
	if len(ids) != n+1 || ids[0] != "m000" || ids[n] != "last" {
		t.Fatalf("queue after reopen: %d items, first %v", len(ids), ids[:min(3, len(ids))])
	}
}

// TestWALOffReplaysLeftovers: turning the log off still applies what an
// earlier run acknowledged through it.
func TestWALOffReplaysLeftovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	writeSegment(t, path, 1, []QueueItem{item("a", 1)})
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Enqueue([]QueueItem{item("b", 2)}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(queueIDs(t, s)); got != "[a b]" {
		t.Fatalf("queue = %s", got)
	}
	if _, err := os.Stat(path + ".wal"); !os.IsNotExist(err) {
		t.Fatalf("log directory left behind: %v", err)
	}
}

// TestWALReadAfterEnqueue: a record is readable as soon as Enqueue returns
// even though bbolt commits it later.
func TestWALReadAfterEnqueue(t *testing.T) {
	s, _ := openTemp(t, Options{WAL: true})
	defer s.Close()
	for i := range 50 {
		id := fmt.Sprintf("r%d", i)
		if err := s.Enqueue([]QueueItem{item(id, i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Record(id, 0); err != nil {
			t.Fatalf("record %s right after Enqueue: %v", id, err)
		}
	}
}

// TestWALBrokenStopsWrites: after a failed fdatasync of the log nothing
// more is written until a restart.
func TestWALBrokenStopsWrites(t *testing.T) {
	s, _ := openTemp(t, Options{WAL: true})
	defer s.Close()
	s.setBroken(fmt.Errorf("disk on fire"))
	if err := s.Enqueue([]QueueItem{item("a", 1)}); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("Enqueue after a failed apply = %v", err)
	}
	if err := s.Complete([]Completion{{Seq: 1, Record: Record{MessageID: "a", Status: "SENT"}}}); err == nil {
		t.Fatal("Complete after a failed apply succeeded")
	}
}

const crashEnv = "STORE_WAL_CRASH_DB"

// TestWALCrashBetweenLogAndCommit kills a process whose bbolt committer is
// stuck inside a transaction while Enqueues keep returning from the log:
// after reopening, every acknowledged item is queued exactly once and no
// completed one came back.
func TestWALCrashBetweenLogAndCommit(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestWALCrashBetweenLogAndCommit$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	acked, completed := map[string]bool{}, map[string]bool{}
	afterStall := 0
	sc := bufio.NewScanner(out)
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		kind, id, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "ack":
			acked[id] = true
			if strings.HasPrefix(id, "late") {
				afterStall++
			}
		case "done":
			completed[id] = true
		}
		if afterStall == 300 && !killed {
			// The committer has been stuck since before the first "late"
			// item: these exist only in the log.
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child ended before the kill (%d acknowledged after the stall)", afterStall)
	}
	s, err := Open(path, Options{WAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[string]int{}
	for _, id := range queueIDs(t, s) {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s queued %d times", id, n)
		}
		if completed[id] {
			t.Errorf("completed %s is queued again", id)
		}
	}
	missing := 0
	for id := range acked {
		if !completed[id] && seen[id] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged items lost", missing, len(acked))
	}
	t.Logf("%d acknowledged (%d after the committer stalled), %d completed, %d queued after restart", len(acked), afterStall, len(completed), len(seen))
}

// crashChild enqueues and completes, stalls the bbolt committer, then keeps
// enqueuing (through the log only) until it is killed.
func crashChild(path string) {
	s, err := Open(path, Options{WAL: true, WALSegmentSize: 8 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var outMu sync.Mutex
	say := func(kind, id string) {
		outMu.Lock()
		fmt.Fprintf(os.Stdout, "%s %s\n", kind, id)
		outMu.Unlock()
	}
	enqueue := func(prefix string, n int, complete bool) {
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					id := fmt.Sprintf("%s%05d", prefix, i)
					items := []QueueItem{item(id, i)}
					if err := s.Enqueue(items); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(2)
					}
					say("ack", id)
					if complete && i%2 == 0 {
						if err := s.Complete([]Completion{{Seq: items[0].Seq, Record: Record{MessageID: id, Carrier: "sim", Status: "SENT"}}}); err != nil {
							fmt.Fprintln(os.Stderr, err)
							os.Exit(2)
						}
						say("done", id)
					}
				}
			})
		}
		wg.Wait()
	}
	enqueue("early", 400, true)
	stuck := make(chan struct{})
	go s.write(func(*bolt.Tx) error {
		close(stuck)
		select {} // holds the committer until the kill
	})
	<-stuck
	// Bounded: the parent kills after 300; the deadline above ends it otherwise.
	enqueue("late", 100000, false)
	os.Exit(3)
}

// TestWALApplyFailureHoldsLaterWrites: while bbolt cannot commit the log's
// entries, writes fail rather than commit before them; once it can, they
// are applied first and nothing is applied twice.
func TestWALApplyFailureHoldsLaterWrites(t *testing.T) {
	s, path := openTemp(t, Options{WAL: true})
	early := []QueueItem{item("a", 1), item("b", 2)}
	if err := s.Enqueue(early); err != nil {
		t.Fatal(err)
	}
	fault := fmt.Errorf("no space left")
	applyFault.Store(&fault)
	defer applyFault.Store(nil)
	late := []QueueItem{item("c", 3)}
	if err := s.Enqueue(late); err != nil { // durable in the log
		t.Fatal(err)
	}
	done := Completion{Seq: late[0].Seq, Record: Record{MessageID: "c", Carrier: "sim", Status: "SENT"}}
	if err := s.Complete([]Completion{done}); err == nil {
		t.Fatal("a write about c committed while c could not be")
	}
	applyFault.Store(nil)
	if err := s.Complete([]Completion{done}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(queueIDs(t, s)); got != "[a b]" {
		t.Fatalf("queue = %s", got)
	}
	s.Close()
	s, err := Open(path, Options{WAL: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := fmt.Sprint(queueIDs(t, s)); got != "[a b]" {
		t.Fatalf("queue after reopen = %s (c replayed twice?)", got)
	}
}

package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func cbJob(app, url, body string) CallbackJob {
	return CallbackJob{ApplicationID: app, Kind: "status", URL: url, Body: []byte(body), Created: t0}
}

func ids(js []CallbackJob) []uint64 {
	out := make([]uint64, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

func counts(t *testing.T, s *Store) CallbackCounts {
	t.Helper()
	c, err := s.CallbackStats()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCallbackOrder: never-tried jobs come first in FIFO order, then the
// retries due now in due order; retries not yet due are left.
func TestCallbackOrder(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	jobs := []CallbackJob{cbJob("a", "http://x/1", `[1]`), cbJob("a", "http://x/1", `[2]`), cbJob("a", "http://x/1", `[3]`), cbJob("a", "http://x/1", `[4]`)}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	got, err := s.NextCallbacks(t0, 10, nil)
	if err != nil || len(got) != 4 {
		t.Fatalf("NextCallbacks = %d jobs, %v", len(got), err)
	}
	// 1 due later than 3; 4 not due at all at t0+time.Minute.
	err = s.CallbackFailed([]CallbackFailure{
		{ID: jobs[0].ID, At: t0.Add(40 * time.Second), Error: "HTTP 500"},
		{ID: jobs[2].ID, At: t0.Add(30 * time.Second), Error: "HTTP 503"},
		{ID: jobs[3].ID, At: t0.Add(time.Hour), Error: "timeout"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ReleaseCallbacks([]uint64{jobs[1].ID}) // still never tried
	more := []CallbackJob{cbJob("b", "http://y/", `[5]`), cbJob("b", "http://y/", `[6]`)}
	if err := s.AddCallbacks(more); err != nil {
		t.Fatal(err)
	}
	got, err = s.NextCallbacks(t0.Add(time.Minute), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, j := range got {
		bodies = append(bodies, string(j.Body))
	}
	if fmt.Sprint(bodies) != "[[2] [5] [6] [3] [1]]" {
		t.Fatalf("order = %v, want never-tried FIFO [2] [5] [6] then due retries [3] [1]", bodies)
	}
	if got[3].Attempts != 1 || got[3].LastError != "HTTP 503" || !got[3].NextAt.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("retry bookkeeping = %+v", got[3])
	}
	if c := counts(t, s); c != (CallbackCounts{New: 3, Retry: 3}) {
		t.Fatalf("counts = %+v", c)
	}
	// Claimed: nothing is handed out twice.
	if again, _ := s.NextCallbacks(t0.Add(time.Minute), 10, nil); len(again) != 0 {
		t.Fatalf("claimed jobs handed out again: %d", len(again))
	}
	at, ok, err := s.NextCallbackDue(t0.Add(time.Minute))
	if err != nil || !ok || !at.Equal(t0.Add(time.Hour)) {
		t.Fatalf("NextCallbackDue = %v %v %v", at, ok, err)
	}
	at, ok, _ = s.NextCallbackDue(time.Time{})
	if !ok || !at.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("NextCallbackDue(zero) = %v %v", at, ok)
	}
	if _, ok, _ := s.NextCallbackDue(t0.Add(2 * time.Hour)); ok {
		t.Fatal("NextCallbackDue after the last retry reported one")
	}
	checkOutbox(t, s)
}

// TestCallbackLifecycle: done deletes, dead moves and counts, bodies come
// back byte for byte.
func TestCallbackLifecycle(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	body := "[ {\"text\":\"<b>&amp; \\u00e9 é\"} ]\n"
	jobs := []CallbackJob{cbJob("a", "http://x/", body), cbJob("a", "http://x/", `[2]`), cbJob("a", "http://x/", `[3]`)}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	got, _ := s.NextCallbacks(t0, 10, nil)
	if len(got) != 3 || string(got[0].Body) != body || got[0].Kind != "status" || got[0].ApplicationID != "a" ||
		got[0].URL != "http://x/" || !got[0].Created.Equal(t0) || !got[0].NextAt.IsZero() {
		t.Fatalf("job read back = %+v", got[0])
	}
	if err := s.CallbackDone([]uint64{jobs[0].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallbackFailed([]CallbackFailure{{ID: jobs[1].ID, At: t0.Add(time.Minute), Error: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallbackDead([]CallbackFailure{{ID: jobs[2].ID, At: t0.Add(24 * time.Hour), Error: "HTTP 404"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Callback(jobs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delivered job still stored: %v", err)
	}
	j, dead, err := s.Callback(jobs[2].ID)
	if err != nil || !dead || j.Attempts != 1 || j.LastError != "HTTP 404" || !j.NextAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("dead job = %+v dead=%v err=%v", j, dead, err)
	}
	if c := counts(t, s); c != (CallbackCounts{Retry: 1, Dead: 1, DeadTotal: 1}) {
		t.Fatalf("counts = %+v", c)
	}
	// Dead jobs are never handed out.
	got, _ = s.NextCallbacks(t0.Add(48*time.Hour), 10, nil)
	if len(got) != 1 || got[0].ID != jobs[1].ID {
		t.Fatalf("after dead-lettering got %v", ids(got))
	}
	// A second report for the same ids is harmless.
	if err := s.CallbackDone([]uint64{jobs[0].ID, jobs[1].ID, jobs[1].ID}); err != nil {
		t.Fatal(err)
	}
	dl, err := s.DeadCallbacks(0, 10)
	if err != nil || len(dl) != 1 || dl[0].ID != jobs[2].ID || string(dl[0].Body) != `[3]` {
		t.Fatalf("DeadCallbacks = %+v %v", dl, err)
	}
	if err := s.DeleteDeadCallbacks([]uint64{jobs[2].ID}); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, s); c != (CallbackCounts{DeadTotal: 1}) {
		t.Fatalf("counts = %+v", c)
	}
	if err := s.AddCallbacks([]CallbackJob{{URL: "http://x/"}}); !errors.Is(err, ErrBadCallback) {
		t.Fatalf("job without body: %v", err)
	}
	checkOutbox(t, s)
}

// TestCallbackPick: Skip passes over every later job of that endpoint
// without asking again; Stop ends the scan.
func TestCallbackPick(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	var jobs []CallbackJob
	for i := 0; i < 6; i++ {
		url := "http://slow/"
		if i%2 == 1 {
			url = "http://fast/"
		}
		jobs = append(jobs, cbJob("a", url, fmt.Sprintf("[%d]", i)))
	}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	asked := map[string]int{}
	got, err := s.NextCallbacks(t0, 10, func(app, url string) Pick {
		asked[url]++
		if url == "http://slow/" {
			return PickSkip
		}
		return PickTake
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(got)) != fmt.Sprint([]uint64{jobs[1].ID, jobs[3].ID, jobs[5].ID}) || asked["http://slow/"] != 1 {
		t.Fatalf("got %v, asked %v", ids(got), asked)
	}
	s.ReleaseCallbacks(ids(got))
	n := 0
	got, _ = s.NextCallbacks(t0, 10, func(app, url string) Pick {
		if n++; n > 2 {
			return PickStop
		}
		return PickTake
	})
	if len(got) != 2 {
		t.Fatalf("Stop after two: got %d", len(got))
	}
}

// TestCallbacksSurviveReopen: claims are memory only; after a restart every
// unfinished job is due, with its bookkeeping.
func TestCallbacksSurviveReopen(t *testing.T) {
	s, path := openTemp(t, Options{})
	jobs := []CallbackJob{cbJob("a", "http://x/", `[1]`), cbJob("a", "http://x/", `[2]`), cbJob("a", "http://x/", `[3]`)}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NextCallbacks(t0, 10, nil); len(got) != 3 {
		t.Fatalf("claimed %d", len(got))
	}
	if err := s.CallbackFailed([]CallbackFailure{{ID: jobs[0].ID, At: t0.Add(time.Minute), Error: "HTTP 500"}}); err != nil {
		t.Fatal(err)
	}
	s.Close() // jobs[1] and jobs[2] still claimed
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.NextCallbacks(t0.Add(time.Minute), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(got)) != fmt.Sprint([]uint64{jobs[1].ID, jobs[2].ID, jobs[0].ID}) || got[2].Attempts != 1 {
		t.Fatalf("after reopen got %v", ids(got))
	}
	if c := counts(t, s); c != (CallbackCounts{New: 2, Retry: 1}) {
		t.Fatalf("counts = %+v", c)
	}
	more := []CallbackJob{cbJob("a", "http://x/", `[4]`)}
	if err := s.AddCallbacks(more); err != nil || more[0].ID <= jobs[2].ID {
		t.Fatalf("id after reopen %d, err %v", more[0].ID, err)
	}
	checkOutbox(t, s)
}

// TestAddCallbacksTx: a job added inside another write commits or rolls
// back with it.
func TestAddCallbacksTx(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	boom := errors.New("boom")
	err := s.write(func(tx *bolt.Tx) error {
		if err := addCallbacksTx(tx, []CallbackJob{cbJob("a", "http://x/", `[1]`)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if c := counts(t, s); c.Pending() != 0 {
		t.Fatalf("rolled-back job counted: %+v", c)
	}
	jobs := []CallbackJob{cbJob("a", "http://x/", `[2]`)}
	err = s.write(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRecords).Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		return addCallbacksTx(tx, jobs)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.NextCallbacks(t0, 10, nil)
	if len(got) != 1 || got[0].ID != jobs[0].ID || !bytes.Equal(got[0].Body, []byte(`[2]`)) {
		t.Fatalf("got %+v", got)
	}
	checkOutbox(t, s)
}

// checkOutbox verifies the outbox's derived state against its data: every
// live job has exactly one index entry matching its record, cb_active holds
// each endpoint's counts and earliest retry, the counters match.
func checkOutbox(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		type epState struct{ new, retry, head uint64 }
		want := map[uint32]*epState{}
		st := func(ep uint32) *epState {
			if want[ep] == nil {
				want[ep] = &epState{}
			}
			return want[ep]
		}
		newIdx, retryIdx := tx.Bucket(bucketCBNew), tx.Bucket(bucketCBRetry)
		var nNew, nRetry, nDead int
		endpointOK := func(id uint64, ep uint32, j CallbackJob) error {
			name := tx.Bucket(bucketCBEpNames).Get(epKey(ep))
			if app, url, _ := splitEndpoint(name); app != j.ApplicationID || url != j.URL {
				return fmt.Errorf("job %d: endpoint %d is %q/%q, record says %q/%q", id, ep, app, url, j.ApplicationID, j.URL)
			}
			return nil
		}
		// Never-tried jobs: their records are their cb_new entries.
		err := newIdx.ForEach(func(k, v []byte) error {
			id := binary.BigEndian.Uint64(k[4:])
			j, ep, err := decodeJob(id, v)
			if err != nil {
				return err
			}
			if ep != binary.BigEndian.Uint32(k) || !j.NextAt.IsZero() || j.Attempts != 0 {
				return fmt.Errorf("cb_new entry %x: record of endpoint %d, next %v, attempts %d", k, ep, j.NextAt, j.Attempts)
			}
			if tx.Bucket(bucketCBJobs).Get(seqKey(id)) != nil {
				return fmt.Errorf("job %d: in cb_new and cb_jobs", id)
			}
			nNew++
			st(ep).new++
			return endpointOK(id, ep, j)
		})
		if err != nil {
			return err
		}
		// Retries: records in cb_jobs, indexed in cb_retry.
		err = tx.Bucket(bucketCBJobs).ForEach(func(k, v []byte) error {
			id := binary.BigEndian.Uint64(k)
			j, ep, err := decodeJob(id, v)
			if err != nil {
				return err
			}
			if err := endpointOK(id, ep, j); err != nil {
				return err
			}
			if j.NextAt.IsZero() {
				return fmt.Errorf("job %d: never tried, in cb_jobs", id)
			}
			nRetry++
			at := unixNanos(j.NextAt)
			if e := st(ep); e.head == 0 || at < e.head {
				e.head = at
			}
			st(ep).retry++
			if retryIdx.Get(retryKey(ep, at, id)) == nil {
				return fmt.Errorf("job %d: not in cb_retry at %v", id, j.NextAt)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if kn := newIdx.Stats().KeyN; kn != nNew {
			return fmt.Errorf("cb_new has %d entries for %d never-tried jobs", kn, nNew)
		}
		if kn := retryIdx.Stats().KeyN; kn != nRetry {
			return fmt.Errorf("cb_retry has %d entries for %d retries", kn, nRetry)
		}
		nDead = tx.Bucket(bucketCBDead).Stats().KeyN
		active := activeEndpoints(tx)
		if len(active) != len(want) {
			return fmt.Errorf("cb_active has %d endpoints, want %d", len(active), len(want))
		}
		for _, a := range active {
			w := want[a.ep]
			if w == nil || a.new != w.new || a.retry != w.retry || (a.retry > 0 && a.head != w.head) {
				return fmt.Errorf("cb_active[%d] = %+v, want %+v", a.ep, a, w)
			}
		}
		c, _ := s.CallbackStats()
		if c.New != nNew || c.Retry != nRetry || c.Dead != nDead {
			return fmt.Errorf("counters %+v, data has %d new, %d retry, %d dead", c, nNew, nRetry, nDead)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOutboxRandomOps: random adds, claims and outcomes over a few
// endpoints keep the derived state right, and NextCallbacks keeps its
// order: never-tried by id, then due retries by (next_at, id).
func TestOutboxRandomOps(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	now := t0
	for round := 0; round < 300; round++ {
		switch rng.IntN(3) {
		case 0:
			jobs := make([]CallbackJob, 1+rng.IntN(5))
			for i := range jobs {
				e := rng.IntN(4)
				jobs[i] = cbJob(fmt.Sprint("app", e%2), fmt.Sprint("http://x/", e), `[1]`)
			}
			if err := s.AddCallbacks(jobs); err != nil {
				t.Fatal(err)
			}
		default:
			now = now.Add(time.Duration(rng.IntN(120)) * time.Second)
			skipEP := fmt.Sprint("http://x/", rng.IntN(4))
			got, err := s.NextCallbacks(now, 1+rng.IntN(8), func(app, url string) Pick {
				if url == skipEP {
					return PickSkip
				}
				return PickTake
			})
			if err != nil {
				t.Fatal(err)
			}
			seenRetry := false
			var last CallbackJob
			for i, j := range got {
				if j.URL == skipEP {
					t.Fatalf("skipped endpoint's job %d returned", j.ID)
				}
				isRetry := !j.NextAt.IsZero()
				switch {
				case isRetry && j.NextAt.After(now):
					t.Fatalf("job %d not due: %v > %v", j.ID, j.NextAt, now)
				case !isRetry && seenRetry:
					t.Fatalf("never-tried job %d after a retry", j.ID)
				case i > 0 && !isRetry && j.ID < last.ID,
					i > 0 && isRetry && !last.NextAt.IsZero() && (j.NextAt.Before(last.NextAt) || j.NextAt.Equal(last.NextAt) && j.ID < last.ID):
					t.Fatalf("order: %d after %d", j.ID, last.ID)
				}
				seenRetry = seenRetry || isRetry
				last = j
			}
			var done []uint64
			var fails, dead []CallbackFailure
			for _, j := range got {
				f := CallbackFailure{ID: j.ID, At: now.Add(time.Duration(1+rng.IntN(300)) * time.Second), Error: "x"}
				switch rng.IntN(8) {
				case 0, 1:
					done = append(done, j.ID)
				case 2, 3, 4:
					fails = append(fails, f)
				case 5:
					dead = append(dead, f)
				default:
					s.ReleaseCallbacks([]uint64{j.ID})
				}
			}
			if err := s.CallbackDone(done); err != nil {
				t.Fatal(err)
			}
			if err := s.CallbackFailed(fails); err != nil {
				t.Fatal(err)
			}
			if err := s.CallbackDead(dead); err != nil {
				t.Fatal(err)
			}
		}
		checkOutbox(t, s)
	}
	// Everything left is handed out once all is due, and nothing twice.
	c, _ := s.CallbackStats()
	got, err := s.NextCallbacks(now.Add(time.Hour), 1<<20, nil)
	if err != nil || len(got) != c.Pending() {
		t.Fatalf("%d of %d pending handed out: %v", len(got), c.Pending(), err)
	}
	t.Logf("end: %+v", c)
}

// TestDeadCallbacksRequeueAndExpire: a requeued dead job is a never-tried
// job again with its body and endpoint; the retention sweep deletes only
// jobs given up before its cutoff, bounded per call.
func TestDeadCallbacksRequeueAndExpire(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	var jobs []CallbackJob
	for i := range 5 {
		jobs = append(jobs, cbJob("a", "http://x/", fmt.Sprintf("[%d]", i)))
	}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.NextCallbacks(t0, 10, nil); len(got) != 5 {
		t.Fatalf("took %d jobs", len(got))
	}
	var fs []CallbackFailure
	for i, j := range jobs {
		fs = append(fs, CallbackFailure{ID: j.ID, At: t0.Add(time.Duration(i) * time.Hour), Error: "HTTP 500"})
	}
	if err := s.CallbackDead(fs); err != nil {
		t.Fatal(err)
	}
	n, err := s.RequeueDeadCallbacks([]uint64{jobs[4].ID, 999999})
	if err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	if c := counts(t, s); c != (CallbackCounts{New: 1, Dead: 4, DeadTotal: 5}) {
		t.Fatalf("counts after requeue = %+v", c)
	}
	got, _ := s.NextCallbacks(t0, 10, nil)
	if len(got) != 1 || string(got[0].Body) != "[4]" || got[0].URL != "http://x/" || got[0].ApplicationID != "a" ||
		got[0].Attempts != 0 || got[0].ID == jobs[4].ID {
		t.Fatalf("requeued job = %+v", got)
	}
	s.ReleaseCallbacks([]uint64{got[0].ID})

	// Given up at t0, t0+1h, t0+2h, t0+3h; cutoff t0+150m: three go, in
	// passes of two.
	deleted, more, err := s.ExpireDeadCallbacks(t0.Add(150*time.Minute), 2)
	if err != nil || deleted != 2 || !more {
		t.Fatalf("first pass: %d, more %v, %v", deleted, more, err)
	}
	deleted, more, err = s.ExpireDeadCallbacks(t0.Add(150*time.Minute), 2)
	if err != nil || deleted != 1 || more {
		t.Fatalf("second pass: %d, more %v, %v", deleted, more, err)
	}
	dl, _ := s.DeadCallbacks(0, 10)
	if len(dl) != 1 || dl[0].ID != jobs[3].ID {
		t.Fatalf("dead letters left: %v", ids(dl))
	}
	if c := counts(t, s); c != (CallbackCounts{New: 1, Dead: 1, DeadTotal: 5}) {
		t.Fatalf("counts after expiry = %+v", c)
	}
	checkOutbox(t, s)
}

// holdCommitter blocks the committer inside a write until the returned
// release is called, so that writes queued meanwhile share one commit.
func holdCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, hold := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		once := false
		done <- s.write(func(*bolt.Tx) error {
			if !once { // it may run twice; only the first holds
				once = true
				close(entered)
				<-hold
			}
			return nil
		})
	}()
	<-entered
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// waitQueued polls until n writes wait for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(s.writes) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes queued after 30 s", len(s.writes), n)
		}
		time.Sleep(time.Millisecond) // polling an observable condition
	}
}

// TestOutboxGroupCommit: adds, deliveries, failures and dead letters that
// share one commit (one outbox writer, counters written once) leave the
// same counters as separate commits; so does a group that fails because
// of one write and is then committed write by write.
func TestOutboxGroupCommit(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	now := t0
	for round := range 40 {
		var got []CallbackJob
		if round > 0 {
			var err error
			if got, err = s.NextCallbacks(now, 12, nil); err != nil {
				t.Fatal(err)
			}
		}
		var done []uint64
		var fails, dead []CallbackFailure
		for _, j := range got {
			f := CallbackFailure{ID: j.ID, At: now.Add(time.Duration(1+rng.IntN(60)) * time.Second), Error: "x"}
			switch rng.IntN(4) {
			case 0:
				done = append(done, j.ID)
			case 1, 2:
				fails = append(fails, f)
			default:
				dead = append(dead, f)
			}
		}
		failing := round%5 == 4
		release := holdCommitter(t, s)
		errs := make(chan error, 8)
		n := 0
		start := func(f func() error) {
			n++
			go func() { errs <- f() }()
		}
		for range 3 {
			jobs := make([]CallbackJob, 1+rng.IntN(4))
			for i := range jobs {
				e := rng.IntN(3)
				jobs[i] = cbJob(fmt.Sprint("app", e%2), fmt.Sprint("http://x/", e), `[1]`)
			}
			start(func() error { return s.AddCallbacks(jobs) })
		}
		start(func() error { return s.CallbackDone(done) })
		start(func() error { return s.CallbackFailed(fails) })
		start(func() error { return s.CallbackDead(dead) })
		boom := errors.New("boom")
		if failing {
			start(func() error {
				if err := s.write(func(*bolt.Tx) error { return boom }); !errors.Is(err, boom) {
					return fmt.Errorf("failing write returned %v", err)
				}
				return nil
			})
		}
		waitQueued(t, s, n)
		commits := s.Stats().Commits
		release()
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		// The held write, then the group (and, when it failed, each write alone).
		if c := s.Stats().Commits - commits; !failing && c != 2 {
			t.Fatalf("round %d: %d commits, want the held one and one for the group", round, c)
		}
		checkOutbox(t, s)
		now = now.Add(30 * time.Second)
	}
	t.Logf("end: %+v", counts(t, s))
}

// TestCallbackClaimsHeldAcrossReads: jobs stay claimed over many reads and
// are finished, given back or lose a finishing write (simulated) in random
// order; every read returns exactly the never-tried jobs that are neither
// claimed nor finished, FIFO per endpoint, so the scans' start past each
// endpoint's claimed jobs never hides one.
func TestCallbackClaimsHeldAcrossReads(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	live := map[uint64]bool{} // id -> claimed
	var claimed []uint64
	for round := 0; round < 400; round++ {
		jobs := make([]CallbackJob, rng.IntN(6))
		for i := range jobs {
			jobs[i] = cbJob("app", fmt.Sprint("http://x/", rng.IntN(3)), `[1]`)
		}
		if len(jobs) > 0 {
			if err := s.AddCallbacks(jobs); err != nil {
				t.Fatal(err)
			}
			for _, j := range jobs {
				live[j.ID] = false
			}
		}
		limit := 1 + rng.IntN(6)
		got, err := s.NextCallbacks(t0, limit, nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []uint64
		for id, c := range live {
			if !c {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if len(got) != min(limit, len(want)) || !slices.Equal(ids(got), want[:len(got)]) {
			t.Fatalf("round %d: got %v, want the first of %v", round, ids(got), want)
		}
		for _, j := range got {
			live[j.ID] = true
			claimed = append(claimed, j.ID)
		}
		// Finish some claims, oldest more likely first, as a sender does.
		rng.Shuffle(len(claimed), func(i, j int) {
			if rng.IntN(3) == 0 {
				claimed[i], claimed[j] = claimed[j], claimed[i]
			}
		})
		n := rng.IntN(len(claimed) + 1)
		for _, id := range claimed[:n] {
			switch rng.IntN(4) {
			case 0, 1:
				if err := s.CallbackDone([]uint64{id}); err != nil {
					t.Fatal(err)
				}
				delete(live, id)
			case 2:
				s.ReleaseCallbacks([]uint64{id})
				live[id] = false
			default: // the finishing write failed: the job stays as it was
				s.claims().release([]uint64{id}, true)
				live[id] = false
			}
		}
		claimed = append(claimed[:0], claimed[n:]...)
		checkOutbox(t, s)
	}
}

// TestOutboxMigratesLayout1: an outbox written in layout 1 (every record
// in cb_jobs, empty cb_new entries) is moved to layout 2 at Open, in
// several transactions; an index entry whose record is missing is dropped.
// Afterwards the jobs come out in order, finish normally and the counters
// agree with the data.
func TestOutboxMigratesLayout1(t *testing.T) {
	defer func(n int) { migrateChunk = n }(migrateChunk)
	migrateChunk = 7
	s, path := openTemp(t, Options{NoSync: true})
	var jobs []CallbackJob
	for i := range 25 {
		jobs = append(jobs, cbJob(fmt.Sprint("app", i%3), fmt.Sprint("http://x/", i%3), fmt.Sprintf(`[%d]`, i)))
	}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	// Jobs 0-4 failed once: retries, the same in both layouts.
	got, err := s.NextCallbacks(t0, 5, nil)
	if err != nil || len(got) != 5 {
		t.Fatal(len(got), err)
	}
	var fails []CallbackFailure
	for _, j := range got {
		fails = append(fails, CallbackFailure{ID: j.ID, At: t0.Add(time.Minute), Error: "HTTP 500"})
	}
	if err := s.CallbackFailed(fails); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Rewrite as layout 1; job 24's record is lost.
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		newIdx, recs := tx.Bucket(bucketCBNew), tx.Bucket(bucketCBJobs)
		type kv struct{ k, v []byte }
		var all []kv
		newIdx.ForEach(func(k, v []byte) error { all = append(all, kv{bytes.Clone(k), bytes.Clone(v)}); return nil })
		for _, e := range all {
			if binary.BigEndian.Uint64(e.k[4:]) != jobs[24].ID {
				if err := recs.Put(e.k[4:], e.v); err != nil {
					return err
				}
			}
			if err := newIdx.Put(e.k, []byte{}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketCBMeta).Delete(metaLayout)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkOutbox(t, s)
	if c := counts(t, s); c != (CallbackCounts{New: 19, Retry: 5}) {
		t.Fatalf("counts %+v", c)
	}
	got, err = s.NextCallbacks(t0.Add(time.Hour), 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, j := range got {
		bodies = append(bodies, string(j.Body))
	}
	want := "[[5] [6] [7] [8] [9] [10] [11] [12] [13] [14] [15] [16] [17] [18] [19] [20] [21] [22] [23] [0] [1] [2] [3] [4]]"
	if fmt.Sprint(bodies) != want {
		t.Fatalf("after migration: %v, want %s", bodies, want)
	}
	if j, dead, err := s.Callback(jobs[7].ID); err != nil || dead || string(j.Body) != "[7]" {
		t.Fatalf("Callback: %+v %v %v", j, dead, err)
	}
	if err := s.CallbackDone(ids(got)); err != nil {
		t.Fatal(err)
	}
	checkOutbox(t, s)
	if c := counts(t, s); c.Pending() != 0 {
		t.Fatalf("counts %+v", c)
	}
}

// TestCallbackFoundWithoutClaim: a never-tried job that is not claimed
// (here: another Store on the same file never handed it out) is found by id
// for Callback, CallbackFailed and CallbackDone.
func TestCallbackFoundWithoutClaim(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	defer s.Close()
	jobs := []CallbackJob{cbJob("a", "http://x/1", `[1]`), cbJob("b", "http://x/2", `[2]`), cbJob("c", "http://x/3", `[3]`)}
	if err := s.AddCallbacks(jobs); err != nil {
		t.Fatal(err)
	}
	if j, dead, err := s.Callback(jobs[1].ID); err != nil || dead || string(j.Body) != "[2]" {
		t.Fatalf("Callback: %+v %v %v", j, dead, err)
	}
	if err := s.CallbackFailed([]CallbackFailure{{ID: jobs[2].ID, At: t0, Error: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CallbackDone([]uint64{jobs[1].ID, 999}); err != nil {
		t.Fatal(err)
	}
	checkOutbox(t, s)
	if c := counts(t, s); c != (CallbackCounts{New: 1, Retry: 1}) {
		t.Fatalf("counts %+v", c)
	}
	if j, _, err := s.Callback(jobs[2].ID); err != nil || j.Attempts != 1 {
		t.Fatalf("Callback: %+v %v", j, err)
	}
}

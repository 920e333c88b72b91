package store

import (
	"errors"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCommitBucketBounds(t *testing.T) {
	prev := -1
	for us := int64(4); us < 1<<30; us += 1 + us/7 {
		d := time.Duration(us)*time.Microsecond + 999*time.Nanosecond
		i := commitBucket(d)
		if i < prev {
			t.Fatalf("bucket of %v is %d, below the previous %d", d, i, prev)
		}
		prev = i
		if up := commitBucketUpper(i); d >= up || float64(up) > 1.26*float64(d) {
			t.Fatalf("%v in bucket %d with bound %v: not within 26 %% above", d, i, up)
		}
	}
	if commitBucket(-time.Second) != 0 || commitBucket(time.Duration(1<<62)) != commitBuckets-1 {
		t.Fatal("out-of-range durations must land in the end buckets")
	}
}

func TestCommitHistQuantile(t *testing.T) {
	var h commitHist
	if h.quantile(0.99) != 0 {
		t.Fatal("quantile before any commit must be zero")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]time.Duration, 5000)
	for i := range ds {
		ds[i] = time.Duration(rng.ExpFloat64() * float64(2*time.Millisecond))
		h.add(ds[i], i%70)
	}
	slices.Sort(ds)
	exact := ds[int(0.99*float64(len(ds)))-1]
	got := h.quantile(0.99)
	if got < exact || float64(got) > 1.3*float64(exact) {
		t.Fatalf("p99 %v, exact %v: want at most 30 %% above", got, exact)
	}
	if time.Duration(h.max.Load()) != ds[len(ds)-1] || h.maxBatch.Load() != 69 {
		t.Fatalf("max %v (want %v), max writes %d (want 69)", time.Duration(h.max.Load()), ds[len(ds)-1], h.maxBatch.Load())
	}
	if h.quantile(1) != ds[len(ds)-1] {
		t.Fatalf("p100 %v, want the max %v", h.quantile(1), ds[len(ds)-1])
	}
}

func TestStatsCommitTail(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	for i := range 20 {
		if err := s.Enqueue([]QueueItem{{MessageID: "m" + string(rune('a'+i)), To: []string{"+15550001"}}}); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.CommitMax <= 0 || st.CommitP99 <= 0 || st.CommitP99 > st.CommitMax || st.MaxWritesPerCommit < 1 {
		t.Fatalf("commit tail not recorded: %+v", st)
	}
}

// TestHealthFollowsCommits: a commit that fails after every write's own
// function succeeded (the disk) makes the store unhealthy until a commit
// succeeds; a write's own error does not.
func TestHealthFollowsCommits(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true})
	if err := s.Health(); err != nil {
		t.Fatalf("a new store: %v", err)
	}
	s.noteCommit(errors.New("a write's own error"), false)
	if err := s.Health(); err != nil {
		t.Fatalf("after a write's own error: %v", err)
	}
	s.noteCommit(syscall.ENOSPC, true)
	if err := s.Health(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after a failed commit: %v, want ENOSPC", err)
	}
	if err := s.write(func(*bolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("after a commit succeeded: %v", err)
	}
	s.commitFailed.Store(&commitFailure{err: syscall.EIO, at: time.Now().Add(-healthWindow)})
	if err := s.Health(); err != nil {
		t.Fatalf("a failure older than the window: %v", err)
	}
}

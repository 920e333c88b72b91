package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// holdCommitLoop starts a write whose function blocks the committer inside
// its transaction until release is closed; entered is closed once it runs.
func holdCommitLoop(s *Store) (entered, release chan struct{}, done chan error) {
	entered, release, done = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() { done <- s.write(blockingFn(entered, release)) }()
	return entered, release, done
}

// blockingFn closes entered on its first run (it may run again after a
// failed commit) and then waits for release.
func blockingFn(entered, release chan struct{}) func(*bolt.Tx) error {
	ran := false
	return func(*bolt.Tx) error {
		if !ran {
			ran = true
			close(entered)
		}
		<-release
		return nil
	}
}

func startWrites(s *Store, n int) chan error {
	done := make(chan error, n)
	for range n {
		go func() { done <- s.write(func(*bolt.Tx) error { return nil }) }()
	}
	return done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func recvAll(t *testing.T, what string, done chan error, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-timeout:
			t.Fatalf("%s: not committed within 30s", what)
		}
	}
}

// busyCommit makes the committer's next commit one of eight writes, the
// last of them fn, so the commit after it qualifies for gathering if it
// comes back to back. It returns the eight writes' results.
func busyCommit(t *testing.T, s *Store, fn func(*bolt.Tx) error) chan error {
	t.Helper()
	entered, release, held := holdCommitLoop(s)
	<-entered
	done := startWrites(s, 7)
	go func() { done <- s.write(fn) }()
	waitFor(t, "eight queued writes", func() bool { return len(s.writes) == 8 })
	close(release)
	recvAll(t, "held write", held, 1)
	return done
}

// A write that finds the committer idle is committed at once, even right
// after a busy commit and with a commit delay far beyond the test's deadline.
func TestCommitDelayLoneWriteNotDelayed(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, CommitDelay: time.Hour})
	defer s.Close()
	recvAll(t, "first lone write", startWrites(s, 1), 1)
	idle := s.idleWaits.Load()
	recvAll(t, "busy commit", busyCommit(t, s, func(*bolt.Tx) error { return nil }), 8)
	// The committer has gone idle after the busy commit (not merely
	// finished it): the lone write below cannot meet it back to back.
	waitFor(t, "committer idle", func() bool { return s.idleWaits.Load() > idle })
	recvAll(t, "lone write after a busy commit", startWrites(s, 1), 1)
	if g := s.Stats().Gathers; g != 0 {
		t.Fatalf("gathers = %d, want 0", g)
	}
}

// A write waiting when a busy commit ends is held up to the commit delay to
// gather company, then committed.
func TestCommitDelayGathersWhenBusy(t *testing.T) {
	s, _ := openTemp(t, Options{NoSync: true, CommitDelay: 20 * time.Millisecond})
	defer s.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	busy := busyCommit(t, s, blockingFn(entered, release))
	<-entered // the busy commit is running: a write queued now waits for it
	waiting := startWrites(s, 1)
	waitFor(t, "a write queued behind the busy commit", func() bool { return len(s.writes) == 1 })
	close(release)
	recvAll(t, "busy commit", busy, 8)
	recvAll(t, "write after the busy commit", waiting, 1)
	if g := s.Stats().Gathers; g != 1 {
		t.Fatalf("gathers = %d, want 1", g)
	}
}

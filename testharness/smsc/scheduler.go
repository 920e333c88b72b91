package smsc

import (
	"container/heap"
	"sync"
	"time"
)

// scheduler runs delayed work (late responses, receipts, retries, concat
// timeouts) from one goroutine and one timer, instead of a timer per item:
// at tens of thousands of messages a second that difference matters.
type scheduler struct {
	mu    sync.Mutex
	items jobHeap
	seq   uint64
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
}

type job struct {
	at  time.Time
	seq uint64 // keeps jobs due at the same instant in submission order
	fn  func()
}

type jobHeap []job

func (h jobHeap) Len() int { return len(h) }
func (h jobHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h jobHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *jobHeap) Push(x any)   { *h = append(*h, x.(job)) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = job{}
	*h = old[:len(old)-1]
	return j
}

func newScheduler() *scheduler {
	return &scheduler{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// after runs fn once d has passed. Jobs pending at stop never run.
func (s *scheduler) after(d time.Duration, fn func()) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.items, job{at: time.Now().Add(d), seq: s.seq, fn: fn})
	first := s.items[0].seq == s.seq
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (s *scheduler) stop() { s.once.Do(func() { close(s.done) }) }

func (s *scheduler) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		var due []job
		for len(s.items) > 0 && !s.items[0].at.After(now) {
			due = append(due, heap.Pop(&s.items).(job))
		}
		wait := time.Hour
		if len(s.items) > 0 {
			wait = s.items[0].at.Sub(now)
		}
		s.mu.Unlock()
		for _, j := range due {
			j.fn()
		}
		t.Reset(wait)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

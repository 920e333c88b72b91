package bridge

import (
	"testing"
	"time"

	"smppbridge/store"
)

// TestClassLanes: a class over its own rate waits while other classes'
// messages pass it, and its messages leave at no more than its rate.
func TestClassLanes(t *testing.T) {
	q := newCarrierQueue(Carrier{Name: "c", ClassRates: map[string]float64{ClassA2P: 20}})
	q.classify = func(from string) string {
		if from == "+15550000001" {
			return ClassA2P
		}
		return ClassP2P
	}
	seq := uint64(0)
	push := func(from string, n int, high bool) {
		for range n {
			seq++
			q.push(&store.QueueItem{Seq: seq, From: from, To: []string{"+1"}, Segments: 1, High: high})
		}
	}
	push("+15550000001", 30, false) // a2p: 20 go at once (one second of burst), then 20/s
	push("+15550000002", 5, false)  // p2p, queued behind all of them
	push("+15550000001", 1, true)   // a high-priority a2p message

	start := time.Now()
	var order []string
	for range 36 {
		it := q.pop()
		if it == nil {
			t.Fatal("queue closed")
		}
		kind := "a2p"
		if it.From == "+15550000002" {
			kind = "p2p"
		}
		if it.High {
			kind = "high"
		}
		order = append(order, kind)
	}
	elapsed := time.Since(start)
	if order[0] != "high" {
		t.Errorf("first out: %s, want the high-priority message", order[0])
	}
	// The burst (20 tokens: the high one and 19 a2p) goes first; then the
	// throttled a2p lane lets the five p2p messages pass (right after the
	// burst; the bound leaves room for a token or two refilled meanwhile on
	// a slow machine).
	last := 0
	for i, k := range order {
		if k == "p2p" {
			last = i
		}
	}
	if last > 28 {
		t.Fatalf("order %v: p2p messages did not pass the throttled a2p lane", order)
	}
	// 31 a2p segments at 20/s with a burst of 20: at least 11/20 s. (Only a
	// lower bound: a loaded machine is slower, never faster.)
	if elapsed < 500*time.Millisecond {
		t.Fatalf("36 messages in %v: the a2p lane was not held to 20/s", elapsed)
	}
	if n := q.queuedLocked(); n != 0 {
		t.Fatalf("%d left", n)
	}
	// A closed queue wakes a worker waiting for a token.
	push("+15550000001", 25, false)
	for range 20 {
		q.pop()
	}
	done := make(chan *store.QueueItem)
	go func() { done <- q.pop() }()
	q.close()
	select {
	case it := <-done:
		if it != nil {
			// It may have got a token first; then the next pop sees the close.
			if q.pop() != nil {
				t.Fatal("pop after close returned a message")
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting pop did not end at close")
	}
}

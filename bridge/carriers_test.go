package bridge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/store"
)

// memStore keeps completions in memory.
type memStore struct {
	mu   sync.Mutex
	done map[string]store.Record // message id -> outcome
}

func (m *memStore) Enqueue(items []store.QueueItem) error { return nil }
func (m *memStore) LoadQueue(func(store.QueueItem) error) error {
	return nil
}
func (m *memStore) Complete(cs []store.Completion) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		m.done[c.Record.MessageID] = c.Record
	}
	return nil
}

func (m *memStore) outcomes() map[string]store.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]store.Record{}
	for k, v := range m.done {
		out[k] = v
	}
	return out
}

// stuckSender never gets a message out: like a pool without a bind, it
// waits until the submit's context ends.
type stuckSender struct{ calls chan struct{} }

func (s *stuckSender) Plan(string) smpp.Plan { return smpp.Plan{Segments: 1, Parts: 1} }
func (s *stuckSender) Submit(ctx context.Context, m *smpp.Message) (smpp.SubmitResult, error) {
	s.calls <- struct{}{}
	<-ctx.Done()
	return smpp.SubmitResult{Plan: smpp.Plan{Segments: 1, Parts: 1}, Parts: []smpp.PartResult{{Err: fmt.Errorf("%w: %w", smpp.ErrNotSent, ctx.Err())}}}, nil
}

// okSender accepts everything.
type okSender struct{ to chan string }

func (s *okSender) Plan(string) smpp.Plan { return smpp.Plan{Segments: 1, Parts: 1} }
func (s *okSender) Submit(ctx context.Context, m *smpp.Message) (smpp.SubmitResult, error) {
	s.to <- m.To
	return smpp.SubmitResult{Plan: smpp.Plan{Segments: 1, Parts: 1}, Parts: []smpp.PartResult{{MessageID: "x"}}}, nil
}

func newTestBridge(t *testing.T, st *memStore, carriers []Carrier) *Bridge {
	t.Helper()
	b, err := New(Options{Store: st, Carriers: carriers, CheckPassword: func(string, string) bool { return true },
		Accounts: []Account{{ID: "1", Applications: []Application{{ID: "app", Numbers: []Number{{Number: "+15550001111"}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return b
}

func sendTo(t *testing.T, b *Bridge, to string) string {
	t.Helper()
	m, err := b.Send(context.Background(), &SendRequest{AccountID: "1", ApplicationID: "app", To: []string{to}, From: "+15550001111", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestSetCarriersHandsOverQueue: a carrier replaced by a reload (a new
// Sender: its connection changed) passes every queued message, the one its
// sender was waiting with included, to the new one; a removed carrier's
// queued messages fail with no route. Nothing accepted is dropped.
func TestSetCarriersHandsOverQueue(t *testing.T) {
	st := &memStore{done: map[string]store.Record{}}
	stuck := &stuckSender{calls: make(chan struct{}, 10)}
	b := newTestBridge(t, st, []Carrier{{Name: "a", Sender: stuck, SegmentsPerSecond: 10, Routes: []string{"+1"}, Workers: 1}})
	want := map[string]bool{}
	for i := range 3 {
		want[fmt.Sprintf("+1555000200%d", i)] = true
		sendTo(t, b, fmt.Sprintf("+1555000200%d", i))
	}
	select {
	case <-stuck.calls: // the one worker holds a message; two are queued
	case <-time.After(10 * time.Second):
		t.Fatal("sender never called")
	}
	ok := &okSender{to: make(chan string, 10)}
	if err := b.SetCarriers([]Carrier{{Name: "a", Sender: ok, SegmentsPerSecond: 20, Routes: []string{"+1"}, Workers: 1}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case to := <-ok.to:
			if !want[to] {
				t.Fatalf("unexpected or repeated recipient %s", to)
			}
			delete(want, to)
		case <-time.After(10 * time.Second):
			t.Fatalf("not handed over: %v", want)
		}
	}
	if q := b.Queues()[0]; q.Capacity != 20*900 {
		t.Fatalf("capacity %d, want %d", q.Capacity, 20*900)
	}

	// Remove the carrier while messages wait for it.
	stuck2 := &stuckSender{calls: make(chan struct{}, 10)}
	if err := b.SetCarriers([]Carrier{{Name: "a", Sender: stuck2, Routes: []string{"+1"}, Workers: 1}}); err != nil {
		t.Fatal(err)
	}
	id1, id2 := sendTo(t, b, "+15550003001"), sendTo(t, b, "+15550003002")
	<-stuck2.calls
	if err := b.SetCarriers(nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := st.outcomes()
		if got[id1].ErrorCode == codeNoRoute && got[id2].ErrorCode == codeNoRoute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed carrier's messages not failed with %d: %+v %+v", codeNoRoute, got[id1], got[id2])
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
	if _, err := b.Send(context.Background(), &SendRequest{AccountID: "1", ApplicationID: "app", To: []string{"+15550003003"}, From: "+15550001111", Text: "hi"}); err != nil {
		t.Fatalf("send without carriers: %v (want accepted, then failed with no route)", err)
	}
}

package bridge

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"smppbridge/store"
)

// TestWebhookConcurrentAddsExactlyOnce: jobs added from many goroutines
// while the sender runs with batching are each delivered exactly once
// (the full-loop load run showed some stuck and some twice).
func TestWebhookConcurrentAddsExactlyOnce(t *testing.T) {
	o := newOutbox(t)
	var mu sync.Mutex
	got := map[string]int{}
	total := 0
	done := make(chan struct{})
	const adders, each = 16, 250
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		ms := marker(t, body)
		mu.Lock()
		for _, m := range ms {
			got[m]++
			total++
		}
		if total == adders*each {
			close(done)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	w := startWebhooks(t, WebhookOptions{Outbox: o, MaxBatch: 10, Concurrency: 16, PollInterval: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for a := 0; a < adders; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				job := store.CallbackJob{ApplicationID: "app", Kind: CallbackStatus, URL: srv.URL + "/status",
					Body: fmt.Appendf(nil, `[{"n":"%d-%d"}]`, a, i), Created: time.Now()}
				if err := w.Add(job); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	var missing, dup []string
	for a := 0; a < adders; a++ {
		for i := 0; i < each; i++ {
			k := fmt.Sprintf("%d-%d", a, i)
			switch got[k] {
			case 0:
				missing = append(missing, k)
			case 1:
			default:
				dup = append(dup, k)
			}
		}
	}
	if len(missing) > 0 || len(dup) > 0 {
		c, _ := o.CallbackStats()
		t.Fatalf("%d missing (%v…), %d delivered more than once (%v…); outbox %+v", len(missing), first(missing), len(dup), first(dup), c)
	}
}

func first(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

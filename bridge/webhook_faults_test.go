package bridge

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Callback faults (issue 8) beyond the per-status retry schedule of
// TestWebhookRetrySchedule: TLS failures and endpoints that answer a mix of
// statuses before accepting.

// TestWebhookTLSErrors: an https URL whose server speaks plain HTTP, and
// one whose certificate is not trusted, are failed attempts retried on the
// schedule; the request (and so the credentials) never reaches a handler.
func TestWebhookTLSErrors(t *testing.T) {
	reached := make(chan string, 10)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached <- r.Header.Get("Authorization") })
	plain := httptest.NewServer(handler)
	t.Cleanup(plain.Close)
	untrusted := httptest.NewUnstartedServer(handler)
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	cases := []struct {
		name, url, wantErr string
	}{
		{"https to a plain listener", strings.Replace(plain.URL, "http://", "https://", 1) + "/cb", "http: server gave HTTP response to HTTPS client"},
		{"untrusted certificate", untrusted.URL + "/cb", "certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := newOutbox(t)
			clock := &fakeClock{t: cbT0}
			w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }, Timeout: 5 * time.Second,
				Credentials: func(string, string) (string, string, bool) { return "u", "tls-secret", true }})
			job := addJobs(t, o, "a", c.url, 1, "x")[0]
			w.Notify()
			for attempt := 1; attempt <= 3; attempt++ {
				if oc := o.wait(t); oc.kind != "retry" {
					t.Fatalf("attempt %d: outcome %v", attempt, oc)
				}
				j, dead, err := o.Callback(job.ID)
				if err != nil || dead {
					t.Fatal(err, dead)
				}
				if j.Attempts != attempt || !strings.Contains(j.LastError, c.wantErr) || strings.Contains(j.LastError, "tls-secret") {
					t.Fatalf("after attempt %d: attempts %d, error %q (want it to mention %q)", attempt, j.Attempts, j.LastError, c.wantErr)
				}
				clock.Set(j.NextAt)
				w.Notify()
			}
			select {
			case auth := <-reached:
				t.Fatalf("a request reached the handler (Authorization %q)", auth)
			default:
			}
		})
	}
}

// TestWebhookStatusMix: each job's endpoint answers a different run of
// 3xx/4xx/5xx before a 2xx. Every job is retried through its run and then
// accepted exactly once; none is dead-lettered and none answered 2xx is
// sent again. The fake clock jumps past each retry's due time.
func TestWebhookStatusMix(t *testing.T) {
	mix := []int{http.StatusMovedPermanently, http.StatusBadRequest, http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusUnauthorized}
	ok := []int{http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusNoContent}
	const jobs = 24
	var mu sync.Mutex
	attempts := map[string]int{} // marker -> requests so far
	accepted := map[string]int{} // marker -> 2xx answers
	// Job i fails i%5 times, with statuses walking the mix.
	srv, _ := receiver(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		m := marker(t, body)[0]
		var i int
		for _, c := range m[1:] {
			i = i*10 + int(c-'0')
		}
		mu.Lock()
		n := attempts[m]
		attempts[m]++
		if n >= i%5 {
			accepted[m]++
		}
		mu.Unlock()
		if n < i%5 {
			w.WriteHeader(mix[(i+n)%len(mix)])
			return
		}
		w.WriteHeader(ok[i%len(ok)])
	})
	o := newOutbox(t)
	clock := &fakeClock{t: cbT0}
	w := startWebhooks(t, WebhookOptions{Outbox: o, Clock: clock.Now, Rand: func() float64 { return 0.5 }})
	addJobs(t, o, "a", srv.URL+"/cb", jobs, "j")
	w.Notify()
	done := map[uint64]bool{}
	for step := 0; len(done) < jobs; step++ {
		if step > 10*jobs {
			t.Fatalf("after %d outcomes only %d of %d jobs done", step, len(done), jobs)
		}
		oc := o.wait(t)
		switch oc.kind {
		case "done":
			for _, id := range oc.ids {
				if done[id] {
					t.Fatalf("job %d done twice", id)
				}
				done[id] = true
			}
		case "retry":
			clock.Set(clock.Now().Add(6 * time.Minute)) // past any retry delay (at most 5 min)
			w.Notify()
		default:
			t.Fatalf("outcome %v", oc)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range jobs {
		m := "j" + strconv.Itoa(i)
		if accepted[m] != 1 || attempts[m] != i%5+1 {
			t.Errorf("job %s: %d requests, %d accepted; want %d and 1", m, attempts[m], accepted[m], i%5+1)
		}
	}
	if c, err := o.CallbackStats(); err != nil || c.Pending() != 0 || c.Dead != 0 {
		t.Fatalf("outbox after the mix: %+v %v", c, err)
	}
}

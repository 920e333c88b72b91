package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"
)

// webhookSink is the load generator's own callback endpoint: it closes the
// loop (202 → submit → receipt → callback) and measures it per recipient.
type webhookSink struct {
	url    string
	srv    *http.Server
	mu     sync.Mutex
	sentAt map[string]time.Time   // message id → 202 request start
	want   map[string]int         // message id → callbacks still expected
	early  map[string][]time.Time // callbacks that beat the client's reading of its 202
	lat    []time.Duration
	byType map[string]int
	last   time.Time
	done   chan struct{}   // closed when every expected callback arrived
	seen   map[string]bool // message id + recipient: callbacks are at-least-once
	dups   int
	total  int
	got    int
}

func startSink() (*webhookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &webhookSink{url: "http://" + ln.Addr().String(), sentAt: map[string]time.Time{}, want: map[string]int{}, early: map[string][]time.Time{},
		byType: map[string]int{}, seen: map[string]bool{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *webhookSink) close() { s.srv.Close() }

// sent notes an accepted message that owes n callbacks (one per recipient).
func (s *webhookSink) sent(id string, at time.Time, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentAt[id] = at
	s.want[id] += int(n)
	s.total += int(n)
	for _, arrived := range s.early[id] {
		s.arrivedLocked(id, at, arrived)
	}
	delete(s.early, id)
}

func (s *webhookSink) arrivedLocked(id string, at, arrived time.Time) {
	s.lat = append(s.lat, arrived.Sub(at))
	s.got++
	if arrived.After(s.last) {
		s.last = arrived
	}
	if s.want[id]--; s.want[id] <= 0 {
		delete(s.want, id)
		delete(s.sentAt, id)
	}
}

func (s *webhookSink) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var events []struct {
		Type    string `json:"type"`
		To      string `json:"to"`
		Message struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	if err != nil || json.Unmarshal(body, &events) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	s.mu.Lock()
	for _, ev := range events {
		s.byType[ev.Type]++
		if k := ev.Message.ID + " " + ev.To; s.seen[k] {
			s.dups++ // a repeat is allowed by the contract but not counted twice
			continue
		} else {
			s.seen[k] = true
		}
		at, ok := s.sentAt[ev.Message.ID]
		if !ok {
			s.early[ev.Message.ID] = append(s.early[ev.Message.ID], now)
			continue
		}
		s.arrivedLocked(ev.Message.ID, at, now)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// report waits (bounded) for every expected callback and prints the loop's
// throughput and latency percentiles.
func (s *webhookSink) report(out io.Writer, expected int64, start time.Time) {
	// Wait for the last callback: polled, as the sink is only checked here
	// once sending has finished (an earlier "all arrived so far" means nothing).
	deadline := time.Now().Add(60 * time.Second)
	var got int
	for {
		s.mu.Lock()
		got = s.got
		s.mu.Unlock()
		if int64(got) >= expected || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if int64(got) < expected {
		if p := os.Getenv("SMPPLOAD_STACKS"); p != "" {
			if f, err := os.Create(p); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	took := s.last.Sub(start)
	if len(lat) == 0 || took <= 0 {
		fmt.Fprintf(out, "full loop: no callbacks received (expected %d)\n", expected)
		return
	}
	fmt.Fprintf(out, "full loop (202 → submit → receipt → callback): %d of %d callbacks in %.2fs = %.0f/s; %v; %d repeated\n",
		len(lat), expected, took.Seconds(), float64(len(lat))/took.Seconds(), s.byType, s.dups)
	fmt.Fprintf(out, "end-to-end latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[len(lat)-1])
}

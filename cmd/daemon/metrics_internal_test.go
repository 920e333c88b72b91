package daemon

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestObserveHTTPCounts: every request is counted under its route and
// status, from many goroutines, past the route table's size and outside
// its status range (the slow path) as well as inside.
func TestObserveHTTPCounts(t *testing.T) {
	m := newMetrics(&Daemon{})
	routes := make([]string, 12) // more than httpRouteTable holds
	for i := range routes {
		routes[i] = "route " + strconv.Itoa(i)
	}
	statuses := []int{202, 400, 599, 600, 999}
	const perGoroutine = 50
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perGoroutine {
				for _, r := range routes {
					for _, st := range statuses {
						m.observeHTTP(r, st, time.Millisecond)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range routes {
		for _, st := range statuses {
			if got := counterValue(t, m.httpRequests.WithLabelValues(r, strconv.Itoa(st))); got != 4*perGoroutine {
				t.Errorf("%s %d counted %v, want %d", r, st, got, 4*perGoroutine)
			}
		}
	}
	var h dto.Metric
	if err := m.httpAccepted.Write(&h); err != nil {
		t.Fatal(err)
	}
	if got, want := h.GetHistogram().GetSampleCount(), uint64(4*perGoroutine*len(routes)); got != want {
		t.Errorf("accepted histogram counted %d, want %d", got, want)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// BenchmarkObserveHTTP is the per-request cost of the HTTP metrics.
func BenchmarkObserveHTTP(b *testing.B) {
	m := newMetrics(&Daemon{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.observeHTTP("POST /api/v2/users/{accountId}/messages", 202, 3*time.Millisecond)
		}
	})
}

// BenchmarkObserveHTTPCounterOnly is the request counter's share: a status
// other than 202 has no latency histogram.
func BenchmarkObserveHTTPCounterOnly(b *testing.B) {
	m := newMetrics(&Daemon{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.observeHTTP("POST /api/v2/users/{accountId}/messages", 400, 3*time.Millisecond)
		}
	})
}

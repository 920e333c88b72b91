package daemon

import (
	"testing"
	"time"
)

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

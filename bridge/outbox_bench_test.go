package bridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"smppbridge/store"
)

// countingOutbox signals when n jobs have been recorded as delivered and
// counts the sender's reads.
type countingOutbox struct {
	*store.Store
	done, reads atomic.Int64
	target      int64
	all         chan struct{}
}

func (o *countingOutbox) NextCallbacks(now time.Time, limit int, pick func(appID, url string) store.Pick) ([]store.CallbackJob, error) {
	o.reads.Add(1)
	return o.Store.NextCallbacks(now, limit, pick)
}

func (o *countingOutbox) NextCallbackDue(after time.Time) (time.Time, bool, error) {
	o.reads.Add(1)
	return o.Store.NextCallbackDue(after)
}

func (o *countingOutbox) CallbackDone(ids []uint64) error {
	err := o.Store.CallbackDone(ids)
	if o.done.Add(int64(len(ids))) == o.target {
		close(o.all)
	}
	return err
}

// BenchmarkWebhookThroughput: callbacks delivered per second, from the
// durable outbox to a receiver in the same process (loopback HTTP, 204)
// and recorded as done, fsync included unless sync=false. b.N jobs of a
// realistic status body (~420 bytes) are stored before the timer starts;
// jobs are spread round-robin over the endpoints (each its own
// application and URL on one receiver, 4 requests in flight per endpoint,
// 64 in total).
//
//	go test -run xxx -bench WebhookThroughput -benchtime 20000x -count 3 ./bridge/
func BenchmarkWebhookThroughput(b *testing.B) {
	body, err := EncodeCallbackEvents(CallbackStatus, []CallbackEvent{{Type: "message-delivered", Time: cbT0,
		Description: "Message delivered to carrier", To: "+15550002222", Message: CallbackMessage{ID: "1700000000000abcd1234efgh5678",
			Owner: "+15550001111", ApplicationID: "93de2206-9669-4e07-948d-329f4b722ee2", Time: cbT0, SegmentCount: 1, Direction: "out",
			To: []string{"+15550002222"}, From: "+15550001111", Tag: "order-42", HasTag: true}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		endpoints, maxBatch int
		noSync              bool
	}{{1, 1, false}, {1, 1, true}, {16, 1, false}, {16, 1, true}, {1, 10, false}, {16, 10, false}} {
		name := fmt.Sprintf("endpoints=%d/batch=%d/sync=%v", c.endpoints, c.maxBatch, !c.noSync)
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			st := openStore(b, filepath.Join(b.TempDir(), "outbox.db"), c.noSync)
			defer st.Close()
			o := &countingOutbox{Store: st, target: int64(b.N), all: make(chan struct{})}
			for i := 0; i < b.N; i += 4096 {
				jobs := make([]store.CallbackJob, min(4096, b.N-i))
				for k := range jobs {
					ep := (i + k) % c.endpoints
					jobs[k] = store.CallbackJob{ApplicationID: fmt.Sprint("app", ep), Kind: CallbackStatus,
						URL: fmt.Sprintf("%s/cb/%d", srv.URL, ep), Body: body, Created: time.Now()}
				}
				if err := st.AddCallbacks(jobs); err != nil {
					b.Fatal(err)
				}
			}
			w, err := NewWebhooks(WebhookOptions{Outbox: o, MaxBatch: c.maxBatch})
			if err != nil {
				b.Fatal(err)
			}
			conns := countConns(b, w)
			commits0 := st.Stats().Commits
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			t := time.Now()
			w.Start()
			<-o.all
			elapsed := time.Since(t)
			cpu := processCPU() - cpu0
			b.StopTimer()
			w.Stop(context.Background())
			s := w.Stats()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "callbacks/s")
			b.ReportMetric(float64(s.Requests), "requests")
			b.ReportMetric(float64(st.Stats().Commits-commits0), "commits")
			b.ReportMetric(float64(s.Latency.Microseconds()), "µs/request")
			b.ReportMetric(float64(o.reads.Load()), "store-reads")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/callback")
			b.ReportMetric(float64(conns.dials.Load()), "dials")
			b.ReportMetric(float64(conns.writes.Load())/float64(s.Requests), "writes/request")
		})
	}
}

// processCPU is the CPU time (user + system) the process has used, the
// receiver's included: on a shared machine CPU per callback compares
// across runs where wall time does not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// connCounter counts the sender's dials and its socket writes.
type connCounter struct{ dials, writes atomic.Int64 }

type countedConn struct {
	net.Conn
	c *connCounter
}

func (c countedConn) Write(p []byte) (int, error) {
	c.c.writes.Add(1)
	return c.Conn.Write(p)
}

// countConns wraps the dialer of w's own client: a keep-alive pool that
// works dials once per connection in flight, and a request written whole
// is one write.
func countConns(b *testing.B, w *Webhooks) *connCounter {
	if w.cb == nil {
		b.Fatal("webhooks: not its own client")
	}
	cc := &connCounter{}
	dial := w.cb.dial
	w.cb.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		cc.dials.Add(1)
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countedConn{c, cc}, nil
	}
	return cc
}

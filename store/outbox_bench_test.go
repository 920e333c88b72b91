package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// rssMB is the process's resident set (bbolt's mmap pages included).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// heapMB is the live heap; two collections, as one leaves garbage of the
// last large transaction.
func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// seedRetries writes n failed-once jobs over endpoints (application, URL)
// pairs, next attempts spread evenly over 24 h from base, in large
// transactions straight through bbolt (the group commit is not the point).
func seedRetries(tb testing.TB, s *Store, n, endpoints int, base time.Time) {
	body := bytes.Repeat([]byte("x"), 400) // a status event is ~420 bytes
	body[0], body[len(body)-1] = '[', ']'
	const chunk = 100_000
	for done := 0; done < n; done += chunk {
		err := s.db.Update(func(tx *bolt.Tx) error {
			w := newCBWriter(tx)
			w.jobs().FillPercent = 1 // ids only grow
			for i := done; i < min(done+chunk, n); i++ {
				ep, err := w.endpoint(fmt.Sprint("app-", i%endpoints), fmt.Sprintf("https://hooks.example.com/%d/status", i%endpoints))
				if err != nil {
					return err
				}
				id, err := w.jobs().NextSequence()
				if err != nil {
					return err
				}
				j := CallbackJob{ApplicationID: fmt.Sprint("app-", i%endpoints), Kind: "status", URL: "https://hooks.example.com/x",
					Body: body, Created: base, Attempts: 1, LastError: "HTTP 503",
					NextAt: base.Add(time.Duration(i) * (24 * time.Hour / time.Duration(n)))}
				if err := w.jobs().Put(seqKey(id), encodeJob(ep, &j)); err != nil {
					return err
				}
				if err := w.retry().Put(retryKey(ep, unixNanos(j.NextAt), id), []byte{}); err != nil {
					return err
				}
				w.count(ep, 0, 1)
			}
			return w.finish()
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkNextDueWith1MRetries: an outbox holding 1,000,000 pending
// retries (over 100 endpoints, due over 24 h): process memory, and the time
// to find the next due job and to claim a dispatch's worth of due jobs.
// Seeding takes a while; it runs once for all sub-benchmarks.
//
//	go test -run xxx -bench NextDueWith1MRetries -benchtime 2s ./store/
func BenchmarkNextDueWith1MRetries(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds 1,000,000 jobs")
	}
	const n, endpoints = 1_000_000, 100
	path := filepath.Join(b.TempDir(), "outbox.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	t := time.Now()
	seedRetries(b, s, n, endpoints, base)
	seeded := time.Since(t)
	if c, _ := s.CallbackStats(); c.Retry != n {
		b.Fatalf("seeded %+v", c)
	}
	fi, _ := os.Stat(path)
	heap0 := heapMB()
	b.Logf("seeded %d retries in %v; file %.0f MB; heap %.1f MB; RSS %.0f MB", n, seeded.Round(time.Millisecond),
		float64(fi.Size())/(1<<20), heap0, rssMB())
	now := base.Add(time.Hour) // ~41,700 due, every endpoint's earliest retry among them
	report := func(b *testing.B) {
		b.ReportMetric(heapMB(), "heap-MB")
		b.ReportMetric(rssMB(), "rss-MB")
	}
	b.Run("NextCallbackDue", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := s.NextCallbackDue(now); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		report(b)
	})
	b.Run("NextCallbackDueNoneDue", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := s.NextCallbackDue(base.Add(-time.Second)); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("NextCallbacks64", func(b *testing.B) {
		for b.Loop() {
			jobs, err := s.NextCallbacks(now, 64, nil)
			if err != nil || len(jobs) != 64 {
				b.Fatal(len(jobs), err)
			}
			s.ReleaseCallbacks(jobsIDs(jobs))
		}
		report(b)
	})
	b.Run("NextCallbacksNoneDue", func(b *testing.B) {
		for b.Loop() {
			if jobs, err := s.NextCallbacks(base.Add(-time.Second), 64, nil); err != nil || len(jobs) != 0 {
				b.Fatal(len(jobs), err)
			}
		}
		report(b)
	})
	b.Run("CallbackStats", func(b *testing.B) {
		for b.Loop() {
			if c, err := s.CallbackStats(); err != nil || c.Retry != n {
				b.Fatal(c, err)
			}
		}
	})
}

func jobsIDs(js []CallbackJob) []uint64 {
	out := make([]uint64, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// BenchmarkNextCallbacksPastSaturated: 100,000 never-tried jobs of an
// endpoint at its concurrency limit are ahead of one job of another; the
// dispatch skips the first endpoint and claims the job behind it. The cost
// does not depend on the skipped backlog.
//
//	go test -run xxx -bench NextCallbacksPastSaturated ./store/
func BenchmarkNextCallbacksPastSaturated(b *testing.B) {
	s, _ := openTemp(b, Options{NoSync: true})
	defer s.Close()
	for i := 0; i < 100_000; i += 10_000 {
		jobs := make([]CallbackJob, 10_000)
		for k := range jobs {
			jobs[k] = cbJob("a", "http://slow/", `[{"n":1}]`)
		}
		if err := s.AddCallbacks(jobs); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.AddCallbacks([]CallbackJob{cbJob("b", "http://fast/", `[{"n":2}]`)}); err != nil {
		b.Fatal(err)
	}
	pick := func(app, url string) Pick {
		if url == "http://slow/" {
			return PickSkip
		}
		return PickTake
	}
	for b.Loop() {
		jobs, err := s.NextCallbacks(t0, 64, pick)
		if err != nil || len(jobs) != 1 {
			b.Fatal(len(jobs), err)
		}
		s.ReleaseCallbacks(jobsIDs(jobs))
	}
}

// BenchmarkOutboxCycle: one job's way through the outbox as the webhook
// sender takes it with a backlog: read in batches of 10 while 64 batches
// are in flight (claimed), then CallbackDone per batch; no fsync, so the
// reads and the writes' CPU are what is measured. Per job.
//
//	go test -run '^$' -bench OutboxCycle -benchmem ./store/
func BenchmarkOutboxCycle(b *testing.B) {
	for _, endpoints := range []int{1, 16} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			s, _ := openTemp(b, Options{NoSync: true})
			defer s.Close()
			const inFlight = 64
			body := bytes.Repeat([]byte("x"), 420)
			total := b.N + inFlight*10
			for i := 0; i < total; i += 4096 {
				jobs := make([]CallbackJob, min(4096, total-i))
				for k := range jobs {
					ep := (i + k) % endpoints
					jobs[k] = CallbackJob{ApplicationID: fmt.Sprint("app", ep), Kind: "status", URL: fmt.Sprintf("http://127.0.0.1:1/cb/%d", ep),
						Body: body, Created: t0}
				}
				if err := s.AddCallbacks(jobs); err != nil {
					b.Fatal(err)
				}
			}
			var window [][]uint64
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			defer func() { b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/job") }()
			for done := 0; done < b.N; {
				if len(window) < inFlight {
					got, err := s.NextCallbacks(t0, 10, nil)
					if err != nil || len(got) == 0 {
						b.Fatal(len(got), err)
					}
					window = append(window, ids(got))
					continue
				}
				if err := s.CallbackDone(window[0]); err != nil {
					b.Fatal(err)
				}
				done += len(window[0])
				window = window[1:]
			}
		})
	}
}

// processCPU is the CPU time (user + system) the process has used: on a
// shared machine it compares across runs where wall time does not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

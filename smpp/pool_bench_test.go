package smpp_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"smppbridge/smpp"
	"smppbridge/smpp/pdu"
	"smppbridge/testharness/smsc"
)

func startPool(tb testing.TB, srv *smsc.Server, cfg smpp.PoolConfig) *smpp.Pool {
	tb.Helper()
	cfg.Addr = srv.Addr()
	if cfg.Session.SystemID == "" {
		cfg.Session.SystemID, cfg.Session.Password = "bench", "pw"
	}
	p := smpp.NewPool(cfg)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := cfg.Binds
	if want == 0 {
		want = 1
	}
	if err := srv.WaitFor(ctx, func() bool { return srv.Stats().BindsActive >= int64(want) }); err != nil {
		tb.Fatalf("binds did not come up: %v", err)
	}
	// The pool learns of its sessions just after the SMSC does.
	for p.Stats().BindsUp < want {
		if ctx.Err() != nil {
			tb.Fatal("pool binds not up")
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

// BenchmarkPoolSubmit: one carrier, 4 binds, window 100, no rate limit,
// against the simulator in the same process.
func BenchmarkPoolSubmit(b *testing.B) {
	const senders = 400 // enough blocking callers to keep 4 windows of 100 full
	benchPoolSubmit(b, senders)
}

// BenchmarkPoolSubmitWindowsFree: as BenchmarkPoolSubmit with 64 callers
// (the bridge's senders per carrier), so windows are rarely full.
func BenchmarkPoolSubmitWindowsFree(b *testing.B) { benchPoolSubmit(b, 64) }

// BenchmarkPoolSubmitReceipts: as BenchmarkPoolSubmit with a receipt per
// message, acknowledged by the handler at once: the inbound path included.
func BenchmarkPoolSubmitReceipts(b *testing.B) { benchPoolSubmitOpts(b, 400, true) }

func benchPoolSubmit(b *testing.B, senders int) { benchPoolSubmitOpts(b, senders, false) }

func benchPoolSubmitOpts(b *testing.B, senders int, receipts bool) {
	srv, err := smsc.Start(smsc.Config{KeepMessages: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	sc := smpp.SessionConfig{Window: 100}
	msg := &smpp.Message{From: "+15550001111", To: "+15550002222", Text: "Your verification code is 123456."}
	if receipts {
		sc.Handler = func(in *smpp.Inbound) { in.Respond(pdu.StatusOK) }
		msg.RegisteredDelivery = 1
	}
	p := startPool(b, srv, smpp.PoolConfig{Name: "bench", Binds: 4, Session: sc})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan struct{}, senders)
	go func() {
		for i := 0; i < b.N; i++ {
			work <- struct{}{}
		}
		close(work)
	}()
	var failed sync.Map
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				res, err := p.Submit(context.Background(), msg)
				if err != nil || res.Parts[0].Err != nil || res.Parts[0].Status != pdu.StatusOK {
					failed.Store(i, res)
				}
			}
		}()
	}
	wg.Wait()
	if receipts {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := srv.WaitFor(ctx, func() bool { return srv.Stats().ReceiptsAcked >= int64(b.N) }); err != nil {
			b.Fatalf("receipts acked %d of %d: %v", srv.Stats().ReceiptsAcked, b.N, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "submit/s")
	b.ReportMetric(cpuSince(cpu0)/float64(b.N), "cpu-µs/op")
	failed.Range(func(k, v any) bool { b.Fatalf("failed submit: %+v", v); return false })
}

// processCPU is the CPU time (user + system) this process has used: on a
// shared machine CPU per message compares across runs where wall time
// does not. Both sides of the connection are counted.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuSince is the CPU used since processCPU returned cpu0, in µs.
func cpuSince(cpu0 time.Duration) float64 {
	return float64(processCPU()-cpu0) / float64(time.Microsecond)
}

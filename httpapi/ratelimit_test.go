package httpapi

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the limiter's injected clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(t *testing.T, limit int, window time.Duration) (*ipLimiter, *fakeClock) {
	t.Helper()
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newIPLimiter(limit, window, c.now)
	if l == nil {
		t.Fatal("newIPLimiter returned nil")
	}
	return l, c
}

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
)

func mustAllow(t *testing.T, l *ipLimiter, ip netip.Addr, what string) {
	t.Helper()
	if ok, retry := l.allow(ip); !ok {
		t.Fatalf("%s: refused (retry after %d s), want admitted", what, retry)
	}
}

func mustRefuse(t *testing.T, l *ipLimiter, ip netip.Addr, wantRetry int, what string) {
	t.Helper()
	ok, retry := l.allow(ip)
	if ok {
		t.Fatalf("%s: admitted, want refused", what)
	}
	if retry != wantRetry {
		t.Fatalf("%s: Retry-After %d s, want %d", what, retry, wantRetry)
	}
}

func TestListLimiterBoundary(t *testing.T) {
	l, c := newTestLimiter(t, 3500, 5*time.Minute)
	for i := range 3500 {
		if ok, _ := l.allow(ipA); !ok {
			t.Fatalf("request %d of 3500 refused", i+1)
		}
	}
	mustRefuse(t, l, ipA, 300, "request 3501 at once")
	c.advance(299*time.Second + 500*time.Millisecond)
	mustRefuse(t, l, ipA, 1, "0.5 s before the window ends") // rounded up
	c.advance(499 * time.Millisecond)
	mustRefuse(t, l, ipA, 1, "1 ms before the window ends") // never 0
	c.advance(time.Millisecond)
	// Exactly a window after the burst: it no longer counts.
	for i := range 3500 {
		if ok, _ := l.allow(ipA); !ok {
			t.Fatalf("after the window, request %d of 3500 refused", i+1)
		}
	}
	mustRefuse(t, l, ipA, 300, "request 3501 of the second window")
}

func TestListLimiterRetryAfterIsWhenAdmitted(t *testing.T) {
	// Admissions spread out: the wait is until the oldest leaves the window.
	l, c := newTestLimiter(t, 3, time.Minute)
	mustAllow(t, l, ipA, "1st at 0 s")
	c.advance(10 * time.Second)
	mustAllow(t, l, ipA, "2nd at 10 s")
	c.advance(10 * time.Second)
	mustAllow(t, l, ipA, "3rd at 20 s")
	c.advance(5 * time.Second)
	mustRefuse(t, l, ipA, 35, "4th at 25 s") // the one of 0 s leaves at 60 s
	c.advance(34 * time.Second)
	mustRefuse(t, l, ipA, 1, "at 59 s")
	c.advance(time.Second)
	mustAllow(t, l, ipA, "at 60 s")
	mustRefuse(t, l, ipA, 10, "again at 60 s") // the one of 10 s leaves at 70 s
	c.advance(10 * time.Second)
	mustAllow(t, l, ipA, "at 70 s")
}

func TestListLimiterRefusedDoNotCount(t *testing.T) {
	l, c := newTestLimiter(t, 2, time.Minute)
	mustAllow(t, l, ipA, "1st")
	mustAllow(t, l, ipA, "2nd")
	for range 100 {
		mustRefuse(t, l, ipA, 60, "retry storm")
	}
	c.advance(time.Minute)
	mustAllow(t, l, ipA, "after the window")
	mustAllow(t, l, ipA, "second after the window")
}

// TestListLimiterNeverMoreThanLimitInAWindow drives requests at uneven
// times and checks every admission against the log of admissions: never
// more than limit within any window.
func TestListLimiterNeverMoreThanLimitInAWindow(t *testing.T) {
	const limit, window = 7, 10 * time.Second
	l, c := newTestLimiter(t, limit, window)
	var admitted []time.Time
	steps := []time.Duration{0, 1, 3, 100, 450, 499, 500, 501, 1000, 1999, 7}
	refusedAfterFull := 0
	for i := range 5000 {
		c.advance(steps[i%len(steps)] * time.Millisecond)
		ok, retry := l.allow(ipA)
		inWindow := 0
		for _, a := range admitted {
			if c.t.Sub(a) < window {
				inWindow++
			}
		}
		if ok {
			if inWindow >= limit {
				t.Fatalf("request %d admitted with %d admissions in the last window", i, inWindow)
			}
			admitted = append(admitted, c.t)
			continue
		}
		if retry < 1 || retry > int(window/time.Second) {
			t.Fatalf("request %d: Retry-After %d out of 1..%d", i, retry, int(window/time.Second))
		}
		// Refused only when limit admissions lie within the last window
		// plus one step.
		inSpan := 0
		for _, a := range admitted {
			if c.t.Sub(a) < window+l.step {
				inSpan++
			}
		}
		if inSpan < limit {
			t.Fatalf("request %d refused with only %d admissions in the last window and step", i, inSpan)
		}
		if inWindow >= limit {
			refusedAfterFull++
		}
	}
	if refusedAfterFull == 0 || len(admitted) < limit*2 {
		t.Fatalf("the schedule did not exercise the limit: %d admitted, %d refused at a full window", len(admitted), refusedAfterFull)
	}
}

func TestListLimiterIPsIndependent(t *testing.T) {
	l, _ := newTestLimiter(t, 2, time.Minute)
	mustAllow(t, l, ipA, "A 1st")
	mustAllow(t, l, ipA, "A 2nd")
	mustRefuse(t, l, ipA, 60, "A 3rd")
	mustAllow(t, l, ipB, "B 1st")
	mustAllow(t, l, ipB, "B 2nd")
	mustRefuse(t, l, ipB, 60, "B 3rd")
	v6 := netip.MustParseAddr("2001:db8::1")
	mustAllow(t, l, v6, "IPv6 1st")
}

func TestListLimiterIPv4MappedIsIPv4(t *testing.T) {
	mapped := sourceIP(net.ParseIP("::ffff:192.0.2.1"))
	plain := sourceIP(net.ParseIP("192.0.2.1").To4())
	if mapped != ipA || plain != ipA {
		t.Fatalf("sourceIP: mapped %v, plain %v, want %v for both", mapped, plain, ipA)
	}
	v6 := sourceIP(net.ParseIP("2001:db8::1"))
	if !v6.Is6() || v6.String() != "2001:db8::1" {
		t.Fatalf("sourceIP(2001:db8::1) = %v", v6)
	}
	l, _ := newTestLimiter(t, 1, time.Minute)
	mustAllow(t, l, plain, "IPv4")
	mustRefuse(t, l, mapped, 60, "the same address, IPv4-mapped")
}

func TestListLimiterSweepsIdle(t *testing.T) {
	l, c := newTestLimiter(t, 5, time.Minute)
	for i := range 3 {
		mustAllow(t, l, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), "fill")
	}
	c.advance(30 * time.Second)
	mustAllow(t, l, ipA, "A")
	if n := l.tracked(); n != 4 {
		t.Fatalf("tracked %d IPs, want 4", n)
	}
	c.advance(30 * time.Second) // the first three are idle a whole window; A is not
	mustAllow(t, l, ipB, "B")
	if n := l.tracked(); n != 2 {
		t.Fatalf("after the sweep tracked %d IPs, want 2 (A and B)", n)
	}
	// A sweep forgets nothing that counts: A's admission is still there.
	for range 4 {
		mustAllow(t, l, ipA, "A again")
	}
	mustRefuse(t, l, ipA, 30, "A over the limit")
}

func TestListLimiterCapEvictsLeastRecentlySeen(t *testing.T) {
	l, _ := newTestLimiter(t, 1, time.Minute)
	l.max = 3
	ips := []netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3"),
	}
	for _, ip := range ips {
		mustAllow(t, l, ip, "fill")
	}
	mustRefuse(t, l, ips[0], 60, "10.0.0.1 seen again") // now the most recently seen
	mustAllow(t, l, ipA, "a fourth IP")                 // evicts 10.0.0.2
	if n := l.tracked(); n != 3 {
		t.Fatalf("tracked %d IPs, want the cap 3", n)
	}
	mustRefuse(t, l, ips[0], 60, "10.0.0.1 kept")
	mustRefuse(t, l, ips[2], 60, "10.0.0.3 kept")
	mustAllow(t, l, ips[1], "10.0.0.2 evicted: starts again") // evicts the least recent again
	if n := l.tracked(); n != 3 {
		t.Fatalf("tracked %d IPs, want the cap 3", n)
	}
}

func TestListLimiterOff(t *testing.T) {
	if l := newIPLimiter(0, time.Minute, nil); l != nil {
		t.Fatal("limit 0 made a limiter")
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Second: "1m30s", 30 * time.Second: "30s",
		time.Hour + time.Minute: "1h1m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestListLimiterConcurrent: concurrent callers on two IPs get exactly the
// limit each (run with -race).
func TestListLimiterConcurrent(t *testing.T) {
	l, _ := newTestLimiter(t, 100, time.Minute)
	var admitted [2]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 60 {
				if ok, _ := l.allow([]netip.Addr{ipA, ipB}[g%2]); ok {
					admitted[g%2].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if a, b := admitted[0].Load(), admitted[1].Load(); a != 100 || b != 100 {
		t.Fatalf("admitted %d and %d of 240 each, want 100 and 100", a, b)
	}
}

func TestSetListRateLimit(t *testing.T) {
	s := New(&fakeCore{}, Options{ListRateLimit: 5, ListRateWindow: time.Minute})
	before := s.listLimit.Load()
	if before == nil || before.limit != 5 || before.window != time.Minute {
		t.Fatalf("limit from Options: %+v", before)
	}
	if s.SetListRateLimit(5, time.Minute) || s.listLimit.Load() != before {
		t.Fatal("the same settings replaced the limiter (its counts would be lost)")
	}
	if !s.SetListRateLimit(5, 2*time.Minute) || s.listLimit.Load().window != 2*time.Minute {
		t.Fatal("a new window was not applied")
	}
	if !s.SetListRateLimit(0, time.Minute) || s.listLimit.Load() != nil {
		t.Fatal("limit 0 did not turn the limit off")
	}
	if s.SetListRateLimit(0, 2*time.Minute) {
		t.Fatal("off stays off whatever the window: nothing changed")
	}
	if off := New(&fakeCore{}, Options{}); off.listLimit.Load() != nil {
		t.Fatal("zero Options limit the list")
	}
}

func BenchmarkListLimiter(b *testing.B) {
	l := newIPLimiter(1<<30, time.Minute, nil)
	ip := netip.MustParseAddr("192.0.2.1")
	for b.Loop() {
		l.allow(ip)
	}
}

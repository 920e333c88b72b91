package httpapi

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The message list's per-source-IP limit (v2-api.md §4.1, §6: 3 500
// requests per 5 minutes per IP, then 429 rate_limit_exceeded with
// Retry-After).
//
// Algorithm: a sliding window kept as rateSteps+1 counters per IP, one per
// step of window/rateSteps, each with the time of its latest admission. A
// request is admitted when the admissions that may still lie within the
// last window number fewer than limit: every counter of the last rateSteps
// whole steps counts, and the oldest counter (the step the window's start
// falls in) counts while its latest admission is younger than window. So:
//   - at most limit requests are admitted in any interval [t, t+window):
//     a counter is dropped only once all of its admissions are window old;
//   - a request is refused only when limit requests were admitted in the
//     last window plus at most one step (window/rateSteps, 15 s at 5 min):
//     the oldest counter's earlier admissions count until its latest is
//     window old;
//   - refused requests do not count: a client that waits Retry-After is
//     admitted.
//
// Retry-After is the time until enough of the oldest counters are dropped
// for one request to be admitted, in whole seconds rounded up, at least 1.
//
// Memory: about 370 bytes per tracked IP (entry and map slot), at most
// maxTrackedIPs entries (~37 MB). Entries are kept in least-recently-seen
// order; each call drops a few entries idle for a whole window (they no
// longer limit anything), and a new IP at the cap evicts the least
// recently seen one, whose count starts again from zero. No goroutine.
const (
	rateSteps     = 20
	rateSlots     = rateSteps + 1
	maxTrackedIPs = 100_000
	// sweepPerCall bounds the idle entries one call removes, so no request
	// pays for a long sweep.
	sweepPerCall = 4
)

// ipLimiter is a per-source-IP sliding-window limiter; safe for concurrent use.
type ipLimiter struct {
	limit  uint32
	window time.Duration
	step   time.Duration // window/rateSteps rounded up: rateSteps steps cover a window
	max    int           // tracked IPs cap
	now    func() time.Time
	start  time.Time // times are kept as offsets from it (monotonic)

	mu      sync.Mutex
	entries map[netip.Addr]*ipEntry
	// head is the most recently seen entry, tail the least; both nil when
	// empty.
	head, tail *ipEntry
}

type ipEntry struct {
	addr       netip.Addr
	newest     int64 // step index of the newest counter
	lastSeen   time.Duration
	counts     [rateSlots]uint32
	lastAdmit  [rateSlots]time.Duration
	prev, next *ipEntry // prev: more recently seen
}

// newIPLimiter returns a limiter of limit requests per window; nil when
// limit is 0 (off). now is the clock (nil: time.Now).
func newIPLimiter(limit int, window time.Duration, now func() time.Time) *ipLimiter {
	if limit <= 0 || window <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &ipLimiter{
		limit:   uint32(min(limit, 1<<31)),
		window:  window,
		step:    (window + rateSteps - 1) / rateSteps,
		max:     maxTrackedIPs,
		now:     now,
		start:   now(),
		entries: make(map[netip.Addr]*ipEntry),
	}
}

// sourceIP is the key of a remote address: IPv4-mapped IPv6 counts as the
// IPv4 address, an IPv6 zone is dropped.
func sourceIP(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// allow admits or refuses one request from ip; refused, it returns the
// seconds until a request would be admitted (≥ 1).
func (l *ipLimiter) allow(ip netip.Addr) (ok bool, retryAfter int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now().Sub(l.start)
	cur := int64(t / l.step)
	l.sweep(t)
	e := l.entries[ip]
	if e == nil {
		e = l.add(ip, cur)
	} else {
		l.toFront(e)
		e.advance(cur)
	}
	e.lastSeen = t

	var total uint64
	for i := range e.counts {
		if e.counts[i] > 0 && t-e.lastAdmit[i] < l.window {
			total += uint64(e.counts[i])
		}
	}
	if total < uint64(l.limit) {
		slot := cur % rateSlots
		e.counts[slot]++
		e.lastAdmit[slot] = t
		return true, 0
	}
	// Drop counters oldest first until one request fits.
	need := total - uint64(l.limit) + 1
	var dropped uint64
	at := t + l.window // bound; reached only if the arithmetic above is wrong
	for k := cur - rateSteps; k <= cur; k++ {
		if k < 0 {
			continue
		}
		slot := k % rateSlots
		if e.counts[slot] == 0 || t-e.lastAdmit[slot] >= l.window {
			continue
		}
		dropped += uint64(e.counts[slot])
		if dropped >= need {
			at = e.lastAdmit[slot] + l.window
			break
		}
	}
	secs := int((at - t + time.Second - 1) / time.Second)
	return false, max(secs, 1)
}

// advance moves the entry's newest counter to step cur, clearing the
// counters of the steps in between (they had no admissions).
func (e *ipEntry) advance(cur int64) {
	if cur <= e.newest {
		return
	}
	if cur-e.newest >= rateSlots {
		e.counts = [rateSlots]uint32{}
	} else {
		for k := e.newest + 1; k <= cur; k++ {
			e.counts[k%rateSlots] = 0
		}
	}
	e.newest = cur
}

// add tracks a new IP, evicting the least recently seen one at the cap
// (its struct is reused).
func (l *ipLimiter) add(ip netip.Addr, cur int64) *ipEntry {
	var e *ipEntry
	if len(l.entries) >= l.max && l.tail != nil {
		e = l.tail
		l.remove(e)
		*e = ipEntry{}
	} else {
		e = new(ipEntry)
	}
	e.addr, e.newest = ip, cur
	l.entries[ip] = e
	l.toFront(e)
	return e
}

// sweep removes up to sweepPerCall entries idle for a whole window: none
// of their admissions counts any more, so forgetting them changes nothing.
func (l *ipLimiter) sweep(t time.Duration) {
	for range sweepPerCall {
		e := l.tail
		if e == nil || t-e.lastSeen < l.window {
			return
		}
		l.remove(e)
	}
}

func (l *ipLimiter) remove(e *ipEntry) {
	l.unlink(e)
	delete(l.entries, e.addr)
}

func (l *ipLimiter) unlink(e *ipEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else if l.head == e {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else if l.tail == e {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *ipLimiter) toFront(e *ipEntry) {
	if l.head == e {
		return
	}
	l.unlink(e)
	e.next = l.head
	if l.head != nil {
		l.head.prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

// tracked returns the number of IPs with state (tests).
func (l *ipLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// rateLimitDescription is the 429 body's description. The wait is in the
// Retry-After header only, so the body is the same for every refusal.
func rateLimitDescription(limit int, window time.Duration) string {
	return "Too many message list requests from this address: at most " + strconv.Itoa(limit) +
		" per " + shortDuration(window) + "; retry after the seconds in the Retry-After header"
}

// shortDuration writes 5m0s as 5m and 1h0m0s as 1h, as the configuration
// does.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// listLimited answers 429 when the request's source IP is over the message
// list's limit. The source is the connection's remote address, never
// X-Forwarded-For (which any client can write): behind a reverse proxy
// every client shares the proxy's budget.
func (s *Server) listLimited(ctx *fasthttp.RequestCtx) bool {
	ll := s.listLimit.Load()
	if ll == nil {
		return false
	}
	ok, retry := ll.ips.allow(sourceIP(ctx.RemoteIP()))
	if ok {
		return false
	}
	ctx.Response.Header.Set(fasthttp.HeaderRetryAfter, strconv.Itoa(retry))
	writeJSON(ctx, fasthttp.StatusTooManyRequests, ll.body)
	return true
}

// listLimit is the limiter in force with its settings and 429 body (the
// same for every refusal).
type listLimit struct {
	limit  int
	window time.Duration
	ips    *ipLimiter
	body   []byte
}

// SetListRateLimit sets the message list's per-IP limit (Options.
// ListRateLimit, ListRateWindow; limit 0: off), for a configuration
// reload. New settings start counting from zero; the same settings keep
// the counts. It reports whether anything changed.
func (s *Server) SetListRateLimit(limit int, window time.Duration) (changed bool) {
	if window <= 0 {
		window = DefaultListRateWindow
	}
	limit = max(limit, 0)
	s.listMu.Lock()
	defer s.listMu.Unlock()
	cur := s.listLimit.Load()
	if cur == nil && limit == 0 || cur != nil && cur.limit == limit && cur.window == window {
		return false
	}
	if limit == 0 {
		s.listLimit.Store(nil)
		return true
	}
	s.listLimit.Store(&listLimit{
		limit: limit, window: window,
		ips:  newIPLimiter(limit, window, nil),
		body: appendErrorBody(nil, typeRateLimited, rateLimitDescription(limit, window)),
	})
	return true
}

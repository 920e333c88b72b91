package smpp

import (
	"context"
	"math"
	"sync"
	"time"
)

// throttle paces a carrier in message segments per second with a token
// bucket. Tokens may go into debt: a long message takes all its segments at
// once (its parts then go out back to back) and the next sender waits the
// debt off, so the average rate is exact. On 0x58/0x14 the whole carrier
// pauses, then ramps back up.
type throttle struct {
	mu          sync.Mutex
	rate        float64 // configured segments/s; 0: unlimited
	burst       float64
	tokens      float64
	last        time.Time
	pausedUntil time.Time
	rampStart   time.Time
	rampBase    float64 // rate right after a pause; 0: no ramp in progress
	rampDur     time.Duration
	pause       time.Duration
	recent      rateMeter
	pauses      int64
}

func newThrottle(rate float64, burst int, pause, ramp time.Duration) *throttle {
	t := &throttle{pause: pause, rampDur: ramp}
	t.setRate(rate, burst)
	return t
}

// defaultBurst is 100 ms of traffic: enough to absorb scheduling jitter,
// small enough that a 10 s window never runs more than 1 % over the rate.
func defaultBurst(rate float64) float64 { return max(1, math.Ceil(rate/10)) }

func (t *throttle) setRate(rate float64, burst int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rate = rate
	t.burst = float64(burst)
	if burst <= 0 {
		t.burst = defaultBurst(rate)
	}
	t.tokens = min(t.tokens, t.burst)
	if t.last.IsZero() {
		t.tokens = t.burst
	}
}

// limitLocked is the rate in force at now; +Inf when unlimited.
func (t *throttle) limitLocked(now time.Time) float64 {
	target := t.rate
	if target == 0 {
		target = math.Inf(1)
	}
	if t.rampBase == 0 {
		return target
	}
	el := max(now.Sub(t.rampStart), 0) // during the pause: the rate it resumes at
	if el >= t.rampDur {
		t.rampBase = 0
		return target
	}
	f := float64(el) / float64(t.rampDur)
	if math.IsInf(target, 1) {
		// Unlimited: double five times over the ramp, then let go.
		return t.rampBase * math.Pow(2, 5*f)
	}
	return t.rampBase + (target-t.rampBase)*f
}

// take takes n segments when they may be sent at once, without waiting;
// false leaves the bucket as it was (refilled to now) for wait.
func (t *throttle) take(n int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Before(t.pausedUntil) {
		return false
	}
	r := t.limitLocked(now)
	if math.IsInf(r, 1) {
		t.last = now
		t.recent.add(now, n)
		return true
	}
	if !t.last.IsZero() {
		t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*r)
	}
	t.last = now
	if t.tokens < float64(n) {
		return false
	}
	t.tokens -= float64(n)
	t.recent.add(now, n)
	return true
}

// wait blocks until n segments may be sent.
func (t *throttle) wait(ctx context.Context, n int) error {
	for {
		t.mu.Lock()
		now := time.Now()
		if now.Before(t.pausedUntil) {
			d := t.pausedUntil.Sub(now)
			t.mu.Unlock()
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		r := t.limitLocked(now)
		if math.IsInf(r, 1) {
			t.last = now
			t.recent.add(now, n)
			t.mu.Unlock()
			return nil
		}
		if !t.last.IsZero() {
			t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*r)
		}
		t.last = now
		t.tokens -= float64(n)
		t.recent.add(now, n)
		var d time.Duration
		if t.tokens < 0 {
			d = time.Duration(-t.tokens / r * float64(time.Second))
		}
		t.mu.Unlock()
		if d > 0 {
			// The tokens are already taken: cancelling gives them back.
			if err := sleep(ctx, d); err != nil {
				t.mu.Lock()
				t.tokens += float64(n)
				t.mu.Unlock()
				return err
			}
		}
		return nil
	}
}

// throttled slows the carrier after 0x58 or 0x14. A storm of such answers
// to one window counts once: a new pause starts only after the last ended.
func (t *throttle) throttled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if now.Before(t.pausedUntil) {
		return false
	}
	base := t.rate
	if base == 0 {
		base = t.recent.perSecond(now)
	}
	cur := t.limitLocked(now)
	if !math.IsInf(cur, 1) {
		base = min(base, cur)
	}
	t.pausedUntil = now.Add(t.pause)
	t.rampStart = t.pausedUntil
	t.rampBase = max(base/2, 1)
	t.tokens = 0
	t.last = t.pausedUntil
	t.pauses++
	return true
}

type throttleState struct {
	Paused bool
	Rate   float64 // in force now; 0 when unlimited
	Pauses int64
}

func (t *throttle) state() throttleState {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	r := t.limitLocked(now)
	if math.IsInf(r, 1) {
		r = 0
	}
	return throttleState{Paused: now.Before(t.pausedUntil), Rate: r, Pauses: t.pauses}
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// rateMeter counts segments in the current and previous second, to know
// how fast an unlimited carrier was going when it said "slow down".
type rateMeter struct {
	sec       int64
	cur, prev int
}

func (m *rateMeter) add(now time.Time, n int) {
	s := now.Unix()
	if s != m.sec {
		if s == m.sec+1 {
			m.prev = m.cur
		} else {
			m.prev = 0
		}
		m.sec, m.cur = s, 0
	}
	m.cur += n
}

func (m *rateMeter) perSecond(now time.Time) float64 {
	m.add(now, 0)
	return float64(max(m.prev, m.cur, 10))
}

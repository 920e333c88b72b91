package bridge

import (
	"time"

	"smppbridge/store"
)

// classLane is the share of a carrier's queue for one number class that
// has its own rate (Carrier.ClassRates) inside the carrier's budget. Lanes
// let a throttled class wait without holding up the others: a worker takes
// the oldest message among the lanes that have a token, high priority
// first. Lane "" holds the classes without a rate of their own.
type classLane struct {
	high, normal []*store.QueueItem
	rate         float64 // segments/s; 0: unlimited
	burst        float64 // one second of rate, at least 1 segment
	tokens       float64
	last         time.Time
}

func newClassLanes(rates map[string]float64, now time.Time) map[string]*classLane {
	lanes := map[string]*classLane{"": {}}
	for class, r := range rates {
		if r > 0 {
			b := max(1, r)
			lanes[class] = &classLane{rate: r, burst: b, tokens: b, last: now}
		}
	}
	return lanes
}

func (l *classLane) len() int { return len(l.high) + len(l.normal) }

// ready says whether the lane may send now, else how long until it may.
func (l *classLane) ready(now time.Time) (bool, time.Duration) {
	if l.rate == 0 {
		return true, 0
	}
	if d := now.Sub(l.last); d > 0 {
		l.tokens = min(l.burst, l.tokens+d.Seconds()*l.rate)
		l.last = now
	}
	if l.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1-l.tokens)/l.rate*float64(time.Second)) + time.Millisecond
}

func (l *classLane) head() *store.QueueItem {
	if len(l.high) > 0 {
		return l.high[0]
	}
	return l.normal[0]
}

// take removes the head and spends its segments (a long message may run
// the bucket into debt, which later messages wait out).
func (l *classLane) take() *store.QueueItem {
	var it *store.QueueItem
	if len(l.high) > 0 {
		it, l.high[0] = l.high[0], nil
		l.high = l.high[1:]
	} else {
		it, l.normal[0] = l.normal[0], nil
		l.normal = l.normal[1:]
	}
	if l.rate > 0 {
		l.tokens -= float64(max(1, it.Segments))
	}
	return it
}

// pickLaneLocked takes the next message a lane may send: high priority
// before normal, then the oldest (lowest Seq). Without one it returns how
// long until a lane gets a token, or -1 when nothing is queued.
func (q *carrierQueue) pickLaneLocked(now time.Time) (*store.QueueItem, time.Duration) {
	var best *classLane
	bestHigh := false
	wait := time.Duration(-1)
	for _, l := range q.lanes {
		if l.len() == 0 {
			continue
		}
		if ok, w := l.ready(now); !ok {
			if wait < 0 || w < wait {
				wait = w
			}
			continue
		}
		h := len(l.high) > 0
		if best == nil || (h && !bestHigh) || (h == bestHigh && l.head().Seq < best.head().Seq) {
			best, bestHigh = l, h
		}
	}
	if best == nil {
		return nil, wait
	}
	return best.take(), 0
}

// popLanes is pop for a carrier with class rates.
func (q *carrierQueue) popLanesLocked() *store.QueueItem {
	for !q.closed {
		it, wait := q.pickLaneLocked(time.Now())
		if it != nil {
			return it
		}
		if wait < 0 {
			q.cond.Wait() // a push wakes it
			continue
		}
		// Taking the lock first means the wake-up cannot come before Wait.
		t := time.AfterFunc(wait, func() { q.mu.Lock(); q.mu.Unlock(); q.cond.Broadcast() })
		q.cond.Wait()
		t.Stop()
	}
	return nil
}

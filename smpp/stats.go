package smpp

import (
	"sync/atomic"
	"time"

	"smppbridge/smpp/pdu"
)

// LatencyBuckets are the upper bounds of the submit→response latency
// histogram in SessionStats.
var LatencyBuckets = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

type sessionCounters struct {
	pdusIn, pdusOut                           atomic.Int64
	submitted, throttled, queueFull, rejected atomic.Int64
	timeouts, late, unexpected, undecodable   atomic.Int64
	inbound, inboundAcked, inboundRefused     atomic.Int64
	inboundOverflow                           atomic.Int64
	latencySumNanos                           atomic.Int64
	latencyBuckets                            [14]atomic.Int64 // len(LatencyBuckets)+1 for +Inf
}

func (c *sessionCounters) observe(status pdu.Status, latency time.Duration) {
	switch status {
	case pdu.StatusOK:
		c.submitted.Add(1)
	case pdu.StatusThrottled:
		c.throttled.Add(1)
	case pdu.StatusMsgQFul:
		c.queueFull.Add(1)
	default:
		c.rejected.Add(1)
	}
	c.latencySumNanos.Add(int64(latency))
	i := 0
	for i < len(LatencyBuckets) && latency > LatencyBuckets[i] {
		i++
	}
	c.latencyBuckets[i].Add(1)
}

// SessionStats is a snapshot of one bind's counters, for a metrics layer.
type SessionStats struct {
	WindowInUse     int
	WindowSize      int
	PDUsIn          int64
	PDUsOut         int64
	Submitted       int64 // answered ESME_ROK
	Throttled       int64 // answered 0x58
	QueueFull       int64 // answered 0x14
	Rejected        int64 // answered with another error status
	Timeouts        int64 // no response within ResponseTimeout: outcome unknown
	LateResponses   int64 // responses that came after their timeout
	Unexpected      int64 // responses matching no request
	Undecodable     int64
	Inbound         int64 // deliver_sm/data_sm handed to the handler
	InboundAcked    int64
	InboundRefused  int64 // answered with an error status by the handler
	InboundOverflow int64 // answered 0x14 because the handler queue was full
	// Submit→response latency: count per bucket (LatencyBuckets, then +Inf) and sum.
	LatencyCounts []int64
	LatencySum    time.Duration
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	c := &s.stats
	st := SessionStats{
		WindowInUse: len(s.slots), WindowSize: cap(s.slots),
		PDUsIn: c.pdusIn.Load(), PDUsOut: c.pdusOut.Load(),
		Submitted: c.submitted.Load(), Throttled: c.throttled.Load(), QueueFull: c.queueFull.Load(), Rejected: c.rejected.Load(),
		Timeouts: c.timeouts.Load(), LateResponses: c.late.Load(), Unexpected: c.unexpected.Load(), Undecodable: c.undecodable.Load(),
		Inbound: c.inbound.Load(), InboundAcked: c.inboundAcked.Load(), InboundRefused: c.inboundRefused.Load(), InboundOverflow: c.inboundOverflow.Load(),
		LatencySum:    time.Duration(c.latencySumNanos.Load()),
		LatencyCounts: make([]int64, len(c.latencyBuckets)),
	}
	for i := range c.latencyBuckets {
		st.LatencyCounts[i] = c.latencyBuckets[i].Load()
	}
	return st
}

// plus returns the sum of two snapshots' counters (window fields from b):
// a bind's totals over its successive sessions.
func (a SessionStats) plus(b SessionStats) SessionStats {
	out := b
	out.PDUsIn += a.PDUsIn
	out.PDUsOut += a.PDUsOut
	out.Submitted += a.Submitted
	out.Throttled += a.Throttled
	out.QueueFull += a.QueueFull
	out.Rejected += a.Rejected
	out.Timeouts += a.Timeouts
	out.LateResponses += a.LateResponses
	out.Unexpected += a.Unexpected
	out.Undecodable += a.Undecodable
	out.Inbound += a.Inbound
	out.InboundAcked += a.InboundAcked
	out.InboundRefused += a.InboundRefused
	out.InboundOverflow += a.InboundOverflow
	out.LatencySum += a.LatencySum
	out.LatencyCounts = make([]int64, len(LatencyBuckets)+1)
	for i := range out.LatencyCounts {
		if i < len(a.LatencyCounts) {
			out.LatencyCounts[i] += a.LatencyCounts[i]
		}
		if i < len(b.LatencyCounts) {
			out.LatencyCounts[i] += b.LatencyCounts[i]
		}
	}
	return out
}

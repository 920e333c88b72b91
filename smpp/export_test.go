package smpp

import (
	"time"

	"smppbridge/smpp/pdu"
)

// SetSeq makes the session's last used sequence number seq, so the next
// request gets pdu.NextSeq(seq): tests reach the 0x7FFFFFFF wrap quickly.
func SetSeq(s *Session, seq uint32) {
	s.mu.Lock()
	s.seq = seq
	s.mu.Unlock()
}

// Backoff is the pool's reconnect delay for an attempt.
func Backoff(attempt int, lo, hi time.Duration) time.Duration { return backoff(attempt, lo, hi) }

// LateBeforeItsTimeout replays a one-part message whose late response is
// handled before its timeout result (the session's read loop can run
// between the timer marking the request timed out and reporting it) and
// returns what Submit would have returned for the part.
func LateBeforeItsTimeout(p *Pool, messageID string) PartResult {
	j := &job{pool: p, left: 1, done: make(chan struct{}, 1)}
	j.onePart = part{job: j}
	j.res.Parts = j.oneRes[:]
	pt := &j.onePart
	p.onLate(pt, Result{Status: pdu.StatusOK, MessageID: messageID})
	p.finish(pt, PartResult{Err: ErrResponseTimeout})
	<-j.done
	return j.res.Parts[0]
}

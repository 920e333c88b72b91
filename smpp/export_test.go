package smpp

import "time"

// SetSeq makes the session's last used sequence number seq, so the next
// request gets pdu.NextSeq(seq): tests reach the 0x7FFFFFFF wrap quickly.
func SetSeq(s *Session, seq uint32) {
	s.mu.Lock()
	s.seq = seq
	s.mu.Unlock()
}

// Backoff is the pool's reconnect delay for an attempt.
func Backoff(attempt int, lo, hi time.Duration) time.Duration { return backoff(attempt, lo, hi) }

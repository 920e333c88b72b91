package smsc

import (
	"time"

	"smppbridge/smpp/pdu"
)

// Bind describes one bound ESME connection.
type Bind struct {
	SystemID string `json:"system_id"`
	Type     string `json:"type"` // bind_transmitter, bind_receiver or bind_transceiver
	Remote   string `json:"remote"`
	TLS      bool   `json:"tls"`
	Pending  int    `json:"pending"` // SMSC requests awaiting the ESME's answer
}

// Binds lists the bound connections.
func (s *Server) Binds() []Bind {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Bind{} // JSON [] rather than null when nothing is bound
	for ss := range s.sessions {
		if ss.bindType != 0 {
			out = append(out, Bind{SystemID: ss.systemID, Type: ss.bindType.String(), Remote: ss.remote, TLS: ss.tls, Pending: len(ss.pending)})
		}
	}
	return out
}

// Unbind sends unbind to every bind of systemID ("" for all) and closes each
// once it answers, or after 5 s. It returns how many binds were asked.
func (s *Server) Unbind(systemID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ss := range s.sessions {
		if ss.bindType == 0 || !ss.unbindSent.IsZero() || (systemID != "" && ss.systemID != systemID) {
			continue
		}
		ss.unbindSent = time.Now()
		seq := ss.request(&pdu.PDU{Header: pdu.Header{ID: pdu.Unbind}})
		ss.pending[seq] = outRequest{id: pdu.Unbind, sentAt: ss.unbindSent}
		n++
	}
	return n
}

// DropBinds closes the connections of systemID ("" for all) without an
// unbind, as a failing network would. It returns how many were closed.
func (s *Server) DropBinds(systemID string) int {
	s.mu.Lock()
	var victims []*session
	for ss := range s.sessions {
		if systemID == "" || ss.systemID == systemID {
			victims = append(victims, ss)
		}
	}
	for _, ss := range victims {
		s.count(ss.systemID, func(c *Counters) { c.Drops++ })
	}
	s.mu.Unlock()
	for _, ss := range victims {
		ss.close()
	}
	return len(victims)
}

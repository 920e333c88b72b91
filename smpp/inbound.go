package smpp

import (
	"sync/atomic"

	"smppbridge/smpp/pdu"
)

// Inbound is a deliver_sm or data_sm from the SMSC. PDU owns its memory.
// The SMSC gets its response only when Respond is called, so a receipt or
// MO is acknowledged after it has been taken durably, never before.
type Inbound struct {
	PDU       pdu.PDU
	s         *Session
	responded atomic.Bool

	// A receipt's frame and TLVs fit here: the Inbound and all it owns
	// are one allocation instead of three.
	frame [320]byte
	tlvs  [4]pdu.TLV
}

// Respond answers the PDU: pdu.StatusOK once it is stored, or an error
// status (e.g. pdu.StatusMsgQFul) to have the SMSC send it again later.
// Only the first call counts. After the bind is gone it does nothing; the
// SMSC will resend.
func (in *Inbound) Respond(status pdu.Status) {
	if !in.responded.CompareAndSwap(false, true) {
		return
	}
	s := in.s
	select {
	case <-s.done:
		return
	default:
	}
	resp := pdu.PDU{Header: pdu.Header{ID: in.PDU.ID.Resp(), Status: status, Seq: in.PDU.Seq}}
	s.outMu.Lock()
	s.out, _ = pdu.Append(s.out, &resp) // an empty message_id cannot fail to encode
	s.outMu.Unlock()
	s.kick()
	s.stats.pdusOut.Add(1)
	if status == pdu.StatusOK {
		s.stats.inboundAcked.Add(1)
	} else {
		s.stats.inboundRefused.Add(1)
	}
}

// receive hands a deliver_sm/data_sm to the handler goroutine without ever
// blocking the read loop: it decodes a copy of the frame so the Inbound
// owns every byte. false: the PDU does not decode (nothing was done; the
// read loop answers it as undecodable).
func (s *Session) receive(frame []byte) bool {
	in := &Inbound{s: s}
	own := append(in.frame[:0], frame...) // allocates only for a frame larger than a receipt
	in.PDU.TLVs = in.tlvs[:0]
	if err := pdu.Decode(own, &in.PDU); err != nil {
		return false
	}
	if s.cfg.Handler == nil {
		in.Respond(pdu.StatusXTAppn)
		return true
	}
	// Counted before the hand-over: the handler may answer (and a peer
	// see the answer) before this goroutine runs again.
	s.stats.inbound.Add(1)
	select {
	case s.inbound <- in:
	default:
		s.stats.inbound.Add(-1)
		s.stats.inboundOverflow.Add(1)
		in.Respond(pdu.StatusMsgQFul)
	}
	return true
}

func (s *Session) inboundLoop() {
	for {
		select {
		case in := <-s.inbound:
			s.cfg.Handler(in)
		case <-s.done:
			return
		}
	}
}

package smsc

import (
	"time"

	"smppbridge/smpp/pdu"
)

func (ss *session) handleQuery(p *pdu.PDU) {
	s := ss.srv
	s.mu.Lock()
	s.count(ss.systemID, func(c *Counters) { c.QuerySM++ })
	resp := pdu.PDU{Header: pdu.Header{ID: pdu.QuerySMResp, Seq: p.Seq}, MessageID: p.MessageID}
	ps := s.parts[string(p.MessageID)]
	if ps == nil || ps.systemID != ss.systemID {
		resp.Status = pdu.StatusQueryFail
	} else {
		resp.MessageState = ps.state
		if !ps.doneAt.IsZero() {
			resp.FinalDate = []byte(smppTime(ps.doneAt))
			resp.ErrorCode = byte(errCode(ps.errCode))
		}
	}
	s.mu.Unlock()
	ss.writePDU(&resp)
}

func (ss *session) handleCancel(p *pdu.PDU) {
	s := ss.srv
	s.mu.Lock()
	s.count(ss.systemID, func(c *Counters) { c.CancelSM++ })
	status := pdu.StatusOK
	ps := s.parts[string(p.MessageID)]
	switch {
	case ps == nil || ps.systemID != ss.systemID:
		status = pdu.StatusCancelFail
	case !ps.doneAt.IsZero() || ps.canceled:
		status = pdu.StatusCancelFail // already final: nothing left to cancel
	default:
		ps.canceled = true
		ps.state, ps.stat = pdu.StateDeleted, "DELETED"
		ps.doneAt = time.Now()
		s.doneLocked(ps)
	}
	s.mu.Unlock()
	ss.writeHeader(pdu.CancelSMResp, status, p.Seq)
}

func (ss *session) handleReplace(p *pdu.PDU) {
	s := ss.srv
	s.mu.Lock()
	s.count(ss.systemID, func(c *Counters) { c.ReplaceSM++ })
	status := pdu.StatusOK
	ps := s.parts[string(p.MessageID)]
	if ps == nil || ps.systemID != ss.systemID || !ps.doneAt.IsZero() || ps.canceled {
		status = pdu.StatusReplaceFail
	} else {
		ps.text = string(p.ShortMessage)
	}
	s.mu.Unlock()
	ss.writeHeader(pdu.ReplaceSMResp, status, p.Seq)
}

// smppTime renders an absolute time in the SMPP 3.4 §7.1.1 form YYMMDDhhmmsstnnp.
func smppTime(t time.Time) string {
	t = t.UTC()
	return t.Format("060102150405") + string(rune('0'+t.Nanosecond()/100000000)) + "00+"
}

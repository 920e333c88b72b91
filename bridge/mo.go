package bridge

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"smppbridge/smpp"
	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

// MOStore is what inbound messages need from the store (*store.Store).
type MOStore interface {
	AddInbound(rec store.Record, jobs []store.CallbackJob) error
	AddMOPart(p store.MOPart, build func(texts []string) ([]store.CallbackJob, *store.Record)) (bool, error)
}

// handleMO turns a mobile-originated deliver_sm/data_sm into a
// message-received callback to the application owning the destination
// number. The SMSC gets its answer only once the callback job (or, for a
// part of a long message, the part) is stored: nothing acknowledged is lost.
func (b *Bridge) handleMO(carrier string, in *smpp.Inbound) {
	mo, ok := b.opts.Store.(MOStore)
	if !ok {
		in.Respond(pdu.StatusXTAppn) // the SMSC keeps it
		return
	}
	p := &in.PDU
	to, from := moNumber(p.Dest), moNumber(p.Source)
	app := b.numbers[to]
	if app == nil {
		// Retrying would not help: acknowledged, logged, dropped.
		b.log.Warn("inbound message for a number no application owns", "carrier", carrier, "to", to)
		in.Respond(pdu.StatusOK)
		return
	}
	body := p.ShortMessage
	if payload, ok := p.TLV(pdu.TagMessagePayload); ok && len(body) == 0 {
		body = payload
	}
	var part coding.Concat
	multi, fill := false, 0
	if p.ESMClass&pdu.ESMClassUDHI != 0 {
		if c, found, hl, err := coding.ParseUDH(body); err == nil {
			body, fill = body[hl:], coding.FillBits(hl)
			part, multi = c, found && c.Total > 1
		}
	} else if ref, ok1 := p.TLV(pdu.TagSarMsgRefNum); ok1 && len(ref) == 2 {
		tot, ok2 := p.TLV(pdu.TagSarTotalSegments)
		seq, ok3 := p.TLV(pdu.TagSarSegmentSeqnum)
		if ok2 && ok3 && len(tot) == 1 && len(seq) == 1 && tot[0] > 1 {
			part, multi = coding.Concat{Ref: binary.BigEndian.Uint16(ref), Total: tot[0], Seq: seq[0]}, true
		}
	}
	text := coding.Decode(p.DataCoding, body, false, fill)
	now := b.now()
	id := newMessageID(now) // outside build, which must be pure
	build := func(texts []string) ([]store.CallbackJob, *store.Record) {
		full := strings.Join(texts, "")
		rec := &store.Record{MessageID: id, AccountID: app.accountID, ApplicationID: app.ID, Direction: "in",
			From: from, To: to, Carrier: carrier, Segments: len(texts), Status: store.StatusReceived, ReceivedAt: now,
			Length: utf8.RuneCountInString(full), Size: len(full), Type: "sms", AllTo: []string{to}}
		ev := CallbackEvent{Type: "message-received", Time: now, Description: "Incoming message received", To: to,
			Message: CallbackMessage{ID: id, Owner: to, ApplicationID: app.ID, Time: now,
				SegmentCount: len(texts), Direction: "in", To: []string{to}, From: from, Text: full}}
		job, err := NewCallbackJob(app.Application, CallbackInbound, now, ev)
		if err != nil {
			return nil, rec // the application has no inbound URL
		}
		return []store.CallbackJob{job}, rec
	}
	var err error
	if !multi {
		jobs, rec := build([]string{text})
		err = mo.AddInbound(*rec, jobs)
	} else {
		key := fmt.Sprintf("%s|%s|%s|%d|%d", carrier, from, to, part.Ref, part.Total)
		_, err = mo.AddMOPart(store.MOPart{Key: key, Seq: int(part.Seq), Total: int(part.Total), Text: text}, build)
	}
	if err != nil {
		b.log.Error("cannot store an inbound message; the SMSC is asked to send it again", "carrier", carrier, "err", err)
		in.Respond(pdu.StatusMsgQFul)
		return
	}
	in.Respond(pdu.StatusOK)
	b.notifyCallbacks()
}

// moNumber is the V2 form of an SMPP address: "+" and digits for
// international (TON 1), as sent otherwise (short codes, alphanumerics).
func moNumber(a pdu.Address) string {
	s := string(a.Addr)
	if a.TON == 1 && !strings.HasPrefix(s, "+") {
		return "+" + s
	}
	return s
}

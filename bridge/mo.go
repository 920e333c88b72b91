package bridge

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"smppbridge/smpp"
	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
	"smppbridge/store"
)

// MOStore is what inbound messages need from the store (*store.Store).
type MOStore interface {
	// AddInbound stores a whole inbound message's record and callback jobs.
	AddInbound(rec store.Record, jobs []store.CallbackJob) error
	AddMOPart(p store.MOPart, build func(texts []string) ([]store.CallbackJob, *store.Record)) (bool, error)
	ExpireMOParts(now time.Time, limit int, build func(m store.IncompleteMO) ([]store.CallbackJob, *store.Record)) (int, bool, error)
}

// DefaultMOConcatTimeout is how long the parts of a long inbound message
// wait for the rest by default. SMSCs send a message's parts back to back,
// and resend one the bridge did not acknowledge within seconds to minutes;
// five minutes covers those resends while keeping an incomplete message
// late by minutes, not hours.
const DefaultMOConcatTimeout = 5 * time.Minute

// moInfo is what the store keeps with the parts of an incomplete message,
// so that the message can be delivered without its missing parts.
type moInfo struct {
	Carrier string    `json:"c"`
	From    string    `json:"f"`
	To      string    `json:"t"`
	At      time.Time `json:"a"` // the first part's arrival
}

// InboundStats counts inbound messages.
type InboundStats struct {
	// Incomplete are long messages delivered with parts missing after
	// their carrier's MOConcatTimeout (V2 5231 discarded-concatenation-timeout).
	Incomplete int64
}

// InboundStats returns the inbound counters (metrics).
func (b *Bridge) InboundStats() InboundStats {
	return InboundStats{Incomplete: b.moIncomplete.Load()}
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
	var app *application
	n := b.directory().numbers[to]
	if n == nil && p.Dest.TON == 0 && p.Dest.NPI <= 1 && len(to) >= 8 && isDigits(to) {
		// TON 0 "unknown": SMSCs often send the ESME's own numbers so,
		// international digits without "+". Only an exact match with a
		// number the bridge owns counts.
		if n = b.directory().numbers["+"+to]; n != nil {
			to = "+" + to
		}
	}
	if n != nil {
		app = n.app
	}
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
	q := b.queueFor(carrier)
	packed := q != nil && q.MOGSM7Packed
	var text string
	if multi {
		text = coding.DecodePart(p.DataCoding, body, packed, fill) // decoded with the others (JoinParts)
	} else {
		text = coding.Decode(p.DataCoding, body, packed, fill)
	}
	now := b.now()
	build := func(texts []string) ([]store.CallbackJob, *store.Record) {
		return moMessage(app, carrier, from, to, now, now, "Incoming message received", coding.JoinParts(texts), len(texts))
	}
	if !multi {
		// STOP / START opt the sender out of (back into) this number.
		if err := b.optKeyword(to, from, text); err != nil {
			b.log.Error("cannot record an opt-out; the SMSC is asked to send it again", "carrier", carrier, "err", err)
			in.Respond(pdu.StatusMsgQFul)
			return
		}
	}
	var err error
	if !multi {
		jobs, rec := moMessage(app, carrier, from, to, now, now, "Incoming message received", text, 1)
		err = mo.AddInbound(*rec, jobs)
	} else {
		key := fmt.Sprintf("%s|%s|%s|%d|%d", carrier, from, to, part.Ref, part.Total)
		timeout := DefaultMOConcatTimeout
		if q != nil {
			timeout = q.MOConcatTimeout
		}
		info, _ := json.Marshal(moInfo{Carrier: carrier, From: from, To: to, At: now}) // cannot fail
		_, err = mo.AddMOPart(store.MOPart{Key: key, Seq: int(part.Seq), Total: int(part.Total), Text: text,
			Deadline: now.Add(timeout), Info: string(info)}, build)
	}
	if err != nil {
		b.log.Error("cannot store an inbound message; the SMSC is asked to send it again", "carrier", carrier, "err", err)
		in.Respond(pdu.StatusMsgQFul)
		return
	}
	in.Respond(pdu.StatusOK)
	b.notifyCallbacks()
}

// moMessage is the record and the message-received job of an inbound
// message of text in segments parts, received at (its first part) and
// handed over now; no job when the application has no inbound URL. The
// record and the callback carry the same id.
func moMessage(app *application, carrier, from, to string, at, now time.Time, description, full string, segments int) ([]store.CallbackJob, *store.Record) {
	id := newMessageID(at)
	rec := &store.Record{MessageID: id, AccountID: app.accountID, ApplicationID: app.ID, Direction: "in",
		From: from, To: to, Carrier: carrier, Segments: segments, Status: store.StatusReceived, ReceivedAt: at,
		Length: utf8.RuneCountInString(full), Size: len(full), Type: "sms", AllTo: []string{to}}
	ev := CallbackEvent{Type: "message-received", Time: now, Description: description, To: to,
		Message: CallbackMessage{ID: id, Owner: to, ApplicationID: app.ID, Time: at,
			SegmentCount: segments, Direction: "in", To: []string{to}, From: from, Text: full}}
	job, err := NewCallbackJob(app.Application, CallbackInbound, now, ev)
	if err != nil {
		return nil, rec // the application has no inbound URL
	}
	job.AcceptsRecord = id // ACCEPTED once the application acknowledges it
	return []store.CallbackJob{job}, rec
}

// moExpireLoop delivers long inbound messages whose parts stopped coming
// (expireMO), every MOSweepInterval until Close.
func (b *Bridge) moExpireLoop() {
	every := b.opts.MOSweepInterval
	if every <= 0 {
		shortest := DefaultMOConcatTimeout
		for _, q := range b.set.Load().list {
			shortest = min(shortest, q.MOConcatTimeout)
		}
		every = min(max(shortest/10, time.Second), 30*time.Second)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.runCtx.Done():
			return
		case <-t.C:
		}
		b.expireMO(b.runCtx.Done())
	}
}

// expireMO hands every incomplete inbound message past its deadline to its
// application, 100 per commit, until none is due or stop closes.
//
// What arrived is delivered, not dropped: each part was acknowledged to
// the carrier, which will not send it again, so dropping it would lose
// text the sender believes delivered. The message-received callback has
// the parts that arrived, in order, segmentCount counting them, and a
// description naming the missing ones; V2 has no failure event for inbound
// messages, so the 5231 discarded-concatenation-timeout it stands for is
// logged and counted (InboundStats).
func (b *Bridge) expireMO(stop <-chan struct{}) {
	mo := b.store.(MOStore)
	for range 10000 { // bounded: 100 per pass is a million messages at most
		select {
		case <-stop:
			return
		default:
		}
		now := b.now()
		handed := map[string]store.IncompleteMO{} // by key: build may run twice
		n, more, err := mo.ExpireMOParts(now, 100, func(m store.IncompleteMO) ([]store.CallbackJob, *store.Record) {
			handed[m.Key] = m
			var info moInfo
			if json.Unmarshal([]byte(m.Info), &info) != nil {
				return nil, nil
			}
			app := b.ownerOf(info.To)
			if app == nil {
				return nil, nil // the number left the configuration meanwhile
			}
			return moMessage(app, info.Carrier, info.From, info.To, info.At, now, incompleteDescription(m), joinArrived(m.Seqs, m.Texts), len(m.Texts))
		})
		if err != nil {
			b.log.Error("cannot deliver incomplete inbound messages", "err", err)
			return
		}
		if n > 0 {
			b.moIncomplete.Add(int64(len(handed)))
			for _, m := range handed {
				var info moInfo
				json.Unmarshal([]byte(m.Info), &info)
				b.log.Warn("inbound message incomplete after the concatenation timeout: delivered with the parts that arrived",
					"code", 5231, "carrier", info.Carrier, "to", info.To, "parts", len(m.Seqs), "total", m.Total, "owned", b.ownerOf(info.To) != nil)
			}
			b.notifyCallbacks()
		}
		if !more {
			return
		}
	}
}

// joinArrived is the text of the parts that arrived of an incomplete
// message: each run of consecutive parts joined as one (coding.JoinParts),
// so a character split between a part that came and one that did not is
// not made up from its neighbours.
func joinArrived(seqs []int, texts []string) string {
	var sb strings.Builder
	from := 0
	for i := 1; i <= len(texts); i++ {
		if i == len(texts) || i >= len(seqs) || seqs[i] != seqs[i-1]+1 {
			sb.WriteString(coding.JoinParts(texts[from:i]))
			from = i
		}
	}
	return sb.String()
}

func incompleteDescription(m store.IncompleteMO) string {
	seqs := make([]string, len(m.Seqs))
	for i, s := range m.Seqs {
		seqs[i] = strconv.Itoa(s)
	}
	return fmt.Sprintf("Incoming message incomplete: parts %s of %d arrived (concatenation timeout)", strings.Join(seqs, ", "), m.Total)
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

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ownerOf is the application a number belongs to now; nil when none does.
func (b *Bridge) ownerOf(number string) *application {
	if n := b.directory().numbers[number]; n != nil {
		return n.app
	}
	return nil
}

package smsc

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
)

// Message is one complete message as the SMSC understood it: its parts
// reassembled and its text decoded.
type Message struct {
	ID                 string    `json:"id"`  // message id of the first part
	IDs                []string  `json:"ids"` // message id of every part, in part order
	SystemID           string    `json:"system_id"`
	Command            string    `json:"command"` // submit_sm, data_sm or submit_multi
	From               string    `json:"from"`
	To                 string    `json:"to"`
	SourceTON          byte      `json:"source_ton"`
	SourceNPI          byte      `json:"source_npi"`
	DestTON            byte      `json:"dest_ton"`
	DestNPI            byte      `json:"dest_npi"`
	Text               string    `json:"text"`
	DataCoding         byte      `json:"data_coding"`
	ESMClass           byte      `json:"esm_class"`
	RegisteredDelivery byte      `json:"registered_delivery"`
	Concat             string    `json:"concat,omitempty"` // "", udh8, udh16, sar or payload
	Segments           int       `json:"segments"`
	Incomplete         bool      `json:"incomplete,omitempty"` // parts missing when concat_timeout passed
	Parts              []Part    `json:"parts"`
	ReceivedAt         time.Time `json:"received_at"`
}

// Part is one PDU of a message.
type Part struct {
	ID         string    `json:"id"`
	Seq        int       `json:"seq"`
	Text       string    `json:"text"`
	Data       []byte    `json:"data"` // the user data as sent, without UDH
	ReceivedAt time.Time `json:"received_at"`
}

// partState is what the SMSC knows about one accepted part: enough to answer
// query_sm and cancel_sm and to write its receipt.
type partState struct {
	id       string
	num      uint64 // numeric id behind id, for hex/decimal receipt forms
	systemID string
	src, dst pdu.Address
	text     string
	seq      int
	total    int
	regDlv   byte
	submitAt time.Time
	doneAt   time.Time
	state    pdu.MessageState
	stat     string
	errCode  string
	canceled bool
	receipt  bool // a receipt is wanted for this part
	from     *session
	epoch    uint64 // Server.epoch when accepted: a Reset since drops its outcome
	key      string // its key in Server.parts
	evicted  bool   // its message left the log: forget the part once it is final
}

// msgRecord is one entry of the message log. A single-part message, by far
// the common case, is kept as its partState plus the few facts a Message
// adds, and only turned into a Message when someone asks (Messages): that
// saves five allocations per message on the hot path.
type msgRecord struct {
	ps       *partState // a single-part message; nil when m is set
	m        *Message   // a concatenated message, assembled as its parts arrived
	command  pdu.CommandID
	dc, esm  byte
	kind     string
	segments int
	text     string // as received: replace_sm changes ps.text only
	data     []byte // user data as sent, in the buffer ps's addresses live in
}

func (r *msgRecord) systemID() string {
	if r.m != nil {
		return r.m.SystemID
	}
	return r.ps.systemID
}

// message builds the Message the record stands for. Nothing it returns is
// shared with the log.
func (r *msgRecord) message() Message {
	if r.m != nil {
		m := *r.m
		m.IDs = slices.Clone(m.IDs)
		m.Parts = slices.Clone(m.Parts)
		for i := range m.Parts {
			m.Parts[i].Data = slices.Clone(m.Parts[i].Data)
		}
		return m
	}
	ps := r.ps
	return Message{
		ID: ps.id, IDs: []string{ps.id}, SystemID: ps.systemID, Command: r.command.String(),
		From: string(ps.src.Addr), To: string(ps.dst.Addr),
		SourceTON: ps.src.TON, SourceNPI: ps.src.NPI, DestTON: ps.dst.TON, DestNPI: ps.dst.NPI,
		Text: r.text, DataCoding: r.dc, ESMClass: r.esm, RegisteredDelivery: ps.regDlv,
		Concat: r.kind, Segments: r.segments,
		Parts:      []Part{{ID: ps.id, Seq: ps.seq, Text: r.text, Data: slices.Clone(r.data), ReceivedAt: ps.submitAt}},
		ReceivedAt: ps.submitAt,
	}
}

// appendConcatKey appends what identifies the parts of one long message:
// account, addresses and reference. They are C-strings, so NUL separators
// cannot be ambiguous. Built in a scratch buffer, a lookup by
// string(key) costs no allocation; the key is kept once per message.
func appendConcatKey(dst []byte, systemID string, src, dest []byte, c coding.Concat) []byte {
	dst = append(dst, systemID...)
	dst = append(dst, 0)
	dst = append(dst, src...)
	dst = append(dst, 0)
	dst = append(dst, dest...)
	ref16 := byte(0)
	if c.Ref16 {
		ref16 = 1
	}
	return append(dst, 0, byte(c.Ref>>8), byte(c.Ref), c.Total, ref16)
}

type partial struct {
	msg  *Message
	seen [4]uint64 // bit n: part n arrived (seq is one octet)
	n    int       // parts seen
}

// see records part seq and reports whether it had arrived before.
func (pm *partial) see(seq int) (again bool) {
	w, bit := seq/64, uint64(1)<<(seq%64)
	again = pm.seen[w]&bit != 0
	if !again {
		pm.seen[w] |= bit
		pm.n++
	}
	return again
}

// parsedBody is a submitted message body split into its header facts and text.
type parsedBody struct {
	body   []byte
	concat coding.Concat
	kind   string // "", udh8, udh16, sar, payload
	multi  bool   // one part of a concatenated message
	fill   int
}

func parseBody(p *pdu.PDU) (parsedBody, error) {
	var pb parsedBody
	pb.body = p.ShortMessage
	if payload, ok := p.TLV(pdu.TagMessagePayload); ok && len(p.ShortMessage) == 0 {
		pb.body, pb.kind = payload, "payload"
	}
	if p.ESMClass&pdu.ESMClassUDHI != 0 {
		c, found, hl, err := coding.ParseUDH(pb.body)
		if err != nil {
			return pb, err
		}
		pb.body, pb.fill = pb.body[hl:], coding.FillBits(hl)
		if found && c.Total > 1 {
			pb.concat, pb.multi = c, true
			pb.kind = "udh8"
			if c.Ref16 {
				pb.kind = "udh16"
			}
		}
		return pb, nil
	}
	ref, ok1 := p.TLV(pdu.TagSarMsgRefNum)
	tot, ok2 := p.TLV(pdu.TagSarTotalSegments)
	seq, ok3 := p.TLV(pdu.TagSarSegmentSeqnum)
	if ok1 && ok2 && ok3 && len(ref) == 2 && len(tot) == 1 && len(seq) == 1 && tot[0] > 1 {
		pb.concat = coding.Concat{Ref: binary.BigEndian.Uint16(ref), Total: tot[0], Seq: seq[0], Ref16: true}
		pb.multi, pb.kind = true, "sar"
	}
	return pb, nil
}

func encodingOf(dc byte) coding.Encoding {
	switch dc {
	case pdu.CodingUCS2:
		return coding.UCS2
	case pdu.CodingIA5:
		return coding.IA5
	case pdu.CodingDefault:
		return coding.GSM7
	default:
		return coding.Latin1
	}
}

// submitResult is what handleSubmit decided under the lock and carries out
// after releasing it.
type submitResult struct {
	resp     pdu.PDU
	latency  time.Duration
	noAnswer bool
	drop     bool
	finish   []*partState // parts whose outcome starts counting once the resp is out
	gate     *gate        // receipts-before-resp: the resp waits for their answers
}

func (ss *session) handleSubmit(p *pdu.PDU) {
	s := ss.srv
	now := time.Now()
	var res submitResult
	res.finish = ss.finishScratch[:0]
	s.mu.Lock()
	s.decideSubmit(ss, p, now, &res)
	if !res.noAnswer && !res.drop && res.gate == nil && res.latency <= 0 {
		// Answered at once: the response and the outcomes it starts (an
		// immediate receipt) are queued under one lock hold.
		ss.writePDU(&res.resp)
		s.startOutcomesLocked(res.finish)
		s.mu.Unlock()
		clear(res.finish) // the scratch must not keep parts alive
		ss.finishScratch = res.finish[:0]
		return
	}
	if !res.noAnswer && !res.drop {
		ss.inflight++
	}
	s.mu.Unlock()
	// The closures below take only what they need, and not the scratch.
	finish := slices.Clone(res.finish)
	clear(res.finish)
	ss.finishScratch = res.finish[:0]
	switch {
	case res.drop:
		ss.close()
	case res.noAnswer:
	case res.gate != nil:
		// Encode now: p and res.resp borrow from the read buffer.
		b, _ := pdu.Append(nil, &res.resp)
		respond := func() { ss.respondLocked(b, finish) }
		if d := res.latency; d > 0 { // a rule's response_delay, from the receipt's ack
			respond = func() {
				s.sched.after(d, func() {
					s.mu.Lock()
					ss.respondLocked(b, finish)
					s.mu.Unlock()
				})
			}
		}
		s.mu.Lock()
		res.gate.arm(respond)
		s.mu.Unlock()
	default:
		b, _ := pdu.Append(nil, &res.resp)
		s.sched.after(res.latency, func() {
			s.mu.Lock()
			ss.respondLocked(b, finish)
			s.mu.Unlock()
		})
	}
}

// respondLocked writes a held-back response and starts its parts' outcome clocks.
func (ss *session) respondLocked(b []byte, finish []*partState) {
	ss.outMu.Lock()
	ss.out = append(ss.out, b...)
	ss.outMu.Unlock()
	ss.kick()
	ss.srv.pdusOut.Add(1)
	ss.inflight--
	ss.srv.startOutcomesLocked(finish)
}

// decideSubmit applies faults, limits and rules in the order a carrier's
// SMSC would, then accepts the message. Callers hold s.mu.
func (s *Server) decideSubmit(ss *session, p *pdu.PDU, now time.Time, res *submitResult) {
	b := &s.beh
	sys := ss.systemID
	a := s.account(sys)
	res.resp.Header = pdu.Header{ID: p.ID.Resp(), Seq: p.Seq}
	switch p.ID {
	case pdu.SubmitSM:
		s.total.SubmitSM++
		a.counters.SubmitSM++
	case pdu.DataSM:
		s.total.DataSM++
		a.counters.DataSM++
	case pdu.SubmitMulti:
		s.total.SubmitMulti++
		a.counters.SubmitMulti++
	}
	defer s.notifyLocked()
	if b.NoResponseRate > 0 && s.randFloat() < b.NoResponseRate {
		res.noAnswer = true
		s.total.NotAnswered++
		a.counters.NotAnswered++
		return
	}
	status := pdu.StatusOK
	if b.Window > 0 && ss.inflight >= b.Window {
		s.total.WindowExceeded++
		a.counters.WindowExceeded++
		if b.WindowAction == "drop" {
			s.total.Drops++
			a.counters.Drops++
			res.drop = true
			return
		}
		status = pdu.StatusThrottled
	}
	pb, err := parseBody(p)
	if err != nil && status == pdu.StatusOK {
		status = pdu.StatusInvEsmClass
	}
	var one [1]pdu.Address
	var dests []pdu.Address
	if p.ID == pdu.SubmitMulti {
		for _, d := range p.Dests {
			dests = append(dests, d.Address) // distribution lists are refused below
		}
	} else {
		one[0] = p.Dest
		dests = one[:]
	}
	var text string
	if status == pdu.StatusOK {
		text = coding.Decode(p.DataCoding, pb.body, b.GSM7Packed, pb.fill)
	}
	segs := 1
	if pb.kind == "payload" && !pb.multi {
		segs = coding.Segments(text, encodingOf(p.DataCoding), coding.ModeUDH8)
	}
	if status == pdu.StatusOK && b.MaxSegmentsPerSecond > 0 && !a.take(now, float64(segs*len(dests)), b) {
		status = pdu.StatusThrottled
	}
	if status == pdu.StatusOK && a.qfullLeft > 0 {
		a.qfullLeft--
		status = pdu.StatusMsgQFul
	}
	if status == pdu.StatusOK && p.ID != pdu.SubmitMulti {
		if len(p.Dest.Addr) == 0 {
			status = pdu.StatusInvDstAdr
		} else if r := s.ruleFor(string(p.Dest.Addr)); r != nil && r.SubmitStatus != 0 {
			status = pdu.Status(r.SubmitStatus)
		}
	}
	if status == pdu.StatusOK && p.ID == pdu.SubmitMulti && (len(p.Dests) == 0 || len(p.Dests) > 254) {
		status = pdu.StatusInvNumDests
	}
	if status == pdu.StatusOK {
		id, num := s.newMessageIDLocked()
		// The resp is encoded before the read loop reads on: a scratch
		// buffer of the session holds its id.
		ss.idScratch = append(ss.idScratch[:0], id...)
		res.resp.MessageID = ss.idScratch
		if b.Receipts.BeforeResp && p.RegisteredDelivery&0x03 != 0 {
			res.gate = &gate{}
		}
		accepted := 0 // destinations refused in unsuccess_sme are no segments
		for i, d := range dests {
			if p.ID == pdu.SubmitMulti {
				if p.Dests[i].Flag != 1 {
					res.resp.Unsuccess = append(res.resp.Unsuccess, pdu.Unsuccess{Address: pdu.Address{Addr: d.Addr}, Status: pdu.StatusInvDLName})
					continue
				}
				if r := s.ruleFor(string(d.Addr)); r != nil && r.SubmitStatus != 0 {
					res.resp.Unsuccess = append(res.resp.Unsuccess, pdu.Unsuccess{Address: d, Status: pdu.Status(r.SubmitStatus)})
					continue
				}
			}
			ps := s.acceptPartLocked(ss, p, d, id, num, &pb, text, segs, now)
			accepted++
			if res.gate != nil && ps.receipt {
				s.finishPartLocked(ps, res.gate)
			} else {
				res.finish = append(res.finish, ps)
			}
		}
		if res.gate != nil && res.gate.n == 0 {
			res.gate = nil // no receipt turned out to be wanted
		}
		s.total.Segments += int64(accepted)
		a.counters.Segments += int64(accepted)
		a.accepted++
		if b.QueueFullEvery > 0 && b.QueueFullBurst > 0 && a.accepted >= b.QueueFullEvery {
			a.accepted, a.qfullLeft = 0, b.QueueFullBurst
		}
	}
	res.resp.Status = status
	switch status {
	case pdu.StatusOK:
	case pdu.StatusThrottled:
		s.total.Throttled++
		a.counters.Throttled++
	case pdu.StatusMsgQFul:
		s.total.QueueFull++
		a.counters.QueueFull++
	default:
		s.total.Rejected++
		a.counters.Rejected++
	}
	if res.gate == nil {
		res.latency = s.draw(b.ResponseLatency)
	}
	if p.ID != pdu.SubmitMulti {
		seq := 1
		if pb.multi {
			seq = int(pb.concat.Seq)
		}
		if r := s.ruleFor(string(p.Dest.Addr)); r != nil && r.ResponseDelay > 0 && (r.Segment == 0 || r.Segment == seq) {
			res.latency = r.ResponseDelay.D()
		}
	}
}

// take removes n tokens from the account's bucket when it holds enough.
func (a *accountState) take(now time.Time, n float64, b *Behaviour) bool {
	burst := float64(b.RateBurst)
	if burst <= 0 {
		burst = max(b.MaxSegmentsPerSecond, 1)
	}
	if a.tokensAt.IsZero() {
		a.tokens = burst
	} else {
		a.tokens = min(burst, a.tokens+now.Sub(a.tokensAt).Seconds()*b.MaxSegmentsPerSecond)
	}
	a.tokensAt = now
	n = min(n, burst) // a message larger than the bucket still gets through when it is full
	if a.tokens < n {
		return false
	}
	a.tokens -= n
	return true
}

func (s *Server) ruleFor(dest string) *Rule {
	for i := range s.beh.Rules {
		if s.beh.Rules[i].matches(dest) {
			return &s.beh.Rules[i]
		}
	}
	return nil
}

// acceptPartLocked records an accepted part and, when it completes a message,
// the message. Everything kept is copied out of the read buffer.
func (s *Server) acceptPartLocked(ss *session, p *pdu.PDU, dest pdu.Address, id string, num uint64, pb *parsedBody, text string, segs int, now time.Time) *partState {
	b := &s.beh
	seq, total := 1, 1
	if pb.multi {
		seq, total = int(pb.concat.Seq), int(pb.concat.Total)
	}
	src, dst, data := copyOut(p.Source, dest, pb.body)
	ps := &partState{
		id: id, num: num, systemID: ss.systemID,
		src: src, dst: dst,
		text: text, seq: seq, total: total, regDlv: p.RegisteredDelivery,
		submitAt: now, state: pdu.StateEnroute, from: ss, epoch: s.epoch,
	}
	ps.stat, ps.errCode = s.outcomeLocked(string(dest.Addr), seq)
	ps.receipt = s.wantReceiptLocked(ps)
	ps.key = id
	if _, dup := s.parts[ps.key]; dup { // submit_multi: one id, several destinations
		ps.key = id + "/" + string(dest.Addr)
	}
	s.parts[ps.key] = ps
	if !pb.multi {
		s.recordLocked(msgRecord{ps: ps, command: p.ID, dc: p.DataCoding, esm: p.ESMClass, kind: pb.kind, segments: segs, text: text, data: data})
		return ps
	}
	part := Part{ID: id, Seq: seq, Text: text, Data: data, ReceivedAt: now}
	ss.keyScratch = appendConcatKey(ss.keyScratch[:0], ss.systemID, ps.src.Addr, ps.dst.Addr, pb.concat)
	pm := s.partial[string(ss.keyScratch)]
	if pm == nil {
		pm = &partial{msg: s.newMessage(p, ps, pb, now)}
		pm.msg.Segments = total
		pm.msg.Parts = make([]Part, 0, total)
		ck := string(ss.keyScratch)
		s.partial[ck] = pm
		s.sched.after(b.ConcatTimeout.D(), func() { s.expirePartial(ck, pm) })
	}
	if pm.see(seq) {
		// A resent part replaces the earlier copy: the ESME thought it lost.
		pm.msg.Parts = slices.DeleteFunc(pm.msg.Parts, func(x Part) bool { return x.Seq == seq })
	}
	pm.msg.Parts = append(pm.msg.Parts, part)
	if pm.n == total {
		delete(s.partial, string(ss.keyScratch))
		s.completeLocked(pm.msg)
		pm.msg = nil // the expiry job holds pm until concat_timeout: not the message too
	}
	return ps
}

// copyOut copies two addresses and the user data out of the read buffer
// into one allocation. Nothing writes to it afterwards.
func copyOut(a, b pdu.Address, data []byte) (pdu.Address, pdu.Address, []byte) {
	buf := make([]byte, len(a.Addr)+len(b.Addr)+len(data))
	n := copy(buf, a.Addr)
	m := n + copy(buf[n:], b.Addr)
	copy(buf[m:], data)
	a.Addr, b.Addr = buf[:n:n], buf[n:m:m]
	return a, b, buf[m:]
}

func (s *Server) newMessage(p *pdu.PDU, ps *partState, pb *parsedBody, now time.Time) *Message {
	return &Message{
		SystemID: ps.systemID, Command: p.ID.String(),
		From: string(ps.src.Addr), To: string(ps.dst.Addr),
		SourceTON: ps.src.TON, SourceNPI: ps.src.NPI, DestTON: ps.dst.TON, DestNPI: ps.dst.NPI,
		DataCoding: p.DataCoding, ESMClass: p.ESMClass, RegisteredDelivery: p.RegisteredDelivery,
		Concat: pb.kind, ReceivedAt: now,
	}
}

func (s *Server) completeLocked(m *Message) {
	slices.SortFunc(m.Parts, func(a, b Part) int { return a.Seq - b.Seq })
	var sb strings.Builder
	n := 0
	for _, p := range m.Parts {
		n += len(p.Text)
	}
	sb.Grow(n)
	m.IDs = make([]string, len(m.Parts))
	for i, p := range m.Parts {
		sb.WriteString(p.Text)
		m.IDs[i] = p.ID
	}
	m.Text = sb.String()
	m.ID = m.IDs[0]
	s.recordLocked(msgRecord{m: m})
}

func (s *Server) expirePartial(ck string, pm *partial) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partial[ck] != pm {
		return
	}
	delete(s.partial, ck)
	m := pm.msg
	m.Incomplete = true
	s.completeLocked(m)
	s.notifyLocked() // runs from the scheduler: nobody else wakes WaitFor callers

	s.log.Info("long message incomplete after concat_timeout", "system_id", m.SystemID, "from", m.From, "to", m.To, "parts", len(m.Parts), "of", m.Segments)
}

// recordLocked keeps a message in the ring of recent messages, forgetting
// the oldest and, once final, its parts: the log and the parts kept for
// query_sm stay bounded by KeepMessages however long the simulator runs.
func (s *Server) recordLocked(r msgRecord) {
	s.total.Messages++
	s.account(r.systemID()).counters.Messages++
	if len(s.msgs) < s.cfg.KeepMessages {
		s.msgs = append(s.msgs, r)
		return
	}
	old := &s.msgs[s.msgHead]
	if old.ps != nil {
		s.forgetPartLocked(old.ps)
	} else {
		for _, id := range old.m.IDs {
			if ps := s.parts[id]; ps != nil {
				s.forgetPartLocked(ps)
			}
		}
	}
	s.msgs[s.msgHead] = r
	s.msgHead = (s.msgHead + 1) % len(s.msgs)
}

// forgetPartLocked drops a part whose message left the log from the parts
// map, now if it is final, else when it becomes final (doneLocked).
func (s *Server) forgetPartLocked(ps *partState) {
	ps.evicted = true
	if !ps.doneAt.IsZero() && s.parts[ps.key] == ps {
		delete(s.parts, ps.key)
	}
}

// doneLocked is called when a part has become final.
func (s *Server) doneLocked(ps *partState) {
	if ps.evicted && s.parts[ps.key] == ps {
		delete(s.parts, ps.key)
	}
}

// Messages returns the kept messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.msgs))
	for i := range s.msgs {
		out = append(out, s.msgs[(s.msgHead+i)%len(s.msgs)].message())
	}
	return out
}

// outcomeLocked decides a part's fate: a destination rule, else the weighted mix.
func (s *Server) outcomeLocked(dest string, seq int) (stat, errCode string) {
	if r := s.ruleFor(dest); r != nil && r.Stat != "" {
		if r.Segment == 0 || r.Segment == seq {
			return r.Stat, r.Err
		}
		return "DELIVRD", "000"
	}
	os := s.beh.Receipts.Outcomes
	total := 0
	for _, o := range os {
		total += o.Weight
	}
	n := s.rng.IntN(total)
	for _, o := range os {
		if n < o.Weight {
			return o.Stat, o.Err
		}
		n -= o.Weight
	}
	return os[len(os)-1].Stat, os[len(os)-1].Err
}

// wantReceiptLocked applies registered_delivery, the segment selection and
// the drop faults.
func (s *Server) wantReceiptLocked(ps *partState) bool {
	r := &s.beh.Receipts
	switch {
	case ps.regDlv&0x03 == 0, r.Never:
		return false
	case ps.regDlv&0x03 == 2 && ps.stat == "DELIVRD": // failure receipts only
		return false
	case r.Segments == "first" && ps.seq != 1, r.Segments == "last" && ps.seq != ps.total:
		return false
	}
	if rule := s.ruleFor(string(ps.dst.Addr)); rule != nil && rule.NoReceipt {
		return false
	}
	if r.DropRate > 0 && s.randFloat() < r.DropRate {
		return false
	}
	return true
}

// startOutcomesLocked starts the receipt delay of parts whose response has
// just been written.
func (s *Server) startOutcomesLocked(parts []*partState) {
	if len(parts) == 0 {
		return
	}
	d := s.draw(s.beh.Receipts.Delay)
	if d <= 0 {
		for _, ps := range parts {
			s.finishPartLocked(ps, nil)
		}
		return
	}
	parts = slices.Clone(parts) // the caller's slice may be a scratch buffer
	s.sched.after(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, ps := range parts {
			s.finishPartLocked(ps, nil)
		}
	})
}

// finishPartLocked moves a part to its final state and queues its receipt.
func (s *Server) finishPartLocked(ps *partState, g *gate) {
	if ps.canceled || !ps.doneAt.IsZero() || s.closed || ps.epoch != s.epoch {
		return
	}
	ps.doneAt = time.Now()
	ps.state, _ = pdu.StateFromStat(ps.stat)
	s.doneLocked(ps)
	s.notifyLocked()
	if !ps.receipt {
		return
	}
	r := &s.beh.Receipts
	for i := 0; i <= r.Duplicates; i++ {
		d := s.receiptDelivery(ps)
		if g != nil && i == 0 {
			g.n++
			d.gate = g
		}
		s.enqueueLocked(d)
	}
}

const receiptDate = "0601021504"

// dateCache keeps the last receipt date it rendered: the receipts of one
// minute (or second) all carry the same text, and formatting it twice per
// receipt was a tenth of the simulator's CPU.
type dateCache struct {
	key  int64 // Unix minute, or second with seconds
	secs bool
	n    int // 0: empty
	b    [12]byte
}

// append appends t in the receipt date form, YYMMDDhhmm[ss] in UTC.
func (c *dateCache) append(dst []byte, t time.Time, secs bool) []byte {
	key := t.Unix()
	if !secs {
		key = key / 60
	}
	if c.n == 0 || c.key != key || c.secs != secs {
		layout := receiptDate
		if secs {
			layout += "05"
		}
		c.n = len(t.UTC().AppendFormat(c.b[:0], layout))
		c.key, c.secs = key, secs
	}
	return append(dst, c.b[:c.n]...)
}

// receiptDelivery builds the receipt PDU in the configured form (SMPP 3.4
// appendix B text, TLVs, or both).
func (s *Server) receiptDelivery(ps *partState) *delivery {
	r := &s.beh.Receipts
	id := ps.id
	if r.IDFormat != "same" {
		id = formatID(r.IDFormat, ps.num, s.beh.IDWidth)
	}
	dlvrd := "000"
	if ps.stat == "DELIVRD" {
		dlvrd = "001"
	}
	d := s.newReceiptLocked()
	d.systemID, d.msgID = ps.systemID, ps.id
	p := &d.p
	p.TLVs = d.tlvs[:0]
	// One buffer for the text and the TLV values: the text takes ~100 bytes
	// besides the id and the snippet, the TLVs the id and 5.
	buf := d.buf[:0]
	if n := 2*len(id) + len(ps.text) + 136; cap(buf) < n {
		buf = make([]byte, 0, n)
		d.buf = buf
	}
	p.ID = pdu.DeliverSM
	if r.PDU == "data_sm" {
		p.ID = pdu.DataSM
	}
	p.ESMClass = pdu.ESMClassReceipt
	p.Source, p.Dest = ps.dst, ps.src // the receipt comes from the handset's side
	if r.Format != "tlv" {
		// Built by hand: fmt and a string per field cost more than the rest
		// of a receipt.
		text := append(buf, "id:"...)
		text = append(text, id...)
		text = append(text, " sub:001 dlvrd:"...)
		text = append(text, dlvrd...)
		text = append(text, " submit date:"...)
		text = s.submitDates.append(text, ps.submitAt, r.DateSeconds)
		text = append(text, " done date:"...)
		text = s.doneDates.append(text, ps.doneAt, r.DateSeconds)
		text = append(text, " stat:"...)
		text = append(text, ps.stat...)
		text = append(text, " err:"...)
		text = append(text, ps.errCode...)
		text = append(text, " text:"...)
		text = appendReceiptSnippet(text, ps.text)
		buf = text[len(text):] // the TLV values follow the text, in its spare capacity
		text = text[:len(text):len(text)]
		if p.ID == pdu.DataSM {
			p.TLVs = append(p.TLVs, pdu.TLV{Tag: pdu.TagMessagePayload, Value: text})
		} else {
			p.ShortMessage = text
		}
	}
	if r.Format != "text" {
		st, _ := pdu.StateFromStat(ps.stat)
		code := errCode(ps.errCode)
		v := append(buf, id...)
		v = append(v, 0)
		v = append(v, byte(st))
		v = append(v, 3, byte(code>>8), byte(code)) // type 3: GSM
		n := len(id) + 1
		p.TLVs = append(p.TLVs,
			pdu.TLV{Tag: pdu.TagReceiptedMessageID, Value: v[:n:n]},
			pdu.TLV{Tag: pdu.TagMessageState, Value: v[n : n+1 : n+1]},
			pdu.TLV{Tag: pdu.TagNetworkErrorCode, Value: v[n+1:]},
		)
	}
	if r.OtherBind {
		d.avoid = ps.from
	} else {
		d.prefer = ps.from
	}
	return d
}

// appendReceiptSnippet appends the first 20 characters of the text,
// limited to printable ASCII so the receipt stays readable in any alphabet.
func appendReceiptSnippet(dst []byte, text string) []byte {
	n := 0
	for _, r := range text {
		if n == 20 {
			break
		}
		if r < 0x20 || r > 0x7E {
			r = '?'
		}
		dst = append(dst, byte(r))
		n++
	}
	return dst
}

package pdu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of every PDU header.
const HeaderLen = 16

// MaxSeq is the largest sequence number; numbering wraps back to 1 after it.
const MaxSeq = 0x7FFFFFFF

// Header is the fixed part of every PDU.
type Header struct {
	Length uint32 // command_length as read; Append computes it
	ID     CommandID
	Status Status
	Seq    uint32
}

// Address is a TON/NPI/address triple.
type Address struct {
	TON, NPI byte
	Addr     []byte
}

// DestAddress is one submit_multi destination: an SME address (Flag 1) or a
// distribution list name (Flag 2, name in Addr).
type DestAddress struct {
	Flag byte
	Address
}

// Unsuccess is one unsuccess_sme entry of a submit_multi_resp.
type Unsuccess struct {
	Address
	Status Status
}

// TLV is an optional parameter. Value borrows from the decoded frame.
type TLV struct {
	Tag   Tag
	Value []byte
}

// PDU holds any SMPP 3.4 PDU. Only the fields of its command's body are
// encoded; the rest are ignored. After Decode every []byte borrows from the
// frame buffer. The same PDU value can be reused for the next Decode without
// allocating, which is what the session read loops do.
type PDU struct {
	Header

	// bind_*, outbind, bind_*_resp (SystemID)
	SystemID         []byte
	Password         []byte
	SystemType       []byte
	InterfaceVersion byte
	AddressRange     Address

	// submit_sm, deliver_sm, data_sm, submit_multi, replace_sm, query_sm, cancel_sm, alert_notification
	ServiceType          []byte
	Source               Address
	Dest                 Address // also esme_addr of alert_notification
	Dests                []DestAddress
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime []byte
	ValidityPeriod       []byte
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	ShortMessage         []byte

	// *_resp, query_sm, cancel_sm, replace_sm
	MessageID []byte

	// query_sm_resp
	FinalDate    []byte
	MessageState MessageState
	ErrorCode    byte

	// submit_multi_resp
	Unsuccess []Unsuccess

	TLVs []TLV
}

// Reset clears p for reuse, keeping slice capacity.
func (p *PDU) Reset() {
	dests, uns, tlvs := p.Dests[:0], p.Unsuccess[:0], p.TLVs[:0]
	*p = PDU{Dests: dests, Unsuccess: uns, TLVs: tlvs}
}

// TLV returns the value of the first TLV with tag t.
func (p *PDU) TLV(t Tag) ([]byte, bool) {
	for i := range p.TLVs {
		if p.TLVs[i].Tag == t {
			return p.TLVs[i].Value, true
		}
	}
	return nil, false
}

// SetTLV adds or replaces the TLV with tag t.
func (p *PDU) SetTLV(t Tag, v []byte) {
	for i := range p.TLVs {
		if p.TLVs[i].Tag == t {
			p.TLVs[i].Value = v
			return
		}
	}
	p.TLVs = append(p.TLVs, TLV{Tag: t, Value: v})
}

// Errors returned by Decode and Append. Decode errors wrap ErrMalformed so a
// session can answer generic_nack or the command's resp with ESME_RINVCMDLEN.
// Append returns ErrFieldTooLong for a field over its SMPP limit and
// ErrMalformed for a value no peer could parse (a NUL inside a C-string, a
// dest_flag other than 1 or 2).
var (
	ErrMalformed      = errors.New("smpp/pdu: malformed PDU")
	ErrUnknownCommand = errors.New("smpp/pdu: unknown command_id")
	ErrFieldTooLong   = errors.New("smpp/pdu: field too long")
)

// C-Octet String maximum sizes including the terminating NUL (SMPP 3.4 §4).
const (
	maxSystemID    = 16
	maxPassword    = 9
	maxSystemType  = 13
	maxAddrRange   = 41
	maxServiceType = 6
	maxAddr21      = 21
	maxAddr65      = 65
	maxTime        = 17
	maxMessageID   = 65
	maxShortMsg    = 254 // sm_length is 0..254 (§5.2.21)
	maxDests       = 254 // number_of_dests and no_unsuccess (§4.5)
)

// Decode parses one complete frame (header and body) into p. p's slices
// borrow from frame. It never allocates beyond growing p.Dests, p.Unsuccess
// and p.TLVs, each bounded by the frame length.
func Decode(frame []byte, p *PDU) error {
	p.Reset()
	if len(frame) < HeaderLen {
		return fmt.Errorf("%w: %d bytes is shorter than a header", ErrMalformed, len(frame))
	}
	p.Length = binary.BigEndian.Uint32(frame[0:4])
	p.ID = CommandID(binary.BigEndian.Uint32(frame[4:8]))
	p.Status = Status(binary.BigEndian.Uint32(frame[8:12]))
	p.Seq = binary.BigEndian.Uint32(frame[12:16])
	if int64(p.Length) != int64(len(frame)) {
		return fmt.Errorf("%w: command_length %d but frame has %d bytes", ErrMalformed, p.Length, len(frame))
	}
	r := reader{b: frame[HeaderLen:]}
	switch p.ID {
	case GenericNack, Unbind, UnbindResp, EnquireLink, EnquireLinkResp, CancelSMResp, ReplaceSMResp:
		// empty bodies
	case BindReceiver, BindTransmitter, BindTransceiver:
		p.SystemID = r.cstr(maxSystemID)
		p.Password = r.cstr(maxPassword)
		p.SystemType = r.cstr(maxSystemType)
		p.InterfaceVersion = r.u8()
		p.AddressRange.TON = r.u8()
		p.AddressRange.NPI = r.u8()
		p.AddressRange.Addr = r.cstr(maxAddrRange)
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		// An error resp may omit the body (§4.1.2).
		if r.more() {
			p.SystemID = r.cstr(maxSystemID)
			r.tlvs(p)
		}
	case Outbind:
		p.SystemID = r.cstr(maxSystemID)
		p.Password = r.cstr(maxPassword)
	case SubmitSM, DeliverSM:
		p.ServiceType = r.cstr(maxServiceType)
		r.addr(&p.Source, maxAddr21)
		r.addr(&p.Dest, maxAddr21)
		r.messageTail(p)
		r.tlvs(p)
	case SubmitSMResp, DeliverSMResp, DataSMResp:
		if r.more() {
			p.MessageID = r.cstr(maxMessageID)
			r.tlvs(p)
		}
	case SubmitMulti:
		p.ServiceType = r.cstr(maxServiceType)
		r.addr(&p.Source, maxAddr21)
		n := r.count("number_of_dests")
		for i := 0; i < n && r.err == nil; i++ {
			var d DestAddress
			d.Flag = r.u8()
			switch d.Flag {
			case 1:
				r.addr(&d.Address, maxAddr21)
			case 2:
				d.Addr = r.cstr(maxAddr21)
			default:
				r.fail("dest_flag %d", d.Flag)
			}
			p.Dests = append(p.Dests, d)
		}
		r.messageTail(p)
		r.tlvs(p)
	case SubmitMultiResp:
		if r.more() {
			p.MessageID = r.cstr(maxMessageID)
			n := r.count("no_unsuccess")
			for i := 0; i < n && r.err == nil; i++ {
				var u Unsuccess
				r.addr(&u.Address, maxAddr21)
				u.Status = Status(r.u32())
				p.Unsuccess = append(p.Unsuccess, u)
			}
			r.tlvs(p)
		}
	case DataSM:
		p.ServiceType = r.cstr(maxServiceType)
		r.addr(&p.Source, maxAddr65)
		r.addr(&p.Dest, maxAddr65)
		p.ESMClass = r.u8()
		p.RegisteredDelivery = r.u8()
		p.DataCoding = r.u8()
		r.tlvs(p)
	case QuerySM:
		p.MessageID = r.cstr(maxMessageID)
		r.addr(&p.Source, maxAddr21)
	case QuerySMResp:
		if r.more() {
			p.MessageID = r.cstr(maxMessageID)
			p.FinalDate = r.cstr(maxTime)
			p.MessageState = MessageState(r.u8())
			p.ErrorCode = r.u8()
		}
	case CancelSM:
		p.ServiceType = r.cstr(maxServiceType)
		p.MessageID = r.cstr(maxMessageID)
		r.addr(&p.Source, maxAddr21)
		r.addr(&p.Dest, maxAddr21)
	case ReplaceSM:
		p.MessageID = r.cstr(maxMessageID)
		r.addr(&p.Source, maxAddr21)
		p.ScheduleDeliveryTime = r.cstr(maxTime)
		p.ValidityPeriod = r.cstr(maxTime)
		p.RegisteredDelivery = r.u8()
		p.SMDefaultMsgID = r.u8()
		p.ShortMessage = r.shortMessage()
	case AlertNotification:
		r.addr(&p.Source, maxAddr65)
		r.addr(&p.Dest, maxAddr65)
		r.tlvs(p)
	default:
		return fmt.Errorf("%w %#08x", ErrUnknownCommand, uint32(p.ID))
	}
	if r.err != nil {
		return fmt.Errorf("%s: %w", p.ID, r.err)
	}
	if r.more() {
		return fmt.Errorf("%w: %s has %d trailing bytes", ErrMalformed, p.ID, len(r.b))
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	r.b = nil
}

func (r *reader) u8() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("body ends early")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.fail("body ends early")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("body ends early: need %d bytes, have %d", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// cstr reads a NUL-terminated string of at most max bytes including the NUL.
func (r *reader) cstr(max int) []byte {
	if r.err != nil {
		return nil
	}
	lim := len(r.b)
	if lim > max {
		lim = max
	}
	for i := 0; i < lim; i++ {
		if r.b[i] == 0 {
			v := r.b[:i:i]
			r.b = r.b[i+1:]
			return v
		}
	}
	if len(r.b) >= max {
		r.fail("C-string longer than %d bytes", max-1)
	} else {
		r.fail("C-string without terminating NUL")
	}
	return nil
}

func (r *reader) addr(a *Address, max int) {
	a.TON = r.u8()
	a.NPI = r.u8()
	a.Addr = r.cstr(max)
}

// messageTail reads the fields submit_sm, deliver_sm and submit_multi share
// after their addresses.
func (r *reader) messageTail(p *PDU) {
	p.ESMClass = r.u8()
	p.ProtocolID = r.u8()
	p.PriorityFlag = r.u8()
	p.ScheduleDeliveryTime = r.cstr(maxTime)
	p.ValidityPeriod = r.cstr(maxTime)
	p.RegisteredDelivery = r.u8()
	p.ReplaceIfPresent = r.u8()
	p.DataCoding = r.u8()
	p.SMDefaultMsgID = r.u8()
	p.ShortMessage = r.shortMessage()
}

// shortMessage reads sm_length and short_message. The encoder refuses 255
// octets, so the decoder does too: what one accepts the other can write.
func (r *reader) shortMessage() []byte {
	n := int(r.u8())
	if n > maxShortMsg {
		r.fail("sm_length %d, at most %d", n, maxShortMsg)
		return nil
	}
	return r.bytes(n)
}

// count reads number_of_dests or no_unsuccess, at most maxDests.
func (r *reader) count(name string) int {
	n := int(r.u8())
	if n > maxDests {
		r.fail("%s %d, at most %d", name, n, maxDests)
		return 0
	}
	return n
}

func (r *reader) tlvs(p *PDU) {
	for r.more() {
		if len(r.b) < 4 {
			r.fail("truncated TLV header")
			return
		}
		tag := Tag(binary.BigEndian.Uint16(r.b))
		n := int(binary.BigEndian.Uint16(r.b[2:]))
		r.b = r.b[4:]
		v := r.bytes(n)
		if r.err != nil {
			return
		}
		p.TLVs = append(p.TLVs, TLV{Tag: tag, Value: v})
	}
}

// Append encodes p onto dst and returns the extended slice. command_length
// is computed; p.Length is ignored. Fields longer than SMPP allows are refused
// rather than truncated, so a caller never sends a PDU the peer must reject.
func Append(dst []byte, p *PDU) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.ID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.Status))
	dst = binary.BigEndian.AppendUint32(dst, p.Seq)
	w := writer{b: dst}
	switch p.ID {
	case GenericNack, Unbind, UnbindResp, EnquireLink, EnquireLinkResp, CancelSMResp, ReplaceSMResp:
	case BindReceiver, BindTransmitter, BindTransceiver:
		w.cstr(p.SystemID, maxSystemID, "system_id")
		w.cstr(p.Password, maxPassword, "password")
		w.cstr(p.SystemType, maxSystemType, "system_type")
		w.u8(p.InterfaceVersion)
		w.u8(p.AddressRange.TON)
		w.u8(p.AddressRange.NPI)
		w.cstr(p.AddressRange.Addr, maxAddrRange, "address_range")
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		if !emptyErrorResp(p, len(p.SystemID) == 0 && len(p.TLVs) == 0) {
			w.cstr(p.SystemID, maxSystemID, "system_id")
			w.tlvs(p.TLVs)
		}
	case Outbind:
		w.cstr(p.SystemID, maxSystemID, "system_id")
		w.cstr(p.Password, maxPassword, "password")
	case SubmitSM, DeliverSM:
		w.cstr(p.ServiceType, maxServiceType, "service_type")
		w.addr(&p.Source, maxAddr21, "source_addr")
		w.addr(&p.Dest, maxAddr21, "destination_addr")
		w.messageTail(p)
		w.tlvs(p.TLVs)
	case SubmitSMResp, DeliverSMResp, DataSMResp:
		// §4.4.2: the body is omitted when command_status is not OK, but
		// TLVs such as data_sm_resp's delivery_failure_reason explain the
		// error and must still be sent.
		if !emptyErrorResp(p, len(p.MessageID) == 0 && len(p.TLVs) == 0) {
			w.cstr(p.MessageID, maxMessageID, "message_id")
			w.tlvs(p.TLVs)
		}
	case SubmitMulti:
		w.cstr(p.ServiceType, maxServiceType, "service_type")
		w.addr(&p.Source, maxAddr21, "source_addr")
		if len(p.Dests) > maxDests {
			w.fail("submit_multi has %d destinations, at most %d", len(p.Dests), maxDests)
		}
		w.u8(byte(len(p.Dests)))
		for i := range p.Dests {
			d := &p.Dests[i]
			w.u8(d.Flag)
			switch d.Flag {
			case 1:
				w.addr(&d.Address, maxAddr21, "destination_addr")
			case 2:
				w.cstr(d.Addr, maxAddr21, "dl_name")
			default:
				// The decoder and every SMSC refuse other flags
				// (ESME_RINVDESTFLAG); a zero Flag is a caller bug.
				w.invalid("dest_flag %d, want 1 (SME) or 2 (distribution list)", d.Flag)
			}
		}
		w.messageTail(p)
		w.tlvs(p.TLVs)
	case SubmitMultiResp:
		if emptyErrorResp(p, len(p.MessageID) == 0 && len(p.Unsuccess) == 0 && len(p.TLVs) == 0) {
			break
		}
		w.cstr(p.MessageID, maxMessageID, "message_id")
		if len(p.Unsuccess) > maxDests {
			w.fail("submit_multi_resp has %d unsuccess entries, at most %d", len(p.Unsuccess), maxDests)
		}
		w.u8(byte(len(p.Unsuccess)))
		for i := range p.Unsuccess {
			w.addr(&p.Unsuccess[i].Address, maxAddr21, "unsuccess dest")
			w.b = binary.BigEndian.AppendUint32(w.b, uint32(p.Unsuccess[i].Status))
		}
		w.tlvs(p.TLVs)
	case DataSM:
		w.cstr(p.ServiceType, maxServiceType, "service_type")
		w.addr(&p.Source, maxAddr65, "source_addr")
		w.addr(&p.Dest, maxAddr65, "destination_addr")
		w.u8(p.ESMClass)
		w.u8(p.RegisteredDelivery)
		w.u8(p.DataCoding)
		w.tlvs(p.TLVs)
	case QuerySM:
		w.cstr(p.MessageID, maxMessageID, "message_id")
		w.addr(&p.Source, maxAddr21, "source_addr")
	case QuerySMResp:
		if emptyErrorResp(p, len(p.MessageID) == 0 && len(p.FinalDate) == 0 && p.MessageState == 0 && p.ErrorCode == 0) {
			break
		}
		w.cstr(p.MessageID, maxMessageID, "message_id")
		w.cstr(p.FinalDate, maxTime, "final_date")
		w.u8(byte(p.MessageState))
		w.u8(p.ErrorCode)
	case CancelSM:
		w.cstr(p.ServiceType, maxServiceType, "service_type")
		w.cstr(p.MessageID, maxMessageID, "message_id")
		w.addr(&p.Source, maxAddr21, "source_addr")
		w.addr(&p.Dest, maxAddr21, "destination_addr")
	case ReplaceSM:
		w.cstr(p.MessageID, maxMessageID, "message_id")
		w.addr(&p.Source, maxAddr21, "source_addr")
		w.cstr(p.ScheduleDeliveryTime, maxTime, "schedule_delivery_time")
		w.cstr(p.ValidityPeriod, maxTime, "validity_period")
		w.u8(p.RegisteredDelivery)
		w.u8(p.SMDefaultMsgID)
		w.shortMessage(p.ShortMessage)
	case AlertNotification:
		w.addr(&p.Source, maxAddr65, "source_addr")
		w.addr(&p.Dest, maxAddr65, "esme_addr")
		w.tlvs(p.TLVs)
	default:
		return dst[:start], fmt.Errorf("%w %#08x", ErrUnknownCommand, uint32(p.ID))
	}
	if w.err != nil {
		return dst[:start], fmt.Errorf("%s: %w", p.ID, w.err)
	}
	binary.BigEndian.PutUint32(w.b[start:], uint32(len(w.b)-start))
	return w.b, nil
}

// emptyErrorResp reports whether p is an error resp whose body fields are
// all empty (empty says so); its body is then left out, as §4.4.2 asks of
// submit_sm_resp and peers expect of every resp. Decode accepts both forms.
func emptyErrorResp(p *PDU, empty bool) bool {
	return p.Status != StatusOK && empty
}

type writer struct {
	b   []byte
	err error
}

// fail records a field the PDU cannot hold (ErrFieldTooLong).
func (w *writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: "+format, append([]any{ErrFieldTooLong}, args...)...)
	}
}

// invalid records a value no peer can parse (ErrMalformed).
func (w *writer) invalid(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (w *writer) u8(v byte) { w.b = append(w.b, v) }

func (w *writer) cstr(v []byte, max int, name string) {
	if len(v) >= max {
		w.fail("%s is %d bytes, at most %d", name, len(v), max-1)
		return
	}
	// A NUL inside would end the string early and shift every later field
	// (a system_id "a\x00b" would smuggle in a password).
	if bytes.IndexByte(v, 0) >= 0 {
		w.invalid("%s contains a NUL byte", name)
		return
	}
	w.b = append(w.b, v...)
	w.b = append(w.b, 0)
}

func (w *writer) addr(a *Address, max int, name string) {
	w.u8(a.TON)
	w.u8(a.NPI)
	w.cstr(a.Addr, max, name)
}

func (w *writer) shortMessage(sm []byte) {
	if len(sm) > maxShortMsg {
		w.fail("short_message is %d octets, at most %d (use message_payload)", len(sm), maxShortMsg)
		return
	}
	w.u8(byte(len(sm)))
	w.b = append(w.b, sm...)
}

func (w *writer) messageTail(p *PDU) {
	w.u8(p.ESMClass)
	w.u8(p.ProtocolID)
	w.u8(p.PriorityFlag)
	w.cstr(p.ScheduleDeliveryTime, maxTime, "schedule_delivery_time")
	w.cstr(p.ValidityPeriod, maxTime, "validity_period")
	w.u8(p.RegisteredDelivery)
	w.u8(p.ReplaceIfPresent)
	w.u8(p.DataCoding)
	w.u8(p.SMDefaultMsgID)
	w.shortMessage(p.ShortMessage)
}

func (w *writer) tlvs(ts []TLV) {
	for i := range ts {
		if len(ts[i].Value) > 0xFFFF {
			w.fail("TLV %#04x value is %d bytes", uint16(ts[i].Tag), len(ts[i].Value))
			return
		}
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(ts[i].Tag))
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(ts[i].Value)))
		w.b = append(w.b, ts[i].Value...)
	}
}

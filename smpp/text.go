package smpp

import (
	"errors"
	"fmt"
	"strings"

	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
)

// TextConfig is how a carrier wants text: alphabet mapping and the way long
// messages are sent. The zero value is GSM-7 as data_coding 0 unpacked,
// UCS-2 otherwise, 8-bit-reference UDH for long messages.
type TextConfig struct {
	LongMode       coding.Mode // UDH8, UDH16, SAR or message_payload
	GSM7DataCoding byte        // data_coding for GSM-7 text; default 0x00
	GSM7Packed     bool        // pack septets (most SMSCs expect one septet per octet)
	// Latin1 sends GSM-7-compatible text as ISO-8859-1 with data_coding 0x03
	// when every character exists in Latin-1, for carriers that read 0x00 that way.
	Latin1 bool
	// IA5 sends text whose every character is ASCII as IA5 (one octet per
	// character, data_coding 0x01), for carriers that want it; other
	// GSM-7 text stays GSM-7.
	IA5          bool
	ShortCodeTON byte // TON for short codes; 0 means 3 (network specific) unless ShortCodeTONSet
	ShortCodeNPI byte
	// ShortCodeTONSet makes ShortCodeTON count as given, 0 included: some
	// carriers want short codes with TON 0 (unknown).
	ShortCodeTONSet bool
}

// Plan is how a text will be sent.
type Plan struct {
	Encoding   coding.Encoding
	DataCoding byte
	Segments   int // as billed and paced: one per part, or per 153/67 units in payload mode
	Parts      int // PDUs on the wire
}

// MaxParts is the most parts a concatenated message can have.
const MaxParts = 255

// ErrTooLong is a text that needs more than MaxParts parts.
var ErrTooLong = errors.New("smpp: text needs more than 255 parts")

// Plan computes encoding and segment count exactly as Encode will send them.
func (c TextConfig) Plan(text string) Plan {
	enc := coding.Choose(text)
	if enc == coding.GSM7 && c.Latin1 {
		if _, ok := coding.EncodeLatin1(nil, text); ok {
			enc = coding.Latin1
		}
	}
	if enc == coding.GSM7 && c.IA5 {
		if _, ok := coding.EncodeIA5(nil, text); ok {
			enc = coding.IA5
		}
	}
	p := Plan{Encoding: enc, DataCoding: enc.DataCoding(), Segments: coding.Segments(text, enc, c.LongMode)}
	if enc == coding.GSM7 {
		p.DataCoding = c.GSM7DataCoding
	}
	p.Parts = p.Segments
	if c.LongMode == coding.ModePayload {
		p.Parts = 1
	}
	return p
}

// Message is an outbound short message.
type Message struct {
	From, To           string
	Text               string
	RegisteredDelivery byte   // 1: receipt for success and failure
	ValidityPeriod     string // SMPP absolute or relative time; empty: SMSC default
	ServiceType        string
	PriorityFlag       byte
	// Ref is the caller's, handed back untouched with a part's late
	// response (PoolConfig.OnLateResult). A pointer costs no allocation.
	Ref any
}

// Encode turns a message into the submit_sm PDUs that carry it, in order.
// ref is the concatenation reference for long messages.
func (c TextConfig) Encode(m *Message, ref uint16) ([]*pdu.PDU, Plan, error) {
	one := &onePDU{}
	return c.encodeInto(m, ref, one, nil)
}

// encodeInto is Encode with a one-part message's PDU written into one, and
// the addresses, optional fields and a single part's text into scratch
// when they fit: the pool passes both inside its job, so a usual message
// costs no allocation of its own. Both must live as long as the PDUs.
func (c TextConfig) encodeInto(m *Message, ref uint16, one *onePDU, scratch []byte) ([]*pdu.PDU, Plan, error) {
	plan := c.Plan(m.Text)
	// Both addresses, the optional fields and a single part's text share
	// one buffer: one allocation at most instead of five.
	need := len(m.From) + len(m.To) + len(m.ServiceType) + len(m.ValidityPeriod) + encodedSize(plan.Encoding, m.Text)
	addrs := scratch[:0]
	if cap(addrs) < need {
		addrs = make([]byte, 0, need)
	}
	src, addrs, err := c.address(m.From, addrs)
	if err != nil {
		return nil, plan, fmt.Errorf("from: %w", err)
	}
	dst, addrs, err := c.address(m.To, addrs)
	if err != nil {
		return nil, plan, fmt.Errorf("to: %w", err)
	}
	if dst.TON == 5 {
		return nil, plan, errors.New("to: an alphanumeric address cannot receive messages")
	}
	var serviceType, validity []byte
	if m.ServiceType != "" {
		serviceType, addrs = appendCapped(addrs, m.ServiceType)
	}
	if m.ValidityPeriod != "" {
		validity, addrs = appendCapped(addrs, m.ValidityPeriod)
	}
	base := pdu.PDU{
		Header:      pdu.Header{ID: pdu.SubmitSM},
		ServiceType: serviceType, Source: src, Dest: dst,
		PriorityFlag: m.PriorityFlag, ValidityPeriod: validity,
		RegisteredDelivery: m.RegisteredDelivery, DataCoding: plan.DataCoding,
	}
	if c.LongMode == coding.ModePayload && plan.Segments > 1 {
		p := base
		p.TLVs = []pdu.TLV{{Tag: pdu.TagMessagePayload, Value: c.encode(plan.Encoding, m.Text, 0)}}
		return []*pdu.PDU{&p}, plan, nil
	}
	if plan.Segments == 1 {
		// The usual case, without Split's slice.
		one.p = base
		one.p.ShortMessage = c.appendEncoded(addrs[len(addrs):], plan.Encoding, m.Text, 0)
		one.list[0] = &one.p
		return one.list[:], plan, nil
	}
	texts := coding.Split(m.Text, plan.Encoding, c.LongMode)
	if len(texts) > MaxParts {
		return nil, plan, ErrTooLong
	}
	out := make([]*pdu.PDU, len(texts))
	pdus := make([]pdu.PDU, len(texts))
	// Every part's bytes (UDH or SAR values, and text) in one buffer, each
	// part's slices capped so a later append cannot touch them: should
	// the estimate fall short, append moves on to a new array and the
	// earlier parts keep theirs.
	size := 0
	for _, t := range texts {
		size += 7 + encodedSize(plan.Encoding, t)
	}
	body := make([]byte, 0, size)
	var sar []pdu.TLV
	if c.LongMode == coding.ModeSAR && len(texts) > 1 {
		sar = make([]pdu.TLV, 3*len(texts))
	}
	for i, t := range texts {
		p := &pdus[i]
		*p = base
		out[i] = p
		start := len(body)
		if len(texts) == 1 {
			body = c.appendEncoded(body, plan.Encoding, t, 0)
			p.ShortMessage = body[start:len(body):len(body)]
			continue
		}
		cc := coding.Concat{Ref: ref, Total: uint8(len(texts)), Seq: uint8(i + 1), Ref16: c.LongMode == coding.ModeUDH16}
		switch c.LongMode {
		case coding.ModeSAR:
			body = append(body, byte(ref>>8), byte(ref), cc.Total, cc.Seq)
			v := body[start : start+4 : start+4]
			p.TLVs = sar[3*i : 3*i+3 : 3*i+3]
			p.TLVs[0] = pdu.TLV{Tag: pdu.TagSarMsgRefNum, Value: v[0:2:2]}
			p.TLVs[1] = pdu.TLV{Tag: pdu.TagSarTotalSegments, Value: v[2:3:3]}
			p.TLVs[2] = pdu.TLV{Tag: pdu.TagSarSegmentSeqnum, Value: v[3:4:4]}
			start = len(body)
			body = c.appendEncoded(body, plan.Encoding, t, 0)
		default:
			body = coding.AppendConcatUDH(body, cc)
			p.ESMClass |= pdu.ESMClassUDHI
			body = c.appendEncoded(body, plan.Encoding, t, coding.FillBits(len(body)-start))
		}
		p.ShortMessage = body[start:len(body):len(body)]
	}
	return out, plan, nil
}

// onePDU is a one-part message's PDU and its list.
type onePDU struct {
	p    pdu.PDU
	list [1]*pdu.PDU
}

// appendCapped appends v to buf and returns it capped there, so later
// appends to buf cannot touch it, and buf extended.
func appendCapped(buf []byte, v string) ([]byte, []byte) {
	start := len(buf)
	buf = append(buf, v...)
	return buf[start:len(buf):len(buf)], buf
}

func (c TextConfig) encode(enc coding.Encoding, t string, fill int) []byte {
	return c.appendEncoded(make([]byte, 0, encodedSize(enc, t)), enc, t, fill)
}

// encodedSize is room for t encoded, so appending rarely grows: one byte
// per UTF-8 byte covers GSM-7 without escapes, Latin-1 and IA5; UCS-2
// takes at most two per UTF-8 byte.
func encodedSize(enc coding.Encoding, t string) int {
	if enc == coding.UCS2 {
		return 2 * len(t)
	}
	return len(t) + 4
}

func (c TextConfig) appendEncoded(dst []byte, enc coding.Encoding, t string, fill int) []byte {
	switch enc {
	case coding.GSM7:
		if c.GSM7Packed {
			sept, _ := coding.EncodeGSM7(make([]byte, 0, len(t)+4), t)
			return coding.PackSeptets(dst, sept, fill)
		}
		out, _ := coding.EncodeGSM7(dst, t)
		return out
	case coding.Latin1:
		b, _ := coding.EncodeLatin1(dst, t)
		return b
	case coding.IA5:
		b, _ := coding.EncodeIA5(dst, t)
		return b
	default:
		return coding.EncodeUCS2(dst, t)
	}
}

// Address maps a number onto TON/NPI: "+E.164" → international (1/1)
// without the "+"; up to 8 digits → short code; other digits → international;
// anything else → alphanumeric (5/0, at most 11 characters).
func (c TextConfig) Address(s string) (pdu.Address, error) {
	a, _, err := c.address(s, nil)
	return a, err
}

// address is Address with Addr appended to buf (and capped there, so
// later appends to buf cannot touch it); it returns buf extended.
func (c TextConfig) address(s string, buf []byte) (pdu.Address, []byte, error) {
	digits, plus := strings.CutPrefix(s, "+")
	if digits == "" {
		return pdu.Address{}, buf, errors.New("empty address")
	}
	bytesOf := func(v string) []byte {
		start := len(buf)
		buf = append(buf, v...)
		return buf[start:len(buf):len(buf)]
	}
	numeric := true
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			numeric = false
			break
		}
	}
	switch {
	case numeric && (plus || len(digits) > 8):
		if len(digits) > 15 {
			return pdu.Address{}, buf, fmt.Errorf("%q has more than 15 digits", s)
		}
		return pdu.Address{TON: 1, NPI: 1, Addr: bytesOf(digits)}, buf, nil
	case numeric:
		ton := c.ShortCodeTON
		if ton == 0 && !c.ShortCodeTONSet {
			ton = 3
		}
		return pdu.Address{TON: ton, NPI: c.ShortCodeNPI, Addr: bytesOf(digits)}, buf, nil
	case plus:
		return pdu.Address{}, buf, fmt.Errorf("%q is not an E.164 number", s)
	case len(s) > 11:
		return pdu.Address{}, buf, fmt.Errorf("alphanumeric sender %q is longer than 11 characters", s)
	default:
		return pdu.Address{TON: 5, NPI: 0, Addr: bytesOf(s)}, buf, nil
	}
}

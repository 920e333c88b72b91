package smsc

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"smppbridge/smpp/coding"
	"smppbridge/smpp/pdu"
)

// MO is a mobile-originated message to inject towards the ESMEs.
type MO struct {
	// SystemID is the account whose receiver binds get it; "" means any
	// account with a receiver bound. Without a receiver bound it is queued
	// until one binds, as an SMSC stores and forwards.
	SystemID string `json:"system_id"`
	From     string `json:"from"`
	To       string `json:"to"`
	Text     string `json:"text"`
	// Encoding: "auto" (GSM-7 when possible, else UCS-2; default), "gsm7", "ucs2" or "latin1".
	Encoding string `json:"encoding"`
	// Concat: how long texts are split: "udh8" (default), "udh16", "sar" or "payload".
	Concat string `json:"concat"`
	// PDU: "deliver_sm" (default) or "data_sm".
	PDU string `json:"pdu"`
	// Ref is the concatenation reference; 0 picks the next one.
	Ref uint16 `json:"ref"`
	// SkipParts are parts (1-based) of a long message never sent, as when
	// a carrier loses them: the ESME's concatenation timeout is then what
	// ends the message.
	SkipParts []int `json:"skip_parts"`
	// ToTON and ToNPI, when set, replace the destination's TON and NPI
	// (by default taken from To's form), as for an SMSC that sends the
	// ESME's numbers with TON 0 "unknown".
	ToTON *byte `json:"to_ton,omitempty"`
	ToNPI *byte `json:"to_npi,omitempty"`
	// SplitAnywhere cuts the encoded text every part's worth of septets
	// or octets, even inside a UCS-2 surrogate pair or a GSM-7 escape, as
	// some phones and SMSCs do (the default split never does).
	SplitAnywhere bool `json:"split_anywhere,omitempty"`
}

// InjectMO queues an inbound message and returns how many parts it has
// (those of SkipParts included).
func (s *Server) InjectMO(mo MO) (parts int, err error) {
	if mo.From == "" || mo.To == "" {
		return 0, errors.New("smsc: MO needs from and to")
	}
	enc := coding.Choose(mo.Text)
	switch mo.Encoding {
	case "", "auto":
	case "gsm7":
		if !coding.IsGSM7(mo.Text) {
			return 0, errors.New("smsc: text has characters outside GSM 03.38")
		}
		enc = coding.GSM7
	case "ucs2":
		enc = coding.UCS2
	case "latin1":
		if _, ok := coding.EncodeLatin1(nil, mo.Text); !ok {
			return 0, errors.New("smsc: text has characters outside Latin-1")
		}
		enc = coding.Latin1
	default:
		return 0, fmt.Errorf("smsc: encoding %q is not auto, gsm7, ucs2 or latin1", mo.Encoding)
	}
	mode := coding.ModeUDH8
	switch mo.Concat {
	case "", "udh8":
	case "udh16":
		mode = coding.ModeUDH16
	case "sar":
		mode = coding.ModeSAR
	case "payload":
		mode = coding.ModePayload
	default:
		return 0, fmt.Errorf("smsc: concat %q is not udh8, udh16, sar or payload", mo.Concat)
	}
	id := pdu.DeliverSM
	switch mo.PDU {
	case "", "deliver_sm":
	case "data_sm":
		id = pdu.DataSM
		mode = coding.ModePayload // data_sm has no short_message
	default:
		return 0, fmt.Errorf("smsc: pdu %q is not deliver_sm or data_sm", mo.PDU)
	}
	if mo.SystemID != "" && len(s.cfg.Accounts) > 0 {
		if _, ok := s.accounts[mo.SystemID]; !ok {
			return 0, fmt.Errorf("smsc: no account %q", mo.SystemID)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.beh
	// Each part's septets (GSM-7, unpacked) or octets.
	var chunks [][]byte
	switch {
	case mode == coding.ModePayload:
		chunks = [][]byte{encodeText(enc, mo.Text)}
	case mo.SplitAnywhere:
		all := encodeText(enc, mo.Text)
		single, part := coding.Limits(enc, mode)
		if enc == coding.UCS2 {
			single, part = single*2, part*2
		}
		if len(all) <= single {
			part = len(all)
		}
		for len(all) > 0 {
			n := min(part, len(all))
			chunks, all = append(chunks, all[:n]), all[n:]
		}
	default:
		for _, t := range coding.Split(mo.Text, enc, mode) {
			chunks = append(chunks, encodeText(enc, t))
		}
	}
	ref := mo.Ref
	if ref == 0 {
		s.idSeq++
		ref = uint16(s.idSeq%0xFFFF) + 1
	}
	src, dst := moAddress(mo.From), moAddress(mo.To)
	if mo.ToTON != nil {
		dst.TON = *mo.ToTON
	}
	if mo.ToNPI != nil {
		dst.NPI = *mo.ToNPI
	}
	for _, n := range mo.SkipParts {
		if n < 1 || n > len(chunks) {
			return 0, fmt.Errorf("smsc: skip_parts: no part %d of %d", n, len(chunks))
		}
	}
	for i, chunk := range chunks {
		if slices.Contains(mo.SkipParts, i+1) {
			continue
		}
		d := &delivery{systemID: mo.SystemID}
		p := &d.p
		p.ID = id
		p.Source, p.Dest = src, dst
		p.DataCoding = enc.DataCoding()
		ud := chunk
		if enc == coding.GSM7 && b.GSM7Packed {
			fill := 0
			if len(chunks) > 1 && (mode == coding.ModeUDH8 || mode == coding.ModeUDH16) {
				fill = coding.FillBits(udhLen(mode))
			}
			ud = coding.PackSeptets(nil, chunk, fill)
		}
		if len(chunks) > 1 {
			c := coding.Concat{Ref: ref, Total: uint8(len(chunks)), Seq: uint8(i + 1), Ref16: mode == coding.ModeUDH16}
			switch mode {
			case coding.ModeUDH8, coding.ModeUDH16:
				p.ESMClass |= pdu.ESMClassUDHI
				ud = append(coding.AppendConcatUDH(nil, c), ud...)
			case coding.ModeSAR:
				p.TLVs = append(p.TLVs,
					pdu.TLV{Tag: pdu.TagSarMsgRefNum, Value: []byte{byte(ref >> 8), byte(ref)}},
					pdu.TLV{Tag: pdu.TagSarTotalSegments, Value: []byte{c.Total}},
					pdu.TLV{Tag: pdu.TagSarSegmentSeqnum, Value: []byte{c.Seq}})
			}
		}
		if id == pdu.DataSM || mode == coding.ModePayload || len(ud) > 254 {
			p.TLVs = append(p.TLVs, pdu.TLV{Tag: pdu.TagMessagePayload, Value: ud})
		} else {
			p.ShortMessage = ud
		}
		s.enqueueLocked(d)
	}
	s.log.Info("MO queued", "system_id", mo.SystemID, "from", mo.From, "to", mo.To, "parts", len(chunks))
	return len(chunks), nil
}

func udhLen(m coding.Mode) int {
	if m == coding.ModeUDH16 {
		return 7
	}
	return 6
}

func encodeText(enc coding.Encoding, t string) []byte {
	switch enc {
	case coding.GSM7:
		b, _ := coding.EncodeGSM7(nil, t)
		return b
	case coding.Latin1:
		b, _ := coding.EncodeLatin1(nil, t)
		return b
	case coding.IA5:
		b, _ := coding.EncodeIA5(nil, t)
		return b
	default:
		return coding.EncodeUCS2(nil, t)
	}
}

// moAddress gives E.164 numbers TON 1 / NPI 1 without "+", alphanumeric
// senders TON 5 / NPI 0 and short numbers TON 3 / NPI 0.
func moAddress(a string) pdu.Address {
	digits := strings.TrimPrefix(a, "+")
	allDigits := digits != ""
	for _, r := range digits {
		if r < '0' || r > '9' {
			allDigits = false
		}
	}
	switch {
	case !allDigits:
		return pdu.Address{TON: 5, NPI: 0, Addr: []byte(a)}
	case strings.HasPrefix(a, "+") || len(digits) > 8:
		return pdu.Address{TON: 1, NPI: 1, Addr: []byte(digits)}
	default:
		return pdu.Address{TON: 3, NPI: 0, Addr: []byte(digits)}
	}
}

package coding

import "errors"

// Concatenation information element identifiers (3GPP TS 23.040 §9.2.3.24).
const (
	ieiConcat8  = 0x00 // 8-bit reference, IEDL 3
	ieiConcat16 = 0x08 // 16-bit reference, IEDL 4
)

// Concat is the concatenation information element of a user data header.
type Concat struct {
	Ref   uint16 // reference number (only the low 8 bits are sent when Ref16 is false)
	Total uint8  // total parts, 1..255
	Seq   uint8  // this part, 1..Total
	Ref16 bool   // IEI 0x08 (16-bit reference, 7-octet UDH) instead of IEI 0x00 (8-bit, 6-octet UDH)
}

// UDH errors. 23.040 says to ignore a header whose IEs do not add up, so no concat IE is
// returned with any of them. Only ErrUDHOverrun leaves the text boundary unknown; with
// the others headerLen is still valid and the caller may skip the header.
var (
	ErrUDHOverrun = errors.New("coding: UDH length overruns user data")
	ErrIEOverrun  = errors.New("coding: UDH information element overruns header")
	ErrIELength   = errors.New("coding: concatenation IE has wrong length")
)

// ParseUDH reads the UDH at the start of ud (first octet UDHL). It returns the concat IE
// if present (found=false otherwise, e.g. only port IEs), the total header length in
// octets including the UDHL octet, and an error for a UDHL that overruns ud or a
// malformed IE (IE length overrunning the header, or a concat IE whose length is not 3
// or 4). Other IEs are skipped. Following 23.040 §9.2.3.24.1, a concat IE with Seq 0,
// Total 0 or Seq > Total is ignored, and when concat IEs repeat the last valid one wins.
func ParseUDH(ud []byte) (c Concat, found bool, headerLen int, err error) {
	if len(ud) == 0 {
		return Concat{}, false, 0, ErrUDHOverrun
	}
	headerLen = 1 + int(ud[0])
	if headerLen > len(ud) {
		return Concat{}, false, 0, ErrUDHOverrun
	}
	h := ud[1:headerLen]
	for len(h) > 0 {
		if len(h) < 2 || 2+int(h[1]) > len(h) {
			return Concat{}, false, headerLen, ErrIEOverrun
		}
		iei, data := h[0], h[2:2+int(h[1])]
		h = h[2+len(data):]
		var ie Concat
		switch iei {
		case ieiConcat8:
			if len(data) != 3 {
				return Concat{}, false, headerLen, ErrIELength
			}
			ie = Concat{Ref: uint16(data[0]), Total: data[1], Seq: data[2]}
		case ieiConcat16:
			if len(data) != 4 {
				return Concat{}, false, headerLen, ErrIELength
			}
			ie = Concat{Ref: uint16(data[0])<<8 | uint16(data[1]), Total: data[2], Seq: data[3], Ref16: true}
		default:
			continue
		}
		if ie.Seq != 0 && ie.Seq <= ie.Total {
			c, found = ie, true
		}
	}
	return c, found, headerLen, nil
}

// AppendConcatUDH appends a complete UDH (UDHL included) holding only c: 6 octets
// 05 00 03 ref total seq, or with Ref16 7 octets 06 08 04 refHi refLo total seq.
func AppendConcatUDH(dst []byte, c Concat) []byte {
	if c.Ref16 {
		return append(dst, 6, ieiConcat16, 4, byte(c.Ref>>8), byte(c.Ref), c.Total, c.Seq)
	}
	return append(dst, 5, ieiConcat8, 3, byte(c.Ref), c.Total, c.Seq)
}

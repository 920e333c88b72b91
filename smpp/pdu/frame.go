package pdu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLength bounds command_length when a caller sets no limit. The
// largest legal PDU is a data_sm with a 64 KiB message_payload.
const DefaultMaxLength = 70 * 1024

// ErrBadLength reports a command_length outside [16, max]. The stream can no
// longer be framed after it; the peer should get generic_nack
// ESME_RINVCMDLEN and the connection be closed.
var ErrBadLength = errors.New("smpp/pdu: invalid command_length")

// LengthError carries the header fields read before a bad length was found,
// so the generic_nack can echo the sequence number.
type LengthError struct {
	Length uint32
	ID     CommandID
	Seq    uint32
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("%v %d (command %s seq %d)", ErrBadLength, e.Length, e.ID, e.Seq)
}

func (e *LengthError) Unwrap() error { return ErrBadLength }

// readGrowMin is the first buffer ReadFrame allocates for a frame that does
// not fit the caller's buffer; it then doubles as bytes arrive.
const readGrowMin = 4096

// ReadFrame reads one whole PDU frame from r into buf (grown as needed,
// never beyond maxLen; 0 means DefaultMaxLength) and returns it. The header
// is peeked first so a hostile length cannot make it allocate: anything
// above maxLen is refused, and a buffer larger than buf is grown as the
// bytes arrive, so a peer announcing maxLen bytes and sending fewer costs
// only about twice what it sent.
func ReadFrame(r *bufio.Reader, buf []byte, maxLen uint32) ([]byte, error) {
	if maxLen == 0 {
		maxLen = DefaultMaxLength
	}
	hdr, err := r.Peek(HeaderLen)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr)
	if n < HeaderLen || n > maxLen {
		return nil, &LengthError{Length: n, ID: CommandID(binary.BigEndian.Uint32(hdr[4:])), Seq: binary.BigEndian.Uint32(hdr[12:])}
	}
	size := int(n)
	if cap(buf) >= size {
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, noEOF(err)
		}
		return buf, nil
	}
	buf = buf[:0]
	for len(buf) < size {
		if len(buf) == cap(buf) {
			c := min(max(2*cap(buf), readGrowMin), size)
			buf = append(make([]byte, 0, c), buf...)
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, noEOF(err)
		}
	}
	return buf, nil
}

// noEOF turns EOF inside a frame into io.ErrUnexpectedEOF: only EOF between
// frames is a clean close.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendHeaderOnly encodes a PDU with an empty body (enquire_link, unbind,
// their resps, generic_nack, cancel_sm_resp, or an error resp).
func AppendHeaderOnly(dst []byte, id CommandID, status Status, seq uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, HeaderLen)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	dst = binary.BigEndian.AppendUint32(dst, uint32(status))
	return binary.BigEndian.AppendUint32(dst, seq)
}

// NextSeq returns the sequence number after s, wrapping 0x7FFFFFFF to 1.
func NextSeq(s uint32) uint32 {
	if s >= MaxSeq {
		return 1
	}
	return s + 1
}

package pdu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func addGoldenSeeds(f *testing.F) {
	for _, g := range goldens() {
		f.Add(g.frame)
	}
	for _, c := range differentialCases(f) {
		if fr, err := Append(nil, &c.pdu); err == nil {
			f.Add(fr)
		}
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts Append writes
// back as a frame that decodes to the same PDU. The first re-encoding may
// differ from the input (an error resp loses an empty body, an OK resp gains
// an empty message_id), but it is canonical: encoding it again is a no-op.
func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f)
	f.Add([]byte{})
	f.Add(hx("00000010 00000010 00000000 00000001")) // unknown command
	f.Fuzz(func(t *testing.T, frame []byte) {
		var p PDU
		if err := Decode(frame, &p); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("Decode error %v wraps neither ErrMalformed nor ErrUnknownCommand", err)
			}
			return
		}
		if int(p.Length) != len(frame) {
			t.Fatalf("Length %d for a %d-byte frame", p.Length, len(frame))
		}
		enc, err := Append(nil, &p)
		if err != nil {
			t.Fatalf("Append of a decoded PDU: %v\n% x", err, frame)
		}
		var q PDU
		if err := Decode(enc, &q); err != nil {
			t.Fatalf("Decode of re-encoded frame: %v\nin  % x\nout % x", err, frame, enc)
		}
		if d := diffPDU(&p, &q); d != "" {
			t.Fatalf("re-encoded PDU differs:%s\nin  % x\nout % x", d, frame, enc)
		}
		enc2, err := Append(nil, &q)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not canonical (err %v):\n1st % x\n2nd % x", err, enc, enc2)
		}
		// A frame the encoder would write unchanged round-trips byte for
		// byte; anything else must be one of the documented normalisations.
		if !bytes.Equal(enc, frame) && !normalisable(&p) {
			t.Fatalf("re-encoding changed a frame that has nothing to normalise:\nin  % x\nout % x", frame, enc)
		}
	})
}

// normalisable reports whether p is a resp whose body form the encoder
// chooses itself: empty on error, present on success.
func normalisable(p *PDU) bool {
	switch p.ID {
	case SubmitSMResp, DeliverSMResp, DataSMResp:
		return len(p.MessageID) == 0 && len(p.TLVs) == 0
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		return len(p.SystemID) == 0 && len(p.TLVs) == 0
	case QuerySMResp:
		return len(p.MessageID) == 0 && len(p.FinalDate) == 0 && p.MessageState == 0 && p.ErrorCode == 0
	case SubmitMultiResp:
		return len(p.MessageID) == 0 && len(p.Unsuccess) == 0 && len(p.TLVs) == 0
	}
	return false
}

// FuzzReadFrame: ReadFrame never panics, returns exactly the announced
// frame or a typed error, and the memory it allocates follows the bytes
// actually supplied, never a hostile command_length (up to 16 MiB here).
func FuzzReadFrame(f *testing.F) {
	addGoldenSeeds(f)
	f.Add(hx("00FFFFFF 00000004 00000000 00000001"))    // 16 MiB announced, nothing sent
	f.Add(hx("FFFFFFFF 00000004 00000000 00000001 00")) // beyond max
	f.Add(hx("0000000F 00000004 00000000 00000001"))    // below a header
	f.Add(hx("00000010 0000"))                          // cut header
	const maxLen = 16 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		var frame []byte
		var err error
		// Twice the input for the doubling buffer plus the first chunk;
		// the 64 KiB slack absorbs the fuzzing engine's own allocations,
		// which land in the same counters. A hostile length shows up as
		// megabytes.
		limit := 2*uint64(len(in)) + readGrowMin + 64<<10
		var n uint64
		for try := 0; try < 3; try++ { // retry: background noise is transient
			br := bufio.NewReaderSize(bytes.NewReader(in), 16)
			if n = allocBytes(func() { frame, err = ReadFrame(br, nil, maxLen) }); n <= limit {
				break
			}
		}
		if n > limit {
			t.Fatalf("allocated %d bytes for a %d-byte input (limit %d)", n, len(in), limit)
		}
		switch {
		case len(in) == 0:
			if err != io.EOF {
				t.Fatalf("empty input: %v, want io.EOF", err)
			}
		case len(in) < HeaderLen:
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("%d-byte input: %v, want io.ErrUnexpectedEOF", len(in), err)
			}
		default:
			claim := binary.BigEndian.Uint32(in)
			var le *LengthError
			switch {
			case claim < HeaderLen || claim > maxLen:
				if !errors.As(err, &le) || le.Length != claim || le.Seq != binary.BigEndian.Uint32(in[12:]) || !errors.Is(err, ErrBadLength) {
					t.Fatalf("length %d: err = %v, want *LengthError", claim, err)
				}
			case int(claim) > len(in):
				if err != io.ErrUnexpectedEOF {
					t.Fatalf("length %d with %d bytes: %v, want io.ErrUnexpectedEOF", claim, len(in), err)
				}
			default:
				if err != nil || !bytes.Equal(frame, in[:claim]) {
					t.Fatalf("length %d: err %v, frame % x", claim, err, frame)
				}
			}
		}
	})
}

package pdu

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// allocBytes reports how many heap bytes f allocates. It is coarse (other
// goroutines count too) but good enough to tell kilobytes from megabytes.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// minAllocBytes is the fewest bytes a repeatable f allocated over five
// runs: TotalAlloc is process-wide, so one run can catch another
// goroutine's allocations (the race detector's, a parallel test's).
func minAllocBytes(f func()) uint64 {
	best := ^uint64(0)
	for i := 0; i < 5; i++ {
		best = min(best, allocBytes(f))
	}
	return best
}

func TestReadFrameStream(t *testing.T) {
	gs := goldens()
	var stream []byte
	for _, g := range gs {
		stream = append(stream, g.frame...)
	}
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader, // TCP may deliver a PDU in any pieces
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for name, wrap := range readers {
		t.Run(name, func(t *testing.T) {
			// The smallest bufio.Reader, so frames span many refills.
			r := bufio.NewReaderSize(wrap(bytes.NewReader(stream)), 16)
			var buf []byte
			for _, g := range gs {
				f, err := ReadFrame(r, buf, 0)
				if err != nil {
					t.Fatalf("%s: %v", g.name, err)
				}
				if !bytes.Equal(f, g.frame) {
					t.Fatalf("%s: read % x", g.name, f)
				}
				buf = f
			}
			if _, err := ReadFrame(r, buf, 0); err != io.EOF {
				t.Fatalf("after the last frame err = %v, want io.EOF", err)
			}
		})
	}
}

// A read loop that hands back the previous frame's buffer reads without
// allocating once the buffer is big enough.
func TestReadFrameReusesBuffer(t *testing.T) {
	frame := goldenByName(t, "deliver_sm delivery receipt").frame
	src := bytes.NewReader(frame)
	r := bufio.NewReader(src)
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		src.Reset(frame)
		r.Reset(src)
		f, err := ReadFrame(r, buf, 0)
		if err != nil || &f[0] != &buf[:1][0] {
			t.Fatalf("ReadFrame: %v (buffer not reused)", err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadFrame allocates %v times per frame", allocs)
	}
}

func TestReadFrameErrors(t *testing.T) {
	const max = 4096
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		wantLen *LengthError
	}{
		{"clean EOF", nil, io.EOF, nil},
		{"EOF inside header", hx("00000010 000000"), io.ErrUnexpectedEOF, nil},
		{"EOF inside body", hx("00000014", "00000015", "00000000", "00000001", "0000"), io.ErrUnexpectedEOF, nil},
		{"EOF right after header", hx("00000011", "80000005", "00000000", "00000002"), io.ErrUnexpectedEOF, nil},
		{"length 0", hx("00000000", "00000015", "00000000", "00000063"), ErrBadLength,
			&LengthError{Length: 0, ID: EnquireLink, Seq: 0x63}},
		{"length 15", hx("0000000F", "00000004", "00000000", "00000064"), ErrBadLength,
			&LengthError{Length: 15, ID: SubmitSM, Seq: 0x64}},
		{"length max+1", hx("00001001", "00000004", "00000000", "00000065"), ErrBadLength,
			&LengthError{Length: max + 1, ID: SubmitSM, Seq: 0x65}},
		{"length 4 GiB", hx("FFFFFFFF", "00000005", "00000000", "7FFFFFFF"), ErrBadLength,
			&LengthError{Length: 0xFFFFFFFF, ID: DeliverSM, Seq: MaxSeq}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := minAllocBytes(func() {
				_, err = ReadFrame(bufio.NewReaderSize(bytes.NewReader(tt.in), 16), nil, max)
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantLen != nil {
				var le *LengthError
				if !errors.As(err, &le) {
					t.Fatalf("err %T is not a *LengthError", err)
				}
				if *le != *tt.wantLen {
					t.Errorf("LengthError = %+v, want %+v", *le, *tt.wantLen)
				}
			}
			// A hostile length must be refused before any buffer is sized
			// by it; only the small bufio.Reader and the error remain.
			if n > 1024 {
				t.Errorf("ReadFrame allocated %d bytes for a %d-byte input", n, len(tt.in))
			}
		})
	}
}

// Other read errors (deadlines, resets) come back as they are, so the
// session can tell a timeout from a dead peer.
func TestReadFramePassesReadErrors(t *testing.T) {
	frame := goldenByName(t, "submit_sm plain").frame
	boom := errors.New("connection reset")
	for _, at := range []int{0, 8, 20} {
		r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(frame[:at]), iotest.ErrReader(boom)), 16)
		if _, err := ReadFrame(r, nil, 0); !errors.Is(err, boom) {
			t.Errorf("error after %d bytes = %v, want %v", at, err, boom)
		}
	}
	// TimeoutReader lets the first read through, then times out.
	r := bufio.NewReader(iotest.TimeoutReader(bytes.NewReader(append(frame, frame...))))
	if _, err := ReadFrame(r, nil, 0); err != nil {
		t.Fatalf("first frame: %v", err)
	}
	if _, err := ReadFrame(r, nil, 0); err != nil {
		t.Fatalf("second frame, already buffered: %v", err)
	}
	if _, err := ReadFrame(r, nil, 0); !errors.Is(err, iotest.ErrTimeout) {
		t.Fatalf("third read: err = %v, want iotest.ErrTimeout", err)
	}
}

// A peer may announce a PDU as large as max and then send nothing more.
// ReadFrame must not reserve max bytes on its word: memory follows the bytes
// that really arrived, so idle or malicious connections stay cheap.
func TestReadFrameAllocationFollowsData(t *testing.T) {
	const max = 8 << 20
	for _, claim := range []uint32{64 << 10, 1 << 20, max} {
		in := hx("00000000", "00000004", "00000000", "00000001", "0102030405060708")
		binary.BigEndian.PutUint32(in, claim)
		var err error
		n := minAllocBytes(func() {
			_, err = ReadFrame(bufio.NewReaderSize(bytes.NewReader(in), 16), nil, max)
		})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("claim %d: err = %v, want io.ErrUnexpectedEOF", claim, err)
		}
		if n > 16<<10 {
			t.Errorf("claim %d with %d bytes sent: allocated %d bytes", claim, len(in), n)
		}
	}
	// A frame that does arrive in full is still read, whatever its size.
	big := make([]byte, 300<<10)
	copy(big, hx("00000000", "00000103", "00000000", "00000001"))
	binary.BigEndian.PutUint32(big, uint32(len(big)))
	f, err := ReadFrame(bufio.NewReader(iotest.HalfReader(bytes.NewReader(big))), nil, max)
	if err != nil || !bytes.Equal(f, big) {
		t.Fatalf("large frame: err %v, equal %v", err, bytes.Equal(f, big))
	}
}

func TestNextSeq(t *testing.T) {
	tests := []struct{ in, want uint32 }{
		{0, 1}, // a fresh session starts at 1
		{1, 2},
		{0x7FFFFFFE, 0x7FFFFFFF},
		{0x7FFFFFFF, 1}, // §5.1.4: wrap to 1, never 0 and never the high bit
		{0x80000000, 1},
		{0xFFFFFFFF, 1},
	}
	for _, tt := range tests {
		if got := NextSeq(tt.in); got != tt.want {
			t.Errorf("NextSeq(%#x) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

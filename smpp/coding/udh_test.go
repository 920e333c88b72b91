package coding

import (
	"bytes"
	"errors"
	"testing"
)

func TestAppendConcatUDH(t *testing.T) {
	for _, tc := range []struct {
		c    Concat
		want string
	}{
		{Concat{Ref: 0xCC, Total: 3, Seq: 1}, "05 00 03 CC 03 01"},
		{Concat{Ref: 0x12CC, Total: 3, Seq: 2}, "05 00 03 CC 03 02"}, // only the low byte
		{Concat{Ref: 0x12CC, Total: 3, Seq: 3, Ref16: true}, "06 08 04 12 CC 03 03"},
	} {
		got := AppendConcatUDH([]byte{0xEE}, tc.c)
		if want := append([]byte{0xEE}, unhex(t, tc.want)...); !bytes.Equal(got, want) {
			t.Errorf("AppendConcatUDH(%+v) = % X, want EE %s", tc.c, got, tc.want)
		}
	}
}

func TestParseUDH(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ud    string
		c     Concat
		found bool
		hl    int
		err   error
	}{
		{"8-bit", "05 00 03 CC 03 01 E8 32", Concat{Ref: 0xCC, Total: 3, Seq: 1}, true, 6, nil},
		{"16-bit", "06 08 04 12 CC 03 02 00 41", Concat{Ref: 0x12CC, Total: 3, Seq: 2, Ref16: true}, true, 7, nil},
		{"header only", "05 00 03 01 02 02", Concat{Ref: 1, Total: 2, Seq: 2}, true, 6, nil},
		{"port IE then concat", "0B 05 04 0B 84 23 F0 00 03 07 02 01 FF",
			Concat{Ref: 7, Total: 2, Seq: 1}, true, 12, nil},
		{"only port IE", "06 05 04 0B 84 23 F0 AA", Concat{}, false, 7, nil},
		{"empty header", "00 41", Concat{}, false, 1, nil},
		{"zero-length IE skipped", "07 24 00 00 03 09 02 02", Concat{Ref: 9, Total: 2, Seq: 2}, true, 8, nil},
		{"last concat wins", "0A 00 03 01 02 01 00 03 02 03 02", Concat{Ref: 2, Total: 3, Seq: 2}, true, 11, nil},
		// 23.040: seq 0 or seq > total -> ignore the IE.
		{"seq 0 ignored", "05 00 03 CC 03 00", Concat{}, false, 6, nil},
		{"seq > total ignored", "05 00 03 CC 03 04", Concat{}, false, 6, nil},
		{"total 0 ignored", "05 00 03 CC 00 00", Concat{}, false, 6, nil},
		{"invalid concat does not hide a valid one", "0A 00 03 01 02 01 00 03 02 00 05",
			Concat{Ref: 1, Total: 2, Seq: 1}, true, 11, nil},

		{"empty", "", Concat{}, false, 0, ErrUDHOverrun},
		{"UDHL overruns", "05 00 03 CC 03", Concat{}, false, 0, ErrUDHOverrun},
		{"UDHL 255", "FF 00 03 CC 03 01", Concat{}, false, 0, ErrUDHOverrun},
		{"IE overruns header", "05 00 04 CC 03 01 00", Concat{}, false, 6, ErrIEOverrun},
		{"text after header not parsed", "06 05 04 0B 84 23 F0 00", Concat{}, false, 7, nil},
		{"dangling IEI", "01 00", Concat{}, false, 2, ErrIEOverrun},
		{"dangling IEI after concat", "06 00 03 CC 03 01 00", Concat{}, false, 7, ErrIEOverrun},
		{"8-bit concat with 4 octets", "06 00 04 CC 03 01 00", Concat{}, false, 7, ErrIELength},
		{"16-bit concat with 3 octets", "05 08 03 CC 03 01", Concat{}, false, 6, ErrIELength},
	} {
		c, found, hl, err := ParseUDH(unhex(t, tc.ud))
		if c != tc.c || found != tc.found || hl != tc.hl || !errors.Is(err, tc.err) {
			t.Errorf("%s: ParseUDH(%s) = %+v, %v, %d, %v; want %+v, %v, %d, %v",
				tc.name, tc.ud, c, found, hl, err, tc.c, tc.found, tc.hl, tc.err)
		}
	}
}

func TestConcatUDHRoundTrip(t *testing.T) {
	for _, c := range []Concat{
		{Ref: 0, Total: 1, Seq: 1},
		{Ref: 255, Total: 255, Seq: 255},
		{Ref: 0xFFFF, Total: 2, Seq: 1, Ref16: true},
		{Ref: 0, Total: 9, Seq: 5, Ref16: true},
	} {
		ud := AppendConcatUDH(nil, c)
		got, found, hl, err := ParseUDH(append(ud, "text"...))
		if err != nil || !found || got != c || hl != len(ud) {
			t.Errorf("%+v -> %+v %v %d %v", c, got, found, hl, err)
		}
	}
}

package coding

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Each fuzz target's seeds run as ordinary tests under plain `go test`.

func FuzzDecodeGSM7(f *testing.F) {
	for _, s := range []string{"", "Hello", "\x1b", "\x1b\x1b", "\x1b\x28", "\x1bA", "\xff\x9b\xa8", "@\x00\x7f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := DecodeGSM7(b)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		// Whatever the input, the output is GSM text and re-encoding is stable.
		enc, ok := EncodeGSM7(nil, s)
		if !ok {
			t.Fatalf("decoded %q is not GSM7", s)
		}
		if again := DecodeGSM7(enc); again != s {
			t.Fatalf("unstable: %q -> %q", s, again)
		}
	})
}

func FuzzUnpack(f *testing.F) {
	f.Add([]byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}, 0, -1)
	f.Add([]byte{0xD0, 0x65, 0x36, 0xFB}, 1, 4)
	f.Add([]byte{0x61, 0xF1, 0x98, 0x5C, 0x36, 0x9F, 0x01}, 0, -1)
	f.Add([]byte{}, 6, 10)
	f.Add([]byte{0xFF}, -5, 1000)
	f.Fuzz(func(t *testing.T, packed []byte, fill, count int) {
		septets := UnpackSeptets(nil, packed, fill, count)
		fl := clampFill(fill)
		if most := max(len(packed)*8-fl, 0) / 7; len(septets) > most || count >= 0 && len(septets) > count {
			t.Fatalf("%d septets from %d octets (fill %d, count %d)", len(septets), len(packed), fl, count)
		}
		for _, s := range septets {
			if s > 0x7F {
				t.Fatalf("septet %02X", s)
			}
		}
		// Packing the septets back yields a prefix of the input, bar the fill bits and
		// the spare bits after the last septet.
		re := PackSeptets(nil, septets, fl)
		if len(re) > len(packed) {
			t.Fatalf("repack longer: % X vs % X", re, packed)
		}
		if len(septets) > 0 {
			want := slices.Clone(packed[:len(re)])
			want[0] &^= byte(1<<fl - 1)
			if used := (fl + 7*len(septets)) % 8; used != 0 {
				want[len(want)-1] &= byte(1<<used - 1)
			}
			if !bytes.Equal(re, want) {
				t.Fatalf("repack % X != % X", re, want)
			}
		}
	})
}

func FuzzParseUDH(f *testing.F) {
	for _, s := range []string{
		"\x05\x00\x03\xcc\x03\x01hi",
		"\x06\x08\x04\x12\xcc\x03\x02",
		"\x06\x05\x04\x0b\x84\x23\xf0",
		"\x05\x00\x04\xcc\x03\x01\x00",
		"\x01\x00", "\x00", "", "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ud []byte) {
		c, found, hl, err := ParseUDH(ud)
		if err != nil {
			if found {
				t.Fatal("found with error")
			}
			return
		}
		if hl != int(ud[0])+1 || hl > len(ud) {
			t.Fatalf("headerLen %d for UDHL %d, len %d", hl, ud[0], len(ud))
		}
		if !found {
			return
		}
		if c.Seq == 0 || c.Seq > c.Total {
			t.Fatalf("invalid concat returned: %+v", c)
		}
		if !c.Ref16 && c.Ref > 0xFF {
			t.Fatalf("8-bit ref %d", c.Ref)
		}
		back, found2, _, err2 := ParseUDH(AppendConcatUDH(nil, c))
		if err2 != nil || !found2 || back != c {
			t.Fatalf("round trip %+v -> %+v", c, back)
		}
	})
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{
		"", "hello", strings.Repeat("a", 161), strings.Repeat("a", 152) + "{" + "b",
		strings.Repeat("ж", 66) + "😀", strings.Repeat("😀", 36), "\xff\xfe" + strings.Repeat("é", 140),
	} {
		for enc := range uint8(4) {
			f.Add(s, enc, uint8(ModeUDH8))
		}
		f.Add(s, uint8(GSM7), uint8(ModeUDH16))
		f.Add(s, uint8(UCS2), uint8(ModeUDH16))
	}
	f.Fuzz(func(t *testing.T, s string, enc, mode uint8) {
		checkSplit(t, s, Encoding(enc%4), Mode(mode%4))
	})
}

func FuzzUCS2(f *testing.F) {
	for _, s := range []string{"", "\x00A", "\xd8\x3d\xde\x00", "\xd8\x3d", "\xde\x00\xd8", "\x20\xac"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := DecodeUCS2(b)
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		// Valid UTF-16 (no U+FFFD produced) round-trips exactly.
		if !strings.ContainsRune(s, utf8.RuneError) {
			if re := EncodeUCS2(nil, s); !bytes.Equal(re, b[:len(b)&^1]) {
				t.Fatalf("% X -> %q -> % X", b, s, re)
			}
		}
	})
}

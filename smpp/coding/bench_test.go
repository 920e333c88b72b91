package coding

import (
	"strings"
	"testing"
)

var (
	benchGSM  = strings.Repeat("Your code is 123456. Don't share it {ever}! €5 ", 8) // ~390 septets
	benchUCS2 = strings.Repeat("Ваш код 123456 😀 ", 12)
)

func BenchmarkEncodeGSM7(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGSM)))
	for b.Loop() {
		buf, _ = EncodeGSM7(buf[:0], benchGSM)
	}
}

func BenchmarkSegments(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchGSM)))
	for b.Loop() {
		Segments(benchGSM, GSM7, ModeUDH8)
	}
}

func BenchmarkSplit(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchUCS2)))
	for b.Loop() {
		Split(benchUCS2, UCS2, ModeUDH8)
	}
}

func BenchmarkDecodeUCS2(b *testing.B) {
	enc := EncodeUCS2(nil, benchUCS2)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		DecodeUCS2(enc)
	}
}

func BenchmarkDecodeGSM7Packed(b *testing.B) {
	septets, _ := EncodeGSM7(nil, benchGSM[:150])
	packed := PackSeptets(nil, septets, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(packed)))
	for b.Loop() {
		Decode(0x00, packed, true, 0)
	}
}

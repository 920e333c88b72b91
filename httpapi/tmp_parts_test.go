package httpapi

import (
	"context"
	"testing"
	"time"

	"smppbridge/bridge"
)

func BenchmarkTmpDecode(b *testing.B) {
	body := []byte(benchBody)
	buf := getBuf()
	b.ReportAllocs()
	for b.Loop() {
		var r bridge.SendRequest
		decodeSendRequest(body, &r, buf)
	}
}
func BenchmarkTmpAppend(b *testing.B) {
	var r bridge.SendRequest
	decodeSendRequest([]byte(benchBody), &r, nil)
	m, _ := echo(nil, &r)
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = appendMessage(dst[:0], m)
	}
}
func BenchmarkTmpAuth(b *testing.B) {
	h := []byte(basic(testUser, testPass))
	b.ReportAllocs()
	for b.Loop() {
		parseBasicAuth(h)
	}
}
func BenchmarkTmpCtx(b *testing.B) {
	base := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, cancel := context.WithTimeout(context.WithValue(base, requestIDKey{}, "x"), time.Second)
		_ = c
		cancel()
	}
}
func BenchmarkTmpRID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newRequestID()
	}
}

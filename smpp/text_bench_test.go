package smpp_test

import (
	"strings"
	"testing"

	"smppbridge/smpp"
	"smppbridge/smpp/coding"
)

// BenchmarkEncodeLong: a 3-part GSM-7 message in each long-message mode.
func BenchmarkEncodeLong(b *testing.B) {
	msg := &smpp.Message{From: "+15550001111", To: "+15550002222", Text: strings.Repeat("Long message text. ", 20)}
	for _, m := range []struct {
		name string
		mode coding.Mode
	}{{"udh8", coding.ModeUDH8}, {"sar", coding.ModeSAR}} {
		b.Run(m.name, func(b *testing.B) {
			cfg := smpp.TextConfig{LongMode: m.mode}
			b.ReportAllocs()
			for b.Loop() {
				if pdus, _, err := cfg.Encode(msg, 7); err != nil || len(pdus) != 3 {
					b.Fatalf("%d parts, %v", len(pdus), err)
				}
			}
		})
	}
}

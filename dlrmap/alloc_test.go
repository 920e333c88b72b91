//go:build !race

package dlrmap

import "testing"

// TestParseReceiptAllocs pins BenchmarkParseReceipt's figure (the race
// detector changes allocation counts, hence the build tag).
func TestParseReceiptAllocs(t *testing.T) {
	text := []byte(std("0123456789", "DELIVRD", "000", "Hello"))
	cases := []struct {
		name string
		tlv  TLVs
		max  float64
	}{
		{"text only", TLVs{}, 1},
		{"TLV id equal to the text id", TLVs{ReceiptedMessageID: []byte("0123456789\x00"), MessageState: []byte{2}}, 1},
		{"TLV id in another base", TLVs{ReceiptedMessageID: []byte("75BCD15\x00"), MessageState: []byte{2}}, 2},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, func() { ParseReceipt(text, c.tlv) }); n > c.max {
			t.Errorf("%s: %v allocations, want ≤ %v", c.name, n, c.max)
		}
	}
}

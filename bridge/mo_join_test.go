package bridge

import (
	"testing"

	"smppbridge/smpp/coding"
)

// TestJoinArrived: of an incomplete message, parts 1 and 3 arrived; the
// escape that ends part 1 has no partner (part 2 is missing), so it shows
// as a space instead of borrowing part 3's first septet.
func TestJoinArrived(t *testing.T) {
	p1 := coding.DecodePart(0, []byte{'a', 0x1B}, false, 0)
	p3 := coding.DecodePart(0, []byte{0x65, 'b'}, false, 0)
	if got := joinArrived([]int{1, 3}, []string{p1, p3}); got != "a eb" {
		t.Fatalf("parts 1 and 3: %q, want %q", got, "a eb")
	}
	if got := joinArrived([]int{1, 2}, []string{p1, p3}); got != "a€b" {
		t.Fatalf("parts 1 and 2: %q, want %q", got, "a€b")
	}
}

package dlrmap

import "testing"

// TestSubmitStatus pins the default table of smpp-notes.md.
func TestSubmitStatus(t *testing.T) {
	cases := []struct {
		status uint32
		code   int
		retry  bool
	}{
		{0x08, 5620, true}, {0x64, 5620, true},
		{0x0A, 4740, false}, {0x0B, 4720, false},
		{0x01, 4751, false}, {0x45, 5610, false},
		{0x61, 4752, false}, {0x62, 4752, false}, {0xC2, 4752, false},
		{0x66, 4750, false}, {0x67, 4750, false},
		{0x65, 4750, false},                      // ESME_RX_P_APPN: the SMSC application refused it for good
		{0x58, 5610, false}, {0x14, 5610, false}, // only late ones get here: not resent
		{0xFF, 9999, false}, {0x12345, 9999, false},
	}
	for _, c := range cases {
		code, retry := SubmitStatus(c.status)
		if code != c.code || retry != c.retry {
			t.Errorf("SubmitStatus(%#x) = %d, %v; want %d, %v", c.status, code, retry, c.code, c.retry)
		}
	}
}

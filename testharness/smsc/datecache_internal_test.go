package smsc

import (
	"testing"
	"time"
)

// The cache must render exactly what formatting each time would, across
// minute and second boundaries, time zones and a change of the seconds flag.
func TestDateCacheMatchesFormat(t *testing.T) {
	var c dateCache
	start := time.Date(2026, 12, 31, 23, 58, 58, 0, time.FixedZone("X", 3600))
	for i := 0; i < 400; i++ {
		at := start.Add(time.Duration(i) * 700 * time.Millisecond)
		secs := i%50 >= 25
		layout := receiptDate
		if secs {
			layout += "05"
		}
		if got, want := string(c.append([]byte("x"), at, secs)), "x"+at.UTC().Format(layout); got != want {
			t.Fatalf("%v secs=%v: %q, want %q", at, secs, got, want)
		}
	}
}

package daemon

import (
	"log/slog"
	"testing"
	"time"

	"smppbridge/conf"
)

// The carrier's window_stuck_after reaches its sessions; 0 leaves the
// session's own default (five response timeouts).
func TestPoolConfigWindowStuckAfter(t *testing.T) {
	cr := conf.Carrier{Name: "sim", Address: "127.0.0.1:2775", SystemID: "bridge", Binds: 1, Window: 10,
		SegmentsPerSecond: 100, ResponseTimeout: conf.Duration(2 * time.Second), WindowStuckAfter: conf.Duration(30 * time.Second)}
	pc, err := poolConfig(&cr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if pc.Session.WindowStuckAfter != 30*time.Second {
		t.Fatalf("session WindowStuckAfter %v, want 30s", pc.Session.WindowStuckAfter)
	}
	cr.WindowStuckAfter = 0
	if pc, err = poolConfig(&cr, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if pc.Session.WindowStuckAfter != 0 {
		t.Fatalf("session WindowStuckAfter %v, want 0 (the session's default)", pc.Session.WindowStuckAfter)
	}
}

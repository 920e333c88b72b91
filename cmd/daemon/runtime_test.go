package daemon

import (
	"runtime/debug"
	"testing"
)

func TestTuneRuntimeKeepsOperatorsGOGC(t *testing.T) {
	prev := debug.SetGCPercent(123) // as if the runtime had read GOGC=123
	defer debug.SetGCPercent(prev)
	t.Setenv("GOGC", "123")
	if got := TuneRuntime(); got != 123 {
		t.Fatalf("TuneRuntime with GOGC=123 = %d", got)
	}
	if now := debug.SetGCPercent(123); now != 123 {
		t.Fatalf("GC percent changed to %d although GOGC is set", now)
	}
}

func TestTuneRuntimeDefault(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	t.Setenv("GOGC", "")
	if got := TuneRuntime(); got != DefaultGCPercent {
		t.Fatalf("TuneRuntime = %d, want %d", got, DefaultGCPercent)
	}
	if now := debug.SetGCPercent(100); now != DefaultGCPercent {
		t.Fatalf("GC percent is %d, want %d", now, DefaultGCPercent)
	}
}

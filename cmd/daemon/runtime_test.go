package daemon

import (
	"runtime"
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

func TestEnsureProcsRaisesOne(t *testing.T) {
	prev := runtime.GOMAXPROCS(1) // as on a one-CPU machine or under a one-CPU cgroup limit
	defer runtime.GOMAXPROCS(prev)
	t.Setenv("GOMAXPROCS", "")
	procs, raised := EnsureProcs()
	if procs != MinProcs || !raised || runtime.GOMAXPROCS(0) != MinProcs {
		t.Fatalf("EnsureProcs = %d, %v; GOMAXPROCS now %d; want %d raised", procs, raised, runtime.GOMAXPROCS(0), MinProcs)
	}
}

func TestEnsureProcsKeepsOperatorsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	t.Setenv("GOMAXPROCS", "1")
	if procs, raised := EnsureProcs(); procs != 1 || raised || runtime.GOMAXPROCS(0) != 1 {
		t.Fatalf("EnsureProcs with GOMAXPROCS=1 = %d, %v; GOMAXPROCS now %d", procs, raised, runtime.GOMAXPROCS(0))
	}
}

func TestEnsureProcsLeavesMore(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	t.Setenv("GOMAXPROCS", "")
	if procs, raised := EnsureProcs(); procs != 4 || raised {
		t.Fatalf("EnsureProcs with 4 = %d, %v", procs, raised)
	}
}

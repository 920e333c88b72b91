package daemon

import (
	"os"
	"runtime"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's heap target the daemon runs with
// unless the operator set GOGC. At full load the live heap is small (~30 MB)
// and nearly every allocation lives only as long as one message, so letting the
// heap grow to five times the live size before a collection costs ~120 MB and
// saves about a tenth of the CPU per message (BENCHMARKS.md, "Runtime").
const DefaultGCPercent = 400

// TuneRuntime applies DefaultGCPercent unless GOGC is set in the environment,
// and returns the percentage in effect (-1: collection off). A GOMEMLIMIT set
// by the operator still bounds the heap either way.
func TuneRuntime() int {
	if os.Getenv("GOGC") != "" {
		cur := debug.SetGCPercent(100)
		debug.SetGCPercent(cur)
		return cur
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}

// MinProcs is the fewest Ps (GOMAXPROCS) the daemon runs with unless the
// operator set GOMAXPROCS. With one P, a goroutine blocked in the store's
// fdatasync keeps the only P until the runtime's monitor takes it back, so
// nothing else runs meanwhile: writes stop gathering (1.1 per commit instead
// of ~27) and a one-CPU machine accepts ~400 messages/s instead of ~5,700
// (BENCHMARKS.md, "One CPU"). A second P lets the others run during the sync;
// the kernel shares the one CPU between the two threads.
const MinProcs = 2

// EnsureProcs raises GOMAXPROCS to MinProcs when it is lower and the operator
// did not set GOMAXPROCS (Go derives it from the CPUs or the cgroup's CPU
// limit), and returns the value in effect and whether it raised it.
func EnsureProcs() (procs int, raised bool) {
	cur := runtime.GOMAXPROCS(0)
	if cur >= MinProcs || os.Getenv("GOMAXPROCS") != "" {
		return cur, false
	}
	runtime.GOMAXPROCS(MinProcs)
	return MinProcs, true
}

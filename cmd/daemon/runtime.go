package daemon

import (
	"os"
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

//go:build unix

package main

import (
	"syscall"
	"time"
)

// processCPU is the user and system CPU this process has used so far. In-process runs
// count the daemon, simulator and sink too, which makes CPU per loop the figure that
// compares across runs on a noisy machine (throughput depends on what else runs).
func processCPU() (user, sys time.Duration, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0, false
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), true
}

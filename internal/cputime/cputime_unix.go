//go:build unix

// Package cputime reads how much CPU time this process has used, so that
// benchmarks can report cost per operation including the work of
// background goroutines (merges, compactions, garbage collection), which
// wall time per operation hides.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time (user and system) this process has used, or 0
// where it cannot be read.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

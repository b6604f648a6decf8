//go:build !unix

// Package cputime reads how much CPU time this process has used, so that
// benchmarks can report cost per operation including the work of
// background goroutines (merges, compactions, garbage collection), which
// wall time per operation hides.
package cputime

import "time"

// Process is the CPU time (user and system) this process has used, or 0
// where it cannot be read (here).
func Process() time.Duration { return 0 }

package state

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread (the benchmark
// locks its goroutine to one), which unlike wall time does not grow when
// other processes compete for the machine's cores.
func threadCPU() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

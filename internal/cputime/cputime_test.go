package cputime

import (
	"runtime"
	"testing"
	"time"
)

func TestProcessCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("not measured on", runtime.GOOS)
	}
	before := Process()
	// Spin for 50 ms of wall time on this goroutine.
	x := 0
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	if used := Process() - before; used < 10*time.Millisecond {
		t.Fatalf("50 ms of spinning counted as %s of CPU (%d)", used, x)
	}
}

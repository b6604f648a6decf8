//go:build !unix

package search

import "time"

// processCPU is not measured here: benchmarks leave cpu-us/tx out.
func processCPU() time.Duration { return 0 }

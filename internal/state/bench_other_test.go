//go:build !linux

package state

import "time"

// threadCPU is only measured on Linux.
func threadCPU() time.Duration { return 0 }

package p2p

import (
	"testing"
)

// A peer's queue is bounded by bytes as well as by count: with the writer
// held up, Send takes messages until QueueBytes is reached, then refuses
// and counts the drops.
func TestQueueBoundedByBytes(t *testing.T) {
	const size, queueBytes = 16 << 10, 4 * (16 << 10)
	var srcLog logBuffer
	trs := mesh(t, 2, func(i int, c *Config) {
		c.QueueSize = 1024
		c.QueueBytes = queueBytes
		if i == 0 {
			c.Logger = srcLog.logger()
		}
	})
	waitMesh(t, trs)
	src, dst := trs[0], trs[1]
	// Hold every message in the writer: the first one taken waits there,
	// the rest stay queued.
	if err := src.SetFaults(Faults{Delay: 10 * waitLimit}); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, size)
	accepted := 0
	for range 64 {
		if src.Send(dst.PublicKey(), 0, payload) {
			accepted++
		}
	}
	// Up to queueBytes queued plus the one the writer took.
	if max := queueBytes/size + 1; accepted > max {
		t.Fatalf("queue took %d messages of %d bytes; bound %d bytes allows at most %d", accepted, size, queueBytes, max)
	}
	if got := src.Stats().DroppedQueueFull; got != uint64(64-accepted) {
		t.Fatalf("DroppedQueueFull = %d, want %d", got, 64-accepted)
	}
	if !srcLog.contains("queue full") {
		t.Fatal("full queue not logged")
	}
	for _, p := range src.Peers() {
		if p.PublicKey == dst.PublicKey() && p.QueueBytes > queueBytes {
			t.Fatalf("peer queue holds %d bytes, bound %d", p.QueueBytes, queueBytes)
		}
	}
}

package p2p

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughput streams messages from one transport to another over
// loopback TLS and reports delivered messages/s and MB/s (payload bytes).
// The sender backs off briefly whenever the bounded queue refuses a message,
// so the figure is what the receiver actually got.
//
//	go test ./internal/p2p -run '^$' -bench Throughput -benchtime 3s
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{200, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			trs := mesh(b, 2, func(_ int, c *Config) {
				c.HeartbeatInterval = time.Second
				c.ReadTimeout = 5 * time.Second
				c.WriteTimeout = 5 * time.Second
			})
			src, dst := trs[0], trs[1]
			var got atomic.Int64
			go func() {
				for range dst.Receive() {
					got.Add(1)
				}
			}()
			waitMesh(b, trs)
			payload := make([]byte, size)
			to := dst.PublicKey()
			b.SetBytes(int64(size))
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				for !src.Send(to, 0, payload) {
					if !connectedTo(src, to) {
						b.Fatal("connection lost during the benchmark")
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			waitFor(b, "delivery", func() bool { return got.Load() >= int64(b.N) })
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkRoundTrip measures one 200-byte request and its echo between two
// transports (ns/op is the round-trip time on loopback, TLS included).
func BenchmarkRoundTrip(b *testing.B) {
	trs := mesh(b, 2, nil)
	a, e := trs[0], trs[1]
	go func() {
		for m := range e.Receive() {
			e.Send(m.From, m.Channel, m.Payload)
		}
	}()
	waitMesh(b, trs)
	msg := make([]byte, 200)
	to := e.PublicKey()
	// Warm up past any duplicate-connection settling.
	sendEventually(b, a, to, 0, msg)
	<-a.Receive()
	b.ResetTimer()
	for range b.N {
		if !a.Send(to, 0, msg) {
			b.Fatal("send refused")
		}
		select {
		case <-a.Receive():
		case <-time.After(waitLimit):
			b.Fatal("no echo")
		}
	}
}

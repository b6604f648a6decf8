package p2p

import (
	"fmt"
	"maps"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// Faults is the fault-injection switch. It exists for tests and benchmarks
// (omission, delay and partition experiments) and must never be enabled on
// a production validator; the node refuses to set it without an explicit
// flag. The zero value means no faults.
type Faults struct {
	// DropOutbound is the share of outgoing messages silently dropped, in
	// [0, 1]. Send still reports success for them, as a lossy network would.
	// Each message is dropped independently, drawn from a PRNG seeded with
	// Config.FaultSeed.
	DropOutbound float64
	// Delay holds every outgoing message for this long before it is written.
	// It is a latency, not a rate limit: messages queued together are
	// released together. Per-peer order is preserved.
	Delay time.Duration
	// Partitioned lists peers we pretend not to reach: Send to them fails as
	// if they were disconnected, queued messages to them are discarded, and
	// messages from them are discarded on arrival. Connections stay up, so
	// clearing the partition heals it at once.
	Partitioned map[crypto.PublicKey]bool
}

func (f Faults) active() bool {
	return f.DropOutbound > 0 || f.Delay > 0 || len(f.Partitioned) > 0
}

// SetFaults replaces the fault settings; Faults{} clears them. It is safe to
// call at any time from any goroutine. Test and benchmark use only.
func (t *Transport) SetFaults(f Faults) error {
	if !(f.DropOutbound >= 0 && f.DropOutbound <= 1) { // also rejects NaN
		return fmt.Errorf("p2p faults: DropOutbound %v outside [0, 1]", f.DropOutbound)
	}
	if f.Delay < 0 {
		return fmt.Errorf("p2p faults: negative Delay %v", f.Delay)
	}
	if !f.active() {
		t.faults.Store(nil)
		t.log.Info("p2p: faults cleared")
		return nil
	}
	// Copy the map so the caller cannot change it under the transport.
	c := f
	c.Partitioned = maps.Clone(f.Partitioned)
	for k, v := range c.Partitioned {
		if !v {
			delete(c.Partitioned, k)
		}
	}
	t.faults.Store(&c)
	t.log.Warn("p2p: fault injection enabled", "drop_outbound", f.DropOutbound, "delay", f.Delay, "partitioned", len(c.Partitioned))
	return nil
}

// Faults returns the current fault settings.
func (t *Transport) Faults() Faults {
	f := t.faults.Load()
	if f == nil {
		return Faults{}
	}
	c := *f
	c.Partitioned = maps.Clone(f.Partitioned)
	return c
}

// partitioned reports whether the current faults cut us off from k.
func (t *Transport) partitioned(k crypto.PublicKey) bool {
	f := t.faults.Load()
	return f != nil && f.Partitioned[k]
}

// dropRoll decides whether to drop one outgoing message with probability p.
func (t *Transport) dropRoll(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	t.rngMu.Lock()
	x := t.rng.Float64()
	t.rngMu.Unlock()
	return x < p
}

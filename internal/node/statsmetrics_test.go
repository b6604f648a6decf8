package node

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/p2p"
)

// An operator facing a flood must see held transactions and what happened
// to them, and peer-link drops by reason, on /metrics.
func TestStatsCollectorSeries(t *testing.T) {
	c := statsCollector{
		pool: func() (mempool.Stats, bool) {
			return mempool.Stats{Ready: 7, ReadyBytes: 700, Held: 3, HeldBytes: 3000, Senders: 4,
				HeldExpired: 5, HeldEvicted: 6, GossipDropped: 2}, true
		},
		net: func() (p2p.Stats, bool) {
			return p2p.Stats{DroppedQueueFull: 11, DroppedNotConnected: 12, DroppedTooLarge: 13, DroppedByFaults: 14,
				MessagesIn: 100, MessagesOut: 90, BytesIn: 1000, BytesOut: 900, InboundFailed: 9, PendingRefused: 4,
				PendingEvicted: 3, Refused: 2, Dials: 10, DialFailures: 1, ProtocolErrors: 1, Connects: 5, Disconnects: 2}, true
		},
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			if m.GetCounter() != nil {
				got[name] = m.GetCounter().GetValue()
			} else {
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"cairn_mempool_pool_txs{state=ready}": 7, "cairn_mempool_pool_txs{state=held}": 3,
		"cairn_mempool_pool_bytes{state=held}": 3000, "cairn_mempool_senders": 4,
		"cairn_mempool_held_dropped_total{reason=expired}": 5, "cairn_mempool_held_dropped_total{reason=evicted}": 6,
		"cairn_mempool_gossip_dropped_total":         2,
		"cairn_p2p_dropped_total{reason=queue_full}": 11, "cairn_p2p_dropped_total{reason=faults}": 14,
		"cairn_p2p_dropped_total{reason=too_large}": 13, "cairn_p2p_dropped_total{reason=not_connected}": 12,
		"cairn_p2p_messages_total{direction=in}": 100, "cairn_p2p_bytes_total{direction=out}": 900,
		"cairn_p2p_inbound_failed_total": 9, "cairn_p2p_pending_closed_total{reason=limit}": 4,
		"cairn_p2p_pending_closed_total{reason=evicted}": 3, "cairn_p2p_handshakes_refused_total": 2,
		"cairn_p2p_dials_total{result=ok}": 9, "cairn_p2p_dials_total{result=failed}": 1,
		"cairn_p2p_connects_total{event=disconnect}": 2,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != 25 {
		t.Errorf("%d series, want 25: %v", len(got), got)
	}
}

package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/p2p"
)

// statsCollector turns the mempool's and the transport's own counters into
// Prometheus series when /metrics is scraped, so the numbers an operator
// needs to see a flood (held transactions, expiries, evictions) or a sick
// link (drops by reason, refused handshakes) are read from the one place
// that keeps them, never copied and never stale.
type statsCollector struct {
	pool func() (mempool.Stats, bool)
	net  func() (p2p.Stats, bool)
}

var (
	descPoolTxs      = prometheus.NewDesc("cairn_mempool_pool_txs", "Pending transactions by state: ready (executable now) or held (behind a nonce gap).", []string{"state"}, nil)
	descPoolBytes    = prometheus.NewDesc("cairn_mempool_pool_bytes", "Encoded bytes of pending transactions by state: ready or held.", []string{"state"}, nil)
	descPoolSenders  = prometheus.NewDesc("cairn_mempool_senders", "Senders with at least one pending transaction.", nil, nil)
	descHeldDropped  = prometheus.NewDesc("cairn_mempool_held_dropped_total", "Held transactions dropped by reason: expired (held longer than the held TTL) or evicted (to make room for a ready transaction).", []string{"reason"}, nil)
	descPoolGossip   = prometheus.NewDesc("cairn_mempool_gossip_dropped_total", "Ready transactions not handed to gossip because the gossip queue was full.", nil, nil)
	descP2PDropped   = prometheus.NewDesc("cairn_p2p_dropped_total", "Outgoing peer messages not sent, by reason: queue_full (the peer's queue was full in messages or bytes), not_connected, too_large, faults (test fault switch).", []string{"reason"}, nil)
	descP2PMessages  = prometheus.NewDesc("cairn_p2p_messages_total", "Peer messages by direction.", []string{"direction"}, nil)
	descP2PBytes     = prometheus.NewDesc("cairn_p2p_bytes_total", "Peer message payload bytes by direction.", []string{"direction"}, nil)
	descP2PInbound   = prometheus.NewDesc("cairn_p2p_inbound_failed_total", "Inbound connections that failed before they became a peer, for any reason (the pending series below count two of the reasons).", nil, nil)
	descP2PPending   = prometheus.NewDesc("cairn_p2p_pending_closed_total", "Inbound connections closed while waiting for their handshake, by reason: limit (too many pending handshakes from the source address or in total; closed at accept) or evicted (silent before its ClientHello, closed to make room for a newer one from the same address).", []string{"reason"}, nil)
	descP2PRefused   = prometheus.NewDesc("cairn_p2p_handshakes_refused_total", "Handshakes aborted, in either direction, because the remote presented an unknown, unexpected or our own key.", nil, nil)
	descP2PDials     = prometheus.NewDesc("cairn_p2p_dials_total", "Outbound connection attempts by result.", []string{"result"}, nil)
	descP2PProtocol  = prometheus.NewDesc("cairn_p2p_protocol_errors_total", "Connections closed for a protocol error (oversize frame, unknown kind, bad hello).", nil, nil)
	descP2PConnected = prometheus.NewDesc("cairn_p2p_connects_total", "Peer connections established and lost.", []string{"event"}, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolTxs, descPoolBytes, descPoolSenders, descHeldDropped, descPoolGossip,
		descP2PDropped, descP2PMessages, descP2PBytes, descP2PInbound, descP2PPending, descP2PRefused, descP2PDials, descP2PProtocol, descP2PConnected} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.pool != nil {
		if s, ok := c.pool(); ok {
			gauge(descPoolTxs, float64(s.Ready), "ready")
			gauge(descPoolTxs, float64(s.Held), "held")
			gauge(descPoolBytes, float64(s.ReadyBytes), "ready")
			gauge(descPoolBytes, float64(s.HeldBytes), "held")
			gauge(descPoolSenders, float64(s.Senders))
			counter(descHeldDropped, s.HeldExpired, "expired")
			counter(descHeldDropped, s.HeldEvicted, "evicted")
			counter(descPoolGossip, s.GossipDropped)
		}
	}
	if c.net != nil {
		if s, ok := c.net(); ok {
			counter(descP2PDropped, s.DroppedQueueFull, "queue_full")
			counter(descP2PDropped, s.DroppedNotConnected, "not_connected")
			counter(descP2PDropped, s.DroppedTooLarge, "too_large")
			counter(descP2PDropped, s.DroppedByFaults, "faults")
			counter(descP2PMessages, s.MessagesIn, "in")
			counter(descP2PMessages, s.MessagesOut, "out")
			counter(descP2PBytes, s.BytesIn, "in")
			counter(descP2PBytes, s.BytesOut, "out")
			counter(descP2PInbound, s.InboundFailed)
			counter(descP2PPending, s.PendingRefused, "limit")
			counter(descP2PPending, s.PendingEvicted, "evicted")
			counter(descP2PRefused, s.Refused)
			dialOK := s.Dials
			if dialOK >= s.DialFailures {
				dialOK -= s.DialFailures
			}
			counter(descP2PDials, dialOK, "ok")
			counter(descP2PDials, s.DialFailures, "failed")
			counter(descP2PProtocol, s.ProtocolErrors)
			counter(descP2PConnected, s.Connects, "connect")
			counter(descP2PConnected, s.Disconnects, "disconnect")
		}
	}
}

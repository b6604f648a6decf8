package node

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cairn-db/cairn/types"
)

// metrics are the node's Prometheus series (served at /metrics).
type metrics struct {
	reg            *prometheus.Registry
	height         prometheus.Gauge
	committedTxs   prometheus.Counter
	failedTxs      prometheus.Counter
	blocks         prometheus.Counter
	mempoolTxs     prometheus.Gauge
	round          prometheus.Gauge
	peers          prometheus.Gauge
	commitSeconds  prometheus.Histogram
	txLatency      prometheus.Histogram
	badMessages    prometheus.Counter
	gossipDropped  prometheus.Counter
	gossipRejected prometheus.Counter
	evidence       prometheus.Counter
	blockRequests  *prometheus.CounterVec
	evidenceGossip *prometheus.CounterVec
	pruned         *prometheus.CounterVec // ops.go
	withheld       prometheus.Counter     // ops.go
	refused        prometheus.Counter     // ValidateBlock
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.pruned = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_pruned_records_total", Help: "Records pruning deleted, by kind (nodes, versions, roots, bodies)."}, []string{"kind"})
	m.withheld = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_withheld_signatures_total", Help: "Own proposals and votes withheld under the signing floor."})
	f(m.pruned)
	f(m.withheld)
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_proposals_refused_total", Help: "Proposed blocks whose execution this validator refused (a tx no valid block may carry, e.g. an unauthorized one, or roots that execution does not give); it prevotes nil for them."})
	f(m.refused)
	m.height = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_height", Help: "Last committed height."})
	m.committedTxs = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_committed_txs_total", Help: "Transactions committed (rate() gives tx/s)."})
	m.failedTxs = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_failed_txs_total", Help: "Committed transactions whose receipt is failed."})
	m.blocks = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_blocks_total", Help: "Blocks committed."})
	m.mempoolTxs = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_mempool_txs", Help: "Pending transactions."})
	m.round = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_consensus_round", Help: "Current consensus round."})
	m.peers = prometheus.NewGauge(prometheus.GaugeOpts{Name: "cairn_peers_connected", Help: "Connected validator peers."})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cairn_block_commit_seconds", Help: "Time to apply and persist one decided block.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.txLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cairn_commit_latency_seconds", Help: "From admission through this node's API to commit.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)})
	m.badMessages = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_p2p_bad_messages_total", Help: "Peer messages that did not decode."})
	m.gossipDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_gossip_dropped_total", Help: "Gossip batches dropped because ingestion was behind."})
	m.gossipRejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_gossip_rejected_total", Help: "Gossiped transactions not admitted (duplicates, stale)."})
	m.evidence = prometheus.NewCounter(prometheus.CounterOpts{Name: "cairn_evidence_total", Help: "Equivocation evidence (double votes, conflicting proposals) this node observed, or received from a peer and stored."})
	m.evidenceGossip = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_evidence_gossip_total", Help: "Evidence received from peers by outcome: stored (new, forwarded), ignored (held already, outside the height window or over the validator's budget), invalid, error, rate_limited, queue_full."}, []string{"result"})
	m.blockRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_block_requests_total", Help: "Peers' block requests by outcome: queued for the serving worker, duplicate (already queued), over_budget (the peer has too many outstanding), queue_full."}, []string{"result"})
	for _, c := range []prometheus.Collector{m.height, m.committedTxs, m.failedTxs, m.blocks, m.mempoolTxs, m.round, m.peers,
		m.commitSeconds, m.txLatency, m.badMessages, m.gossipDropped, m.gossipRejected, m.evidence, m.blockRequests, m.evidenceGossip,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// watchIndex adds the search index's progress: the indexed height and how
// many committed heights are not searchable yet.
func (m *metrics) watchIndex(indexed func() uint64, head func() uint64) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_search_indexed_height", Help: "Last height the search index has applied."},
			func() float64 { return float64(indexed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_search_index_lag_heights", Help: "Committed heights not yet searchable."},
			func() float64 {
				h, i := head(), indexed()
				if h <= i {
					return 0
				}
				return float64(h - i)
			}))
}

// observeCommit records a committed block.
func (m *metrics) observeCommit(b *types.Block, receipts []*types.Receipt, took time.Duration) {
	m.height.Set(float64(b.Header.Height))
	m.blocks.Inc()
	m.committedTxs.Add(float64(len(b.Txs)))
	m.commitSeconds.Observe(took.Seconds())
	for _, r := range receipts {
		if !r.OK {
			m.failedTxs.Inc()
		}
	}
}

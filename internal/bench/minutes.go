package bench

import (
	"context"
	"net/http"
	"time"
)

// Minute is one minute of a run: what committed in it, and what the first
// load node's Pebble database wrote meanwhile. Over a long saturation run
// these show whether throughput holds as the chain grows and whether
// compaction (the state tree's keys are random hashes) costs more and more.
type Minute struct {
	Minute    int     `json:"minute"`
	Committed int64   `json:"committed_txs"`
	TxPerS    float64 `json:"tx_per_s"`
	Height    uint64  `json:"height"`
	// Pebble on the first load node: bytes the node wrote (WAL), bytes
	// flushed and compacted into tables, compactions run, in this minute;
	// WriteAmp is (flushed+compacted)/WAL for the minute; L0Files and
	// DiskBytes are at its end.
	WALBytes       float64 `json:"wal_bytes"`
	FlushedBytes   float64 `json:"flushed_bytes"`
	CompactedBytes float64 `json:"compacted_bytes"`
	Compactions    float64 `json:"compactions"`
	WriteAmp       float64 `json:"write_amp"`
	L0Files        float64 `json:"l0_files"`
	DiskBytes      float64 `json:"disk_bytes"`
}

var storageSeries = []string{
	`cairn_pebble_bytes_total{kind="wal"}`, `cairn_pebble_bytes_total{kind="flushed"}`,
	`cairn_pebble_bytes_total{kind="compacted"}`, `cairn_pebble_compactions_total`,
	`cairn_pebble_l0_files`, `cairn_pebble_disk_bytes`,
}

// minuteRecorder turns per-minute samples of committed count and storage
// metrics into Minutes.
type minuteRecorder struct {
	api  string
	hc   *http.Client
	last map[string]float64
	lc   int64
	out  []Minute
}

func newMinuteRecorder(ctx context.Context, api string) *minuteRecorder {
	m := &minuteRecorder{api: api, hc: &http.Client{Timeout: 5 * time.Second}}
	m.last, _ = readMetrics(ctx, m.hc, api, storageSeries...)
	return m
}

// record closes a minute at committed txs and height.
func (m *minuteRecorder) record(ctx context.Context, committed int64, height uint64) {
	v, err := readMetrics(ctx, m.hc, m.api, storageSeries...)
	if err != nil {
		v = map[string]float64{}
	}
	d := func(k string) float64 {
		a, ok1 := v[k]
		b, ok2 := m.last[k]
		if !ok1 || !ok2 {
			return 0
		}
		return a - b
	}
	mn := Minute{Minute: len(m.out) + 1, Committed: committed - m.lc, Height: height,
		WALBytes: d(storageSeries[0]), FlushedBytes: d(storageSeries[1]), CompactedBytes: d(storageSeries[2]),
		Compactions: d(storageSeries[3]), L0Files: v[storageSeries[4]], DiskBytes: v[storageSeries[5]]}
	mn.TxPerS = float64(mn.Committed) / 60
	if mn.WALBytes > 0 {
		mn.WriteAmp = (mn.FlushedBytes + mn.CompactedBytes) / mn.WALBytes
	}
	m.out = append(m.out, mn)
	m.last, m.lc = v, committed
}

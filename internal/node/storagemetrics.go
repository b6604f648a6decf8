package node

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// storageCollector exports the ledger's Pebble metrics when /metrics is
// scraped. Write amplification over an interval is the increase of
// cairn_pebble_bytes_total{kind="flushed"} plus {kind="compacted"} over the
// increase of {kind="wal"} (the bytes the node asked to write); the
// cumulative figure since the process started is cairn_pebble_write_amp.
type storageCollector struct {
	metrics func() *pebble.Metrics
}

var (
	descPebbleBytes       = prometheus.NewDesc("cairn_pebble_bytes_total", "Bytes written by the ledger's Pebble database since it opened, by kind: wal (batches the node committed), flushed (memtables written as tables), compacted (tables rewritten by compactions).", []string{"kind"}, nil)
	descPebbleCompactions = prometheus.NewDesc("cairn_pebble_compactions_total", "Compactions the ledger's Pebble database ran since it opened.", nil, nil)
	descPebbleWriteAmp    = prometheus.NewDesc("cairn_pebble_write_amp", "Write amplification of the ledger's Pebble database since it opened: table bytes flushed and compacted per byte flushed into level 0.", nil, nil)
	descPebbleReadAmp     = prometheus.NewDesc("cairn_pebble_read_amp", "Read amplification now: memtables plus level-0 sublevels plus non-empty lower levels a point read may search.", nil, nil)
	descPebbleDisk        = prometheus.NewDesc("cairn_pebble_disk_bytes", "Disk space the ledger's Pebble database uses now (tables, WAL, manifests).", nil, nil)
	descPebbleL0Files     = prometheus.NewDesc("cairn_pebble_l0_files", "Tables in level 0 now (many slow point reads down).", nil, nil)
)

func (c storageCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPebbleBytes, descPebbleCompactions, descPebbleWriteAmp, descPebbleReadAmp, descPebbleDisk, descPebbleL0Files} {
		ch <- d
	}
}

func (c storageCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.metrics()
	if m == nil {
		return
	}
	t := m.Total()
	ch <- prometheus.MustNewConstMetric(descPebbleBytes, prometheus.CounterValue, float64(m.WAL.BytesIn), "wal")
	ch <- prometheus.MustNewConstMetric(descPebbleBytes, prometheus.CounterValue, float64(t.TableBytesFlushed+t.BlobBytesFlushed), "flushed")
	ch <- prometheus.MustNewConstMetric(descPebbleBytes, prometheus.CounterValue, float64(t.TableBytesCompacted+t.BlobBytesCompacted), "compacted")
	ch <- prometheus.MustNewConstMetric(descPebbleCompactions, prometheus.CounterValue, float64(m.Compact.Count))
	ch <- prometheus.MustNewConstMetric(descPebbleWriteAmp, prometheus.GaugeValue, t.WriteAmp())
	ch <- prometheus.MustNewConstMetric(descPebbleReadAmp, prometheus.GaugeValue, float64(m.ReadAmp()))
	ch <- prometheus.MustNewConstMetric(descPebbleDisk, prometheus.GaugeValue, float64(m.DiskSpaceUsage()))
	ch <- prometheus.MustNewConstMetric(descPebbleL0Files, prometheus.GaugeValue, float64(m.Levels[0].TablesCount))
}

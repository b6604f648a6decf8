package ledger

import "github.com/cockroachdb/pebble/v2"

// StorageMetrics returns the Pebble database's metrics (flushes,
// compactions, bytes written per level, disk usage), for the node's
// /metrics: write amplification is read from them over long runs.
func (l *Ledger) StorageMetrics() *pebble.Metrics { return l.db.Metrics() }

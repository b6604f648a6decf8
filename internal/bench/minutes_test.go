package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Each minute reports what the node's storage wrote in that minute, not
// since it started, and the write amplification of those bytes.
func TestMinutesAreDeltas(t *testing.T) {
	var step atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := float64(step.Load())
		fmt.Fprintf(w, "# HELP x\ncairn_pebble_bytes_total{kind=\"wal\"} %g\ncairn_pebble_bytes_total{kind=\"flushed\"} %g\n", 1000+100*k, 500+100*k)
		fmt.Fprintf(w, "cairn_pebble_bytes_total{kind=\"compacted\"} %g\ncairn_pebble_compactions_total %g\ncairn_pebble_l0_files 3\n", 2000+300*k, 7+2*k)
		fmt.Fprintf(w, "process_cpu_seconds_total 12.5\n")
	}))
	defer srv.Close()
	ctx := context.Background()
	m := newMinuteRecorder(ctx, srv.URL)
	step.Store(1)
	m.record(ctx, 6000, 10)
	step.Store(3)
	m.record(ctx, 9000, 20)
	if len(m.out) != 2 {
		t.Fatalf("%d minutes", len(m.out))
	}
	a, b := m.out[0], m.out[1]
	if a.Committed != 6000 || a.TxPerS != 100 || a.WALBytes != 100 || a.WriteAmp != 4 || a.Compactions != 2 || a.L0Files != 3 {
		t.Fatalf("minute 1: %+v", a)
	}
	if b.Committed != 3000 || b.WALBytes != 200 || b.FlushedBytes != 200 || b.CompactedBytes != 600 || b.Height != 20 {
		t.Fatalf("minute 2: %+v", b)
	}
	if v, err := readCPU(ctx, srv.Client(), srv.URL); err != nil || v != 12.5 {
		t.Fatalf("cpu: %v %v", v, err)
	}
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-db/cairn/client"
)

// NodeCPU is one node's process CPU time (user + system, from its
// process_cpu_seconds_total metric) over the measured span: from the start
// of sending to the end of the drain. On a machine whose cores the nodes
// share, CPU per committed transaction is the figure that compares across
// runs; wall-clock throughput depends on what else runs.
type NodeCPU struct {
	Node     string  `json:"node"`
	Follower bool    `json:"follower,omitempty"`
	Seconds  float64 `json:"cpu_s"`
	// PerTxUs is Seconds per committed transaction, in microseconds.
	PerTxUs float64 `json:"cpu_us_per_committed_tx"`
}

// cpuSeconds reads process_cpu_seconds_total from each node's /metrics
// (NaN-free: a node that does not answer gives -1).
func cpuSeconds(ctx context.Context, nodes []client.NetworkNode) []float64 {
	out := make([]float64, len(nodes))
	hc := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := readCPU(ctx, hc, n.API)
			if err != nil {
				v = -1
			}
			out[i] = v
		}()
	}
	wg.Wait()
	return out
}

func readCPU(ctx context.Context, hc *http.Client, api string) (float64, error) {
	const name = "process_cpu_seconds_total"
	v, err := readMetrics(ctx, hc, api, name)
	if err != nil {
		return 0, err
	}
	if _, ok := v[name]; !ok {
		return 0, fmt.Errorf("%s/metrics: no %s", api, name)
	}
	return v[name], nil
}

// readMetrics returns the values of the named series (a name with its
// labels as /metrics writes them, e.g. `cairn_pebble_bytes_total{kind="wal"}`)
// from a node's /metrics; absent ones are missing from the map.
func readMetrics(ctx context.Context, hc *http.Client, api string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(api, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// nodeCPU turns two readings into per-node figures.
func nodeCPU(nodes []client.NetworkNode, followers int, before, after []float64, committed int64) []NodeCPU {
	var out []NodeCPU
	for i, n := range nodes {
		if before[i] < 0 || after[i] < 0 {
			continue // not measured: the node did not answer
		}
		c := NodeCPU{Node: n.Name, Follower: i >= len(nodes)-followers, Seconds: after[i] - before[i]}
		if committed > 0 {
			c.PerTxUs = c.Seconds / float64(committed) * 1e6
		}
		out = append(out, c)
	}
	return out
}

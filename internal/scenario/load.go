package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/chart"
	"github.com/cairn-db/cairn/types"
)

// timelineXY turns a load timeline into chart series data.
func timelineXY(tl []bench.Point) (x, y []float64) {
	for _, p := range tl {
		x = append(x, p.T)
		y = append(y, p.Rate)
	}
	return x, y
}

// meanRate is the mean per-second rate of the timeline points with
// from <= t < to.
func meanRate(tl []bench.Point, from, to float64) float64 {
	sum, n := 0.0, 0
	for _, p := range tl {
		if p.T >= from && p.T < to {
			sum += p.Rate
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return round3(sum / float64(n))
}

// ---- 1. saturation ----

type saturationResult struct {
	Load           *bench.Result  `json:"load"`
	SteadyTxPerSec float64        `json:"steady_tx_per_s"`
	BlockCommitMs  float64        `json:"block_apply_ms_mean_node0"`
	Consensus      consensusLog   `json:"consensus_node0"`
	Agreement      agreement      `json:"agreement"`
	Profile        string         `json:"cpu_profile_top,omitempty"`
	Metrics        map[string]any `json:"node0_metrics"`
}

func runSaturation(ctx context.Context, e *Env, r *Report) error {
	dur := pick(e, 60*time.Second, 4*time.Second)
	conc, batch, accounts := 8, 200, pick(e, 2000, 200)
	prof := filepath.Join(e.Work, "saturation-node0.pprof")
	r.Setup = map[string]any{"validators": 4, "duration_s": dur.Seconds(), "mode": "closed loop", "concurrency": conc,
		"batch": batch, "type": "transfer", "accounts": accounts, "load_to": "all 4 nodes",
		"profile": "node0 runs with --cpuprofile for the whole run"}
	c, err := e.startNet(ctx, "saturation", netOpts{N: 4, Debug: true, NodeArgs: map[int][]string{0: {"--cpuprofile", prof}}})
	if err != nil {
		return err
	}
	defer c.stop()
	start := time.Now()
	res, err := c.load(ctx, bench.Options{Duration: dur, Concurrency: conc, Batch: batch, Accounts: accounts, Type: "transfer"})
	if err != nil {
		return err
	}
	out := &saturationResult{Load: res}
	r.Result = out
	// Steady state: skip the first 5 s (and 10% in quick runs).
	skip := pick(e, 5.0, 0.0)
	out.SteadyTxPerSec = meanRate(res.Timeline, skip, res.Duration)
	out.Agreement = c.checkAgreement(ctx, c.all(), 30*time.Second)
	if m, err := c.metrics(ctx, 0); err == nil {
		out.BlockCommitMs = round3(histMean(m, "cairn_block_commit_seconds") * 1000)
		out.Metrics = map[string]any{"blocks": m["cairn_blocks_total"], "committed_txs": m["cairn_committed_txs_total"],
			"commit_latency_s_mean": round3(histMean(m, "cairn_commit_latency_seconds")),
			"gossip_dropped":        m["cairn_gossip_dropped_total"], "cpu_seconds": m["process_cpu_seconds_total"]}
	}
	out.Consensus, _ = c.summarizeLog(0, c.all(), start, time.Now())
	// Stop node0 gracefully so it flushes the CPU profile, then read it.
	c.cl.Stop(0, 20*time.Second)
	if top, err := pprofTop(ctx, e.Bin, prof); err == nil {
		name := "saturation-pprof-top.txt"
		if werr := os.WriteFile(filepath.Join(e.Out, name), []byte(top), 0o644); werr == nil {
			out.Profile = name
		}
	} else {
		r.note("pprof: %v", err)
	}
	x, y := timelineXY(res.Timeline)
	return r.lineChart("", chart.Spec{Title: "Committed tx/s over time at saturation (4 validator processes)",
		XLabel: "seconds since start of load", YLabel: "committed tx/s (per second)",
		Series: []chart.Series{{Name: "committed tx/s", X: x, Y: y},
			{Name: fmt.Sprintf("steady mean %.0f tx/s", out.SteadyTxPerSec), X: []float64{skip, res.Duration}, Y: []float64{out.SteadyTxPerSec, out.SteadyTxPerSec}, Dashed: true}}})
}

// pprofTop runs `go tool pprof -top` on a profile, flat and cumulative.
func pprofTop(ctx context.Context, bin, prof string) (string, error) {
	if _, err := os.Stat(prof); err != nil {
		return "", fmt.Errorf("no profile: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go tool not found: %w", err)
	}
	var b strings.Builder
	for _, args := range [][]string{{"-top", "-nodecount=30"}, {"-top", "-cum", "-nodecount=40"}} {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := exec.CommandContext(cctx, goBin, append(append([]string{"tool", "pprof"}, args...), bin, prof)...).CombinedOutput()
		cancel()
		if err != nil {
			return "", fmt.Errorf("pprof %v: %w: %s", args, err, out)
		}
		fmt.Fprintf(&b, "$ go tool pprof %s cairn node0.pprof\n%s\n", strings.Join(args, " "), out)
	}
	return b.String(), nil
}

// ---- 2. latency versus offered load ----

type latencyPoint struct {
	OfferedRate   float64           `json:"target_tx_per_s"`
	Batch         int               `json:"batch"`
	Offered       float64           `json:"offered_tx_per_s"`
	Committed     float64           `json:"committed_tx_per_s"`
	LatencyMs     bench.Percentiles `json:"commit_latency_ms"`
	Errors        map[string]int64  `json:"errors"`
	Uncommitted   int64             `json:"uncommitted_at_end"`
	MeanTxsPerBlk float64           `json:"mean_txs_per_block"`
}

func runLatencyVsLoad(ctx context.Context, e *Env, r *Report) error {
	rates := pick(e, []float64{100, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000}, []float64{200})
	dur := pick(e, 15*time.Second, 2*time.Second)
	r.Setup = map[string]any{"validators": 4, "rates_tx_per_s": rates, "duration_per_rate_s": dur.Seconds(), "mode": "open loop",
		"batch": "rate/20 (20 requests/s), 1..200", "type": "transfer", "accounts": pick(e, 1000, 100), "load_to": "all 4 nodes",
		"latency": "from sending the request to seeing the tx in a block on node0's event stream"}
	c, err := e.startNet(ctx, "latency", netOpts{N: 4})
	if err != nil {
		return err
	}
	defer c.stop()
	var pts []latencyPoint
	r.Result = &pts
	for _, rate := range rates {
		batch := max(1, min(200, int(rate/20)))
		e.logf("[latency-vs-load] %.0f tx/s (batch %d) for %s", rate, batch, dur)
		res, err := c.load(ctx, bench.Options{Duration: dur, Rate: rate, Concurrency: 16, Batch: batch, Accounts: pick(e, 1000, 100), Drain: 15 * time.Second})
		if err != nil {
			return err
		}
		p := latencyPoint{OfferedRate: rate, Batch: batch, Offered: round3(res.OfferedRate), Committed: round3(res.CommittedRate),
			LatencyMs: res.LatencyMs, Errors: res.Errors, Uncommitted: res.UncommittedLeft}
		if res.Blocks > 0 {
			p.MeanTxsPerBlk = round3(float64(res.Committed) / float64(res.Blocks))
		}
		pts = append(pts, p)
		_ = r.write() // partial results survive an interrupted run
	}
	var x, p50, p90, p99, mx, com []float64
	for _, p := range pts {
		x = append(x, p.Offered)
		p50, p90, p99, mx = append(p50, p.LatencyMs.P50), append(p90, p.LatencyMs.P90), append(p99, p.LatencyMs.P99), append(mx, p.LatencyMs.Max)
		com = append(com, p.Committed)
	}
	if err := r.lineChart("", chart.Spec{Title: "Commit latency versus offered load (4 validator processes)",
		XLabel: "offered load (tx/s, log scale)", YLabel: "commit latency (ms, log scale)", LogX: true, LogY: true,
		Series: []chart.Series{{Name: "p50", X: x, Y: p50}, {Name: "p90", X: x, Y: p90}, {Name: "p99", X: x, Y: p99}, {Name: "max", X: x, Y: mx, Dashed: true}}}); err != nil {
		return err
	}
	return r.lineChart("-throughput", chart.Spec{Title: "Committed versus offered load (4 validator processes)",
		XLabel: "offered load (tx/s)", YLabel: "committed tx/s",
		Series: []chart.Series{{Name: "committed", X: x, Y: com}, {Name: "offered = committed", X: x, Y: x, Dashed: true}}})
}

// ---- 3. block size ----

type blockSizePoint struct {
	MaxBlockTxs  int               `json:"max_block_txs"`
	Committed    float64           `json:"committed_tx_per_s"`
	LatencyMs    bench.Percentiles `json:"commit_latency_ms"`
	BlockApplyMs float64           `json:"block_apply_ms_mean"`
	Consensus    consensusLog      `json:"consensus_node0"`
	PerTxApplyUs float64           `json:"apply_us_per_tx"`
}

func runBlockSize(ctx context.Context, e *Env, r *Report) error {
	sizes := pick(e, []int{50, 200, 1000, 2500, 5000, 10000}, []int{100})
	dur := pick(e, 20*time.Second, 3*time.Second)
	r.Setup = map[string]any{"validators": 4, "max_block_txs": sizes, "duration_s": dur.Seconds(), "mode": "closed loop",
		"concurrency": 8, "batch": 200, "type": "transfer", "accounts": pick(e, 2000, 200),
		"measured": "block interval = time between consecutive commits on node0; build = proposer's Reap+execute+state root; validate = a peer's re-execution; apply = ledger.Commit (cairn_block_commit_seconds)"}
	var pts []blockSizePoint
	r.Result = &pts
	for _, size := range sizes {
		e.logf("[block-size] max_block_txs %d", size)
		p := types.DefaultParams()
		p.MaxBlockTxs = size
		c, err := e.startNet(ctx, fmt.Sprintf("blocksize-%d", size), netOpts{N: 4, Params: &p, Debug: true})
		if err != nil {
			return err
		}
		// Measure from after funding: the window starts once load begins.
		res, from, err := c.loadWindow(ctx, bench.Options{Duration: dur, Concurrency: 8, Batch: 200, Accounts: pick(e, 2000, 200)})
		if err != nil {
			c.stop()
			return err
		}
		to := from.Add(time.Duration(res.Duration * float64(time.Second)))
		pt := blockSizePoint{MaxBlockTxs: size, Committed: round3(res.CommittedRate), LatencyMs: res.LatencyMs}
		pt.Consensus, _ = c.summarizeLog(0, c.all(), from, to)
		if m, err := c.metrics(ctx, 0); err == nil {
			pt.BlockApplyMs = round3(histMean(m, "cairn_block_commit_seconds") * 1000)
			if n := m["cairn_committed_txs_total"]; n > 0 {
				pt.PerTxApplyUs = round3(m["cairn_block_commit_seconds_sum"] * 1e6 / n)
			}
		}
		c.stop()
		pts = append(pts, pt)
		_ = r.write()
	}
	var x, interval, build, validate, apply, tput []float64
	for _, p := range pts {
		x = append(x, p.Consensus.MeanTxs)
		interval = append(interval, p.Consensus.IntervalMs.Mean)
		build = append(build, p.Consensus.BuildMs.Mean)
		validate = append(validate, p.Consensus.ValidateMs.Mean)
		apply = append(apply, p.BlockApplyMs)
		tput = append(tput, p.Committed)
	}
	if err := r.lineChart("", chart.Spec{Title: "Block time versus transactions per block (4 validators, saturated)",
		XLabel: "mean transactions per block", YLabel: "ms (mean)",
		Series: []chart.Series{{Name: "block interval (commit to commit)", X: x, Y: interval}, {Name: "build proposal", X: x, Y: build},
			{Name: "validate proposal", X: x, Y: validate}, {Name: "apply + persist (commit)", X: x, Y: apply}}}); err != nil {
		return err
	}
	return r.lineChart("-throughput", chart.Spec{Title: "Throughput versus block size limit (4 validators, saturated)",
		XLabel: "mean transactions per block", YLabel: "committed tx/s",
		Series: []chart.Series{{Name: "committed tx/s", X: x, Y: tput}}})
}

// ---- 4. validators ----

type validatorsPoint struct {
	Validators int               `json:"validators"`
	Committed  float64           `json:"committed_tx_per_s"`
	LatencyMs  bench.Percentiles `json:"commit_latency_ms"`
	Consensus  consensusLog      `json:"consensus_node0"`
	Agreement  bool              `json:"same_chain"`
	Detail     string            `json:"agreement_detail,omitempty"`
}

type simScaleRow struct {
	Validators           int     `json:"validators"`
	Heights              uint64  `json:"heights"`
	MessagesPerBlock     float64 `json:"messages_per_block"`
	MessagesPerValidator float64 `json:"messages_received_per_validator_per_block"`
	KBPerBlock           float64 `json:"kb_per_block"`
	CommitsPerSecond     float64 `json:"commits_per_virtual_second"`
	CommitsPerSecondCPU  float64 `json:"commits_per_virtual_second_with_cpu_cost"`
}

type validatorsResult struct {
	Processes []validatorsPoint `json:"processes"`
	Simulator struct {
		Command   string        `json:"command"`
		LatencyMs float64       `json:"latency_ms"`
		MsgCostUs float64       `json:"msg_cost_us"`
		Rows      []simScaleRow `json:"rows"`
	} `json:"simulator"`
}

func runValidators(ctx context.Context, e *Env, r *Report) error {
	ns := pick(e, []int{1, 4, 7, 10}, []int{1})
	dur := pick(e, 20*time.Second, 2*time.Second)
	r.Setup = map[string]any{"processes": ns, "duration_s": dur.Seconds(), "mode": "closed loop", "concurrency": 8, "batch": 200,
		"type": "transfer", "accounts": pick(e, 2000, 200), "load_to": "all nodes",
		"simulator": "cairn sim --scale: virtual time, fixed 10 ms per message, every mempool full; second column charges 50 µs of CPU per received message"}
	out := &validatorsResult{}
	r.Result = out
	for _, n := range ns {
		e.logf("[validators] %d validator processes", n)
		c, err := e.startNet(ctx, fmt.Sprintf("validators-%d", n), netOpts{N: n, Debug: true})
		if err != nil {
			return err
		}
		res, from, err := c.loadWindow(ctx, bench.Options{Duration: dur, Concurrency: 8, Batch: 200, Accounts: pick(e, 2000, 200)})
		if err != nil {
			c.stop()
			return err
		}
		pt := validatorsPoint{Validators: n, Committed: round3(res.CommittedRate), LatencyMs: res.LatencyMs}
		pt.Consensus, _ = c.summarizeLog(0, nil, from, from.Add(time.Duration(res.Duration*float64(time.Second))))
		ag := c.checkAgreement(ctx, c.all(), 30*time.Second)
		pt.Agreement, pt.Detail = ag.SameChain, ag.Detail
		c.stop()
		out.Processes = append(out.Processes, pt)
		_ = r.write()
	}
	e.logf("[validators] simulator scale table")
	heights := pick(e, 20, 3)
	args := []string{"sim", "--scale", "--heights", fmt.Sprint(heights)}
	out.Simulator.Command = "cairn " + strings.Join(args, " ")
	cctx, cancel := context.WithTimeout(ctx, pick(e, 10*time.Minute, 2*time.Minute))
	b, err := exec.CommandContext(cctx, e.Bin, args...).Output()
	cancel()
	if err != nil {
		return fmt.Errorf("cairn sim --scale: %w", err)
	}
	var sim struct {
		LatencyMs float64       `json:"latency_ms"`
		MsgCostUs float64       `json:"msg_cost_us"`
		Rows      []simScaleRow `json:"rows"`
	}
	if err := json.Unmarshal(b, &sim); err != nil {
		return fmt.Errorf("cairn sim --scale output: %w", err)
	}
	out.Simulator.LatencyMs, out.Simulator.MsgCostUs, out.Simulator.Rows = sim.LatencyMs, sim.MsgCostUs, sim.Rows
	var px, py []float64
	for _, p := range out.Processes {
		px, py = append(px, float64(p.Validators)), append(py, p.Committed)
	}
	if err := r.lineChart("", chart.Spec{Title: "Measured: committed tx/s versus validator processes on one 2-core machine",
		XLabel: "validators (processes on this machine)", YLabel: "committed tx/s",
		Series: []chart.Series{{Name: "real processes, saturated", X: px, Y: py}}}); err != nil {
		return err
	}
	var sx, s0, s1 []float64
	for _, row := range sim.Rows {
		sx = append(sx, float64(row.Validators))
		s0, s1 = append(s0, row.CommitsPerSecond), append(s1, row.CommitsPerSecondCPU)
	}
	return r.lineChart("-sim", chart.Spec{Title: "Simulated: blocks per virtual second versus validators (cairn sim --scale)",
		XLabel: "validators (simulated)", YLabel: "blocks per virtual second",
		Series: []chart.Series{{Name: "10 ms links, free CPU", X: sx, Y: s0, Dashed: true},
			{Name: fmt.Sprintf("10 ms links, %.0f µs CPU per message", sim.MsgCostUs), X: sx, Y: s1, Dashed: true}}})
}

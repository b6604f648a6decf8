package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/chart"
)

// ---- 6. crash-stop ----

type crashStopResult struct {
	Load          *bench.Result `json:"load"`
	KillAtS       float64       `json:"kill_at_s"`
	BeforeTxPerS  float64       `json:"mean_tx_per_s_before_kill"`
	AfterTxPerS   float64       `json:"mean_tx_per_s_after_kill"`
	MinAfterTxPS  float64       `json:"min_1s_tx_per_s_after_kill"`
	ZeroSeconds   int           `json:"seconds_with_no_commit_after_kill"`
	RecoverS      float64       `json:"time_to_recover_s"`
	RecoverRule   string        `json:"recover_rule"`
	Before        consensusLog  `json:"consensus_node0_before_kill"`
	After         consensusLog  `json:"consensus_node0_after_kill"`
	Agreement     agreement     `json:"agreement_survivors"`
	AckedNotFound int64         `json:"accepted_but_never_committed"`
}

func runCrashStop(ctx context.Context, e *Env, r *Report) error {
	dur := pick(e, 60*time.Second, 5*time.Second)
	killAt := pick(e, 20*time.Second, 2*time.Second)
	rate := pick(e, 1500.0, 300.0)
	r.Setup = map[string]any{"validators": 4, "killed": "node3 (kill -9), never restarted", "kill_at_s": killAt.Seconds(),
		"duration_s": dur.Seconds(), "mode": "open loop", "rate_tx_per_s": rate, "batch": 50, "type": "transfer",
		"load_to": "node0, node1, node2 (the survivors)"}
	c, err := e.startNet(ctx, "crashstop", netOpts{N: 4, Debug: true})
	if err != nil {
		return err
	}
	defer c.stop()
	var begin, killed time.Time
	var once sync.Once
	res, err := c.load(ctx, bench.Options{Duration: dur, Rate: rate, Batch: 50, Concurrency: 16, Accounts: pick(e, 1500, 150),
		Nodes: []int{0, 1, 2}, Drain: 30 * time.Second,
		OnTick: func(el time.Duration, _ int64) {
			if begin.IsZero() {
				begin = time.Now().Add(-el)
			}
			if el >= killAt {
				once.Do(func() {
					e.logf("\n[crash-stop] kill -9 node3 at %.1fs", el.Seconds())
					killed = time.Now()
					c.cl.Kill(3)
				})
			}
		}})
	if err != nil {
		return err
	}
	out := &crashStopResult{Load: res, RecoverRule: "first second after the kill from which the 3-second moving mean of committed tx/s stays >= 80% of the offered rate for 3 s"}
	r.Result = out
	if killed.IsZero() {
		return errors.New("the load ended before the kill")
	}
	out.KillAtS = round3(killed.Sub(begin).Seconds())
	out.BeforeTxPerS = meanRate(res.Timeline, 2, out.KillAtS)
	out.AfterTxPerS = meanRate(res.Timeline, out.KillAtS, res.Duration)
	out.MinAfterTxPS = -1
	for _, p := range res.Timeline {
		if p.T > out.KillAtS && p.T <= res.Duration {
			if out.MinAfterTxPS < 0 || p.Rate < out.MinAfterTxPS {
				out.MinAfterTxPS = p.Rate
			}
			if p.Rate == 0 {
				out.ZeroSeconds++
			}
		}
	}
	out.RecoverS = recoverTime(res.Timeline, out.KillAtS, res.Duration, 0.8*rate)
	out.Before, _ = c.summarizeLog(0, nil, begin, killed)
	out.After, _ = c.summarizeLog(0, nil, killed, begin.Add(time.Duration(res.Duration*float64(time.Second))))
	out.Agreement = c.checkAgreement(ctx, []int{0, 1, 2}, 30*time.Second)
	out.AckedNotFound = res.UncommittedLeft
	x, y := timelineXY(res.Timeline)
	return r.lineChart("", chart.Spec{Title: "Crash-stop: node3 killed (kill -9) under load, 4 validators",
		XLabel: "seconds since start of load", YLabel: "committed tx/s (per second)",
		Series: []chart.Series{{Name: "committed tx/s", X: x, Y: y}, {Name: "offered", X: []float64{0, res.Duration}, Y: []float64{rate, rate}, Dashed: true}},
		Marks:  []chart.Mark{{X: out.KillAtS, Label: "kill -9 node3"}}})
}

// recoverTime returns the seconds after at until the 3-point moving mean of
// the rate reaches goal and stays there for 3 points; -1 if never.
func recoverTime(tl []bench.Point, at, end, goal float64) float64 {
	var ps []bench.Point
	for _, p := range tl {
		if p.T > at && p.T <= end {
			ps = append(ps, p)
		}
	}
	mm := func(k int) float64 {
		lo := max(0, k-2)
		s := 0.0
		for _, p := range ps[lo : k+1] {
			s += p.Rate
		}
		return s / float64(k+1-lo)
	}
	for k := 2; k+2 < len(ps); k++ {
		if mm(k) >= goal && mm(k+1) >= goal && mm(k+2) >= goal {
			return round3(ps[k-2].T - at)
		}
	}
	return -1
}

// ---- 7. crash-recovery ----

type recoveryPoint struct {
	TargetMissed  int     `json:"target_blocks_missed"`
	Missed        uint64  `json:"blocks_missed"`
	DownS         float64 `json:"down_s"`
	ReadyS        float64 `json:"restart_to_ready_s"`
	CatchUpS      float64 `json:"restart_to_caught_up_s"`
	BlocksPerS    float64 `json:"catch_up_blocks_per_s"`
	TxsMissed     int64   `json:"txs_committed_while_down"`
	SameChain     bool    `json:"same_chain_after"`
	CatchUpLogged int     `json:"catch_up_commits_logged"`
	Error         string  `json:"error,omitempty"`
}

// idleRestart is the probe of a restart while the chain makes no blocks.
type idleRestart struct {
	Missed      uint64  `json:"blocks_missed"`
	WaitedS     float64 `json:"waited_s"`
	CaughtUp    bool    `json:"caught_up_while_idle"`
	HeightAfter uint64  `json:"node3_height_after_wait"`
	Target      uint64  `json:"chain_height"`
	// AfterOneTxS is how long node3 took to catch up once one transaction
	// made the chain move again (-1 if it did not within the bound).
	AfterOneTxS float64 `json:"caught_up_after_one_tx_s"`
}

type recoveryResult struct {
	Points []recoveryPoint `json:"restarts_under_load"`
	Idle   *idleRestart    `json:"restart_on_idle_chain,omitempty"`
}

func runCrashRecovery(ctx context.Context, e *Env, r *Report) error {
	ks := pick(e, []int{10, 25, 50, 100, 200}, []int{5})
	rate := pick(e, 400.0, 200.0)
	r.Setup = map[string]any{"validators": 4, "restarted": "node3", "blocks_missed": ks,
		"load":       fmt.Sprintf("open loop, %.0f tx/s, batch 20, to node0..node2, running while node3 is down and while it catches up", rate),
		"measured":   "kill -9 node3; once node0 is K blocks past it, restart it; time from restart to /readyz and to node3 reaching the height node0 had at the restart",
		"idle_probe": "then: kill node3, let the chain move a few blocks, stop all load, restart node3 and wait; then send one transaction"}
	c, err := e.startNet(ctx, "crashrecovery", netOpts{N: 4, Debug: true})
	if err != nil {
		return err
	}
	defer c.stop()
	out := &recoveryResult{}
	r.Result = out
	// background starts open-loop load; the returned func stops it and
	// returns what it measured.
	background := func() func() (*bench.Result, error) {
		lctx, stopLoad := context.WithCancel(ctx)
		var res *bench.Result
		var lerr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, lerr = c.load(lctx, bench.Options{Duration: 20 * time.Minute, Rate: rate, Batch: 20, Concurrency: 8,
				Accounts: pick(e, 500, 50), Nodes: []int{0, 1, 2}, Drain: 5 * time.Second, Progress: discard{}})
		}()
		return func() (*bench.Result, error) { stopLoad(); <-done; return res, lerr }
	}
	for _, k := range ks {
		e.logf("[crash-recovery] K = %d blocks", k)
		pt := recoveryPoint{TargetMissed: k}
		h3, err := c.height(ctx, 3)
		if err != nil {
			return err
		}
		c.cl.Kill(3)
		down := time.Now()
		stopLoad := background()
		deadline := time.Now().Add(pick(e, 6*time.Minute, 60*time.Second))
		for {
			h0, err := c.height(ctx, 0)
			if err == nil && h0 >= h3+uint64(k) {
				break
			}
			if time.Now().After(deadline) {
				pt.Error = fmt.Sprintf("node0 reached only %d of %d blocks past node3 in time", h0-h3, k)
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				_, _ = stopLoad()
				return err
			}
		}
		target, err := c.height(ctx, 0)
		if err != nil {
			_, _ = stopLoad()
			return err
		}
		pt.Missed = target - h3
		pt.DownS = round3(time.Since(down).Seconds())
		restart := time.Now()
		if err := c.cl.Start(3); err != nil {
			_, _ = stopLoad()
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err = c.waitReady(rctx, 3)
		cancel()
		if err != nil {
			_, _ = stopLoad()
			return err
		}
		pt.ReadyS = round3(time.Since(restart).Seconds())
		if _, err := c.waitHeight(ctx, 3, target, pick(e, 5*time.Minute, 20*time.Second), 20*time.Millisecond); err != nil {
			pt.Error = err.Error()
		}
		pt.CatchUpS = round3(time.Since(restart).Seconds())
		if pt.CatchUpS > 0 {
			pt.BlocksPerS = round3(float64(pt.Missed) / pt.CatchUpS)
		}
		res, lerr := stopLoad()
		if lerr != nil {
			return lerr
		}
		if res != nil {
			pt.TxsMissed = res.Committed
		}
		if ls, err := c.readLog(3, restart); err == nil {
			for _, l := range ls {
				if l.Msg == "committed" && l.Fields["catch_up"] == "true" {
					pt.CatchUpLogged++
				}
			}
		}
		pt.SameChain = c.checkAgreement(ctx, c.all(), 30*time.Second).SameChain
		e.logf("[crash-recovery] missed %d blocks, ready after %.2fs, caught up after %.2fs", pt.Missed, pt.ReadyS, pt.CatchUpS)
		out.Points = append(out.Points, pt)
		_ = r.write()
	}

	// The idle probe.
	e.logf("[crash-recovery] restart on an idle chain")
	idle := &idleRestart{AfterOneTxS: -1}
	out.Idle = idle
	h3, err := c.height(ctx, 3)
	if err != nil {
		return err
	}
	c.cl.Kill(3)
	stopLoad := background()
	_, _ = c.waitHeight(ctx, 0, h3+5, time.Minute, 100*time.Millisecond)
	if _, err := stopLoad(); err != nil {
		return err
	}
	_ = sleep(ctx, 2*time.Second)
	if idle.Target, err = c.height(ctx, 0); err != nil {
		return err
	}
	idle.Missed = idle.Target - h3
	if err := c.cl.Start(3); err != nil {
		return err
	}
	wait := pick(e, 30*time.Second, 5*time.Second)
	_, werr := c.waitHeight(ctx, 3, idle.Target, wait, 100*time.Millisecond)
	idle.WaitedS = wait.Seconds()
	idle.CaughtUp = werr == nil
	idle.HeightAfter, _ = c.height(ctx, 3)
	if !idle.CaughtUp {
		faucet, err := c.nw.LoadFaucetKey()
		if err != nil {
			return err
		}
		s := c.cs[0].NewSigner(faucet, c.nw.ChainID)
		tx, err := s.Put(ctx, "exp/wake", "1", nil)
		if err != nil {
			return err
		}
		t1 := time.Now()
		if _, err := c.cs[0].SubmitWait(ctx, tx, 30*time.Second); err != nil {
			return err
		}
		if _, err := c.waitHeight(ctx, 3, idle.Target, pick(e, time.Minute, 10*time.Second), 20*time.Millisecond); err == nil {
			idle.AfterOneTxS = round3(time.Since(t1).Seconds())
		}
	}
	e.logf("[crash-recovery] idle restart: caught up while idle %v (height %d of %d); after one tx: %.2fs", idle.CaughtUp, idle.HeightAfter, idle.Target, idle.AfterOneTxS)

	var x, y, yr []float64
	for _, p := range out.Points {
		x, y, yr = append(x, float64(p.Missed)), append(y, p.CatchUpS), append(yr, p.ReadyS)
	}
	return r.lineChart("", chart.Spec{Title: "Crash-recovery: time from restart to caught up, versus blocks missed",
		XLabel: "blocks missed while down", YLabel: "seconds after restart",
		Series: []chart.Series{{Name: "caught up to the height at restart", X: x, Y: y}, {Name: "/readyz answers", X: x, Y: yr, Dashed: true}}})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// ---- 8. omission ----

type omissionPoint struct {
	Drop      float64           `json:"drop_outbound_node1"`
	Offered   float64           `json:"offered_tx_per_s"`
	Committed float64           `json:"committed_tx_per_s"`
	LatencyMs bench.Percentiles `json:"commit_latency_ms"`
	Errors    map[string]int64  `json:"errors"`
	Uncommit  int64             `json:"uncommitted_at_end"`
	Consensus consensusLog      `json:"consensus_node0"`
	SameChain bool              `json:"same_chain"`
	Timeline  []bench.Point     `json:"timeline"`
}

func runOmission(ctx context.Context, e *Env, r *Report) error {
	drops := pick(e, []float64{0, 0.1, 0.3}, []float64{0.3})
	dur := pick(e, 30*time.Second, 3*time.Second)
	rate := pick(e, 1000.0, 300.0)
	r.Setup = map[string]any{"validators": 4, "faulty": "node1 drops this share of its outgoing peer messages (POST /debug/faults drop_outbound)",
		"drops": drops, "duration_per_setting_s": dur.Seconds(), "mode": "open loop", "rate_tx_per_s": rate, "batch": 50,
		"type": "transfer", "load_to": "all 4 nodes"}
	c, err := e.startNet(ctx, "omission", netOpts{N: 4, Debug: true, NodeArgs: map[int][]string{1: {"--unsafe-test-faults", "--faults"}}})
	if err != nil {
		return err
	}
	defer c.stop()
	var pts []omissionPoint
	r.Result = &pts
	for _, d := range drops {
		e.logf("[omission] node1 drops %.0f%% of outgoing messages", d*100)
		if err := c.setFaults(ctx, 1, d, 0, nil); err != nil {
			return err
		}
		res, from, err := c.loadWindow(ctx, bench.Options{Duration: dur, Rate: rate, Batch: 50, Concurrency: 16, Accounts: pick(e, 1000, 100), Drain: 30 * time.Second})
		if err != nil {
			return err
		}
		pt := omissionPoint{Drop: d, Offered: round3(res.OfferedRate), Committed: round3(res.CommittedRate), LatencyMs: res.LatencyMs,
			Errors: res.Errors, Uncommit: res.UncommittedLeft, Timeline: res.Timeline}
		pt.Consensus, _ = c.summarizeLog(0, nil, from, time.Now())
		pt.SameChain = c.checkAgreement(ctx, c.all(), 30*time.Second).SameChain
		pts = append(pts, pt)
		_ = r.write()
	}
	if err := c.setFaults(ctx, 1, 0, 0, nil); err != nil {
		return err
	}
	var cats []string
	var p50, p99, mx []float64
	var series []chart.Series
	for _, p := range pts {
		cats = append(cats, fmt.Sprintf("%.0f%% loss", p.Drop*100))
		p50, p99, mx = append(p50, p.LatencyMs.P50), append(p99, p.LatencyMs.P99), append(mx, p.LatencyMs.Max)
		x, y := timelineXY(p.Timeline)
		series = append(series, chart.Series{Name: fmt.Sprintf("node1 drops %.0f%%", p.Drop*100), X: x, Y: y})
	}
	if err := r.barChart("", chart.Spec{Title: fmt.Sprintf("Omission at node1: commit latency at %.0f tx/s offered (4 validators)", rate),
		YLabel: "commit latency (ms)", Categories: cats,
		Series: []chart.Series{{Name: "p50", Y: p50}, {Name: "p99", Y: p99}, {Name: "max", Y: mx}}}); err != nil {
		return err
	}
	return r.lineChart("-timeline", chart.Spec{Title: "Omission at node1: committed tx/s over time", XLabel: "seconds since start of load",
		YLabel: "committed tx/s (per second)", Series: series})
}

// ---- 9. Byzantine ----

type byzantinePoint struct {
	Mode      string             `json:"mode"`
	Committed float64            `json:"committed_tx_per_s"`
	LatencyMs bench.Percentiles  `json:"commit_latency_ms"`
	Uncommit  int64              `json:"uncommitted_at_end"`
	Evidence  map[string]float64 `json:"evidence_total_by_node"`
	Consensus consensusLog       `json:"consensus_node0"`
	Agreement agreement          `json:"agreement_honest"`
	Warnings  int                `json:"double_sign_log_lines_node0"`
}

func runByzantine(ctx context.Context, e *Env, r *Report) error {
	modes := pick(e, []string{"honest", "equivocate", "double-vote"}, []string{"equivocate"})
	dur := pick(e, 30*time.Second, 3*time.Second)
	rate := pick(e, 1000.0, 300.0)
	r.Setup = map[string]any{"validators": 4, "byzantine": "node3 started with --unsafe-test-faults --byzantine MODE (honest: no flag)",
		"modes": modes, "duration_s": dur.Seconds(), "mode": "open loop", "rate_tx_per_s": rate, "batch": 50, "type": "transfer",
		"load_to": "node0, node1, node2 (honest)"}
	var pts []byzantinePoint
	r.Result = &pts
	for _, mode := range modes {
		e.logf("[byzantine] node3 %s", mode)
		o := netOpts{N: 4, Debug: true}
		if mode != "honest" {
			o.NodeArgs = map[int][]string{3: {"--unsafe-test-faults", "--byzantine", mode}}
		}
		c, err := e.startNet(ctx, "byzantine-"+mode, o)
		if err != nil {
			return err
		}
		res, from, err := c.loadWindow(ctx, bench.Options{Duration: dur, Rate: rate, Batch: 50, Concurrency: 16, Accounts: pick(e, 1000, 100),
			Nodes: []int{0, 1, 2}, Drain: 30 * time.Second})
		if err != nil {
			c.stop()
			return err
		}
		pt := byzantinePoint{Mode: mode, Committed: round3(res.CommittedRate), LatencyMs: res.LatencyMs, Uncommit: res.UncommittedLeft,
			Evidence: map[string]float64{}}
		pt.Consensus, _ = c.summarizeLog(0, nil, from, time.Now())
		pt.Agreement = c.checkAgreement(ctx, []int{0, 1, 2}, 30*time.Second)
		for i := 0; i < 4; i++ {
			if m, err := c.metrics(ctx, i); err == nil {
				pt.Evidence[c.nw.Nodes[i].Name] = m["cairn_evidence_total"]
			}
		}
		if ls, err := c.readLog(0, time.Time{}); err == nil {
			for _, l := range ls {
				if l.Msg == "double-sign evidence" {
					pt.Warnings++
				}
			}
		}
		c.stop()
		pts = append(pts, pt)
		_ = r.write()
	}
	var cats []string
	var tput, p50, p99 []float64
	for _, p := range pts {
		cats = append(cats, p.Mode)
		tput, p50, p99 = append(tput, p.Committed), append(p50, p.LatencyMs.P50), append(p99, p.LatencyMs.P99)
	}
	if err := r.barChart("", chart.Spec{Title: fmt.Sprintf("Byzantine node3: commit latency at %.0f tx/s offered", rate), YLabel: "commit latency (ms)",
		Categories: cats, Series: []chart.Series{{Name: "p50", Y: p50}, {Name: "p99", Y: p99}}}); err != nil {
		return err
	}
	return r.barChart("-throughput", chart.Spec{Title: fmt.Sprintf("Byzantine node3: committed tx/s at %.0f tx/s offered", rate), YLabel: "committed tx/s",
		Categories: cats, Series: []chart.Series{{Name: "committed tx/s", Y: tput}}})
}

// ---- 10. threshold ----

type simRun struct {
	Validators  int     `json:"validators"`
	Byzantine   int     `json:"byzantine"`
	Tolerated   int     `json:"f_tolerated"`
	Runs        int     `json:"runs"`
	Violations  int     `json:"violation_count"`
	FailedSeeds int     `json:"runs_with_violation"`
	ForkedShare float64 `json:"share_of_runs_with_violation"`
	First       string  `json:"first_violation,omitempty"`
	Command     string  `json:"command"`
}

type thresholdResult struct {
	Load         *bench.Result `json:"load"`
	KillAtS      float64       `json:"kill_at_s"`
	RestartAtS   float64       `json:"restart_at_s"`
	HeightAtKill uint64        `json:"height_node0_after_kill_settled"`
	HeightBefore uint64        `json:"height_node0_before_restart"`
	Frozen       bool          `json:"height_frozen_while_2_down"`
	ResumeS      float64       `json:"restart_to_first_new_commit_s"`
	Uncommitted  int64         `json:"accepted_but_never_committed"`
	Agreement    agreement     `json:"agreement_all_after_restarts"`
	Simulator    []simRun      `json:"simulator"`
}

func runThreshold(ctx context.Context, e *Env, r *Report) error {
	dur := pick(e, 50*time.Second, 8*time.Second)
	killAt := pick(e, 10*time.Second, 2*time.Second)
	restartAt := pick(e, 30*time.Second, 4*time.Second)
	restart3At := pick(e, 40*time.Second, 6*time.Second)
	rate := pick(e, 300.0, 200.0)
	seeds := pick(e, 100, 2)
	r.Setup = map[string]any{"validators": 4, "kill": "node2 and node3 (kill -9) at kill_at_s; node2 restarted at restart_at_s; node3 at restart3_at_s",
		"kill_at_s": killAt.Seconds(), "restart_at_s": restartAt.Seconds(), "restart3_at_s": restart3At.Seconds(), "duration_s": dur.Seconds(), "mode": "open loop",
		"rate_tx_per_s": rate, "batch": 20, "load_to": "node0, node1", "simulator_seeds": seeds}
	c, err := e.startNet(ctx, "threshold", netOpts{N: 4, Debug: true})
	if err != nil {
		return err
	}
	defer c.stop()
	out := &thresholdResult{}
	r.Result = out
	var restarted time.Time
	var killOnce, restartOnce, restart3Once sync.Once
	res, err := c.load(ctx, bench.Options{Duration: dur, Rate: rate, Batch: 20, Concurrency: 8, Accounts: pick(e, 500, 50),
		Nodes: []int{0, 1}, Drain: 30 * time.Second,
		OnTick: func(el time.Duration, _ int64) {
			if el >= killAt {
				killOnce.Do(func() {
					e.logf("\n[threshold] kill -9 node2 and node3 at %.1fs", el.Seconds())
					c.cl.Kill(2)
					c.cl.Kill(3)
					out.KillAtS = round3(el.Seconds())
				})
			}
			// Two seconds after the kill the height is what it will stay
			// (a block already decided may still be applied).
			if out.KillAtS > 0 && out.HeightAtKill == 0 && el.Seconds() >= out.KillAtS+2 {
				if h, err := c.height(ctx, 0); err == nil {
					out.HeightAtKill = h
				}
			}
			if el >= restartAt {
				restartOnce.Do(func() {
					if h, err := c.height(ctx, 0); err == nil {
						out.HeightBefore = h
					}
					e.logf("\n[threshold] restart node2 at %.1fs (node0 height %d)", el.Seconds(), out.HeightBefore)
					restarted = time.Now()
					out.RestartAtS = round3(el.Seconds())
					if err := c.cl.Start(2); err != nil {
						e.logf("[threshold] restart node2: %v", err)
					}
				})
			}
			if el >= restart3At {
				restart3Once.Do(func() {
					e.logf("\n[threshold] restart node3 at %.1fs", el.Seconds())
					if err := c.cl.Start(3); err != nil {
						e.logf("[threshold] restart node3: %v", err)
					}
				})
			}
		}})
	if err != nil {
		return err
	}
	out.Load = res
	out.Frozen = out.HeightAtKill > 0 && out.HeightBefore == out.HeightAtKill
	// First commit after the restart, from node0's log.
	if !restarted.IsZero() {
		if ls, err := c.readLog(0, restarted); err == nil {
			for _, l := range ls {
				if l.Msg == "committed" && l.uint("height") > out.HeightBefore {
					out.ResumeS = round3(l.T.Sub(restarted).Seconds())
					break
				}
			}
		}
	}
	out.Uncommitted = res.UncommittedLeft
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	_ = c.waitReady(rctx, 2, 3)
	cancel()
	out.Agreement = c.checkAgreement(ctx, c.all(), 60*time.Second)

	// The simulator: f and f+1 colluding Byzantine validators running the
	// fork attack.
	cases := [][2]int{{4, 1}, {4, 2}, {7, 2}, {7, 3}, {10, 3}, {10, 4}}
	if e.Quick {
		cases = [][2]int{{4, 2}}
	}
	for _, cs := range cases {
		n, b := cs[0], cs[1]
		e.logf("[threshold] cairn sim: %d validators, %d Byzantine (fork), %d seeds", n, b, seeds)
		sr, err := runSimFork(ctx, e, n, b, seeds)
		if err != nil {
			return err
		}
		out.Simulator = append(out.Simulator, sr)
		_ = r.write()
	}
	x, y := timelineXY(res.Timeline)
	var hx, hy []float64
	for _, p := range res.Timeline {
		hx, hy = append(hx, p.T), append(hy, float64(p.Height))
	}
	if err := r.lineChart("", chart.Spec{Title: "Past the threshold: 2 of 4 validators down, then one back",
		XLabel: "seconds since start of load", YLabel: "committed tx/s (per second)",
		Series: []chart.Series{{Name: "committed tx/s", X: x, Y: y}},
		Marks:  []chart.Mark{{X: out.KillAtS, Label: "kill node2, node3"}, {X: out.RestartAtS, Label: "restart node2"}, {X: restart3At.Seconds(), Label: "restart node3"}}}); err != nil {
		return err
	}
	if err := r.lineChart("-height", chart.Spec{Title: "Past the threshold: node0's height", XLabel: "seconds since start of load",
		YLabel: "height seen on node0's event stream", Series: []chart.Series{{Name: "height", X: hx, Y: hy}},
		Marks: []chart.Mark{{X: out.KillAtS, Label: "kill node2, node3"}, {X: out.RestartAtS, Label: "restart node2"}}}); err != nil {
		return err
	}
	var cats []string
	var share []float64
	for _, s := range out.Simulator {
		cats = append(cats, fmt.Sprintf("n=%d b=%d", s.Validators, s.Byzantine))
		share = append(share, s.ForkedShare*100)
	}
	return r.barChart("-sim", chart.Spec{Title: "Simulator: runs with an agreement violation (fork attack by b colluders)",
		YLabel: "% of seeded runs", Categories: cats, Series: []chart.Series{{Name: "runs that broke agreement (%)", Y: share}}})
}

// runSimFork runs `cairn sim` with b colluding Byzantine validators of n
// running the fork attack and parses its JSON summary (exit status 1 just
// means violations were found).
func runSimFork(ctx context.Context, e *Env, n, b, seeds int) (simRun, error) {
	args := []string{"sim", "--validators", fmt.Sprint(n), "--byzantine", fmt.Sprint(b), "--faults", "fork",
		"--seeds", fmt.Sprint(seeds), "--heights", "10"}
	sr := simRun{Validators: n, Byzantine: b, Tolerated: (n - 1) / 3, Command: "cairn " + strings.Join(args, " ")}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, e.Bin, args...)
	outb, err := cmd.Output()
	var xe *exec.ExitError
	if err != nil && !(errors.As(err, &xe) && xe.ExitCode() == 1) {
		return sr, fmt.Errorf("%s: %w", sr.Command, err)
	}
	var s struct {
		Runs           int      `json:"runs"`
		ViolationCount int      `json:"violation_count"`
		FailedSeeds    []uint64 `json:"failed_seeds"`
		Violations     []json.RawMessage
	}
	if err := json.Unmarshal(outb, &s); err != nil {
		return sr, fmt.Errorf("%s: output: %w", sr.Command, err)
	}
	sr.Runs, sr.Violations, sr.FailedSeeds = s.Runs, s.ViolationCount, len(s.FailedSeeds)
	if sr.Runs > 0 {
		sr.ForkedShare = round3(float64(sr.FailedSeeds) / float64(sr.Runs))
	}
	if len(s.Violations) > 0 {
		sr.First = string(s.Violations[0])
	}
	return sr, nil
}

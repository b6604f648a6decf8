package scenario

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// netOpts describe a network a scenario starts.
type netOpts struct {
	N      int
	Params *types.Params
	// Debug runs every node at log level debug (commit, proposal-build,
	// validation and timeout lines in node.log, which scenarios parse).
	Debug bool
	// NodeArgs are extra `cairn node` arguments per node index.
	NodeArgs map[int][]string
	// Tune adjusts a node's config before it is written.
	Tune func(i int, c *node.Config)
}

// cluster is a running network of validator processes.
type cluster struct {
	e   *Env
	dir string
	nw  *client.Network
	cl  *devnet.Cluster
	cs  []*client.Client
	hc  *http.Client
}

// startNet writes a fresh network under e.Work/name and starts every node.
// The caller must call stop.
func (e *Env) startNet(ctx context.Context, name string, o netOpts) (*cluster, error) {
	dir := filepath.Join(e.Work, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	api, p2p, err := freePortRanges(o.N)
	if err != nil {
		return nil, err
	}
	nw, err := devnet.InitNetwork(dir, devnet.Options{Validators: o.N, ChainID: "cairn-exp-" + name,
		APIPort: api, P2PPort: p2p, Params: o.Params, Tune: o.Tune})
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	var args []string
	if o.Debug {
		args = append(args, "--log-level", "debug")
	}
	c := &cluster{e: e, dir: dir, nw: nw, cl: devnet.NewCluster(e.Bin, nw, args...), hc: &http.Client{Timeout: 10 * time.Second}}
	for i, a := range o.NodeArgs {
		c.cl.SetArgs(i, a...)
	}
	if c.cs, err = nw.Clients(client.WithHTTPClient(c.hc)); err != nil {
		return nil, err
	}
	e.logf("  network %s: %d validators, API %d.., p2p %d..", name, o.N, api, p2p)
	if err := c.cl.StartAll(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.waitReady(rctx, c.all()...); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// freePortRanges finds two ranges of n consecutive ports on 127.0.0.1 that
// can be bound now (API and peer ports), away from the devnet defaults so a
// developer's running devnet is left alone.
func freePortRanges(n int) (int, int, error) {
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(30000)
		if free(base, n) && free(base+n, n) {
			return base, base + n, nil
		}
	}
	return 0, 0, errors.New("no free port range on 127.0.0.1")
}

func free(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}

func (c *cluster) all() []int {
	var is []int
	for i := range c.nw.Nodes {
		is = append(is, i)
	}
	return is
}

// stop stops every node (SIGTERM, then SIGKILL after a grace period).
func (c *cluster) stop() { c.cl.StopAll(15 * time.Second) }

// waitReady waits until each listed node answers /readyz.
func (c *cluster) waitReady(ctx context.Context, nodes ...int) error {
	for _, i := range nodes {
		for {
			if !c.cl.Running(i) {
				return fmt.Errorf("%s exited; see %s", c.nw.Nodes[i].Name, c.logPath(i))
			}
			err := c.cs[i].Ready(ctx)
			if err == nil {
				break
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return fmt.Errorf("waiting for %s: %w", c.nw.Nodes[i].Name, err)
			}
		}
	}
	return nil
}

func (c *cluster) logPath(i int) string { return filepath.Join(c.nw.NodeHome(i), "node.log") }

// height returns node i's committed height.
func (c *cluster) height(ctx context.Context, i int) (uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := c.cs[i].Status(cctx)
	if err != nil {
		return 0, err
	}
	return st.Height, nil
}

// waitHeight polls node i until its height is at least h, returning the
// time it took; an error after timeout.
func (c *cluster) waitHeight(ctx context.Context, i int, h uint64, timeout time.Duration, poll time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		got, err := c.height(ctx, i)
		if err == nil && got >= h {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("%s at height %d, want %d after %s (last error %v)", c.nw.Nodes[i].Name, got, h, timeout, err)
		}
		if err := sleep(ctx, poll); err != nil {
			return time.Since(start), err
		}
	}
}

// agreement is the safety check of a run: the nodes' chains at a common
// height. Block hashes chain through parent hashes, so equal hashes at the
// common height mean equal chains up to it (every tx any client saw
// committed below it is on every node listed).
type agreement struct {
	Nodes        []string `json:"nodes"`
	Heights      []uint64 `json:"heights"`
	CommonHeight uint64   `json:"common_height"`
	SameChain    bool     `json:"same_chain"`
	Hashes       []string `json:"block_hashes_at_common_height"`
	StateRoots   []string `json:"state_roots_at_common_height"`
	Detail       string   `json:"detail,omitempty"`
}

// checkAgreement waits (bounded) for the listed nodes to reach the highest
// height among them, then compares their blocks at the common height.
func (c *cluster) checkAgreement(ctx context.Context, nodes []int, wait time.Duration) agreement {
	var a agreement
	if c.e.Quick {
		wait = min(wait, 10*time.Second)
	}
	var top uint64
	for _, i := range nodes {
		h, err := c.height(ctx, i)
		if err == nil {
			top = max(top, h)
		}
	}
	for _, i := range nodes {
		_, _ = c.waitHeight(ctx, i, top, wait, 200*time.Millisecond)
	}
	a.CommonHeight = ^uint64(0)
	var sts []*client.Status
	for _, i := range nodes {
		a.Nodes = append(a.Nodes, c.nw.Nodes[i].Name)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := c.cs[i].Status(cctx)
		cancel()
		if err != nil {
			a.Detail += fmt.Sprintf("%s: %v; ", c.nw.Nodes[i].Name, err)
			st = &client.Status{}
		}
		sts = append(sts, st)
		a.Heights = append(a.Heights, st.Height)
		a.CommonHeight = min(a.CommonHeight, st.Height)
	}
	if a.CommonHeight == 0 || a.CommonHeight == ^uint64(0) {
		a.CommonHeight = 0
		a.Detail += "no common height"
		return a
	}
	a.SameChain = true
	// All at the same height: their status names the block (no need to
	// download a block of thousands of transactions).
	same := true
	for _, st := range sts {
		same = same && st.Height == a.CommonHeight
	}
	if same {
		for _, st := range sts {
			a.Hashes = append(a.Hashes, st.LatestBlockHash.String())
			a.StateRoots = append(a.StateRoots, st.StateRoot.String())
			a.SameChain = a.SameChain && a.Hashes[0] == a.Hashes[len(a.Hashes)-1]
		}
		return a
	}
	// A block can be large and the machine busy: a long per-request bound.
	slow := &http.Client{Timeout: 2 * time.Minute}
	for _, i := range nodes {
		cl, err := client.New(c.nw.Nodes[i].API, client.WithHTTPClient(slow))
		if err != nil {
			a.SameChain = false
			a.Detail += err.Error() + "; "
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		b, err := cl.Block(cctx, a.CommonHeight)
		cancel()
		if err != nil {
			a.SameChain = false
			a.Detail += fmt.Sprintf("%s: block %d: %v; ", c.nw.Nodes[i].Name, a.CommonHeight, err)
			a.Hashes = append(a.Hashes, "")
			a.StateRoots = append(a.StateRoots, "")
			continue
		}
		a.Hashes = append(a.Hashes, b.Hash.String())
		a.StateRoots = append(a.StateRoots, b.Header.StateRoot.String())
		if a.Hashes[0] != a.Hashes[len(a.Hashes)-1] {
			a.SameChain = false
		}
	}
	return a
}

// metrics scrapes node i's /metrics into name{labels} -> value.
func (c *cluster) metrics(ctx context.Context, i int) (map[string]float64, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, c.nw.Nodes[i].API+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics of %s: %w", c.nw.Nodes[i].Name, err)
	}
	defer resp.Body.Close()
	return parseMetrics(io.LimitReader(resp.Body, 8<<20))
}

// parseMetrics reads the Prometheus text format (only what the scenarios
// need: one sample per line, no timestamps).
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[line[:sp]] = v
	}
	return out, sc.Err()
}

// histMean is a histogram's mean (sum/count) in its unit, 0 if empty.
func histMean(m map[string]float64, name string) float64 {
	if n := m[name+"_count"]; n > 0 {
		return m[name+"_sum"] / n
	}
	return 0
}

// setFaults sets node i's network faults through its fault switch.
func (c *cluster) setFaults(ctx context.Context, i int, drop float64, delayMs int64, partition []string) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.cl.SetFaults(cctx, c.hc, i, devnet.Faults{DropOutbound: drop, DelayMs: delayMs, Partition: partition})
}

// load runs the load generator against the cluster with the scenario's
// progress writer.
func (c *cluster) load(ctx context.Context, o bench.Options) (*bench.Result, error) {
	o.Network = c.nw
	if c.e.Progress != nil && o.Progress == nil {
		o.Progress = c.e.Progress
	}
	if o.Drain == 0 {
		o.Drain = 20 * time.Second
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return res, nil
}

// loadWindow is load that also returns when sending began (after the
// accounts were funded), the start of the window the node logs are read for.
func (c *cluster) loadWindow(ctx context.Context, o bench.Options) (*bench.Result, time.Time, error) {
	var from time.Time
	inner := o.OnTick
	o.OnTick = func(el time.Duration, committed int64) {
		if from.IsZero() {
			from = time.Now().Add(-el)
		}
		if inner != nil {
			inner(el, committed)
		}
	}
	res, err := c.load(ctx, o)
	return res, from, err
}

// logLine is one parsed line of a node's slog text log.
type logLine struct {
	T      time.Time
	Level  string
	Msg    string
	Fields map[string]string
}

func (l logLine) uint(k string) uint64 {
	v, _ := strconv.ParseUint(l.Fields[k], 10, 64)
	return v
}

func (l logLine) dur(k string) time.Duration {
	d, _ := time.ParseDuration(l.Fields[k])
	return d
}

// readLog parses node i's log lines logged at or after since.
func (c *cluster) readLog(i int, since time.Time) ([]logLine, error) {
	f, err := os.Open(c.logPath(i))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []logLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		l, ok := parseLogLine(sc.Text())
		if ok && !l.T.Before(since) {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// parseLogLine reads `key=value key="quoted value" ...` (slog's text form).
func parseLogLine(s string) (logLine, bool) {
	l := logLine{Fields: map[string]string{}}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		k := s[:eq]
		s = s[eq+1:]
		var v string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				break
			}
			v, _ = strconv.Unquote(q)
			s = s[len(q):]
		} else {
			sp := strings.IndexByte(s, ' ')
			if sp < 0 {
				sp = len(s)
			}
			v, s = s[:sp], s[sp:]
		}
		switch k {
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return l, false
			}
			l.T = t
		case "level":
			l.Level = v
		case "msg":
			l.Msg = v
		default:
			l.Fields[k] = v
		}
	}
	return l, !l.T.IsZero() && l.Msg != ""
}

// consensusLog summarises the debug log lines of nodes over a window.
type consensusLog struct {
	Commits       int            `json:"blocks"`
	RoundAboveOne int            `json:"blocks_decided_in_round_above_0"`
	MaxRound      uint64         `json:"max_round"`
	Timeouts      int            `json:"timeouts"`
	TimeoutKinds  map[string]int `json:"timeouts_by_kind,omitempty"`
	MeanTxs       float64        `json:"mean_txs_per_block"`
	// IntervalMs is the time between consecutive commits on the node.
	IntervalMs stats `json:"block_interval_ms"`
	// BuildMs and ValidateMs are from every node's "built proposal" and
	// "validated proposal" lines.
	BuildMs    stats `json:"build_proposal_ms"`
	ValidateMs stats `json:"validate_proposal_ms"`
}

// summarizeLog reads node ref's commit lines and every listed node's
// build/validate lines in [from, to).
func (c *cluster) summarizeLog(ref int, nodes []int, from, to time.Time) (consensusLog, error) {
	var s consensusLog
	s.TimeoutKinds = map[string]int{}
	lines, err := c.readLog(ref, from)
	if err != nil {
		return s, err
	}
	var last time.Time
	var intervals []float64
	txs := 0
	for _, l := range lines {
		if !l.T.Before(to) {
			break
		}
		switch l.Msg {
		case "committed":
			if l.Fields["catch_up"] == "true" {
				continue
			}
			s.Commits++
			txs += int(l.uint("txs"))
			r := l.uint("round")
			if r > 0 {
				s.RoundAboveOne++
			}
			s.MaxRound = max(s.MaxRound, r)
			if !last.IsZero() {
				intervals = append(intervals, ms(l.T.Sub(last)))
			}
			last = l.T
		case "timeout":
			s.Timeouts++
			s.TimeoutKinds[l.Fields["kind"]]++
		}
	}
	if s.Commits > 0 {
		s.MeanTxs = round3(float64(txs) / float64(s.Commits))
	}
	s.IntervalMs = summarize(intervals)
	var build, validate []float64
	for _, i := range nodes {
		ls, err := c.readLog(i, from)
		if err != nil {
			return s, err
		}
		for _, l := range ls {
			if !l.T.Before(to) {
				break
			}
			switch l.Msg {
			case "built proposal":
				if l.uint("txs") > 0 {
					build = append(build, ms(l.dur("took")))
				}
			case "validated proposal":
				if l.uint("txs") > 0 {
					validate = append(validate, ms(l.dur("took")))
				}
			}
		}
	}
	s.BuildMs, s.ValidateMs = summarize(build), summarize(validate)
	return s, nil
}

package robustness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

const (
	validators   = 4
	kvClients    = 6
	kvKeys       = 3
	xferAccounts = 4
	xferFund     = 1_000_000
	commitWait   = 4 * time.Second // ?wait=commit timeout of one write
	resolveFor   = 6 * time.Second // how long a client looks up a write whose answer was lost
	checkTimeout = 60 * time.Second
)

// record is one request and its answer, as saved in history.json. Times
// are nanoseconds since the run's start; Return is -1 while indeterminate.
type record struct {
	Client       int    `json:"client"`
	Op           string `json:"op"` // put, cas, get, read_latest, transfer
	Key          string `json:"key,omitempty"`
	Value        string `json:"value,omitempty"`
	Expect       uint64 `json:"expect,omitempty"`
	To           string `json:"to,omitempty"`
	Amount       uint64 `json:"amount,omitempty"`
	Node         int    `json:"node"`
	Call         int64  `json:"call"`
	Return       int64  `json:"return"`
	Outcome      string `json:"outcome"` // ok, conflict, absent, indeterminate, no_effect, failed
	Version      uint64 `json:"version,omitempty"`
	ReadValue    string `json:"read_value,omitempty"`
	ReadHeight   uint64 `json:"read_height,omitempty"`
	Fence        uint64 `json:"fence,omitempty"`
	TxHash       string `json:"tx_hash,omitempty"`
	CommitHeight uint64 `json:"commit_height,omitempty"`
	Err          string `json:"err,omitempty"`
}

// fault is one scheduled fault.
type fault struct {
	AtMs   int64   `json:"at_ms"`
	Kind   string  `json:"kind"` // kill, torn_wal, pause, partition, drop
	Node   int     `json:"node"` // -1: every node (drop)
	DurMs  int64   `json:"dur_ms"`
	Drop   float64 `json:"drop,omitempty"`
	Status string  `json:"status,omitempty"` // what happened when applied
}

type runResult struct {
	Seed          int64    `json:"seed"`
	ReportDir     string   `json:"report_dir,omitempty"`
	Ops           int      `json:"ops"`
	Acked         int      `json:"acked_writes"`
	Indeterminate int      `json:"indeterminate_writes"`
	FencedReads   int      `json:"fenced_reads"`
	Transfers     int      `json:"acked_transfers"`
	Faults        int      `json:"faults"`
	Height        uint64   `json:"height"`
	Linearizable  string   `json:"linearizable"`
	LostWrites    int      `json:"lost_writes"`
	Problems      []string `json:"problems,omitempty"`
	Took          string   `json:"took"`
}

func (r *runResult) failed() bool        { return len(r.Problems) > 0 }
func (r *runResult) problemText() string { return strings.Join(r.Problems, "; ") }
func (r *runResult) summary() string {
	return fmt.Sprintf("%d ops, %d acked writes, %d indeterminate, %d fenced reads, %d transfers, %d faults, height %d, linearizable=%s, lost=%d, problems=%d, took %s",
		r.Ops, r.Acked, r.Indeterminate, r.FencedReads, r.Transfers, r.Faults, r.Height, r.Linearizable, r.LostWrites, len(r.Problems), r.Took)
}

type runTotals struct {
	runs, ops, acked, faults, violations, lost, failed int
}

func (t *runTotals) add(r *runResult) {
	t.runs++
	t.ops += r.Ops
	t.acked += r.Acked
	t.faults += r.Faults
	t.lost += r.LostWrites
	if r.Linearizable == string(porcupine.Illegal) {
		t.violations++
	}
	if r.failed() {
		t.failed++
	}
}

func (t *runTotals) String() string {
	return fmt.Sprintf("%d ops, %d acknowledged writes, %d faults, %d linearizability violations, %d lost acknowledged writes, %d failed runs",
		t.ops, t.acked, t.faults, t.violations, t.lost, t.failed)
}

// run is the state of one faulted run.
type run struct {
	t       *testing.T
	seed    int64
	start   time.Time
	dir     string
	nw      *client.Network
	cluster *devnet.Cluster
	clients []*client.Client
	hc      *http.Client
	fence   atomic.Uint64 // the highest height any client has observed

	mu      sync.Mutex
	history []*record
	faults  []fault
	res     *runResult
	lin     *porcupine.LinearizationInfo // set when the check found a violation
}

func (r *run) now() int64 { return time.Since(r.start).Nanoseconds() }

// observe raises the fence to h. It is called before an operation's return
// time is taken, so an operation called later reads at least at h.
func (r *run) observe(h uint64) {
	for {
		cur := r.fence.Load()
		if h <= cur || r.fence.CompareAndSwap(cur, h) {
			return
		}
	}
}

func (r *run) add(rec *record) {
	r.mu.Lock()
	r.history = append(r.history, rec)
	r.mu.Unlock()
}

func (r *run) problem(format string, args ...any) {
	r.mu.Lock()
	r.res.Problems = append(r.res.Problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func runOnce(t *testing.T, seed int64, runtime time.Duration, reportRoot string) *runResult {
	t.Helper()
	began := time.Now()
	r := &run{t: t, seed: seed, res: &runResult{Seed: seed, Linearizable: "not checked"}, hc: &http.Client{Timeout: 5 * time.Second}}
	var err error
	if r.dir, err = os.MkdirTemp("", fmt.Sprintf("cairn-robust-%d-", seed)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		r.res.Took = time.Since(began).Round(100 * time.Millisecond).String()
		if r.res.failed() {
			r.saveReport(reportRoot)
		}
		os.RemoveAll(r.dir)
	}()
	if err := r.startNet(); err != nil {
		r.problem("start: %v", err)
		return r.res
	}
	defer func() {
		for i := range validators {
			r.cluster.Resume(i)
		}
		r.cluster.StopAll(10 * time.Second)
	}()
	kvKeysOf, xfer, err := r.setup()
	if err != nil {
		r.problem("setup: %v", err)
		return r.res
	}
	r.start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), runtime)
	var wg sync.WaitGroup
	for c := range kvClients {
		wg.Add(1)
		go func() { defer wg.Done(); r.kvClient(ctx, c, kvKeysOf) }()
	}
	for w := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); r.transferClient(ctx, kvClients+w, xfer, []int{2 * w, 2*w + 1}) }()
	}
	r.faults = schedule(seed, runtime)
	r.res.Faults = len(r.faults)
	r.injectFaults(ctx)
	cancel()
	wg.Wait()
	r.heal()
	r.check(kvKeysOf, xfer)
	return r.res
}

// startNet initialises and starts the validators with test-friendly timing
// and the fault switch on. The ports are found free and bound a moment
// later by the nodes; on a shared machine another process can take one in
// between, so a start that fails on a taken port is redone on new ports,
// from an empty directory, a few times.
func (r *run) startNet() error {
	for attempt := 1; ; attempt++ {
		err := r.startNetOnce()
		if err == nil || attempt == 3 || !r.portTaken() {
			return err
		}
		r.cluster.StopAll(5 * time.Second)
		if err := os.RemoveAll(r.dir); err != nil {
			return err
		}
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return err
		}
	}
}

// portTaken reports whether a node failed to start because its address was
// in use.
func (r *run) portTaken() bool {
	if r.nw == nil || r.cluster == nil {
		return false
	}
	for _, nd := range r.nw.Nodes {
		b, _ := os.ReadFile(filepath.Join(nd.Home, "node.log"))
		if bytes.Contains(b, []byte("address already in use")) {
			return true
		}
	}
	return false
}

func (r *run) startNetOnce() error {
	ports, err := devnet.FreePorts(2 * validators)
	if err != nil {
		return err
	}
	// Fee-free, so the transfer accounts' total is conserved exactly (fees
	// have their own conservation test in internal/ledger).
	params := types.DefaultParams()
	r.nw, err = devnet.InitNetwork(r.dir, devnet.Options{Validators: validators, ChainID: "robust", Params: &params, Tune: func(i int, c *node.Config) {
		c.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", ports[validators+i])
		c.Consensus.TimeoutPropose = node.Duration{Duration: 800 * time.Millisecond}
		c.Consensus.TimeoutVote = node.Duration{Duration: 400 * time.Millisecond}
		c.Consensus.TimeoutDelta = node.Duration{Duration: 200 * time.Millisecond}
		c.Consensus.MaxBlockDelay = node.Duration{Duration: 20 * time.Millisecond}
	}})
	if err != nil {
		return err
	}
	r.cluster = devnet.NewCluster(bin, r.nw, "--unsafe-test-faults", "--faults")
	hc := &http.Client{Timeout: commitWait + 4*time.Second}
	if r.clients, err = r.nw.Clients(client.WithHTTPClient(hc)); err != nil {
		return err
	}
	if err := r.cluster.StartAll(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return r.cluster.WaitReady(ctx)
}

// xferState is the transfer accounts' keys and nonces.
type xferState struct {
	keys []*crypto.PrivateKey
}

// setup funds the transfer accounts and returns the keys the KV clients use.
func (r *run) setup() ([]string, *xferState, error) {
	faucet, err := crypto.LoadKey(r.nw.FaucetKey)
	if err != nil {
		return nil, nil, err
	}
	x := &xferState{}
	for range xferAccounts {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, nil, err
		}
		x.keys = append(x.keys, k)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := r.clients[0].NewSigner(faucet, r.nw.ChainID)
	var txs []*types.Tx
	for _, k := range x.keys {
		tx, err := s.Transfer(ctx, k.Public().Address(), xferFund)
		if err != nil {
			return nil, nil, err
		}
		txs = append(txs, tx)
	}
	res, err := r.clients[0].SubmitBatchWait(ctx, txs, 30*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("fund: %w", err)
	}
	for i, tr := range res.Results {
		if tr == nil || tr.Receipt == nil || !tr.Receipt.OK {
			return nil, nil, fmt.Errorf("fund tx %d: %+v", i, tr)
		}
		r.observe(tr.Height)
	}
	keys := make([]string, kvKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	return keys, x, nil
}

// kvClient runs one key-value client until ctx ends: its choices come from
// the run's seed; its writes come from a sender key it replaces whenever a
// write's fate (and so its nonce) is left unknown.
func (r *run) kvClient(ctx context.Context, id int, keys []string) {
	rng := rand.New(rand.NewPCG(uint64(r.seed), uint64(id)))
	key, _ := crypto.GenerateKey()
	nonce := uint64(1)
	seen := map[string]uint64{} // the last version this client saw per key
	for seq := 0; ctx.Err() == nil; seq++ {
		k := keys[rng.IntN(len(keys))]
		nd := rng.IntN(validators)
		switch p := rng.IntN(100); {
		case p < 35:
			r.fencedRead(id, nd, k, seen)
		case p < 45:
			r.latestRead(id, nd, k)
		default:
			in := kvInput{Op: "put", Key: k, Value: fmt.Sprintf("c%d-%d", id, seq)}
			var expect *uint64
			if p >= 70 {
				e := seen[k]
				if rng.IntN(4) == 0 && e > 0 {
					e-- // a stale compare-and-set, to see conflicts
				}
				in.Op, in.Expect, expect = "cas", e, &e
			}
			tx := client.NewTx(r.nw.ChainID, key, nonce, &types.KVPut{Key: k, Value: in.Value, ExpectVersion: expect})
			rec := &record{Client: id, Op: in.Op, Key: k, Value: in.Value, Expect: in.Expect, Node: nd, TxHash: tx.Hash().String()}
			outcome := r.submit(nd, tx, rec)
			switch outcome {
			case "ok":
				nonce++
				seen[k] = rec.Version
			case "conflict", "no_effect", "failed":
			default: // indeterminate: the nonce may or may not be used
				key, _ = crypto.GenerateKey()
				nonce = 1
			}
			r.add(rec)
		}
	}
}

// submit sends tx with ?wait=commit to node nd and fills rec with what
// became of it; it returns rec.Outcome.
func (r *run) submit(nd int, tx *types.Tx, rec *record) string {
	rec.Call = r.now()
	ctx, cancel := context.WithTimeout(context.Background(), commitWait+5*time.Second)
	res, err := r.clients[nd].SubmitWait(ctx, tx, commitWait)
	cancel()
	var ce *client.Error
	switch {
	case err == nil && (res.Status == client.StatusCommitted || res.Status == "failed"):
		r.fill(rec, res.Height, res.Receipt)
	case errors.As(err, &ce) && ce.Status != http.StatusServiceUnavailable && ce.Status != http.StatusInternalServerError:
		// Refused at admission: the transaction was not stored anywhere.
		rec.Outcome, rec.Err = "no_effect", err.Error()
	case err != nil && errors.Is(err, syscall.ECONNREFUSED):
		rec.Outcome, rec.Err = "no_effect", err.Error()
	default:
		// Timed out, 503, or the connection broke: the answer is lost. Look
		// the hash up on the validators for a while.
		if err != nil {
			rec.Err = err.Error()
		} else {
			rec.Err = "wait ended with status " + res.Status
		}
		r.resolve(tx.Hash(), rec, time.Now().Add(resolveFor))
	}
	if rec.Outcome != "indeterminate" {
		rec.Return = r.now()
	} else {
		rec.Return = -1
	}
	return rec.Outcome
}

// fill records a write's block outcome.
func (r *run) fill(rec *record, height uint64, rc *types.Receipt) {
	r.observe(height)
	rec.CommitHeight = height
	switch {
	case rc != nil && rc.OK:
		rec.Outcome, rec.Version = "ok", rc.Version
	case rc != nil && rc.Code == types.CodeVersionConflict:
		rec.Outcome = "conflict"
	default:
		rec.Outcome = "failed"
		if rc != nil {
			rec.Err = string(rc.Code) + ": " + rc.Reason
		}
	}
}

// resolve polls the validators for tx h until deadline; rec ends
// "indeterminate" if no validator has it in a block by then.
func (r *run) resolve(h crypto.Hash, rec *record, deadline time.Time) {
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := r.clients[i%validators].Tx(ctx, h)
		cancel()
		if err == nil && (st.Status == client.StatusCommitted || st.Status == "failed") {
			r.fill(rec, st.Height, st.Receipt)
			return
		}
		if time.Now().After(deadline) {
			rec.Outcome = "indeterminate"
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fencedRead reads key k at the fence height (see the package doc), trying
// up to three validators; a read nobody could serve is not recorded (it
// observed nothing).
func (r *run) fencedRead(id, nd int, k string, seen map[string]uint64) {
	rec := &record{Client: id, Op: "get", Key: k, Node: nd}
	rec.Call = r.now()
	h := r.fence.Load()
	rec.Fence = h
	for try := 0; try < 3; try++ {
		n := (nd + try) % validators
		// A 404 means "absent" only if the node had reached h before the
		// read (heads never move back); asking first keeps the check
		// independent of the error message's wording.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := r.clients[n].Status(ctx)
		reached := err == nil && st.Height >= h
		var v *client.KVValue
		if reached {
			v, err = r.clients[n].KV(ctx, k, h)
		}
		cancel()
		switch {
		case !reached:
			if err != nil {
				rec.Err = err.Error()
			}
			continue
		case err == nil:
			rec.Outcome, rec.Version, rec.ReadValue, rec.ReadHeight, rec.Node = "ok", v.Version, v.Value, v.ReadHeight, n
			if v.ReadHeight != h {
				r.problem("client %d: read of %s at height %d answered read_height %d", id, k, h, v.ReadHeight)
			}
		case client.IsNotFound(err):
			rec.Outcome, rec.ReadHeight, rec.Node = "absent", h, n
		default:
			rec.Err = err.Error()
			continue
		}
		r.observe(rec.ReadHeight)
		rec.Return = r.now()
		if rec.Version > seen[k] {
			seen[k] = rec.Version
		}
		r.add(rec)
		return
	}
}

// latestRead reads key k at node nd's latest height.
func (r *run) latestRead(id, nd int, k string) {
	rec := &record{Client: id, Op: "read_latest", Key: k, Node: nd}
	rec.Call = r.now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	v, err := r.clients[nd].KV(ctx, k, 0)
	cancel()
	switch {
	case err == nil:
		rec.Outcome, rec.Version, rec.ReadValue, rec.ReadHeight = "ok", v.Version, v.Value, v.ReadHeight
	case client.IsNotFound(err):
		// The answer does not say its height; nothing to check.
		return
	default:
		return
	}
	rec.Return = r.now()
	r.add(rec)
}

// transferClient moves random amounts (some too large: overdraft attempts)
// from its own accounts to any transfer account.
func (r *run) transferClient(ctx context.Context, id int, x *xferState, own []int) {
	rng := rand.New(rand.NewPCG(uint64(r.seed), uint64(id)))
	nonces := map[int]uint64{}
	for _, a := range own {
		nonces[a] = 1
	}
	for ctx.Err() == nil {
		from := own[rng.IntN(len(own))]
		to := rng.IntN(xferAccounts)
		amount := uint64(1 + rng.IntN(xferFund/2))
		nd := rng.IntN(validators)
		tx := client.NewTx(r.nw.ChainID, x.keys[from], nonces[from], &types.Transfer{To: x.keys[to].Public().Address(), Amount: amount})
		rec := &record{Client: id, Op: "transfer", Key: x.keys[from].Public().Address().String(), To: x.keys[to].Public().Address().String(),
			Amount: amount, Node: nd, TxHash: tx.Hash().String()}
		switch r.submit(nd, tx, rec) {
		case "ok":
			nonces[from]++
		case "indeterminate":
			// Ask a validator for the committed nonce; a later commit of the
			// lost transaction makes the next one with this nonce fail.
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			a, err := r.clients[rng.IntN(validators)].Account(cctx, x.keys[from].Public().Address())
			cancel()
			if err == nil {
				nonces[from] = a.Nonce + 1
			}
		default:
			if strings.Contains(rec.Err, "bad_nonce") || strings.Contains(rec.Err, "nonce") {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				a, err := r.clients[nd].Account(cctx, x.keys[from].Public().Address())
				cancel()
				if err == nil {
					nonces[from] = a.Nonce + 1
				}
			}
		}
		r.add(rec)
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
	}
}

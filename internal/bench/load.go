// Package bench drives signed transactions at a running network's API and
// measures what commits: offered and committed tx/s, commit latency
// percentiles and errors by kind, and how far each node's search index
// trails its chain. `cairn bench` is its command line; the experiment
// scenarios reuse Run.
//
// Every run is bounded: by Duration for sending, then by Drain for waiting
// on what is still in flight, then by IndexWait for the search indexes.
// Only loopback or configured URLs are used.
package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Options configure a load run.
type Options struct {
	Network  *client.Network
	Duration time.Duration
	// Rate is the offered load in tx/s; 0 means closed loop: Concurrency
	// workers each keep one batch in flight.
	Rate        float64
	Concurrency int
	// Batch is how many txs one request carries.
	Batch int
	// Type is transfer, put, record or contract (an invoke of the voucher
	// sample's issue per transaction: Contract is its module).
	Type string
	// Contract is the WebAssembly module Type contract deploys (the
	// voucher sample, built by cairn contract build).
	Contract []byte
	// Accounts is how many funded senders take turns.
	Accounts int
	// Nodes lists which nodes receive load (default all).
	Nodes []int
	// Drain bounds the wait for in-flight txs after sending stops.
	Drain time.Duration
	// Progress receives a line per second (nil: none).
	Progress io.Writer
	// Seed makes account keys reproducible.
	Seed uint64
	// OnTick, if set, is called once a second with the time since start
	// and the committed count so far (scenarios inject faults from it).
	OnTick func(elapsed time.Duration, committed int64)
	// Presign, when positive, signs this many transactions (and encodes
	// them, in batches) before the run starts and sends only those
	// (sending stops early when they run out), so that the client's
	// signing does not compete with validators that share its CPU.
	Presign int
	// IndexPoll is how often every node's /v1/status is polled to measure
	// how far its search index trails its chain (200 ms; negative: not
	// measured). After the drain, polling goes on until every index has
	// caught up, for at most IndexWait (default: Drain).
	IndexPoll, IndexWait time.Duration
}

// Result is what a run measured. Latencies are from the moment a request
// was sent to the moment the commit was seen on the event stream.
type Result struct {
	Duration        float64          `json:"duration_s"`
	Offered         int64            `json:"offered_txs"`
	Accepted        int64            `json:"accepted_txs"`
	Committed       int64            `json:"committed_txs"`
	FailedReceipts  int64            `json:"failed_receipts"`
	OfferedRate     float64          `json:"offered_tx_per_s"`
	CommittedRate   float64          `json:"committed_tx_per_s"`
	LatencyMs       Percentiles      `json:"commit_latency_ms"`
	Errors          map[string]int64 `json:"errors"`
	Blocks          int64            `json:"blocks"`
	MaxBlockTxs     int              `json:"max_block_txs"`
	Timeline        []Point          `json:"timeline"`
	UncommittedLeft int64            `json:"uncommitted_at_end"`
	// IndexLag is, for each node with search on, how far its index
	// trailed the chain.
	IndexLag []IndexLag `json:"index_lag,omitempty"`
	// IndexCatchUpS is how long after the last commit of the run (the
	// end of the drain) every index had caught up: 0 when they already
	// had, -1 when one had not within IndexWait.
	IndexCatchUpS float64 `json:"index_catch_up_s"`
	// NodeCPU is each validator's and follower's CPU over the measured span.
	NodeCPU []NodeCPU `json:"node_cpu,omitempty"`
	// Minutes are the run's whole minutes of sending (runs of 2 minutes
	// and more): committed rate and the first load node's storage writes.
	Minutes []Minute `json:"minutes,omitempty"`
}

// Percentiles summarise a latency sample.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	N    int     `json:"n"`
}

// Point is one second of the run.
type Point struct {
	T         float64 `json:"t_s"`
	Committed int64   `json:"committed_txs"`
	Rate      float64 `json:"tx_per_s"`
	Height    uint64  `json:"height"`
}

type account struct {
	key      *crypto.PrivateKey
	nonce    uint64      // last nonce handed out; guarded by runner.mk
	inflight bool        // a tx of it awaits the node's answer; guarded by runner.mk
	dead     atomic.Bool // a tx of it was refused and its later nonces would gap
}

type runner struct {
	o        Options
	clients  []*client.Client
	accounts []*account
	// contract is the instance Type contract invokes.
	contract string
	// byNode splits the accounts over the load nodes (by position in
	// o.Nodes): an account always sends to the same node, so its nonces
	// arrive in order there, whatever the gossip between nodes does.
	byNode [][]*account
	next   []atomic.Uint64 // round-robin over each node's accounts

	sent      sync.Map // hash -> time.Time
	offered   atomic.Int64
	accepted  atomic.Int64
	committed atomic.Int64
	failed    atomic.Int64
	blocks    atomic.Int64
	maxBlock  atomic.Int64
	height    atomic.Uint64

	mu   sync.Mutex
	lats []float64
	errs map[string]int64

	// mk guards the accounts' nonces (making batches, giving back nonces).
	mk sync.Mutex
}

// Run funds the accounts, drives load for o.Duration and reports.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Network == nil {
		return nil, errors.New("bench: no network")
	}
	if o.Duration <= 0 {
		return nil, errors.New("bench: duration must be positive")
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Accounts <= 0 {
		o.Accounts = 2000
	}
	if o.Drain <= 0 {
		o.Drain = 20 * time.Second
	}
	if o.Type == "" {
		o.Type = "transfer"
	}
	if o.IndexPoll == 0 {
		o.IndexPoll = 200 * time.Millisecond
	}
	if o.IndexWait <= 0 {
		o.IndexWait = o.Drain
	}
	switch o.Type {
	case "transfer", "put", "record":
	case "contract":
		if len(o.Contract) == 0 {
			return nil, errors.New("bench: type contract needs the voucher sample's module (--contract FILE)")
		}
	default:
		return nil, fmt.Errorf("bench: unknown type %q (transfer, put, record, contract)", o.Type)
	}
	cs, err := o.Network.Clients(client.WithHTTPClient(httpClient()))
	if err != nil {
		return nil, err
	}
	if len(o.Nodes) == 0 {
		for i := range cs {
			o.Nodes = append(o.Nodes, i)
		}
	}
	r := &runner{o: o, clients: cs, errs: map[string]int64{}}
	if err := r.fund(ctx); err != nil {
		return nil, err
	}
	if o.Type == "contract" {
		if err := r.deployContract(ctx); err != nil {
			return nil, err
		}
	}
	r.split()
	return r.run(ctx)
}

// fund creates the sender accounts and gives each a balance from the faucet.
func (r *runner) fund(ctx context.Context) error {
	faucet, err := r.o.Network.LoadFaucetKey()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(r.o.Seed, uint64(time.Now().UnixNano())))
	for i := 0; i < r.o.Accounts; i++ {
		var seed [32]byte
		binary.BigEndian.PutUint64(seed[:], rng.Uint64())
		binary.BigEndian.PutUint64(seed[8:], rng.Uint64())
		binary.BigEndian.PutUint64(seed[16:], uint64(i))
		k, err := crypto.KeyFromSeed(seed[:])
		if err != nil {
			return err
		}
		r.accounts = append(r.accounts, &account{key: k})
	}
	c := r.clients[r.o.Nodes[0]]
	s := c.NewSigner(faucet, r.o.Network.ChainID)
	for start := 0; start < len(r.accounts); start += 1000 {
		end := min(start+1000, len(r.accounts))
		var txs []*types.Tx
		for _, a := range r.accounts[start:end] {
			tx, err := s.Transfer(ctx, a.key.Public().Address(), 1<<40)
			if err != nil {
				return fmt.Errorf("bench: fund: %w", err)
			}
			txs = append(txs, tx)
		}
		res, err := c.SubmitBatchWait(ctx, txs, 60*time.Second)
		if err != nil {
			return fmt.Errorf("bench: fund: %w", err)
		}
		for i, rr := range res.Results {
			if rr == nil || rr.Receipt == nil || !rr.Receipt.OK {
				return fmt.Errorf("bench: funding tx %d did not commit: %+v %v", start+i, rr, res.Errors[i])
			}
		}
	}
	return nil
}

func (r *runner) payload(a *account, seq uint64) types.Payload {
	switch r.o.Type {
	case "put":
		return &types.KVPut{Key: fmt.Sprintf("bench/%s/%d", a.key.Public().Address().String()[:8], seq%64), Value: fmt.Sprintf("value-%d", seq)}
	case "record":
		return &types.Record{Document: []byte(fmt.Sprintf(`{"bench":{"seq":%d,"from":"%s"}}`, seq, a.key.Public().Address().String()[:8]))}
	case "contract":
		return &types.ContractInvoke{Name: r.contract, Function: "issue", GasLimit: contractGas,
			Args: []byte(fmt.Sprintf(`{"id":"%s-%d","value":1}`, a.key.Public().Address().String()[:12], seq))}
	}
	to := r.accounts[int(seq)%len(r.accounts)].key.Public().Address()
	return &types.Transfer{To: to, Amount: 1}
}

// split assigns the accounts to the load nodes, round robin.
func (r *runner) split() {
	r.byNode = make([][]*account, len(r.o.Nodes))
	r.next = make([]atomic.Uint64, len(r.o.Nodes))
	for i, a := range r.accounts {
		k := i % len(r.o.Nodes)
		r.byNode[k] = append(r.byNode[k], a)
	}
}

// makeBatch takes the next n live accounts of load node k (its position
// in o.Nodes), hands each its next nonce and
// signs their transactions. With track, an account with a transaction in
// flight is skipped until the node has answered for it (see settle), so
// that a refused transaction can give its nonce back instead of leaving a
// gap; pre-signing does not track.
func (r *runner) makeBatch(n, k int, track bool) ([]*types.Tx, []*account) {
	txs := make([]*types.Tx, 0, n)
	owners := make([]*account, 0, n)
	now := time.Now().UnixMilli()
	accts := r.byNode[k]
	r.mk.Lock()
	// Untracked, a batch larger than the node's accounts takes some twice
	// (consecutive nonces), as pre-signing needs.
	for tries := 0; len(txs) < n && tries < 2*len(accts); tries++ {
		a := accts[int(r.next[k].Add(1))%len(accts)]
		if a.dead.Load() || a.inflight {
			continue
		}
		a.nonce++
		a.inflight = track
		txs = append(txs, &types.Tx{ChainID: r.o.Network.ChainID, Nonce: a.nonce, Timestamp: now})
		owners = append(owners, a)
	}
	r.mk.Unlock()
	for i, tx := range txs {
		tx.Payload = r.payload(owners[i], tx.Nonce)
		tx.Sign(owners[i].key)
	}
	return txs, owners
}

// exhausted reports whether every account has stopped sending.
func (r *runner) exhausted() bool {
	for _, a := range r.accounts {
		if !a.dead.Load() {
			return false
		}
	}
	return true
}

func (r *runner) errorKind(k string) {
	r.mu.Lock()
	r.errs[k]++
	r.mu.Unlock()
}

// send submits one batch to node nd and records the outcome. It returns
// how many transactions the node did not take for now (full mempool, not
// ready, or the request failed), so that a closed-loop worker backs off.
// enc, when set, is txs already encoded (pre-signed batches are encoded
// before the window, like their signing).
func (r *runner) send(ctx context.Context, nd int, txs []*types.Tx, enc *client.EncodedBatch, owners []*account) (busy int) {
	if len(txs) == 0 {
		return 0
	}
	start := time.Now()
	for _, tx := range txs {
		r.sent.Store(tx.Hash(), start)
	}
	r.offered.Add(int64(len(txs)))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var res *client.BatchResult
	var err error
	if enc != nil {
		res, err = r.clients[nd].SubmitEncodedBatch(cctx, *enc)
	} else {
		res, err = r.clients[nd].SubmitBatch(cctx, txs)
	}
	cancel()
	if err != nil {
		code := client.ErrorCode(err)
		if code == "" {
			code = "transport"
		}
		r.mu.Lock()
		r.errs[code] += int64(len(txs))
		r.mu.Unlock()
		for i, tx := range txs {
			r.sent.Delete(tx.Hash())
			r.settle(owners[i], tx.Nonce, code)
		}
		return len(txs)
	}
	for i, e := range res.Errors {
		if e == nil {
			r.accepted.Add(1)
			r.settle(owners[i], txs[i].Nonce, "")
			continue
		}
		r.errorKind(e.Code)
		r.sent.Delete(txs[i].Hash())
		r.settle(owners[i], txs[i].Nonce, e.Code)
		if notAdmitted(e.Code) {
			busy++
		}
	}
	return busy
}

// notAdmitted reports whether a refusal with this code means the node
// did not take the transaction and would take it later: a full mempool, a
// sender over its pending budget, a node not ready.
func notAdmitted(code string) bool {
	return code == "mempool_full" || code == "sender_limit" || code == "unavailable"
}

// settle records the node's answer for an account's transaction: code
// is "" when it was admitted. One not admitted only for the moment (full
// mempool, node not ready) gives its nonce back when no later nonce of its
// account was handed out, so the account goes on; any other refusal would
// leave its later transactions waiting forever behind the gap, so the
// account sends no more. Pre-signed transactions cannot be re-signed.
func (r *runner) settle(a *account, nonce uint64, code string) {
	r.mk.Lock()
	defer r.mk.Unlock()
	a.inflight = false
	switch {
	case code == "":
	case notAdmitted(code) && r.o.Presign == 0 && a.nonce == nonce:
		a.nonce--
	default:
		a.dead.Store(true)
	}
}

// watch follows the event stream of the first load node and matches
// committed txs to their send time.
func (r *runner) watch(ctx context.Context) error {
	c := r.clients[r.o.Nodes[0]]
	for ctx.Err() == nil {
		st, err := c.Events(ctx, client.EventOptions{From: r.height.Load() + 1})
		if err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(200 * time.Millisecond):
				continue
			}
		}
		for {
			ev, err := st.Next()
			if err != nil {
				break
			}
			now := time.Now()
			r.height.Store(ev.Height)
			r.blocks.Add(1)
			if int64(ev.TxCount) > r.maxBlock.Load() {
				r.maxBlock.Store(int64(ev.TxCount))
			}
			var lats []float64
			for _, t := range ev.Txs {
				v, ok := r.sent.LoadAndDelete(t.Hash)
				if !ok {
					continue
				}
				r.committed.Add(1)
				if !t.OK {
					r.failed.Add(1)
				}
				lats = append(lats, float64(now.Sub(v.(time.Time)).Microseconds())/1000)
			}
			r.mu.Lock()
			r.lats = append(r.lats, lats...)
			r.mu.Unlock()
		}
		st.Close()
	}
	return nil
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	// The event stream starts after the current head: starting at height
	// 1 would replay the whole chain first and count that time in every
	// latency of the run.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	st, err := r.clients[r.o.Nodes[0]].Status(sctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("bench: status of %s: %w", r.o.Network.Nodes[r.o.Nodes[0]].Name, err)
	}
	r.height.Store(st.Height)
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { _ = r.watch(watchCtx); close(watchDone) }()
	defer func() { stopWatch(); <-watchDone }()

	var lag *lagMonitor
	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	members := r.o.Network.Members()
	if r.o.IndexPoll > 0 {
		names := make([]string, len(members))
		clients := append([]*client.Client(nil), r.clients...)
		for i, n := range members {
			names[i] = n.Name
			if i >= len(r.clients) {
				c, err := client.New(n.API, client.WithHTTPClient(httpClient()))
				if err != nil {
					stopLag()
					return nil, err
				}
				clients = append(clients, c)
			}
		}
		lag = newLagMonitor(clients, names, len(r.o.Network.Followers), r.o.IndexPoll)
		lag.poll(ctx) // the heights before the run are not measured
		go func() { lag.run(lagCtx); close(lagDone) }()
	} else {
		close(lagDone)
	}
	defer func() { stopLag(); <-lagDone }()

	type signed struct {
		txs    []*types.Tx
		enc    client.EncodedBatch
		owners []*account
		node   int // position in o.Nodes
	}
	var presigned []signed
	for n, k := 0, 0; n < r.o.Presign; k = (k + 1) % len(r.o.Nodes) {
		txs, owners := r.makeBatch(min(r.o.Batch, r.o.Presign-n), k, false)
		if len(txs) == 0 {
			return nil, errors.New("bench: no account to pre-sign for")
		}
		enc, err := client.EncodeBatch(txs)
		if err != nil {
			return nil, fmt.Errorf("bench: pre-signing: %w", err)
		}
		presigned = append(presigned, signed{txs, enc, owners, k})
		n += len(txs)
	}
	// The sending window starts once pre-signing is done: signing half a
	// million transactions takes the client longer than ten seconds.
	sendCtx, stopSend := context.WithTimeout(ctx, r.o.Duration)
	defer stopSend()
	var presignMu sync.Mutex
	var nodeTurn atomic.Uint64
	// batch returns the next transactions to send and the node (its
	// address in r.clients) to send them to; done when there will be none
	// (pre-signed all sent, or every account stopped). An empty batch that
	// is not done means every live account of the node has a transaction
	// in flight: try again shortly.
	batch := func() (txs []*types.Tx, enc *client.EncodedBatch, owners []*account, node int, done bool) {
		if r.o.Presign > 0 {
			presignMu.Lock()
			defer presignMu.Unlock()
			if len(presigned) == 0 {
				return nil, nil, nil, 0, true
			}
			b := presigned[0]
			presigned = presigned[1:]
			return b.txs, &b.enc, b.owners, r.o.Nodes[b.node], false
		}
		k := int(nodeTurn.Add(1)) % len(r.o.Nodes)
		txs, owners = r.makeBatch(r.o.Batch, k, true)
		return txs, nil, owners, r.o.Nodes[k], len(txs) == 0 && r.exhausted()
	}
	pause := func(d time.Duration) {
		select {
		case <-sendCtx.Done():
		case <-time.After(d):
		}
	}
	begin := time.Now()
	cpuBefore := cpuSeconds(ctx, members)
	var minutes *minuteRecorder
	if r.o.Duration >= 2*time.Minute {
		minutes = newMinuteRecorder(ctx, r.o.Network.Nodes[r.o.Nodes[0]].API)
	}
	var wg sync.WaitGroup
	if r.o.Rate > 0 {
		// Open loop: one batch every Batch/Rate seconds, each on its own
		// goroutine, with at most 4*Concurrency in flight (beyond that the
		// load is not being absorbed and the run says so in offered vs
		// committed).
		// The pacer runs on its own goroutine (counted in wg) so that the
		// progress loop below ticks, and OnTick fires, while sending.
		interval := time.Duration(float64(time.Second) * float64(r.o.Batch) / r.o.Rate)
		sem := make(chan struct{}, 4*r.o.Concurrency)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-sendCtx.Done():
					return
				case <-tick.C:
					select {
					case sem <- struct{}{}:
					default:
						r.errorKind("client_backlog")
						continue
					}
					txs, enc, owners, node, done := batch()
					if done {
						<-sem
						return
					}
					if len(txs) == 0 {
						<-sem
						r.errorKind("client_backlog")
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer func() { <-sem }()
						r.send(ctx, node, txs, enc, owners)
					}()
				}
			}
		}()
	} else {
		for w := 0; w < r.o.Concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sendCtx.Err() == nil {
					txs, enc, owners, node, done := batch()
					if done {
						return
					}
					if len(txs) == 0 {
						pause(10 * time.Millisecond)
						continue
					}
					if r.send(ctx, node, txs, enc, owners) > 0 {
						// The node is full: give it a moment rather than
						// spin on refusals.
						pause(50 * time.Millisecond)
					}
				}
			}()
		}
	}
	// Progress and timeline, once a second, until the drain ends.
	var timeline []Point
	var last int64
	progress := func() {
		el := time.Since(begin)
		c := r.committed.Load()
		timeline = append(timeline, Point{T: el.Seconds(), Committed: c, Rate: float64(c - last), Height: r.height.Load()})
		last = c
		if r.o.Progress != nil {
			fmt.Fprintf(r.o.Progress, "\r%5.1fs  offered %d  accepted %d  committed %d  (%.0f tx/s)  height %d   ",
				el.Seconds(), r.offered.Load(), r.accepted.Load(), c, timeline[len(timeline)-1].Rate, r.height.Load())
		}
		if r.o.OnTick != nil {
			r.o.OnTick(el, c)
		}
		if minutes != nil && el <= r.o.Duration+time.Second && int(el/time.Minute) > len(minutes.out) {
			minutes.record(ctx, c, r.height.Load())
		}
	}
	sec := time.NewTicker(time.Second)
	defer sec.Stop()
	sendDone := make(chan struct{})
	go func() { wg.Wait(); close(sendDone) }()
	for waiting := true; waiting; {
		select {
		case <-sec.C:
			progress()
		case <-sendDone:
			waiting = false
		}
	}
	sendEnd := time.Now()
	drainEnd := sendEnd.Add(r.o.Drain)
	for time.Now().Before(drainEnd) && r.committed.Load() < r.accepted.Load() {
		<-sec.C
		progress()
	}
	cpuAfter := cpuSeconds(ctx, members)
	drained := time.Now()
	catchUp := 0.0
	if lag != nil {
		lag.poll(ctx)
		for waitEnd := time.Now().Add(r.o.IndexWait); !lag.caughtUp(); {
			if !time.Now().Before(waitEnd) || ctx.Err() != nil {
				catchUp = -1
				break
			}
			time.Sleep(50 * time.Millisecond)
			lag.poll(ctx)
			catchUp = time.Since(drained).Seconds()
			if r.o.Progress != nil {
				fmt.Fprintf(r.o.Progress, "\r%5.1fs  waiting for search indexes to catch up   ", time.Since(begin).Seconds())
			}
		}
		stopLag()
		<-lagDone
	}
	if r.o.Progress != nil {
		fmt.Fprintln(r.o.Progress)
	}
	res := &Result{
		Duration: sendEnd.Sub(begin).Seconds(), Offered: r.offered.Load(), Accepted: r.accepted.Load(),
		Committed: r.committed.Load(), FailedReceipts: r.failed.Load(), Errors: r.errs,
		Blocks: r.blocks.Load(), MaxBlockTxs: int(r.maxBlock.Load()), Timeline: timeline,
	}
	res.UncommittedLeft = res.Accepted - res.Committed
	res.IndexCatchUpS = catchUp
	if minutes != nil {
		res.Minutes = minutes.out
	}
	res.NodeCPU = nodeCPU(members, len(r.o.Network.Followers), cpuBefore, cpuAfter, res.Committed)
	if lag != nil {
		res.IndexLag = lag.results(time.Now())
	}
	res.OfferedRate = float64(res.Offered) / res.Duration
	// Committed rate over the sending window plus what drained after, per
	// second of the whole measured span.
	span := time.Since(begin).Seconds()
	if res.UncommittedLeft <= 0 {
		span = lastCommitSpan(timeline, res.Committed, span)
	}
	res.CommittedRate = float64(res.Committed) / span
	r.mu.Lock()
	res.LatencyMs = Summarize(r.lats)
	r.mu.Unlock()
	return res, nil
}

// lastCommitSpan returns the time of the first timeline point at which all
// committed txs had been seen (so the idle tail does not dilute the rate).
func lastCommitSpan(tl []Point, total int64, dflt float64) float64 {
	for _, p := range tl {
		if p.Committed >= total {
			return p.T
		}
	}
	return dflt
}

// Summarize returns the percentiles, mean, extremes and count of xs.
func Summarize(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	at := func(q float64) float64 { return s[min(len(s)-1, int(q*float64(len(s))))] }
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1], Min: s[0], Mean: sum / float64(len(s)), N: len(s)}
}

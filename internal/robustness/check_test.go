package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// check runs the after-run checks of the package doc and records every
// failure in r.res.Problems.
func (r *run) check(keys []string, x *xferState) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*checkTimeout)
	defer cancel()
	h, ok := r.settle(ctx)
	if !ok {
		return
	}
	r.res.Height = h
	r.resolvePending(ctx)
	r.checkLinearizable()
	r.checkKVHistories(ctx, keys, h)
	r.checkTransfers(ctx, x)
	r.checkSameChain(ctx)
	r.verifyReplay()
}

// settle commits one marker write and waits until every validator has its
// block: from then on every validator has every block any client saw.
func (r *run) settle(ctx context.Context) (uint64, bool) {
	key, _ := crypto.GenerateKey()
	tx := client.NewTx(r.nw.ChainID, key, 1, &types.KVPut{Key: "marker", Value: "end"})
	var h uint64
	for try := 0; try < 6 && h == 0; try++ {
		cctx, cancel := context.WithTimeout(ctx, 25*time.Second)
		res, err := r.clients[try%validators].SubmitWait(cctx, tx, 20*time.Second)
		cancel()
		if err == nil && res.Status == client.StatusCommitted {
			h = res.Height
		} else if err != nil && client.ErrorCode(err) == "replay" {
			st, err := r.clients[0].Tx(ctx, tx.Hash())
			if err == nil {
				h = st.Height
			}
		}
	}
	if h == 0 {
		r.problem("liveness: the marker write did not commit within 2 minutes after the faults were healed")
		return 0, false
	}
	for i := range validators {
		deadline := time.Now().Add(checkTimeout)
		for {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			st, err := r.clients[i].Status(cctx)
			cancel()
			if err == nil && st.Height >= h {
				break
			}
			if time.Now().After(deadline) {
				r.problem("liveness: node%d did not reach height %d within %v of the heal (status %+v, %v)", i, h, checkTimeout, st, err)
				return 0, false
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return h, true
}

// resolvePending looks up once more every write whose fate its client did
// not learn; a found one gets its outcome and, as return time, now.
func (r *run) resolvePending(ctx context.Context) {
	for _, rec := range r.history {
		if rec.Outcome != "indeterminate" {
			continue
		}
		h, err := crypto.ParseHash(rec.TxHash)
		if err != nil {
			continue
		}
		st, err := r.clients[0].Tx(ctx, h)
		if err == nil && (st.Status == client.StatusCommitted || st.Status == "failed") {
			r.fill(rec, st.Height, st.Receipt)
			rec.Return = r.now()
		}
	}
}

// kvOperations turns the history into porcupine operations (put, cas and
// fenced get; writes with no effect are left out).
func (r *run) kvOperations() []porcupine.Operation {
	const never = int64(1) << 62
	var ops []porcupine.Operation
	for _, rec := range r.history {
		in := kvInput{Op: rec.Op, Key: rec.Key, Value: rec.Value, Expect: rec.Expect}
		var out kvOutput
		switch {
		case rec.Op != "put" && rec.Op != "cas" && rec.Op != "get":
			continue
		case rec.Outcome == "ok":
			out.Version = rec.Version
			if rec.Op == "get" {
				out.Value = rec.ReadValue
			}
		case rec.Outcome == "absent":
		case rec.Outcome == "conflict":
			out.Conflict = true
		case rec.Outcome == "indeterminate":
			out.Unknown = true
		default:
			continue
		}
		ret := rec.Return
		if out.Unknown {
			ret = never
		}
		ops = append(ops, porcupine.Operation{ClientId: rec.Client, Input: in, Call: rec.Call, Output: out, Return: ret})
	}
	return ops
}

func (r *run) checkLinearizable() {
	ops := r.kvOperations()
	for _, rec := range r.history {
		switch {
		case rec.Op == "get":
			r.res.FencedReads++
		case (rec.Op == "put" || rec.Op == "cas") && (rec.Outcome == "ok" || rec.Outcome == "conflict"):
			r.res.Acked++
		case rec.Outcome == "indeterminate":
			r.res.Indeterminate++
		}
	}
	r.res.Ops = len(r.history)
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 60*time.Second)
	r.res.Linearizable = string(res)
	switch res {
	case porcupine.Illegal:
		r.problem("the key-value history is not linearizable (%d operations)", len(ops))
		r.mu.Lock()
		r.lin = &info
		r.mu.Unlock()
	case porcupine.Unknown:
		r.t.Logf("seed %d: the linearizability check timed out (%d operations): not counted as a violation", r.seed, len(ops))
	}
}

// history reads key k's whole version history from node i.
func (r *run) keyHistory(ctx context.Context, i int, k string) ([]*types.KVEntry, error) {
	var out []*types.KVEntry
	cursor := ""
	for page := 0; page < 1000; page++ {
		h, err := r.clients[i].History(ctx, k, cursor, 1000)
		if client.IsNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, h.Versions...)
		if h.NextCursor == "" {
			return out, nil
		}
		cursor = h.NextCursor
	}
	return nil, fmt.Errorf("history of %s: more than 1000 pages", k)
}

// checkKVHistories checks that no acknowledged write is lost, that every
// validator has the same history of every key up to height h, and that every
// latest read is the key's state at its read height.
func (r *run) checkKVHistories(ctx context.Context, keys []string, h uint64) {
	for _, k := range keys {
		var ref []*types.KVEntry
		for i := range validators {
			hist, err := r.keyHistory(ctx, i, k)
			if err != nil {
				r.problem("history of %s on node%d: %v", k, i, err)
				return
			}
			var upto []*types.KVEntry
			for _, e := range hist {
				if e.Height <= h {
					upto = append(upto, e)
				}
			}
			if i == 0 {
				ref = upto
				continue
			}
			if len(upto) != len(ref) {
				r.problem("history of %s: node%d has %d versions up to height %d, node0 %d", k, i, len(upto), h, len(ref))
				continue
			}
			for j := range upto {
				if *upto[j] != *ref[j] {
					r.problem("history of %s: version %d differs between node0 (%+v) and node%d (%+v)", k, j+1, ref[j], i, upto[j])
				}
			}
		}
		byVersion := map[uint64]*types.KVEntry{}
		for j, e := range ref {
			if e.Version != uint64(j+1) {
				r.problem("history of %s: entry %d has version %d", k, j, e.Version)
			}
			byVersion[e.Version] = e
		}
		for _, rec := range r.history {
			if rec.Key != k {
				continue
			}
			switch {
			case (rec.Op == "put" || rec.Op == "cas") && rec.Outcome == "ok":
				e := byVersion[rec.Version]
				if e == nil || e.TxHash.String() != rec.TxHash || e.Height != rec.CommitHeight || e.Value != rec.Value {
					r.res.LostWrites++
					r.problem("lost acknowledged write: %s %s=%q acknowledged as version %d at height %d (tx %s); the chain has %+v", rec.Op, k, rec.Value, rec.Version, rec.CommitHeight, rec.TxHash, e)
				}
			case rec.Op == "read_latest":
				var at *types.KVEntry
				for _, e := range ref {
					if e.Height <= rec.ReadHeight {
						at = e
					}
				}
				if at == nil || at.Version != rec.Version || at.Value != rec.ReadValue {
					r.problem("read of %s on node%d at read_height %d answered v%d=%q; the chain has %+v there", k, rec.Node, rec.ReadHeight, rec.Version, rec.ReadValue, at)
				}
			}
		}
	}
}

// checkTransfers checks conservation, no overdraft and that every
// acknowledged transfer is committed where its client was told.
func (r *run) checkTransfers(ctx context.Context, x *xferState) {
	total := uint64(xferAccounts) * xferFund
	for i := range validators {
		var sum uint64
		var height uint64
		consistent := false
		for try := 0; try < 10 && !consistent; try++ {
			sum, height, consistent = 0, 0, true
			for _, k := range x.keys {
				a, err := r.clients[i].Account(ctx, k.Public().Address())
				if err != nil {
					r.problem("account on node%d: %v", i, err)
					return
				}
				if height != 0 && a.Height != height {
					consistent = false // a block came in between the reads
				}
				height = a.Height
				if a.Balance > total {
					r.problem("overdraft: account %s has %d on node%d, more than the %d there is", a.Address, a.Balance, i, total)
				}
				sum += a.Balance
			}
		}
		if consistent && sum != total {
			r.problem("conservation: the transfer accounts hold %d on node%d at height %d, want %d", sum, i, height, total)
		}
	}
	for _, rec := range r.history {
		if rec.Op != "transfer" || rec.Outcome != "ok" {
			continue
		}
		r.res.Transfers++
		h, _ := crypto.ParseHash(rec.TxHash)
		for i := range validators {
			st, err := r.clients[i].Tx(ctx, h)
			if err != nil || st.Status != client.StatusCommitted || st.Height != rec.CommitHeight {
				r.res.LostWrites++
				r.problem("acknowledged transfer %s (height %d) on node%d: %+v %v", rec.TxHash, rec.CommitHeight, i, st, err)
			}
		}
	}
}

// checkSameChain compares the validators' block hashes at their common
// height (blocks are hash-linked, so equal hashes mean equal chains; the
// links themselves are checked by cairn verify).
func (r *run) checkSameChain(ctx context.Context) {
	common := uint64(0)
	for i := range validators {
		st, err := r.clients[i].Status(ctx)
		if err != nil {
			r.problem("status of node%d: %v", i, err)
			return
		}
		if i == 0 || st.Height < common {
			common = st.Height
		}
	}
	var ref crypto.Hash
	for i := range validators {
		b, err := r.clients[i].Block(ctx, common)
		if err != nil {
			r.problem("block %d of node%d: %v", common, i, err)
			return
		}
		if i == 0 {
			ref = b.Hash
		} else if b.Hash != ref {
			r.problem("fork: node%d has block %s at height %d, node0 %s", i, b.Hash, common, ref)
		}
	}
}

// verifyReplay stops the validators and runs `cairn verify --replay` over
// every node's data.
func (r *run) verifyReplay() {
	for i := range validators {
		r.cluster.Resume(i)
	}
	r.cluster.StopAll(10 * time.Second)
	out, err := exec.Command(bin, "verify", "--home", r.dir, "--replay").CombinedOutput()
	if err != nil {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		r.problem("cairn verify --replay: %v: %s", err, out)
	}
}

// saveReport writes the run's history, seed, fault schedule, results and
// node logs under root/seed-N.
func (r *run) saveReport(root string) {
	dir := filepath.Join(root, fmt.Sprintf("seed-%d-%s", r.seed, time.Now().Format("20060102-150405")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Logf("report: %v", err)
		return
	}
	r.res.ReportDir = dir
	write := func(name string, v any) {
		b, _ := json.MarshalIndent(v, "", " ")
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			r.t.Logf("report: %v", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	write("history.json", r.history)
	write("faults.json", r.faults)
	write("result.json", r.res)
	_ = os.WriteFile(filepath.Join(dir, "seed"), fmt.Appendf(nil, "%d\n", r.seed), 0o644)
	if r.lin != nil {
		_ = porcupine.VisualizePath(kvModel, *r.lin, filepath.Join(dir, "linearizability.html"))
	}
	if r.nw != nil {
		for i, nd := range r.nw.Nodes {
			b, err := os.ReadFile(filepath.Join(r.nw.NodeHome(i), "node.log"))
			if err == nil {
				_ = os.WriteFile(filepath.Join(dir, nd.Name+".log"), b, 0o644)
			}
		}
	}
}

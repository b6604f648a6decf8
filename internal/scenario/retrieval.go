package scenario

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/bench"
	"github.com/cairn-db/cairn/internal/chart"
	"github.com/cairn-db/cairn/types"
)

// ---- 5. retrieval ----

type retrievalPhase struct {
	Phase string `json:"phase"`
	// Ops maps an operation to its latency in ms (one request at a time,
	// client-side wall clock; verification is local CPU only).
	Ops        map[string]stats `json:"latency_ms"`
	Background *bench.Result    `json:"background_load,omitempty"`
}

type retrievalResult struct {
	Keys       int              `json:"keys_written"`
	WriteSetup float64          `json:"write_setup_s"`
	Phases     []retrievalPhase `json:"phases"`
}

// Operation names, in chart order.
var retrievalOps = []string{
	"add: put, wait for commit",
	"get key",
	"get key with proof",
	"verify key proof (client)",
	"get key at old height",
	"get absent key (404)",
	"get tx with inclusion proof",
	"verify tx proof (client)",
}

func runRetrieval(ctx context.Context, e *Env, r *Report) error {
	nKeys := pick(e, 2000, 40)
	samples := pick(e, 2000, 30)
	adds := pick(e, 200, 8)
	bgRate := pick(e, 1000.0, 200.0)
	r.Setup = map[string]any{"validators": 4, "keys": nKeys, "samples_per_read_op": samples, "adds": adds,
		"reads_from": "node1, one request at a time, keys and txs picked at random (seeded)",
		"phases":     []string{"idle", fmt.Sprintf("under %.0f tx/s of transfers to node0, node2, node3", bgRate)},
		"add":        "one kv.put from one account, POST /v1/txs?wait=commit to node1, then the next"}
	c, err := e.startNet(ctx, "retrieval", netOpts{N: 4})
	if err != nil {
		return err
	}
	defer c.stop()
	out := &retrievalResult{Keys: nKeys}
	r.Result = out

	faucet, err := c.nw.LoadFaucetKey()
	if err != nil {
		return err
	}
	cl := c.cs[1]
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	vals, err := st.ValidatorSet()
	if err != nil {
		return err
	}
	chainID := c.nw.ChainID

	// Write the keys (each a kv.put, 1,000 per request), remembering the
	// tx hashes and the height each key was first written at.
	e.logf("[retrieval] writing %d keys", nKeys)
	t0 := time.Now()
	signer := cl.NewSigner(faucet, chainID)
	type written struct {
		key    string
		hash   crypto.Hash
		height uint64
	}
	var ws []written
	for start := 0; start < nKeys; start += 1000 {
		var txs []*types.Tx
		var keys []string
		for i := start; i < min(nKeys, start+1000); i++ {
			k := fmt.Sprintf("exp/retrieval/%06d", i)
			tx, err := signer.Put(ctx, k, fmt.Sprintf(`{"n":%d,"pad":"%032d"}`, i, i), nil)
			if err != nil {
				return err
			}
			txs, keys = append(txs, tx), append(keys, k)
		}
		res, err := cl.SubmitBatchWait(ctx, txs, 60*time.Second)
		if err != nil {
			return fmt.Errorf("write keys: %w", err)
		}
		for i, rr := range res.Results {
			if rr == nil || rr.Receipt == nil || !rr.Receipt.OK {
				return fmt.Errorf("write key %s did not commit: %+v", keys[i], rr)
			}
			ws = append(ws, written{key: keys[i], hash: rr.Hash, height: rr.Height})
		}
	}
	out.WriteSetup = round3(time.Since(t0).Seconds())
	// A second version of every tenth key, so old-height reads have history.
	var txs []*types.Tx
	for i := 0; i < len(ws); i += 10 {
		tx, err := signer.Put(ctx, ws[i].key, "second version", nil)
		if err != nil {
			return err
		}
		txs = append(txs, tx)
	}
	if _, err := cl.SubmitBatchWait(ctx, txs, 60*time.Second); err != nil {
		return fmt.Errorf("second versions: %w", err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	measure := func(phase string) (retrievalPhase, error) {
		lat := map[string][]float64{}
		timeIt := func(op string, f func() error) error {
			s := time.Now()
			err := f()
			lat[op] = append(lat[op], ms(time.Since(s)))
			return err
		}
		adder := cl.NewSigner(faucet, chainID)
		for i := 0; i < adds; i++ {
			err := timeIt("add: put, wait for commit", func() error {
				tx, err := adder.Put(ctx, fmt.Sprintf("exp/retrieval/add/%s/%d", phase, i), "v", nil)
				if err != nil {
					return err
				}
				res, err := cl.SubmitWait(ctx, tx, 30*time.Second)
				if err != nil {
					return err
				}
				if res.Status != client.StatusCommitted {
					return fmt.Errorf("add %d: status %s", i, res.Status)
				}
				return nil
			})
			if err != nil {
				return retrievalPhase{}, fmt.Errorf("add: %w", err)
			}
		}
		for i := 0; i < samples; i++ {
			w := ws[rng.IntN(len(ws))]
			if err := timeIt("get key", func() error { _, err := cl.KV(ctx, w.key, 0); return err }); err != nil {
				return retrievalPhase{}, fmt.Errorf("get %s: %w", w.key, err)
			}
			var p *client.KVProof
			if err := timeIt("get key with proof", func() error { var err error; p, err = cl.KVProof(ctx, w.key, 0); return err }); err != nil {
				return retrievalPhase{}, fmt.Errorf("prove %s: %w", w.key, err)
			}
			if err := timeIt("verify key proof (client)", func() error { return p.Verify(chainID, vals) }); err != nil {
				return retrievalPhase{}, fmt.Errorf("verify proof of %s: %w", w.key, err)
			}
			if err := timeIt("get key at old height", func() error { _, err := cl.KV(ctx, w.key, w.height); return err }); err != nil {
				return retrievalPhase{}, fmt.Errorf("get %s at %d: %w", w.key, w.height, err)
			}
			absent := fmt.Sprintf("exp/absent/%d", rng.Uint64())
			if err := timeIt("get absent key (404)", func() error {
				_, err := cl.KV(ctx, absent, 0)
				if client.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("want 404, got %v", err)
			}); err != nil {
				return retrievalPhase{}, err
			}
			var ts *client.TxStatus
			if err := timeIt("get tx with inclusion proof", func() error { var err error; ts, err = cl.Tx(ctx, w.hash); return err }); err != nil {
				return retrievalPhase{}, fmt.Errorf("get tx %s: %w", w.hash, err)
			}
			if err := timeIt("verify tx proof (client)", ts.VerifyInclusion); err != nil {
				return retrievalPhase{}, fmt.Errorf("verify tx %s: %w", w.hash, err)
			}
		}
		ph := retrievalPhase{Phase: phase, Ops: map[string]stats{}}
		for op, xs := range lat {
			ph.Ops[op] = summarize(xs)
		}
		return ph, nil
	}

	e.logf("[retrieval] idle: %d adds, %d samples of each read", adds, samples)
	idle, err := measure("idle")
	if err != nil {
		return err
	}
	out.Phases = append(out.Phases, idle)
	_ = r.write()

	e.logf("[retrieval] under %.0f tx/s of background load", bgRate)
	lctx, stopLoad := context.WithCancel(ctx)
	var bg *bench.Result
	var bgErr error
	done := make(chan struct{})
	started := make(chan struct{})
	go func() {
		defer close(done)
		var once bool
		bg, bgErr = c.load(lctx, bench.Options{Duration: 20 * time.Minute, Rate: bgRate, Batch: 50, Concurrency: 16,
			Accounts: pick(e, 1000, 100), Nodes: []int{0, 2, 3}, Drain: 10 * time.Second, Progress: discard{},
			OnTick: func(time.Duration, int64) {
				if !once {
					once = true
					close(started)
				}
			}})
	}()
	select {
	case <-started:
	case <-done:
		stopLoad()
		return fmt.Errorf("background load: %v", bgErr)
	case <-ctx.Done():
		stopLoad()
		<-done
		return ctx.Err()
	case <-time.After(3 * time.Minute):
		stopLoad()
		<-done
		return errors.New("background load did not start within 3 minutes")
	}
	loaded, err := measure("loaded")
	stopLoad()
	<-done
	if err != nil {
		return err
	}
	loaded.Phase = fmt.Sprintf("under %.0f tx/s", bgRate)
	if bg != nil {
		bg.Timeline = nil
		loaded.Background = bg
	}
	out.Phases = append(out.Phases, loaded)

	var series []chart.Series
	for _, ph := range out.Phases {
		var p50, p99 []float64
		for _, op := range retrievalOps {
			p50, p99 = append(p50, ph.Ops[op].P50), append(p99, ph.Ops[op].P99)
		}
		series = append(series, chart.Series{Name: ph.Phase + " p50", Y: p50}, chart.Series{Name: ph.Phase + " p99", Y: p99})
	}
	cats := []string{"add+commit", "get", "get+proof", "verify", "old height", "absent", "tx+proof", "verify tx"}
	return r.barChart("", chart.Spec{Title: "Adding and retrieving: latency per operation (4 validators, reads from node1)",
		YLabel: "ms (log scale)", LogY: true, Categories: cats, Series: series, Width: 8})
}

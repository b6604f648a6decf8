package node

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/fanout"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

func nowMs() int64 { return time.Now().UnixMilli() }

// timerHeap orders the engine's timers by due time.
type timerHeap []consensus.Timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].At < h[j].At }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(consensus.Timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// run is the consensus goroutine: the engine's only driver.
func (n *Node) run(ctx context.Context) error {
	if err := n.apply(n.engine.Start(nowMs())); err != nil {
		return err
	}
	n.ready.Store(true)
	defer n.ready.Store(false)
	if err := n.reportMempool(); err != nil {
		return err
	}
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	peerCheck := time.NewTicker(250 * time.Millisecond)
	defer peerCheck.Stop()
	connectedSince := map[int]time.Time{}
	for {
		if len(n.timers) > 0 {
			wake.Reset(time.Until(time.UnixMilli(n.timers[0].At)))
		} else {
			wake.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-n.net.Receive():
			if err := n.onMessage(m); err != nil {
				return err
			}
		case <-n.pool.TxsAvailable():
			if err := n.reportMempool(); err != nil {
				return err
			}
		case <-peerCheck.C:
			if err := n.notePeers(connectedSince); err != nil {
				return err
			}
		case <-wake.C:
			now := nowMs()
			for len(n.timers) > 0 && n.timers[0].At <= now {
				t := heap.Pop(&n.timers).(consensus.Timer)
				if t.Kind != consensus.TimerTick && t.Kind != consensus.TimerCut {
					n.log.Debug("timeout", "kind", t.Kind.String(), "height", t.Height, "round", t.Round)
				}
				if err := n.apply(n.engine.Step(now, consensus.Timeout{Timer: t})); err != nil {
					return err
				}
			}
		}
	}
}

// notePeers tells the engine about every connection that came up since the
// last check (seen[i] is when validator i's current connection started).
func (n *Node) notePeers(seen map[int]time.Time) error {
	for _, p := range n.net.Peers() {
		i := n.vals.IndexOf(p.PublicKey)
		if i < 0 || !p.Connected || seen[i].Equal(p.Since) {
			continue
		}
		seen[i] = p.Since
		if err := n.apply(n.engine.Step(nowMs(), consensus.PeerConnected{Peer: i})); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) onMessage(m p2p.Message) error {
	from := n.vals.IndexOf(m.From)
	if from < 0 {
		// A follower (the transport admits only validators and listed
		// followers): its block requests are served, nothing else of it is
		// heard. Its votes, proposals or gossip never reach the engine or
		// the mempool.
		n.onFollowerMessage(m)
		return nil
	}
	switch m.Channel {
	case chMempool:
		select {
		case n.ingest <- m:
		default:
			n.m.gossipDropped.Inc() // gossip is best effort; clients retry
		}
		return nil
	case chEvidence:
		switch {
		case !n.evidenceGate.admit(from, time.Now()):
			n.m.evidenceGossip.WithLabelValues("rate_limited").Inc()
		default:
			select {
			case n.evidenceQ <- m:
			default:
				n.m.evidenceGossip.WithLabelValues("queue_full").Inc()
			}
		}
		return nil
	case chConsensus, chSync:
		msg, err := consensus.Decode(m.Payload)
		if err != nil {
			n.m.badMessages.Inc()
			n.log.Debug("undecodable consensus message", "from", n.vals.Validators[from].Name, "err", err)
			return nil
		}
		n.peerHeight(msg)
		return n.apply(n.engine.Step(nowMs(), consensus.Receive{From: from, Msg: msg}))
	}
	n.m.badMessages.Inc()
	return nil
}

// reportMempool tells the engine how much is ready to propose.
func (n *Node) reportMempool() error {
	st := n.pool.Stats()
	now := nowMs()
	switch {
	case st.Ready == 0:
		n.pendingSince = 0
	case n.pendingSince == 0:
		n.pendingSince = now
	}
	n.m.mempoolTxs.Set(float64(st.Txs))
	return n.apply(n.engine.Step(now, consensus.TxsAvailable{Count: st.Ready, Bytes: st.ReadyBytes, Since: n.pendingSince}))
}

// apply carries out a Ready in the order the engine requires. A Build
// request is answered at once, which yields another Ready.
func (n *Node) apply(rd consensus.Ready) error {
	for guard := 0; guard < 64; guard++ {
		committed := false
		for _, c := range rd.Commits {
			if err := n.commit(c); err != nil {
				return err
			}
			committed = true
		}
		if committed {
			// The engine entered a new height: give it that height's set.
			if err := n.refreshValidators(); err != nil {
				return err
			}
		}
		if err := n.writeWAL(rd.WAL); err != nil {
			return err
		}
		for _, o := range n.withhold(n.misbehave(rd.Messages)) {
			ch := chConsensus
			switch o.Msg.(type) {
			case *consensus.BlockRequest, *consensus.BlockResponse, *consensus.Status:
				ch = chSync
			}
			b := consensus.Encode(o.Msg)
			if o.To == consensus.Broadcast {
				n.net.Broadcast(ch, b)
			} else if o.To >= 0 && o.To < n.vals.Len() {
				n.net.Send(n.vals.Validators[o.To].PublicKey, ch, b)
			}
		}
		for _, t := range rd.Timers {
			heap.Push(&n.timers, t)
		}
		for _, s := range rd.Serve {
			if s.To >= 0 && s.To < n.vals.Len() {
				n.server.offer(serveJob{to: n.vals.Validators[s.To].PublicKey, height: s.Height}) // never blocks; see serve.go
			}
		}
		for _, ev := range rd.Evidence {
			n.recordEvidence(ev)
		}
		pos := n.engine.Position()
		n.position.Store(&pos)
		n.m.round.Set(float64(pos.Round))
		switch {
		case rd.Build != nil:
			rd = n.build(rd.Build)
		case committed:
			// The engine forgets pending counts at a new height.
			st := n.pool.Stats()
			if st.Ready == 0 {
				n.pendingSince = 0
			} else if n.pendingSince == 0 {
				n.pendingSince = nowMs()
			}
			n.m.mempoolTxs.Set(float64(st.Txs))
			rd = n.engine.Step(nowMs(), consensus.TxsAvailable{Count: st.Ready, Bytes: st.ReadyBytes, Since: n.pendingSince})
		default:
			return nil
		}
	}
	return fmt.Errorf("node: engine did not settle after 64 steps")
}

// build answers a BuildRequest from the mempool.
func (n *Node) build(req *consensus.BuildRequest) consensus.Ready {
	start := time.Now()
	txs := n.pool.Reap(req.MaxTxs, req.MaxBytes)
	// Leave out txs whose blobs are not (or no longer provably) in the
	// store: peers would refuse to prevote the whole block.
	if kept, dropped := n.blobs.Filter(txs); dropped > 0 {
		n.log.Warn("left txs out of a proposal: their blobs are not available", "height", req.Height, "txs", dropped)
		txs = kept
	}
	blk, p, err := n.ledger.Propose(txs, req.Round, req.Time, req.Proposer, execute.Options{Verified: n.pool.Verified})
	n.log.Debug("built proposal", "height", req.Height, "round", req.Round, "txs", len(txs), "took", time.Since(start))
	if err != nil {
		// The ledger could not read its own state: nothing sensible to
		// propose. Answer with no block; the round times out.
		n.log.Error("cannot build a block", "height", req.Height, "err", err)
		return n.engine.Step(nowMs(), consensus.BlockBuilt{Height: req.Height, Round: req.Round})
	}
	n.prepared[blk.Hash()] = p
	return n.engine.Step(nowMs(), consensus.BlockBuilt{Height: req.Height, Round: req.Round, Block: blk})
}

func (n *Node) commit(c consensus.Commit) error {
	b := c.Block
	hash := b.Hash()
	start := time.Now()
	p := n.prepared[hash]
	if err := n.ledger.Commit(b, c.Cert, p); err != nil {
		// A certified block that does not apply means our state diverged
		// from a quorum's: stop rather than guess.
		return fmt.Errorf("node: commit height %d: %w", b.Header.Height, err)
	}
	clear(n.prepared)
	n.afterCommitSnapshot(b.Header.Height)
	if n.guard != nil {
		n.guard.Committed(b.Header.Height)
	}
	n.pushToFollowers(b, c.Cert)
	var receipts []*types.Receipt
	if p != nil {
		receipts = p.Result.Receipts
	} else {
		// Fetched by catch-up: the ledger executed it inside Commit.
		_, _, rs, err := n.ledger.Block(b.Header.Height)
		if err != nil {
			return fmt.Errorf("node: read back height %d: %w", b.Header.Height, err)
		}
		receipts = rs
	}
	ev := events.BlockEvent{Block: b, Certificate: c.Cert, Receipts: receipts}
	if err := (fanout.Targets{Mempool: n.pool, Index: n.index, Hub: n.hub}).Committed(ev); err != nil {
		n.log.Error("after commit", "height", b.Header.Height, "err", err)
	}
	n.m.observeCommit(b, receipts, time.Since(start))
	now := time.Now()
	for _, tx := range b.Txs {
		if t, ok := n.submitAt.LoadAndDelete(tx.Hash()); ok {
			n.tracked.Add(-1)
			n.m.txLatency.Observe(now.Sub(t.(time.Time)).Seconds())
		}
	}
	n.log.Debug("committed", "height", b.Header.Height, "txs", len(b.Txs), "round", c.Cert.Round, "catch_up", c.CatchUp)
	return nil
}

func (n *Node) writeWAL(recs []consensus.WALRecord) error {
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		if r.Height > n.walHeight {
			// A new height: the previous one's block is stored, so its
			// records are no longer needed.
			if err := n.wal.Reset(); err != nil {
				return fmt.Errorf("node: wal reset: %w", err)
			}
			n.walHeight = r.Height
		} else if r.Height < n.walHeight {
			continue
		}
		if err := n.wal.Append(r.Encode()); err != nil {
			return fmt.Errorf("node: wal append: %w", err)
		}
	}
	if err := n.wal.Sync(); err != nil {
		return fmt.Errorf("node: wal sync: %w", err)
	}
	return nil
}

package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/consensus"
)

// A peer flooding block requests cannot hold up the consensus goroutine:
// apply hands the requests to the serving worker and returns without
// reading or sending a block; the worker then serves each requested height
// once (duplicates in flight are dropped), and requests beyond the peer's
// outstanding budget are dropped and counted.
func TestBlockRequestFloodIsServedOffTheConsensusGoroutine(t *testing.T) {
	n := testNode(t)
	const heights = 3 * maxServePerPeer
	for i := 0; i < heights; i++ {
		commitEmpty(t, n)
	}
	a, b := transportPair(t, 1<<20)
	n.net = a
	peer := n.vals.IndexOf(gossipKey(2).Public())

	var flood []consensus.ServeRequest
	for rep := 0; rep < 5; rep++ { // bounded: 5 copies of every height
		for h := uint64(1); h <= heights; h++ {
			flood = append(flood, consensus.ServeRequest{To: peer, Height: h})
		}
	}
	if err := n.apply(consensus.Ready{Serve: flood}); err != nil {
		t.Fatal(err)
	}
	// Nothing may have been served on the calling goroutine: a marker sent
	// now on the same (FIFO) peer queue arrives before any block.
	a.Send(gossipKey(2).Public(), chConsensus, consensus.Encode(&consensus.Status{Height: 999}))
	timeout := time.After(10 * time.Second)
	// next is the next message b receives, decoded; on timeout the test
	// fails with what it was waiting for.
	next := func(waitingFor string) consensus.Message {
		t.Helper()
		select {
		case m := <-b.Receive():
			msg, err := consensus.Decode(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return msg
		case <-timeout:
			t.Fatal(waitingFor)
			return nil
		}
	}
	if _, ok := next("marker did not arrive").(*consensus.BlockResponse); ok {
		t.Fatal("a block was served on the consensus goroutine, inside apply")
	}

	ctx, cancel := context.WithCancel(context.Background())
	n.wg.Add(1)
	go n.serveBlocks(ctx)
	defer func() { cancel(); n.wg.Wait() }()

	served := map[uint64]int{}
	got := 0
	for got < maxServePerPeer {
		if r, ok := next(fmt.Sprintf("served %d blocks of %d", got, maxServePerPeer)).(*consensus.BlockResponse); ok {
			served[r.Block.Header.Height]++
			got++
		}
	}
	// Once the budget is spent, a new request is served again; it arrives
	// after anything the flood could still have produced.
	last := uint64(heights)
	if err := n.apply(consensus.Ready{Serve: []consensus.ServeRequest{{To: peer, Height: last}}}); err != nil {
		t.Fatal(err)
	}
	for served[last] == 0 {
		if r, ok := next("a request within budget after the flood was not served").(*consensus.BlockResponse); ok {
			served[r.Block.Header.Height]++
		}
	}
	for h, c := range served {
		if c != 1 {
			t.Fatalf("height %d served %d times", h, c)
		}
	}
	if len(served) != maxServePerPeer+1 {
		t.Fatalf("served %d distinct heights, want the budget %d plus one", len(served), maxServePerPeer)
	}
	st := n.server.stats()
	if st.OverBudget != uint64(len(flood)-maxServePerPeer)-st.Duplicates || st.Duplicates == 0 {
		t.Fatalf("flood of %d: %+v", len(flood), st)
	}
}

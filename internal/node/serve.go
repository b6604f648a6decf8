package node

import (
	"context"
	"sync"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
)

// Serving committed blocks to peers that are catching up. The engine asks
// for it (Ready.Serve) on the consensus goroutine; reading a block from the
// store, encoding it and queueing it for the peer happen here, on a worker,
// so that a peer asking for blocks as fast as it can never delays a vote.
// What one peer can make this node do is bounded:
//
//   - at most maxServePerPeer of its requests are queued or being served at
//     once (its budget); further ones are dropped and counted. An honest
//     laggard asks for the engine's catch-up window (8 heights) per tick and
//     waits for answers, well within the budget;
//   - a request identical (peer, height) to one still queued is dropped: the
//     block goes out once;
//   - the queue holds at most maxServeQueue requests of all peers together.
//
// A dropped request is not an error: the requester asks again at its next
// tick, of whichever peer claims the height. Followers' requests go through
// the same queue under the same per-peer budget (followers.go), so many
// followers can take at most the queue's share of this worker, never a
// vote's time.
const (
	maxServePerPeer = 16
	maxServeQueue   = 256
)

type serveJob struct {
	to     crypto.PublicKey // a validator or a listed follower
	height uint64
}

// serveStats counts what happened to block requests.
type serveStats struct {
	Queued, Served, Missing, Duplicates, OverBudget, QueueFull uint64
}

// blockServer is the bounded queue between the consensus goroutine, which
// offers requests and never blocks, and the serving worker.
type blockServer struct {
	jobs chan serveJob
	m    *metrics

	mu          sync.Mutex
	queued      map[serveJob]bool
	outstanding map[crypto.PublicKey]int
	st          serveStats
}

func newBlockServer(m *metrics) *blockServer {
	return &blockServer{jobs: make(chan serveJob, maxServeQueue), m: m,
		queued: map[serveJob]bool{}, outstanding: map[crypto.PublicKey]int{}}
}

// offer queues a request unless it is a duplicate, over its peer's budget
// or the queue is full. It never blocks.
func (s *blockServer) offer(j serveJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	result := "queued"
	switch {
	case s.queued[j]:
		s.st.Duplicates++
		result = "duplicate"
	case s.outstanding[j.to] >= maxServePerPeer:
		s.st.OverBudget++
		result = "over_budget"
	default:
		select {
		case s.jobs <- j:
			s.queued[j] = true
			s.outstanding[j.to]++
			s.st.Queued++
		default:
			s.st.QueueFull++
			result = "queue_full"
		}
	}
	s.m.blockRequests.WithLabelValues(result).Inc()
}

// done releases a job's slot once its block is handed to the transport.
func (s *blockServer) done(j serveJob, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.queued, j)
	if s.outstanding[j.to]--; s.outstanding[j.to] <= 0 {
		delete(s.outstanding, j.to)
	}
	if found {
		s.st.Served++
	} else {
		s.st.Missing++
	}
}

func (s *blockServer) stats() serveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// serveBlocks is the serving worker.
func (n *Node) serveBlocks(ctx context.Context) {
	defer n.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-n.server.jobs:
			n.server.done(j, n.serveBlock(j))
		}
	}
}

// serveBlock sends the block at j.height with its certificate to j.to; it
// reports whether the store had it.
func (n *Node) serveBlock(j serveJob) bool {
	b, cert, _, err := n.ledger.Block(j.height)
	if err != nil {
		return false // we do not have it (yet); the requester asks someone else
	}
	msg := consensus.Encode(&consensus.BlockResponse{Block: b, Cert: cert})
	n.net.Send(j.to, chSync, msg)
	return true
}

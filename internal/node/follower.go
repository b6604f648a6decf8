package node

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/events"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/fanout"
	"github.com/cairn-db/cairn/internal/p2p"
)

// A follower (Config.Role "follower") is a replica that does not vote. It
// has a key of its own, which the validators list among their followers so
// that they admit its connections; it dials them, asks for certified blocks
// and applies each one as a validator that caught up would: the certificate
// is verified against the genesis validator set, the block is executed again
// on the follower's own state and its results and state roots must equal
// the header's (ledger.Validate, then ledger.Commit). It then tells the
// search index and the event hub, and serves the whole read API from its
// own ledger. It has no consensus engine, no WAL and no mempool: it signs
// nothing and its messages to validators are only block requests
// (followers.go says what a validator does with anything else).
//
// Flow control is the follower's: it keeps at most followWindow heights
// requested or buffered beyond its head, spreads requests for heights a
// validator is known to have over the validators that have them, and parks
// one request for the next height to be committed at one validator, which
// pushes the block when it commits. A request unanswered within
// followTimeout is asked again of another validator. A follower that was
// down, or fell behind, thus catches up at its own pace (block sync), and
// a validator never waits for it.
//
// A block that does not apply (a certificate that does not verify, a body
// that does not match its header, roots that differ) is dropped, counted
// and asked for again elsewhere: a follower stalls and says so in its log
// rather than serve a state no quorum certified.
const (
	followWindow  = 16
	followTimeout = 3 * time.Second
)

type followRequest struct {
	to crypto.PublicKey
	at time.Time
}

type followState struct {
	known    map[crypto.PublicKey]uint64 // highest height each validator is known to have
	inflight map[uint64]followRequest
	buffer   map[uint64]*consensus.BlockResponse
	attempts map[uint64]int // failed tries per height, to pick another validator
	seed     int            // spreads followers over validators

	blocks *prometheus.CounterVec // by result
}

func newFollowState(self crypto.PublicKey, m *metrics) *followState {
	h := fnv.New32a()
	h.Write(self[:])
	s := &followState{known: map[crypto.PublicKey]uint64{}, inflight: map[uint64]followRequest{},
		buffer: map[uint64]*consensus.BlockResponse{}, attempts: map[uint64]int{}, seed: int(h.Sum32() & 0xffff),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_follow_blocks_total",
			Help: "Blocks a follower received, by what became of them: applied, stale (already applied or beyond the window), bad_certificate, rejected (did not apply), and requests that timed_out."},
			[]string{"result"})}
	m.reg.MustRegister(s.blocks)
	return s
}

// runFollower is a follower's main loop: the only writer of its ledger.
func (n *Node) runFollower(ctx context.Context) error {
	pos := consensus.Position{Height: n.ledger.Head().Height + 1, Step: "follow"}
	n.position.Store(&pos)
	n.ready.Store(true)
	defer n.ready.Store(false)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n.followFill(time.Now())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-n.net.Receive():
			if !ok {
				return ctx.Err()
			}
			if err := n.onFollowed(m); err != nil {
				return err
			}
		case now := <-tick.C:
			fs := n.follow
			for h, r := range fs.inflight {
				if now.Sub(r.at) > followTimeout {
					delete(fs.inflight, h)
					fs.attempts[h]++
					fs.blocks.WithLabelValues("timed_out").Inc()
				}
			}
		}
	}
}

// followFill requests the heights of the window that are neither in
// flight nor buffered.
func (n *Node) followFill(now time.Time) {
	fs := n.follow
	var conn []crypto.PublicKey
	var maxKnown uint64
	for _, p := range n.net.Peers() {
		if p.Connected && n.isValidatorPeer(p.PublicKey) {
			conn = append(conn, p.PublicKey)
			maxKnown = max(maxKnown, fs.known[p.PublicKey])
		}
	}
	if len(conn) == 0 {
		return
	}
	head := n.ledger.Head().Height
	for h := head + 1; h <= head+followWindow; h++ {
		if _, ok := fs.inflight[h]; ok {
			continue
		}
		if _, ok := fs.buffer[h]; ok {
			continue
		}
		if h > maxKnown+1 && h > head+1 {
			break // nobody is known to have it; the tip is already asked for
		}
		cands := conn
		if h <= maxKnown {
			cands = cands[:0:0]
			for _, k := range conn {
				if fs.known[k] >= h {
					cands = append(cands, k)
				}
			}
		}
		to := cands[(int(h%1024)+fs.seed+fs.attempts[h])%len(cands)]
		if !n.net.Send(to, chSync, consensus.Encode(&consensus.BlockRequest{Height: h})) {
			fs.attempts[h]++
			continue
		}
		fs.inflight[h] = followRequest{to: to, at: now}
	}
}

// onFollowed handles a message from a validator.
func (n *Node) onFollowed(m p2p.Message) error {
	fs := n.follow
	if !n.isValidatorPeer(m.From) || m.Channel != chSync {
		return nil
	}
	msg, err := consensus.Decode(m.Payload)
	if err != nil {
		n.m.badMessages.Inc()
		return nil
	}
	switch msg := msg.(type) {
	case *consensus.Status:
		fs.known[m.From] = max(fs.known[m.From], msg.Height)
		for h, r := range fs.inflight {
			if r.to == m.From && h > msg.Height+1 {
				delete(fs.inflight, h) // it does not have it yet
			}
		}
	case *consensus.BlockResponse:
		if msg.Block == nil || msg.Cert == nil {
			n.m.badMessages.Inc()
			return nil
		}
		h := msg.Block.Header.Height
		head := n.ledger.Head().Height
		if h <= head || h > head+followWindow {
			fs.blocks.WithLabelValues("stale").Inc()
			return nil
		}
		// The set of h is known once h-2 is committed; a block further
		// ahead waits in the buffer and ledger.Commit verifies it then.
		bad := msg.Cert.Height != h || msg.Cert.BlockHash != msg.Block.Hash()
		if vs, err := n.ledger.ValidatorsAt(h); !bad && err == nil {
			bad = msg.Cert.Verify(n.genesis.ChainID, vs) != nil
		}
		if bad {
			fs.blocks.WithLabelValues("bad_certificate").Inc()
			n.log.Warn("follower: block with a certificate that does not verify", "height", h, "from", m.From)
			delete(fs.inflight, h)
			fs.attempts[h]++
			return nil
		}
		fs.known[m.From] = max(fs.known[m.From], h)
		delete(fs.inflight, h)
		fs.buffer[h] = msg
		return n.followApply()
	}
	return nil
}

// followApply commits the buffered blocks that continue the head.
func (n *Node) followApply() error {
	fs := n.follow
	for {
		h := n.ledger.Head().Height + 1
		r := fs.buffer[h]
		if r == nil {
			return nil
		}
		delete(fs.buffer, h)
		if err := n.followCommit(r); err != nil {
			if errors.Is(err, errLedgerIO) {
				return err
			}
			fs.blocks.WithLabelValues("rejected").Inc()
			fs.attempts[h]++
			n.log.Error("follower: certified block does not apply; asking another validator", "height", h, "err", err)
			return nil
		}
		delete(fs.attempts, h)
		fs.blocks.WithLabelValues("applied").Inc()
	}
}

// errLedgerIO marks a failure to make a block durable (as opposed to a
// block that does not apply): the follower stops, as a validator would.
var errLedgerIO = errors.New("ledger write failed")

// followCommit re-executes a certified block, checks its roots and makes it
// durable, then tells the index and the event hub.
func (n *Node) followCommit(r *consensus.BlockResponse) error {
	b, cert := r.Block, r.Cert
	start := time.Now()
	p, err := n.ledger.Validate(b, execute.Options{})
	if err != nil {
		return err
	}
	if err := n.ledger.Commit(b, cert, p); err != nil {
		return fmt.Errorf("%w: commit height %d: %w", errLedgerIO, b.Header.Height, err)
	}
	n.afterCommitSnapshot(b.Header.Height)
	receipts := p.Result.Receipts
	ev := events.BlockEvent{Block: b, Certificate: cert, Receipts: receipts}
	if err := (fanout.Targets{Index: n.index, Hub: n.hub}).Committed(ev); err != nil {
		n.log.Error("after commit", "height", b.Header.Height, "err", err)
	}
	n.m.observeCommit(b, receipts, time.Since(start))
	pos := consensus.Position{Height: b.Header.Height + 1, Step: "follow"}
	n.position.Store(&pos)
	return nil
}

package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// A validator's side of followers (follower.go is the follower's).
//
// Followers are listed in the validator's config (Config.Followers) by
// key; the transport admits them, never dials them and leaves them out of
// every broadcast, so votes, proposals and mempool gossip never go to them.
// A follower speaks one message to a validator, a BlockRequest on the sync
// channel, and hears back blocks with their certificates and Status
// messages (the validator's committed height). Anything else a follower
// sends is counted and dropped: a follower's vote is never counted, its
// gossip never enters the mempool, its evidence is never stored.
//
// A request for height h is answered by how h stands to the head:
//
//   - h <= head: the block is served by the serving worker (serve.go), under
//     the same per-peer budget and queue bound as validators' catch-up, and
//     the follower is told the head (once per new head) so it can pipeline.
//   - h == head+1: the request is parked (one per follower, the newest
//     wins) and the block is pushed the moment it commits: encoded once, sent
//     to every follower waiting for it. This is how a follower keeps up
//     without polling, and the fan-out is bounded by the listed followers
//     (each parks at one validator at a time).
//   - h > head+1: the validator is behind; it answers its head.
//
// Sends never block: a follower whose queue (p2p.Config.FollowerQueue*) is
// full loses the message and asks again after its request timeout. So a
// slow or stalled follower costs a validator a bounded queue, never a vote.
type followerSet struct {
	names map[crypto.PublicKey]string
	// Owned by the run goroutine.
	wants      map[crypto.PublicKey]uint64 // parked requests
	lastStatus map[crypto.PublicKey]uint64 // head last told to each follower

	requests *prometheus.CounterVec // by result
}

func newFollowerSet(cfg []Peer, m *metrics) followerSet {
	s := followerSet{names: map[crypto.PublicKey]string{}, wants: map[crypto.PublicKey]uint64{}, lastStatus: map[crypto.PublicKey]uint64{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cairn_follower_requests_total",
			Help: "Messages from followers by what became of them: served (queued for the serving worker), parked (pushed at the next commit), behind (answered with our head), status (a coming validator's status, answered with our head), ignored (anything else)."},
			[]string{"result"})}
	for _, p := range cfg {
		s.names[p.PublicKey] = p.Name
	}
	m.reg.MustRegister(s.requests)
	return s
}

// onFollowerMessage handles a message whose sender is not a validator of
// the current height (run goroutine): a listed follower, or a validator
// admitted for a coming height (valset.go) that is catching up.
func (n *Node) onFollowerMessage(m p2p.Message) {
	fs := &n.followers
	if _, ok := fs.names[m.From]; (!ok && !n.candidates[m.From]) || m.Channel != chSync {
		fs.requests.WithLabelValues("ignored").Inc()
		return
	}
	msg, err := consensus.Decode(m.Payload)
	if st, isStatus := msg.(*consensus.Status); err == nil && isStatus && n.candidates[m.From] {
		// A validator of a coming height catching up tells us where it
		// is: answer with our head so it asks for blocks, also on an idle
		// chain where nothing else would reach it.
		if head := n.ledger.Head().Height; st.Height < head {
			n.net.Send(m.From, chSync, consensus.Encode(&consensus.Status{Height: head}))
		}
		fs.requests.WithLabelValues("status").Inc()
		return
	}
	req, ok := msg.(*consensus.BlockRequest)
	if err != nil || !ok || req.Height == 0 {
		fs.requests.WithLabelValues("ignored").Inc()
		return
	}
	head := n.ledger.Head().Height
	switch {
	case req.Height <= head:
		if fs.lastStatus[m.From] != head {
			fs.lastStatus[m.From] = head
			n.net.Send(m.From, chSync, consensus.Encode(&consensus.Status{Height: head}))
		}
		n.server.offer(serveJob{to: m.From, height: req.Height})
		fs.requests.WithLabelValues("served").Inc()
	case req.Height == head+1:
		fs.wants[m.From] = req.Height
		fs.requests.WithLabelValues("parked").Inc()
	default:
		fs.lastStatus[m.From] = head
		n.net.Send(m.From, chSync, consensus.Encode(&consensus.Status{Height: head}))
		fs.requests.WithLabelValues("behind").Inc()
	}
}

// pushToFollowers sends a just-committed block to the followers parked on
// its height (run goroutine, after the block is durable).
func (n *Node) pushToFollowers(b *types.Block, cert *types.Certificate) {
	fs := &n.followers
	if len(fs.wants) == 0 {
		return
	}
	h := b.Header.Height
	var msg []byte
	for k, want := range fs.wants {
		if want > h {
			continue
		}
		delete(fs.wants, k)
		if want < h {
			continue // stale: the follower asks again
		}
		if msg == nil {
			msg = consensus.Encode(&consensus.BlockResponse{Block: b, Cert: cert})
		}
		n.net.Send(k, chSync, msg)
		fs.lastStatus[k] = h
	}
}

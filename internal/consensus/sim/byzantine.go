package sim

import (
	"strings"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// adversary drives the Byzantine validators. Each runs a correct engine,
// so it follows the chain, and the adversary rewrites what the engine
// sends. In Fork mode the Byzantine validators collude through shared
// state (they are one adversary), which is the strongest attack a
// coalition can mount: split the honest validators into two groups and
// show each group a different block with everyone's votes for it.
type adversary struct {
	s     *sim
	roles []role
	g1    []bool // honest validators shown fork A
	// forks holds the (height, round) slots under attack.
	forks map[slot]bool
}

type slot struct {
	height uint64
	round  uint32
}

func newAdversary(s *sim, roles []role) *adversary {
	a := &adversary{s: s, roles: roles, g1: make([]bool, len(roles)), forks: map[slot]bool{}}
	var honest []int
	for i, r := range roles {
		if r != byzantine {
			honest = append(honest, i)
		}
	}
	for _, i := range honest[:len(honest)/2] {
		a.g1[i] = true
	}
	return a
}

// behaviourFor picks validator i's behaviour: the configured one, or one
// at random from a comma-separated list, or from all but Fork for Mixed.
func (a *adversary) behaviourFor(i int) string {
	kinds := strings.Split(a.s.cfg.Behaviour, ",")
	if a.s.cfg.Behaviour == Mixed {
		kinds = []string{Equivocate, DoubleVote, Invalid, Silent, Garbage}
	}
	if len(kinds) == 1 {
		return kinds[0]
	}
	return kinds[a.s.rng.IntN(len(kinds))]
}

// outbound sends what Byzantine validator nd's engine wanted to send, its way.
func (a *adversary) outbound(nd *replica, targets []int, m consensus.Message) {
	s := a.s
	if isLiar(nd.behaviour) {
		a.lie(nd, targets, m)
		return
	}
	switch nd.behaviour {
	case Silent:
		return
	case Equivocate:
		if p, ok := a.ownProposal(nd, m); ok {
			alt := a.sign(nd, p, altBlock(p.Block))
			for _, t := range targets {
				switch s.rng.IntN(4) {
				case 0:
					s.transmit(nd.id, []int{t}, p)
				case 1:
					s.transmit(nd.id, []int{t}, alt)
				default:
					s.transmit(nd.id, []int{t}, alt)
					s.transmit(nd.id, []int{t}, p)
				}
			}
			return
		}
	case DoubleVote:
		if v, ok := m.(*consensus.VoteMessage); ok && int(v.Vote.Validator) == nd.id {
			other := v.Vote.BlockHash
			if other.IsZero() {
				other = crypto.Sum([]byte{byte(s.rng.Uint32()), byte(v.Vote.Round), 1})
			} else {
				other = crypto.Hash{}
			}
			w := &consensus.VoteMessage{Vote: types.SignVote(nd.key, ChainID, v.Vote.Type, v.Vote.Height, v.Vote.Round, other, uint16(nd.id))}
			for _, t := range targets {
				switch s.rng.IntN(3) {
				case 0:
					s.transmit(nd.id, []int{t}, v)
				case 1:
					s.transmit(nd.id, []int{t}, w)
				default:
					s.transmit(nd.id, []int{t}, w)
					s.transmit(nd.id, []int{t}, v)
				}
			}
			return
		}
	case Invalid:
		if p, ok := a.ownProposal(nd, m); ok {
			bad := a.sign(nd, p, a.invalidBlock(nd, p.Block))
			s.transmit(nd.id, targets, bad)
			for _, t := range []types.VoteType{types.Prevote, types.Precommit} {
				v := types.SignVote(nd.key, ChainID, t, p.Height, p.Round, bad.BlockHash(), uint16(nd.id))
				s.transmit(nd.id, targets, &consensus.VoteMessage{Vote: v})
			}
			return
		}
	case Garbage:
		s.transmit(nd.id, targets, m)
		if v, ok := m.(*consensus.VoteMessage); ok && s.rng.IntN(4) == 0 && len(nd.chain) > 0 {
			// A proposal for a round it does not lead, validly signed by
			// itself: honest validators must refuse it as the wrong proposer.
			if s.setAt(v.Vote.Height).Proposer(v.Vote.Height, v.Vote.Round) != nd.id {
				last := nd.chain[len(nd.chain)-1]
				s.transmit(nd.id, targets, consensus.SignProposal(nd.key, ChainID, v.Vote.Height, v.Vote.Round, -1, last))
			}
		}
		b := consensus.Encode(m)
		for _, t := range targets {
			if s.rng.IntN(2) == 0 {
				junk := make([]byte, 1+s.rng.IntN(200))
				for i := range junk {
					junk[i] = byte(s.rng.Uint32())
				}
				junk[0] = byte(1 + s.rng.IntN(6))
				s.transmitRaw(nd.id, t, junk)
			}
			if s.rng.IntN(2) == 0 && len(b) > 0 {
				flipped := append([]byte(nil), b...)
				for k := 0; k < 1+s.rng.IntN(3); k++ {
					flipped[s.rng.IntN(len(flipped))] ^= byte(1 << s.rng.IntN(8))
				}
				s.transmitRaw(nd.id, t, flipped)
			}
		}
		return
	case Fork:
		if a.fork(nd, targets, m) {
			return
		}
	}
	s.transmit(nd.id, targets, m)
}

func (a *adversary) ownProposal(nd *replica, m consensus.Message) (*consensus.Proposal, bool) {
	p, ok := m.(*consensus.Proposal)
	return p, ok && a.s.setAt(p.Height).Proposer(p.Height, p.Round) == nd.id
}

func (a *adversary) sign(nd *replica, p *consensus.Proposal, b *types.Block) *consensus.Proposal {
	return consensus.SignProposal(nd.key, ChainID, p.Height, p.Round, p.POLRound, b)
}

// altBlock is a second valid block for the same slot: same transactions,
// another timestamp, hence another hash.
func altBlock(b *types.Block) *types.Block {
	alt := &types.Block{Header: b.Header, Txs: b.Txs, LastCommit: b.LastCommit}
	alt.Header.Time++
	return alt
}

// invalidBlock breaks b in one of three ways a correct validator must
// catch: a transaction with a forged signature, a replay of a committed
// transaction, or a wrong state root.
func (a *adversary) invalidBlock(nd *replica, b *types.Block) *types.Block {
	s := a.s
	bad := &types.Block{Header: b.Header, Txs: append([]*types.Tx(nil), b.Txs...), LastCommit: b.LastCommit}
	kind := s.rng.IntN(3)
	if kind == 1 && len(nd.chain) == 0 {
		kind = 0
	}
	switch kind {
	case 0:
		src := s.pool.get(s.rng.IntN(max(s.nextTx, 1)))
		forged := &types.Tx{ChainID: src.ChainID, Sender: src.Sender, Nonce: src.Nonce + 1_000_000,
			Timestamp: src.Timestamp, Payload: src.Payload, Signature: src.Signature}
		bad.Txs = append(bad.Txs, forged)
	case 1:
		var old []*types.Tx
		for _, blk := range nd.chain {
			old = append(old, blk.Txs...)
		}
		if len(old) > 0 {
			bad.Txs = append(bad.Txs, old[s.rng.IntN(len(old))])
		} else {
			bad.Header.StateRoot = crypto.Sum([]byte("wrong"))
			return bad
		}
	case 2:
		bad.Header.StateRoot = crypto.Sum([]byte{byte(s.rng.Uint32()), 2})
		return bad
	}
	bad.Header.TxCount = uint32(len(bad.Txs))
	bad.Header.TxRoot = merkle.RootOfHashes(bad.TxHashes())
	bad.Header.StateRoot = stateRoot(nd.stateRoot(), bad.Header.TxRoot)
	return bad
}

// fork runs the colluding attack: when a Byzantine validator proposes, it
// shows block A to the first half of the honest validators and block B to
// the second, and every Byzantine validator prevotes and precommits A to
// the first half and B to the second. With more than f Byzantine, each
// half plus the coalition is a quorum, so each half commits its block.
// It reports whether it handled m.
func (a *adversary) fork(nd *replica, targets []int, m consensus.Message) bool {
	s := a.s
	switch m := m.(type) {
	case *consensus.VoteMessage:
		// Our engines' own votes in an attacked slot would spoil it.
		return a.forks[slot{m.Vote.Height, m.Vote.Round}] && int(m.Vote.Validator) == nd.id
	case *consensus.Proposal:
		if s.setAt(m.Height).Proposer(m.Height, m.Round) != nd.id {
			return false
		}
		sl := slot{m.Height, m.Round}
		if a.forks[sl] {
			return true
		}
		a.forks[sl] = true
		pa, pb := m, a.sign(nd, m, altBlock(m.Block))
		var ta, tb []int
		for _, t := range targets {
			if a.roles[t] == byzantine || a.g1[t] {
				ta = append(ta, t)
			} else {
				tb = append(tb, t)
			}
		}
		s.transmit(nd.id, ta, pa)
		s.transmit(nd.id, tb, pb)
		for _, z := range s.nodes {
			if z.role != byzantine || z.behaviour != Fork || !z.up {
				continue
			}
			var ga, gb []int
			for _, t := range s.others(z.id) {
				if a.roles[t] == byzantine {
					continue
				}
				if a.g1[t] {
					ga = append(ga, t)
				} else {
					gb = append(gb, t)
				}
			}
			for _, t := range []types.VoteType{types.Prevote, types.Precommit} {
				va := types.SignVote(z.key, ChainID, t, m.Height, m.Round, pa.BlockHash(), uint16(z.id))
				vb := types.SignVote(z.key, ChainID, t, m.Height, m.Round, pb.BlockHash(), uint16(z.id))
				s.transmit(z.id, ga, &consensus.VoteMessage{Vote: va})
				s.transmit(z.id, gb, &consensus.VoteMessage{Vote: vb})
			}
		}
		return true
	}
	return false
}

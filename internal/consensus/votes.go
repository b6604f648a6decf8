package consensus

// Votes and proposals: the per-round vote sets, and how a received vote or
// proposal is checked, counted, kept as evidence or buffered for later.

import (
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// voteSet holds the votes of one round and type: each validator's first
// vote, and the power behind each block hash (the zero hash is nil). An
// equivocating validator's further votes are kept too (a few, or any for a
// block we know) and count toward their own hash: a quorum that includes an
// equivocator is still a quorum (two quorums still share a correct
// validator), and without this a validator that heard the "wrong" vote
// first could never accept a proof of lock built on the other one.
type voteSet struct {
	votes []types.Vote // first vote per validator
	has   []bool
	extra map[uint16][]types.Vote // further, conflicting votes per validator
	power map[crypto.Hash]uint64
	order []crypto.Hash // hashes in first-seen order, for deterministic scans
	total uint64        // power of distinct voters
}

// maxExtraVotes bounds the conflicting votes kept per validator for blocks
// we have not seen.
const maxExtraVotes = 2

func newVoteSet(n int) *voteSet {
	return &voteSet{votes: make([]types.Vote, n), has: make([]bool, n), power: map[crypto.Hash]uint64{}}
}

func (s *voteSet) addHash(h crypto.Hash, power uint64) {
	if _, ok := s.power[h]; !ok {
		s.order = append(s.order, h)
	}
	s.power[h] += power
}

func (s *voteSet) add(v types.Vote, power uint64) {
	s.votes[v.Validator] = v
	s.has[v.Validator] = true
	s.addHash(v.BlockHash, power)
	s.total += power
}

// holds reports whether the set has v's validator's vote for v's hash.
func (s *voteSet) holds(v *types.Vote) bool {
	if !s.has[v.Validator] {
		return false
	}
	if s.votes[v.Validator].BlockHash == v.BlockHash {
		return true
	}
	for _, x := range s.extra[v.Validator] {
		if x.BlockHash == v.BlockHash {
			return true
		}
	}
	return false
}

func (s *voteSet) addExtra(v types.Vote, power uint64) {
	if s.extra == nil {
		s.extra = map[uint16][]types.Vote{}
	}
	s.extra[v.Validator] = append(s.extra[v.Validator], v)
	s.addHash(v.BlockHash, power)
}

// votesFor returns the votes for h in validator order.
func (s *voteSet) votesFor(h crypto.Hash) []types.Vote {
	var out []types.Vote
	for i, ok := range s.has {
		if !ok {
			continue
		}
		if s.votes[i].BlockHash == h {
			out = append(out, s.votes[i])
			continue
		}
		for _, x := range s.extra[uint16(i)] {
			if x.BlockHash == h {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

func (e *Engine) addVote(v types.Vote) {
	rs := e.roundState(v.Round)
	set := rs.prevotes
	if v.Type == types.Precommit {
		set = rs.precommits
	}
	if set.has[v.Validator] {
		return
	}
	set.add(v, e.vs.Validators[v.Validator].Power)
	e.maxRound[v.Validator] = max(e.maxRound[v.Validator], int64(v.Round))
}

func (e *Engine) addProposal(p *Proposal) {
	rs := e.roundState(p.Round)
	rs.proposals = append(rs.proposals, p)
	h := p.BlockHash()
	if e.blocks[h] == nil {
		e.blocks[h] = p.Block
	}
	who := e.vs.Proposer(p.Height, p.Round)
	e.maxRound[who] = max(e.maxRound[who], int64(p.Round))
}

// otherHeight handles a vote or proposal that is not for our height: old
// ones are dropped, next-height ones buffered, and anything ahead tells us
// the sender has committed the height below.
func (e *Engine) otherHeight(from int, height uint64, m Message) {
	if height < e.height {
		e.stats.Stale++
		return
	}
	e.notePeer(from, height-1)
	if height == e.height+1 && e.futureCount[from] < maxFuturePerPeer {
		e.futureCount[from]++
		e.future = append(e.future, Receive{From: from, Msg: m})
		e.stats.Future++
		return
	}
	e.stats.DroppedFuture++
}

func (e *Engine) verifyVote(v *types.Vote) bool {
	pub := e.vs.Validators[v.Validator].PublicKey
	return e.verify(pub, types.VoteSignBytes(e.cfg.ChainID, v.Type, v.Height, v.Round, v.BlockHash), v.Signature[:])
}

func (e *Engine) onVote(from int, m *VoteMessage) {
	v := &m.Vote
	if v.Height != e.height {
		e.otherHeight(from, v.Height, m)
		return
	}
	if int(v.Validator) >= e.vs.Len() || (v.Type != types.Prevote && v.Type != types.Precommit) {
		e.stats.Malformed++
		return
	}
	if int(v.Validator) == e.self {
		// Our own vote comes back through forwarding; we hold it already
		// (the WAL restores it after a restart), never trust a copy.
		e.stats.Duplicates++
		return
	}
	if uint64(v.Round) > uint64(e.round)+roundWindow {
		// Too far ahead to store; it only counts for the round-skip rule.
		if int64(v.Round) <= e.maxRound[v.Validator] {
			return
		}
		if !e.verifyVote(v) {
			e.stats.BadSignature++
			return
		}
		e.maxRound[v.Validator] = int64(v.Round)
		return
	}
	rs := e.roundState(v.Round)
	set := rs.prevotes
	if v.Type == types.Precommit {
		set = rs.precommits
	}
	if set.has[v.Validator] {
		if set.holds(v) {
			e.stats.Duplicates++
			return
		}
		if !e.verifyVote(v) {
			e.stats.BadSignature++
			return
		}
		k := evidenceKey{v.Validator, v.Round, EvidenceKind(v.Type)}
		if !e.evidenceSeen[k] {
			e.evidenceSeen[k] = true
			e.stats.Equivocations++
			e.ready.Evidence = append(e.ready.Evidence, &DuplicateVote{A: set.votes[v.Validator], B: *v})
		}
		if len(set.extra[v.Validator]) < maxExtraVotes || e.blocks[v.BlockHash] != nil {
			set.addExtra(*v, e.vs.Validators[v.Validator].Power)
		}
		return
	}
	if !e.verifyVote(v) {
		e.stats.BadSignature++
		return
	}
	e.addVote(*v)
}

func (e *Engine) onProposal(from int, p *Proposal) {
	if p.Block == nil || p.POLRound < -1 || (p.POLRound >= 0 && uint32(p.POLRound) >= p.Round) {
		e.stats.Malformed++
		return
	}
	if p.Height != e.height {
		e.otherHeight(from, p.Height, p)
		return
	}
	proposer := e.vs.Proposer(p.Height, p.Round)
	if proposer == e.self {
		e.stats.Duplicates++
		return
	}
	if p.Block.Header.ChainID != e.cfg.ChainID {
		e.stats.WrongChain++
		return
	}
	pub := e.vs.Validators[proposer].PublicKey
	if uint64(p.Round) > uint64(e.round)+roundWindow {
		if int64(p.Round) > e.maxRound[proposer] && p.VerifySignature(e.cfg.ChainID, pub, e.verify) {
			e.maxRound[proposer] = int64(p.Round)
		}
		return
	}
	rs := e.roundState(p.Round)
	h := p.BlockHash()
	for _, q := range rs.proposals {
		if q.BlockHash() == h && q.POLRound == p.POLRound {
			e.stats.Duplicates++
			return
		}
	}
	if len(rs.proposals) >= maxProposalsPerRound {
		e.stats.ConflictingProposals++
		return
	}
	if !p.VerifySignature(e.cfg.ChainID, pub, e.verify) {
		if p.VerifySignature(e.cfg.ChainID, e.vs.Validators[from].PublicKey, e.verify) {
			e.stats.WrongProposer++
		} else {
			e.stats.BadSignature++
		}
		return
	}
	if !headerRoundFits(p) {
		e.stats.InvalidBlocks++
		return
	}
	if len(rs.proposals) > 0 {
		e.stats.ConflictingProposals++
	}
	for _, q := range rs.proposals {
		if q.BlockHash() == h {
			continue // the same block under another POL round: not evidence
		}
		if k := (evidenceKey{uint16(proposer), p.Round, EvidenceProposal}); !e.evidenceSeen[k] {
			e.evidenceSeen[k] = true
			e.ready.Evidence = append(e.ready.Evidence, &ConflictingProposal{Validator: uint16(proposer), A: q.Signed(), B: p.Signed()})
		}
		break
	}
	e.addProposal(p)
}

// headerRoundFits is the rule tying a block's header round to the proposal
// carrying it. A new block (no proof of lock) is built for the proposal's
// own round, so its header names that round and, through it, the proposer
// the header check expects. A re-proposed block (POLRound >= 0) was built
// in an earlier round, at or before the POL round in which a quorum
// prevoted it. Without the rule a proposer could pass its block off as one
// built in another round, by another validator.
func headerRoundFits(p *Proposal) bool {
	hr := p.Block.Header.Round
	if p.POLRound < 0 {
		return hr == p.Round
	}
	return hr <= uint32(p.POLRound)
}

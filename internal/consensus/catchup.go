package consensus

// Re-sending and catch-up: the tick that re-sends what peers may have
// missed, status answers, and fetching, verifying and committing certified
// blocks from peers that are ahead.

import (
	"errors"
	"fmt"
	"math"

	"github.com/cairn-db/cairn/types"
)

type blockReq struct {
	peer     int
	at       int64
	attempts int
	asked    map[int]bool // every peer asked for this height; only their answers are taken
}

type progressMark struct {
	height uint64
	round  uint32
	step   step
}

func (e *Engine) mark() progressMark { return progressMark{e.height, e.round, e.step} }

// needsTick reports whether anything is under way that dropped messages
// could stall: an idle validator (round 0, nothing pending, nothing heard)
// needs no tick, so an idle chain sends nothing.
func (e *Engine) needsTick() bool {
	if e.catchingUp || e.behind() || e.round > 0 || e.step != stepPropose || e.pending.Count > 0 ||
		e.cfg.Cut.EmptyBlockInterval > 0 {
		return true
	}
	rs := e.rounds[0]
	return rs != nil && (len(rs.proposals) > 0 || rs.prevotes.total > 0 || rs.precommits.total > 0)
}

func (e *Engine) behind() bool {
	for _, h := range e.peerHeight {
		if h >= e.height {
			return true
		}
	}
	return false
}

// tick re-sends, when no progress was made since the last tick, what
// peers may have missed: our proposal and votes of this round, the proof
// of lock for validValue, and our status (which makes peers ahead of us
// answer, and peers behind us catch up).
func (e *Engine) tick() {
	e.tickAt = 0
	if e.behind() {
		e.catchingUp = true
	}
	if e.mark() != e.tickMark {
		return
	}
	if p := e.ownProposals[e.round]; p != nil {
		e.broadcast(p)
	}
	for _, t := range []types.VoteType{types.Prevote, types.Precommit} {
		if v, ok := e.ownVotes[voteKey{e.round, t}]; ok {
			e.broadcast(&VoteMessage{Vote: v})
		}
	}
	if e.validValue != nil && e.validRound >= 0 && uint32(e.validRound) < e.round {
		h := e.validValue.Hash()
		if rs := e.rounds[uint32(e.validRound)]; rs != nil {
			for _, p := range rs.proposals {
				if p.BlockHash() == h {
					e.broadcast(p)
					break
				}
			}
			for _, v := range rs.prevotes.votesFor(h) {
				e.broadcast(&VoteMessage{Vote: v})
			}
		}
	}
	e.broadcast(&Status{Height: e.height - 1, Round: e.round})
}

func (e *Engine) notePeer(p int, committed uint64) {
	if committed >= e.peerHeight[p] {
		e.peerHeight[p] = committed
		e.claimAt[p] = e.now
	}
}

// onStatus answers a peer's status. A peer behind us gets our status, so
// that it fetches blocks from us. A peer in an earlier round of our height
// gets the precommits we hold for its round (which let us leave it) and our
// votes of our round (which let it skip ahead): this relaying stands in for
// the gossip layer Tendermint's liveness argument assumes. Answers are
// rate-limited per peer.
func (e *Engine) onStatus(from int, m *Status) {
	e.notePeer(from, m.Height)
	if m.Height >= e.height {
		e.catchingUp = true
		return
	}
	behind := m.Height+1 < e.height
	if !behind && m.Round >= e.round {
		return
	}
	if e.now < e.statusSentTo[from]+e.cfg.Timeouts.Tick/2 {
		return
	}
	e.statusSentTo[from] = e.now
	if behind {
		e.send(from, &Status{Height: e.height - 1, Round: e.round})
		return
	}
	if rs := e.rounds[m.Round]; rs != nil {
		for i, ok := range rs.precommits.has {
			if ok {
				e.send(from, &VoteMessage{Vote: rs.precommits.votes[i]})
			}
		}
	}
	for _, t := range []types.VoteType{types.Prevote, types.Precommit} {
		if v, ok := e.ownVotes[voteKey{e.round, t}]; ok {
			e.send(from, &VoteMessage{Vote: v})
		}
	}
}

// onBlockResponse keeps a fetched block until its height comes. Only an
// answer from a peer we asked for that height is taken: an unsolicited
// block (even one that would verify) could otherwise occupy the height's
// slot ahead of the honest answer, and a peer that kept sending junk could
// hold catch-up back indefinitely.
func (e *Engine) onBlockResponse(from int, m *BlockResponse) {
	if m.Block == nil || m.Cert == nil {
		e.stats.Malformed++
		return
	}
	h := m.Block.Header.Height
	if h < e.height || h >= e.height+e.window || e.fetched[h] != nil {
		e.stats.Stale++
		return
	}
	if req := e.requests[h]; req == nil || !req.asked[from] {
		e.stats.Unsolicited++
		return
	}
	e.fetched[h] = m
}

// requestBlocks asks peers that claim to be ahead for the next missing
// heights, a window at a time, re-asking another peer after a tick.
func (e *Engine) requestBlocks() {
	var top uint64
	for _, h := range e.peerHeight {
		top = max(top, h)
	}
	if top < e.height {
		e.catchingUp = false
		return
	}
	for h := e.height; h < e.height+e.window && h <= top; h++ {
		if e.fetched[h] != nil {
			continue
		}
		req := e.requests[h]
		if req != nil && e.now < req.at+e.cfg.Timeouts.Tick {
			continue
		}
		attempts := 0
		asked := map[int]bool{}
		if req != nil {
			attempts, asked = req.attempts, req.asked
			// No answer: forget the peer's claim unless it repeated it
			// since we asked, so a peer that lies about its height cannot
			// keep us asking. An honest peer ahead of us tells us again
			// when it answers our status.
			if e.peerHeight[req.peer] >= h && e.claimAt[req.peer] <= req.at {
				e.peerHeight[req.peer] = h - 1
			}
		}
		var cands []int
		for i, ph := range e.peerHeight {
			if i != e.self && ph >= h {
				cands = append(cands, i)
			}
		}
		if len(cands) == 0 {
			break
		}
		peer := cands[(int(h%uint64(len(cands)))+attempts)%len(cands)]
		e.send(peer, &BlockRequest{Height: h})
		asked[peer] = true
		e.requests[h] = &blockReq{peer: peer, at: e.now, attempts: attempts + 1, asked: asked}
	}
}

// applyFetched commits the fetched block for our height if its certificate
// and links verify.
func (e *Engine) applyFetched() bool {
	resp := e.fetched[e.height]
	if resp == nil {
		return false
	}
	delete(e.fetched, e.height)
	if err := e.checkCertified(resp.Block, resp.Cert); err != nil {
		e.stats.BadCatchUp++
		if r := e.requests[e.height]; r != nil {
			r.at = math.MinInt64 / 2 // ask someone else at once
		}
		return false
	}
	e.commit(resp.Block, resp.Cert, true)
	return true
}

func (e *Engine) checkCertified(b *types.Block, c *types.Certificate) error {
	h := &b.Header
	switch {
	case h.Height != e.height || c.Height != e.height:
		return fmt.Errorf("fetched block %d with certificate %d, need %d", h.Height, c.Height, e.height)
	case h.ChainID != e.cfg.ChainID:
		return fmt.Errorf("fetched block for chain %q", h.ChainID)
	case h.ParentHash != e.lastHash:
		return fmt.Errorf("fetched block %d does not link to %s", h.Height, e.lastHash)
	case b.Hash() != c.BlockHash:
		return fmt.Errorf("fetched block %d does not match its certificate", h.Height)
	case h.ValidatorsHash != e.vs.Hash():
		return errors.New("fetched block names another validator set")
	}
	if err := b.CheckTxs(); err != nil {
		return err
	}
	return VerifyCertificate(e.cfg.ChainID, e.vs, c, e.cfg.Verify)
}

// VerifyCertificate is types.Certificate.Verify with a pluggable signature
// check; with verify nil it is exactly c.Verify (batch verification).
func VerifyCertificate(chainID string, vs *types.ValidatorSet, c *types.Certificate, verify VerifyFunc) error {
	if verify == nil {
		return c.Verify(chainID, vs)
	}
	if c.BlockHash.IsZero() {
		return fmt.Errorf("certificate for height %d: nil block hash", c.Height)
	}
	msg := c.SignBytes(chainID)
	var power uint64
	for i, s := range c.Sigs {
		if int(s.Validator) >= vs.Len() {
			return fmt.Errorf("certificate for height %d: validator index %d out of range", c.Height, s.Validator)
		}
		if i > 0 && s.Validator <= c.Sigs[i-1].Validator {
			return fmt.Errorf("certificate for height %d: signatures not strictly ordered by validator", c.Height)
		}
		if !verify(vs.Validators[s.Validator].PublicKey, msg, s.Signature[:]) {
			return fmt.Errorf("certificate for height %d: bad signature from validator %d", c.Height, s.Validator)
		}
		power += vs.Validators[s.Validator].Power
	}
	if power < vs.Quorum() {
		return fmt.Errorf("certificate for height %d: signers hold power %d, quorum is %d", c.Height, power, vs.Quorum())
	}
	return nil
}

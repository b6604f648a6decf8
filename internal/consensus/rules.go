package consensus

// The round rules of Algorithm 1: entering a round, the upon-rules that
// propose, vote, lock and decide, the timeouts, block validity, and the
// one place votes are signed.

import (
	"errors"
	"fmt"
	"sort"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

func (e *Engine) proposeTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Propose + int64(r)*e.cfg.Timeouts.ProposeDelta
}
func (e *Engine) prevoteTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Prevote + int64(r)*e.cfg.Timeouts.PrevoteDelta
}
func (e *Engine) precommitTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Precommit + int64(r)*e.cfg.Timeouts.PrecommitDelta
}

// StartRound of Algorithm 1: enter round r in the propose step. The
// proposer acts in proposeRule; everyone else waits for a proposal.
// Rounds above 0 arm timeoutPropose at once; round 0 arms it only when
// there is something to decide (see armTimers), which keeps an idle chain
// silent.
func (e *Engine) startRound(r uint32) {
	if r != e.round {
		e.buildRound = -1
	}
	if r > 0 && r > e.round {
		e.stats.Rounds++
	}
	e.round, e.step = r, stepPropose
	e.proposeDeadline, e.cutTimerAt = 0, 0
	e.roundState(r)
	if r > 0 {
		e.setProposeDeadline(e.now + e.proposeTimeout(r))
	}
}

func (e *Engine) setProposeDeadline(at int64) {
	if e.proposeDeadline == 0 || at < e.proposeDeadline {
		e.proposeDeadline = at
		e.timer(TimerPropose, e.round, at)
	}
}

// process applies the upon-rules of Algorithm 1 until none fires, then
// arms the timers the new state needs.
func (e *Engine) process() {
	for i := 0; i < maxRuleIterations && !e.deferred; i++ {
		if !(e.applyFetched() || e.decisionRule() || e.skipRule() || e.proposeRule() ||
			e.prevoteRule() || e.prevoteAnyRule() || e.lockRule() || e.prevoteNilRule() || e.precommitAnyRule()) {
			break
		}
	}
	if e.catchingUp {
		e.requestBlocks()
	}
	e.armTimers()
}

// decisionRule, lines 49-54: a block with a quorum of precommits in any
// round of this height is decided, with those precommits as certificate.
func (e *Engine) decisionRule() bool {
	for _, r := range e.roundList {
		pc := e.rounds[r].precommits
		for _, h := range pc.order {
			if h.IsZero() || pc.power[h] < e.quorum {
				continue
			}
			b := e.blocks[h]
			if b == nil || !e.valid(h, b) {
				continue
			}
			e.commit(b, types.NewCertificate(e.height, r, h, pc.votesFor(h)), false)
			return true
		}
	}
	return false
}

// skipRule, lines 55-56: f+1 of power seen in a higher round means at
// least one correct validator is there; jump to the highest such round.
func (e *Engine) skipRule() bool {
	type vr struct {
		round int64
		power uint64
	}
	var above []vr
	for i, r := range e.maxRound {
		if r > int64(e.round) {
			above = append(above, vr{r, e.vs.Validators[i].Power})
		}
	}
	if len(above) == 0 {
		return false
	}
	sort.Slice(above, func(i, j int) bool { return above[i].round > above[j].round })
	var acc uint64
	for _, a := range above {
		acc += a.power
		if acc >= e.skip {
			e.startRound(uint32(a.round))
			return true
		}
	}
	return false
}

// proposeRule, lines 14-19: the proposer of this round proposes validValue
// if it has one, else asks the app for a new block. In round 0 it waits
// until the cut policy says a block is due.
func (e *Engine) proposeRule() bool {
	if e.self < 0 || e.step != stepPropose || e.vs.Proposer(e.height, e.round) != e.self || e.ownProposals[e.round] != nil {
		return false
	}
	if e.validValue != nil && e.validRound >= 0 && uint32(e.validRound) < e.round {
		e.propose(e.validValue, e.validRound)
		return true
	}
	if e.buildRound == int64(e.round) {
		return false
	}
	if e.round == 0 && !e.cutDue() {
		return false
	}
	e.buildRound = int64(e.round)
	e.ready.Build = &BuildRequest{
		Height: e.height, Round: e.round, ParentHash: e.lastHash, Proposer: e.cfg.Key.Public(),
		ValidatorsHash: e.vs.Hash(), Time: e.now, MaxTxs: e.cfg.Cut.MaxTxs, MaxBytes: e.cfg.Cut.MaxBytes,
	}
	return false
}

// cutDue reports whether the round-0 proposer should cut a block now.
func (e *Engine) cutDue() bool {
	at, ok := e.cutDeadline()
	return ok && e.now >= at
}

// cutDeadline is when the round-0 proposer cuts a block; ok is false when
// it has nothing to propose.
func (e *Engine) cutDeadline() (at int64, ok bool) {
	c := e.cfg.Cut
	if e.pending.Count > 0 {
		if e.pending.Count >= c.MaxTxs || e.pending.Bytes >= c.MaxBytes {
			return e.heightStart, true
		}
		at, ok = max(e.pending.Since+c.MaxDelay, e.heightStart), true
		if c.CutWhenIdle && e.pending.Since >= e.heightStart {
			// Idle: see CutPolicy.
			at = max(e.pending.Since, e.heightStart)
		}
	}
	if c.EmptyBlockInterval > 0 {
		if ea := e.heightStart + c.EmptyBlockInterval; !ok || ea < at {
			at, ok = ea, true
		}
	}
	return at, ok
}

func (e *Engine) propose(b *types.Block, polRound int32) {
	p := SignProposal(e.cfg.Key, e.cfg.ChainID, e.height, e.round, polRound, b)
	e.ownProposals[e.round] = p
	e.ready.WAL = append(e.ready.WAL, WALRecord{Kind: RecordProposal, Height: e.height, Proposal: p})
	e.broadcast(p)
	if polRound >= 0 {
		// Forward the proof of lock, so that validators that missed those
		// prevotes (or got them only from Byzantine peers) can accept v.
		if rs := e.rounds[uint32(polRound)]; rs != nil {
			for _, v := range rs.prevotes.votesFor(p.BlockHash()) {
				e.broadcast(&VoteMessage{Vote: v})
			}
		}
	}
	e.addProposal(p)
}

func (e *Engine) blockBuilt(ev BlockBuilt) {
	if ev.Block == nil || ev.Height != e.height || ev.Round != e.round || e.step != stepPropose ||
		e.self < 0 || e.vs.Proposer(e.height, e.round) != e.self || e.ownProposals[e.round] != nil || e.validValue != nil {
		return
	}
	h := ev.Block.Header
	if h.Round != e.round || h.Proposer != e.cfg.Key.Public() {
		e.stats.InvalidBlocks++
		return
	}
	if err := e.checkBlock(ev.Block); err != nil {
		e.stats.InvalidBlocks++
		return
	}
	e.propose(ev.Block, -1)
}

// prevoteRule, lines 22-33: in the propose step, prevote the proposal if
// it is valid and we are not locked on something else (or a quorum of
// prevotes in its POL round, at or after our lock, unlocks us); else nil.
func (e *Engine) prevoteRule() bool {
	if e.step != stepPropose {
		return false
	}
	rs := e.rounds[e.round]
	if rs == nil {
		return false
	}
	for _, p := range rs.proposals {
		h := p.BlockHash()
		if p.POLRound < 0 {
			if e.valid(h, p.Block) && (e.lockedRound < 0 || e.lockedHash == h) {
				e.prevote(h)
			} else {
				e.prevote(crypto.Hash{})
			}
			return true
		}
		pol := e.rounds[uint32(p.POLRound)]
		if pol == nil || pol.prevotes.power[h] < e.quorum {
			continue
		}
		if e.valid(h, p.Block) && (e.lockedRound <= p.POLRound || e.lockedHash == h) {
			e.prevote(h)
		} else {
			e.prevote(crypto.Hash{})
		}
		return true
	}
	return false
}

// prevoteAnyRule, lines 34-35: a quorum of prevotes of any kind arms
// timeoutPrevote, once per round.
func (e *Engine) prevoteAnyRule() bool {
	rs := e.rounds[e.round]
	if e.step != stepPrevote || rs == nil || rs.prevoteTimer || rs.prevotes.total < e.quorum {
		return false
	}
	rs.prevoteTimer = true
	e.timer(TimerPrevote, e.round, e.now+e.prevoteTimeout(e.round))
	return true
}

// lockRule, lines 36-43: a valid block with a quorum of prevotes in this
// round becomes validValue; if we are still in the prevote step we also
// lock on it and precommit it.
func (e *Engine) lockRule() bool {
	rs := e.rounds[e.round]
	if e.step < stepPrevote || rs == nil || rs.lockFired {
		return false
	}
	for _, h := range rs.prevotes.order {
		if h.IsZero() || rs.prevotes.power[h] < e.quorum {
			continue
		}
		b := e.blocks[h]
		if b == nil || !e.valid(h, b) {
			continue
		}
		rs.lockFired = true
		if e.step == stepPrevote {
			e.lockedRound, e.lockedValue, e.lockedHash = int32(e.round), b, h
			e.ready.WAL = append(e.ready.WAL, WALRecord{Kind: RecordLock, Height: e.height, Round: e.round, Block: b})
			e.precommit(h)
		}
		e.validRound, e.validValue = int32(e.round), b
		return true
	}
	return false
}

// prevoteNilRule, lines 44-46: a quorum of nil prevotes means precommit nil.
func (e *Engine) prevoteNilRule() bool {
	rs := e.rounds[e.round]
	if e.step != stepPrevote || rs == nil || rs.prevotes.power[crypto.Hash{}] < e.quorum {
		return false
	}
	e.precommit(crypto.Hash{})
	return true
}

// precommitAnyRule, lines 47-48: a quorum of precommits of any kind arms
// timeoutPrecommit, once per round.
func (e *Engine) precommitAnyRule() bool {
	rs := e.rounds[e.round]
	if rs == nil || rs.precommitTimer || rs.precommits.total < e.quorum {
		return false
	}
	rs.precommitTimer = true
	e.timer(TimerPrecommit, e.round, e.now+e.precommitTimeout(e.round))
	return true
}

func (e *Engine) prevote(h crypto.Hash) {
	e.signVote(types.Prevote, h)
	e.step = stepPrevote
}

func (e *Engine) precommit(h crypto.Hash) {
	e.signVote(types.Precommit, h)
	e.step = stepPrecommit
}

// signVote signs and broadcasts our vote of type t for the current round,
// unless we already signed one (before a restart, say): then that same
// vote is sent again. This is the one place votes are signed, so a
// validator can never sign two different votes for one (height, round,
// type).
func (e *Engine) signVote(t types.VoteType, h crypto.Hash) {
	if e.self < 0 {
		return
	}
	k := voteKey{e.round, t}
	v, ok := e.ownVotes[k]
	if !ok {
		v = types.SignVote(e.cfg.Key, e.cfg.ChainID, t, e.height, e.round, h, uint16(e.self))
		e.ownVotes[k] = v
		e.ready.WAL = append(e.ready.WAL, WALRecord{Kind: RecordVote, Height: e.height, Vote: v})
		e.addVote(v)
	}
	e.broadcast(&VoteMessage{Vote: v})
}

// timeout handles OnTimeoutPropose/Prevote/Precommit (lines 57-65) and the
// engine's own cut and tick timers. Stale timers are ignored.
func (e *Engine) timeout(t Timer) {
	if t.Kind == TimerTick {
		if t.At == e.tickAt {
			e.tick()
		}
		return
	}
	if t.Height != e.height {
		return
	}
	switch t.Kind {
	case TimerPropose:
		if t.Round == e.round && e.step == stepPropose && e.proposeDeadline != 0 && e.now >= e.proposeDeadline {
			e.prevote(crypto.Hash{})
		}
	case TimerPrevote:
		if t.Round == e.round && e.step == stepPrevote {
			e.precommit(crypto.Hash{})
		}
	case TimerPrecommit:
		if t.Round == e.round {
			e.startRound(e.round + 1)
		}
	case TimerCut:
		// proposeRule re-checks the cut policy in process.
	}
}

// armTimers sets the timers the current state needs that are not yet set.
func (e *Engine) armTimers() {
	if e.round == 0 && e.step == stepPropose && e.self >= 0 {
		// Round 0 waits for work. A validator with transactions pending
		// gives the proposer the cut delay plus timeoutPropose; one that
		// sees others voting joins in; with an empty-block interval the
		// height always ends. Idle validators set no timer at all.
		p := e.proposeTimeout(0)
		if e.pending.Count > 0 {
			e.setProposeDeadline(max(e.pending.Since+e.cfg.Cut.MaxDelay, e.heightStart) + p)
		}
		if e.cfg.Cut.EmptyBlockInterval > 0 {
			e.setProposeDeadline(e.heightStart + e.cfg.Cut.EmptyBlockInterval + p)
		}
		if rs := e.rounds[0]; rs != nil && (rs.prevotes.total > 0 || rs.precommits.total > 0) {
			e.setProposeDeadline(e.now + p)
		}
		if e.vs.Proposer(e.height, 0) == e.self && e.ownProposals[0] == nil && e.buildRound != 0 {
			if at, ok := e.cutDeadline(); ok && at > e.now && at != e.cutTimerAt {
				e.cutTimerAt = at
				e.timer(TimerCut, 0, at)
			}
		}
	}
	if e.tickAt == 0 && e.needsTick() {
		e.tickAt = e.now + e.cfg.Timeouts.Tick
		e.tickMark = e.mark()
		e.timer(TimerTick, e.round, e.tickAt)
	}
}

// valid is valid(v) of Algorithm 1, memoised per block hash.
func (e *Engine) valid(h crypto.Hash, b *types.Block) bool {
	err, ok := e.validity[h]
	if !ok {
		err = e.checkBlock(b)
		if err == nil {
			if aerr := e.cfg.App.ValidateBlock(b); aerr != nil {
				err = fmt.Errorf("app: %w", aerr)
			}
		}
		e.validity[h] = err
		if err != nil {
			e.stats.InvalidBlocks++
		}
	}
	return err == nil
}

// checkBlock is the part of validity the engine can judge alone.
func (e *Engine) checkBlock(b *types.Block) error {
	h := &b.Header
	switch {
	case h.ChainID != e.cfg.ChainID:
		return fmt.Errorf("block for chain %q", h.ChainID)
	case h.Height != e.height:
		return fmt.Errorf("block height %d, deciding %d", h.Height, e.height)
	case h.ParentHash != e.lastHash:
		return fmt.Errorf("block parent %s, last committed %s", h.ParentHash, e.lastHash)
	case h.ValidatorsHash != e.vs.Hash():
		return errors.New("block names another validator set")
	case h.Proposer != e.vs.Validators[e.vs.Proposer(h.Height, h.Round)].PublicKey:
		return fmt.Errorf("block built by %s, not the proposer of its round %d", h.Proposer, h.Round)
	case len(b.Txs) > e.cfg.Cut.MaxTxs:
		return fmt.Errorf("block has %d txs, limit %d", len(b.Txs), e.cfg.Cut.MaxTxs)
	}
	size := 0
	for _, tx := range b.Txs {
		size += tx.Size()
	}
	if size > e.cfg.Cut.MaxBytes {
		return fmt.Errorf("block has %d bytes of txs, limit %d", size, e.cfg.Cut.MaxBytes)
	}
	return b.CheckTxs()
}

package consensus

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// VerifyFunc checks sig over signBytes (which already carry their domain
// prefix) for pub. The default is crypto.VerifyRaw; the simulator injects a
// memoising verifier because a thousand seeded runs verify the same
// signatures over and over.
type VerifyFunc func(pub crypto.PublicKey, signBytes, sig []byte) bool

// App is what the engine needs from the application behind it. It must be
// deterministic and must not call back into the engine.
type App interface {
	// ValidateBlock reports whether b may be committed at its height on top
	// of the last committed block. The engine has already checked the chain
	// id, height, parent hash, validators hash, header proposer, tx count
	// and tx root, and the block limits. The node executes the block here
	// and caches the result for the commit; the engine calls it at most once
	// per block hash and height.
	ValidateBlock(b *types.Block) error
}

// CutPolicy decides when a proposer cuts a block: at MaxTxs pending
// transactions, at MaxBytes pending bytes, or MaxDelay milliseconds after
// the oldest pending transaction arrived, whichever comes first. With
// nothing pending the proposer of round 0 proposes nothing, unless
// EmptyBlockInterval (ms) is positive and has elapsed since the height
// started. MaxTxs and MaxBytes must be the chain's genesis parameters: the
// engine also rejects proposals above them.
type CutPolicy struct {
	MaxTxs             int
	MaxBytes           int
	MaxDelay           int64
	EmptyBlockInterval int64
}

// Timeouts are in milliseconds. Round r waits Propose+r*ProposeDelta for a
// proposal, and so on: timeouts grow with the round so that after the
// network stabilises some round is long enough for everyone (Tendermint's
// partial-synchrony argument). Tick is how often a validator that made no
// progress re-sends its latest messages and status, which is what survives
// dropped messages; it also paces catch-up requests.
type Timeouts struct {
	Propose, ProposeDelta     int64
	Prevote, PrevoteDelta     int64
	Precommit, PrecommitDelta int64
	Tick                      int64
}

// DefaultTimeouts suit validators on one continent.
func DefaultTimeouts() Timeouts {
	return Timeouts{Propose: 1000, ProposeDelta: 500, Prevote: 500, PrevoteDelta: 250,
		Precommit: 500, PrecommitDelta: 250, Tick: 1000}
}

// Config is everything an engine is built from.
type Config struct {
	ChainID    string
	Validators *types.ValidatorSet
	// Key is this validator's signing key; nil for a follower that never votes.
	Key      *crypto.PrivateKey
	App      App
	Cut      CutPolicy
	Timeouts Timeouts
	// CatchUpWindow is how many heights a lagging validator fetches at once
	// (default 8).
	CatchUpWindow int
	// Verify checks signatures; nil means crypto.VerifyRaw.
	Verify VerifyFunc
}

// State is where an engine starts: the last committed block and the WAL
// records read back after a restart. Records for other heights than
// Height+1 are ignored, so a driver may pass its whole WAL.
type State struct {
	Height    uint64      // last committed height; 0 before the first block
	BlockHash crypto.Hash // hash of that block; zero at height 0
	WAL       []Record
}

// Broadcast as Outbound.To sends a message to every other validator.
const Broadcast = -1

// Outbound is a message to send: to one validator (by index) or Broadcast.
type Outbound struct {
	To  int
	Msg Message
}

// TimerKind names what a timer is for.
type TimerKind uint8

// Timer kinds.
const (
	TimerPropose TimerKind = iota + 1
	TimerPrevote
	TimerPrecommit
	TimerCut  // the proposer's block-cut deadline
	TimerTick // re-send and catch-up pacing
)

func (k TimerKind) String() string {
	return [...]string{"?", "propose", "prevote", "precommit", "cut", "tick"}[min(int(k), 5)]
}

// Timer asks the driver to deliver Timeout{Timer} at time At (Unix ms).
// Timers are never cancelled; the engine ignores the ones that no longer
// matter, so a driver may deliver them late but must not drop them.
type Timer struct {
	Kind   TimerKind
	Height uint64
	Round  uint32
	At     int64
}

// Commit is a decided block with the certificate that proves it. CatchUp
// marks blocks fetched from a peer rather than decided here.
type Commit struct {
	Block   *types.Block
	Cert    *types.Certificate
	CatchUp bool
}

// BuildRequest asks the application for a block to propose. The driver
// answers with a BlockBuilt event; the header must carry these fields.
type BuildRequest struct {
	Height         uint64
	Round          uint32
	ParentHash     crypto.Hash
	Proposer       crypto.PublicKey
	ValidatorsHash crypto.Hash
	Time           int64
	MaxTxs         int
	MaxBytes       int
}

// ServeRequest asks the driver to send BlockResponse{block, certificate}
// for Height from its store to validator To. The engine keeps no blocks
// after committing them; the store does.
type ServeRequest struct {
	To     int
	Height uint64
}

// DuplicateVote is evidence that a validator signed two different votes
// of one type for one height and round.
type DuplicateVote struct {
	A, B types.Vote
}

// Verify checks that d is real evidence against validator A.Validator.
func (d *DuplicateVote) Verify(chainID string, vs *types.ValidatorSet) error {
	a, b := d.A, d.B
	if a.Validator != b.Validator || a.Height != b.Height || a.Round != b.Round || a.Type != b.Type {
		return errors.New("duplicate vote: votes are not for the same validator, height, round and type")
	}
	if a.BlockHash == b.BlockHash {
		return errors.New("duplicate vote: votes agree")
	}
	if err := a.Verify(chainID, vs); err != nil {
		return fmt.Errorf("duplicate vote: %w", err)
	}
	if err := b.Verify(chainID, vs); err != nil {
		return fmt.Errorf("duplicate vote: %w", err)
	}
	return nil
}

// Ready is what one Step asks the driver to do, in this order:
//
//  1. Commits: apply and store each block with its certificate, synced.
//  2. WAL: append each record and fsync. A record of a higher height than
//     the log holds starts a new log for that height (the old one is no
//     longer needed: its block is stored). Records of lower heights may be
//     dropped.
//  3. Messages: only now send them; every vote and proposal among them is
//     in the durable WAL.
//  4. Timers, Build, Serve, Evidence, in any order.
//
// After applying Commits the driver must report the mempool again with a
// TxsAvailable event: the engine forgets pending counts at each new height,
// and a Step that commits stops there, so that App.ValidateBlock is never
// asked about the next height before the app has applied the commit. The
// next Step, whatever its event, resumes the new height.
type Ready struct {
	WAL      []Record
	Messages []Outbound
	Timers   []Timer
	Commits  []Commit
	Build    *BuildRequest
	Serve    []ServeRequest
	Evidence []DuplicateVote
}

// Empty reports whether there is nothing to do.
func (r *Ready) Empty() bool {
	return len(r.WAL) == 0 && len(r.Messages) == 0 && len(r.Timers) == 0 && len(r.Commits) == 0 &&
		r.Build == nil && len(r.Serve) == 0 && len(r.Evidence) == 0
}

// Event is an input to Step: Receive, Timeout, TxsAvailable, BlockBuilt or
// PeerConnected.
type Event interface{ isEvent() }

// Receive is a decoded message from validator From (its index in the set;
// the transport authenticates it). The message may have been signed by
// someone else: votes and proposals are forwarded.
type Receive struct {
	From int
	Msg  Message
}

// Timeout is a timer the engine asked for, now due.
type Timeout struct{ Timer Timer }

// TxsAvailable reports the mempool: Count transactions of Bytes total
// encoded size are ready to propose, the oldest since Since (Unix ms).
type TxsAvailable struct {
	Count int
	Bytes int
	Since int64
}

// BlockBuilt answers a BuildRequest.
type BlockBuilt struct {
	Height uint64
	Round  uint32
	Block  *types.Block
}

// PeerConnected reports that the transport (re)connected to validator Peer.
type PeerConnected struct{ Peer int }

func (PeerConnected) isEvent() {}
func (Receive) isEvent()       {}
func (Timeout) isEvent()       {}
func (TxsAvailable) isEvent()  {}
func (BlockBuilt) isEvent()    {}

// Stats counts what the engine did with its inputs.
type Stats struct {
	Received             uint64 // messages handed to Step
	BadSignature         uint64 // votes or proposals whose signature did not verify
	WrongProposer        uint64 // proposals signed by a validator that is not the round's proposer
	WrongChain           uint64 // proposals for another chain id (votes for another chain fail their signature)
	Malformed            uint64 // out-of-range validator index, bad POL round, unknown sender
	Stale                uint64 // messages for heights already committed
	Future               uint64 // messages buffered for the next height
	DroppedFuture        uint64 // next-height messages over the buffer limit, or further ahead
	Duplicates           uint64 // votes and proposals already held
	Equivocations        uint64 // conflicting votes kept as evidence
	ConflictingProposals uint64 // a proposer's second different proposal for a round
	InvalidBlocks        uint64 // proposed blocks that failed validation
	BadCatchUp           uint64 // fetched blocks whose certificate or link did not verify
	Commits              uint64 // blocks decided by consensus here
	CatchUpCommits       uint64 // blocks committed from a peer's certificate
	Rounds               uint64 // rounds started after round 0
}

type step uint8

const (
	stepPropose step = iota
	stepPrevote
	stepPrecommit
)

func (s step) String() string { return [...]string{"propose", "prevote", "precommit"}[s] }

const (
	// roundWindow bounds how far above its round a validator stores votes
	// and proposals; further rounds only count for the round-skip rule.
	roundWindow = 4
	// maxProposalsPerRound bounds what an equivocating proposer can make
	// a validator hold.
	maxProposalsPerRound = 4
	// maxFuturePerPeer bounds next-height messages buffered per sender.
	maxFuturePerPeer = 8
	// maxRuleIterations bounds one Step's rule evaluation; each iteration
	// makes progress (a vote, a round or a height), so this is never hit.
	maxRuleIterations = 10000
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

type roundState struct {
	proposals  []*Proposal
	prevotes   *voteSet
	precommits *voteSet
	// "for the first time" flags of Algorithm 1.
	prevoteTimer, precommitTimer, lockFired bool
}

type voteKey struct {
	round uint32
	typ   types.VoteType
}

type evidenceKey struct {
	validator uint16
	round     uint32
	typ       types.VoteType
}

type blockReq struct {
	peer     int
	at       int64
	attempts int
}

type progressMark struct {
	height uint64
	round  uint32
	step   step
}

// Engine is one validator's Tendermint state machine. It is not safe for
// concurrent use: one goroutine drives it through Start and Step.
type Engine struct {
	cfg    Config
	vs     *types.ValidatorSet
	self   int
	quorum uint64
	skip   uint64 // f+1 of power: more than any faulty coalition holds
	verify VerifyFunc
	window uint64

	now int64

	height      uint64
	lastHash    crypto.Hash
	heightStart int64
	round       uint32
	step        step
	lockedRound int32
	lockedValue *types.Block
	lockedHash  crypto.Hash
	validRound  int32
	validValue  *types.Block

	rounds    map[uint32]*roundState
	roundList []uint32 // keys of rounds, ascending
	blocks    map[crypto.Hash]*types.Block
	validity  map[crypto.Hash]error
	maxRound  []int64 // per validator, highest round of a verified message at this height

	ownVotes     map[voteKey]types.Vote
	ownProposals map[uint32]*Proposal
	buildRound   int64 // round a BuildRequest was issued for, -1 none

	proposeDeadline int64 // 0: no propose timeout armed for this round
	cutTimerAt      int64

	pending TxsAvailable

	future      []Receive
	futureCount []int

	peerHeight   []uint64
	claimAt      []int64 // when peerHeight was last claimed
	statusSentTo []int64
	catchingUp   bool
	requests     map[uint64]*blockReq
	fetched      map[uint64]*BlockResponse

	tickAt   int64
	tickMark progressMark

	// deferred is set when a commit ended the last Step: the new height's
	// work waits for the next Step, after the driver applied the commit.
	deferred bool

	evidenceSeen map[evidenceKey]bool

	ready Ready
	stats Stats
}

// New builds an engine that decides height st.Height+1, resuming from the
// WAL records of that height. Call Start before the first Step.
func New(cfg Config, st State) (*Engine, error) {
	if cfg.Validators == nil || cfg.Validators.Len() == 0 {
		return nil, errors.New("consensus: no validator set")
	}
	if cfg.App == nil {
		return nil, errors.New("consensus: no app")
	}
	if cfg.Cut.MaxTxs <= 0 || cfg.Cut.MaxBytes <= 0 {
		return nil, fmt.Errorf("consensus: cut policy needs positive max txs and bytes, got %d and %d", cfg.Cut.MaxTxs, cfg.Cut.MaxBytes)
	}
	t := cfg.Timeouts
	if t.Propose <= 0 || t.Prevote <= 0 || t.Precommit <= 0 || t.Tick <= 0 || t.ProposeDelta < 0 || t.PrevoteDelta < 0 || t.PrecommitDelta < 0 {
		return nil, fmt.Errorf("consensus: timeouts must be positive: %+v", t)
	}
	if cfg.CatchUpWindow <= 0 {
		cfg.CatchUpWindow = 8
	}
	n := cfg.Validators.Len()
	e := &Engine{
		cfg:          cfg,
		vs:           cfg.Validators,
		self:         -1,
		quorum:       cfg.Validators.Quorum(),
		skip:         cfg.Validators.MaxFaulty() + 1,
		verify:       cfg.Verify,
		window:       uint64(cfg.CatchUpWindow),
		height:       st.Height + 1,
		lastHash:     st.BlockHash,
		futureCount:  make([]int, n),
		peerHeight:   make([]uint64, n),
		claimAt:      make([]int64, n),
		statusSentTo: make([]int64, n),
		requests:     map[uint64]*blockReq{},
		fetched:      map[uint64]*BlockResponse{},
	}
	if e.verify == nil {
		e.verify = crypto.VerifyRaw
	}
	if cfg.Key != nil {
		e.self = cfg.Validators.IndexOf(cfg.Key.Public())
		if e.self < 0 {
			return nil, fmt.Errorf("consensus: key %s is not in the validator set", cfg.Key.Public())
		}
	}
	for i := range e.statusSentTo {
		e.statusSentTo[i] = math.MinInt64 / 2
	}
	e.resetHeight()
	if err := e.restore(st.WAL); err != nil {
		return nil, err
	}
	return e, nil
}

// restore replays our own signed messages and locks for the current height.
func (e *Engine) restore(recs []Record) error {
	for _, r := range recs {
		if r.Height != e.height {
			continue
		}
		switch r.Kind {
		case RecordVote:
			v := r.Vote
			if int(v.Validator) != e.self {
				return fmt.Errorf("consensus: WAL holds a vote of validator %d, this is %d", v.Validator, e.self)
			}
			k := voteKey{v.Round, v.Type}
			if _, ok := e.ownVotes[k]; ok {
				continue
			}
			e.ownVotes[k] = v
			e.addVote(v)
			e.round = max(e.round, v.Round)
		case RecordProposal:
			p := r.Proposal
			if e.vs.Proposer(p.Height, p.Round) != e.self {
				return fmt.Errorf("consensus: WAL holds a proposal for round %d, whose proposer is not this validator", p.Round)
			}
			if _, ok := e.ownProposals[p.Round]; ok {
				continue
			}
			e.ownProposals[p.Round] = p
			e.addProposal(p)
			e.round = max(e.round, p.Round)
		case RecordLock:
			if r.Block == nil {
				return errors.New("consensus: WAL lock record without block")
			}
			if int32(r.Round) > e.lockedRound {
				h := r.Block.Hash()
				e.lockedRound, e.lockedValue, e.lockedHash = int32(r.Round), r.Block, h
				e.validRound, e.validValue = int32(r.Round), r.Block
				e.blocks[h] = r.Block
			}
			e.round = max(e.round, r.Round)
		default:
			return fmt.Errorf("consensus: unknown WAL record kind %d", r.Kind)
		}
	}
	return nil
}

// Height is the height being decided (one above the last committed).
func (e *Engine) Height() uint64 { return e.height }

// Round is the current round at Height.
func (e *Engine) Round() uint32 { return e.round }

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Position is a snapshot for logs and the API.
type Position struct {
	Height      uint64
	Round       uint32
	Step        string
	LockedRound int32
	ValidRound  int32
	CatchingUp  bool
}

// Position returns where the engine is.
func (e *Engine) Position() Position {
	return Position{Height: e.height, Round: e.round, Step: e.step.String(), LockedRound: e.lockedRound,
		ValidRound: e.validRound, CatchingUp: e.catchingUp}
}

// Start enters the current round (round 0 of a fresh height, or the round
// restored from the WAL, re-sending what was signed there) and announces
// this validator's height so that peers ahead of it answer and it can catch
// up.
func (e *Engine) Start(now int64) Ready {
	e.now = now
	e.heightStart = now
	e.startRound(e.round)
	if p := e.ownProposals[e.round]; p != nil {
		e.broadcast(p)
	}
	if v, ok := e.ownVotes[voteKey{e.round, types.Prevote}]; ok {
		e.step = stepPrevote
		e.broadcast(&VoteMessage{Vote: v})
	}
	if v, ok := e.ownVotes[voteKey{e.round, types.Precommit}]; ok {
		e.step = stepPrecommit
		e.broadcast(&VoteMessage{Vote: v})
	}
	e.broadcast(&Status{Height: e.height - 1, Round: e.round})
	e.process()
	return e.takeReady()
}

// Step feeds one event at time now (Unix ms, the driver's clock) and
// returns what to do.
func (e *Engine) Step(now int64, ev Event) Ready {
	if now > e.now {
		e.now = now // time never runs backwards inside the engine
	}
	if e.deferred {
		e.resume()
	}
	switch ev := ev.(type) {
	case Receive:
		e.receive(ev.From, ev.Msg)
	case Timeout:
		e.timeout(ev.Timer)
	case TxsAvailable:
		e.pending = ev
		if ev.Count <= 0 {
			e.pending = TxsAvailable{}
		}
	case BlockBuilt:
		e.blockBuilt(ev)
	case PeerConnected:
		// A peer that just connected may have missed the status we
		// broadcast at start (or may be behind): tell it where we are. A
		// peer ahead of us answers with its own status, and catch-up
		// starts even on an idle chain, where nothing else would be sent.
		if ev.Peer >= 0 && ev.Peer < e.vs.Len() && ev.Peer != e.self {
			e.send(ev.Peer, &Status{Height: e.height - 1, Round: e.round})
		}
	}
	e.process()
	return e.takeReady()
}

func (e *Engine) takeReady() Ready {
	r := e.ready
	e.ready = Ready{}
	return r
}

func (e *Engine) broadcast(m Message) {
	e.ready.Messages = append(e.ready.Messages, Outbound{To: Broadcast, Msg: m})
}

func (e *Engine) send(to int, m Message) {
	e.ready.Messages = append(e.ready.Messages, Outbound{To: to, Msg: m})
}

func (e *Engine) timer(k TimerKind, round uint32, at int64) {
	e.ready.Timers = append(e.ready.Timers, Timer{Kind: k, Height: e.height, Round: round, At: at})
}

func (e *Engine) proposeTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Propose + int64(r)*e.cfg.Timeouts.ProposeDelta
}
func (e *Engine) prevoteTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Prevote + int64(r)*e.cfg.Timeouts.PrevoteDelta
}
func (e *Engine) precommitTimeout(r uint32) int64 {
	return e.cfg.Timeouts.Precommit + int64(r)*e.cfg.Timeouts.PrecommitDelta
}

// resetHeight forgets everything about the previous height.
func (e *Engine) resetHeight() {
	e.round, e.step = 0, stepPropose
	e.lockedRound, e.lockedValue, e.lockedHash = -1, nil, crypto.Hash{}
	e.validRound, e.validValue = -1, nil
	e.rounds = map[uint32]*roundState{}
	e.roundList = e.roundList[:0]
	e.blocks = map[crypto.Hash]*types.Block{}
	e.validity = map[crypto.Hash]error{}
	e.maxRound = make([]int64, e.vs.Len())
	for i := range e.maxRound {
		e.maxRound[i] = -1
	}
	e.ownVotes = map[voteKey]types.Vote{}
	e.ownProposals = map[uint32]*Proposal{}
	e.buildRound = -1
	e.proposeDeadline, e.cutTimerAt = 0, 0
	e.pending = TxsAvailable{}
	e.evidenceSeen = map[evidenceKey]bool{}
	e.heightStart = e.now
	for h := range e.fetched {
		if h < e.height {
			delete(e.fetched, h)
		}
	}
	for h := range e.requests {
		if h < e.height {
			delete(e.requests, h)
		}
	}
}

func (e *Engine) roundState(r uint32) *roundState {
	rs := e.rounds[r]
	if rs == nil {
		n := e.vs.Len()
		rs = &roundState{prevotes: newVoteSet(n), precommits: newVoteSet(n)}
		e.rounds[r] = rs
		i := sort.Search(len(e.roundList), func(i int) bool { return e.roundList[i] >= r })
		e.roundList = append(e.roundList, 0)
		copy(e.roundList[i+1:], e.roundList[i:])
		e.roundList[i] = r
	}
	return rs
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
	e.ready.WAL = append(e.ready.WAL, Record{Kind: RecordProposal, Height: e.height, Proposal: p})
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
			e.ready.WAL = append(e.ready.WAL, Record{Kind: RecordLock, Height: e.height, Round: e.round, Block: b})
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
		e.ready.WAL = append(e.ready.WAL, Record{Kind: RecordVote, Height: e.height, Vote: v})
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

// commit records a decision and moves to the next height.
func (e *Engine) commit(b *types.Block, cert *types.Certificate, catchUp bool) {
	e.ready.Commits = append(e.ready.Commits, Commit{Block: b, Cert: cert, CatchUp: catchUp})
	if catchUp {
		e.stats.CatchUpCommits++
	} else {
		e.stats.Commits++
	}
	e.lastHash = cert.BlockHash
	e.height++
	e.ready.Build = nil // a block for the decided height is moot
	e.resetHeight()
	e.startRound(0)
	if !e.behind() {
		e.catchingUp = false
	}
	// The app has not seen this commit yet (the driver applies it after
	// Step returns), so validating anything of the new height now would
	// judge it against the wrong state. Stop here; the next Step resumes.
	e.deferred = true
}

// resume starts work on a height entered by the previous Step: it replays
// the messages buffered for it.
func (e *Engine) resume() {
	e.deferred = false
	buf := e.future
	e.future = nil
	for i := range e.futureCount {
		e.futureCount[i] = 0
	}
	for _, r := range buf {
		e.receive(r.From, r.Msg)
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

// receive files one message.
func (e *Engine) receive(from int, m Message) {
	e.stats.Received++
	if from < 0 || from >= e.vs.Len() || from == e.self || m == nil {
		e.stats.Malformed++
		return
	}
	switch m := m.(type) {
	case *Proposal:
		e.onProposal(from, m)
	case *VoteMessage:
		e.onVote(from, m)
	case *Status:
		e.onStatus(from, m)
	case *BlockRequest:
		if m.Height >= 1 && m.Height < e.height {
			e.ready.Serve = append(e.ready.Serve, ServeRequest{To: from, Height: m.Height})
		}
	case *BlockResponse:
		e.onBlockResponse(m)
	default:
		e.stats.Malformed++
	}
}

func (e *Engine) notePeer(p int, committed uint64) {
	if committed >= e.peerHeight[p] {
		e.peerHeight[p] = committed
		e.claimAt[p] = e.now
	}
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
		k := evidenceKey{v.Validator, v.Round, v.Type}
		if !e.evidenceSeen[k] {
			e.evidenceSeen[k] = true
			e.stats.Equivocations++
			e.ready.Evidence = append(e.ready.Evidence, DuplicateVote{A: set.votes[v.Validator], B: *v})
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
	if p.Block.Header.Round > p.Round {
		e.stats.InvalidBlocks++
		return
	}
	if len(rs.proposals) > 0 {
		e.stats.ConflictingProposals++
	}
	e.addProposal(p)
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

func (e *Engine) onBlockResponse(m *BlockResponse) {
	if m.Block == nil || m.Cert == nil {
		e.stats.Malformed++
		return
	}
	h := m.Block.Header.Height
	if h < e.height || h >= e.height+e.window || e.fetched[h] != nil {
		e.stats.Stale++
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
		if req != nil {
			attempts = req.attempts
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
		e.requests[h] = &blockReq{peer: peer, at: e.now, attempts: attempts + 1}
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

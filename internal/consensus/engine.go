package consensus

// The Engine: its configuration, its per-height state, and the entry points
// New, Start and Step. The round rules are in rules.go, vote and proposal
// handling in votes.go, re-sending and catch-up in catchup.go, and what Step
// takes and returns in ready.go.

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
// the oldest pending transaction arrived, whichever comes first; with
// CutWhenIdle, at once when every pending transaction arrived after the
// height began (the engine was idle: no block was in flight, so waiting
// would only add latency; under load the backlog that builds while a block
// is decided is the batch). With
// nothing pending the proposer of round 0 proposes nothing, unless
// EmptyBlockInterval (ms) is positive and has elapsed since the height
// started. MaxTxs and MaxBytes must be the chain's genesis parameters: the
// engine also rejects proposals above them.
type CutPolicy struct {
	MaxTxs             int
	MaxBytes           int
	MaxDelay           int64
	EmptyBlockInterval int64
	CutWhenIdle        bool
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

// StartPoint is where an engine starts: the last committed block and the WAL
// records read back after a restart. Records for other heights than
// Height+1 are ignored, so a driver may pass its whole WAL.
type StartPoint struct {
	Height    uint64      // last committed height; 0 before the first block
	BlockHash crypto.Hash // hash of that block; zero at height 0
	WAL       []WALRecord
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
	kind      EvidenceKind
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
func New(cfg Config, st StartPoint) (*Engine, error) {
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
		// A key outside the set follows without voting until a set
		// that includes it (SetValidators).
		e.self = cfg.Validators.IndexOf(cfg.Key.Public())
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
func (e *Engine) restore(recs []WALRecord) error {
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

// SetValidators gives the engine the validator set of the height it has
// just entered: the driver calls it after applying a Commit and before the
// next Step, with the set the committed state fixed for that height
// (docs/consensus.md, "Validator set changes"). Votes, proposals,
// certificates and evidence of a height are checked against that height's
// set, and the engine votes and proposes only at heights whose set holds
// its key. A set equal to the current one changes nothing.
//
// Indexes name validators within one set, so what the engine keeps by
// index is carried over by key (peers' heights) or dropped (messages
// buffered for this height, outstanding block requests): peers re-send on
// their tick, and catch-up asks again.
func (e *Engine) SetValidators(vs *types.ValidatorSet) error {
	if vs == nil || vs.Len() == 0 {
		return errors.New("consensus: no validator set")
	}
	if vs.Hash() == e.vs.Hash() {
		return nil
	}
	if !e.deferred {
		return errors.New("consensus: the validator set changes only between heights (after a commit, before the next step)")
	}
	old := e.vs
	n := vs.Len()
	peerHeight, claimAt, statusSentTo := make([]uint64, n), make([]int64, n), make([]int64, n)
	for i := range statusSentTo {
		statusSentTo[i] = math.MinInt64 / 2
	}
	for i, v := range old.Validators {
		if j := vs.IndexOf(v.PublicKey); j >= 0 {
			peerHeight[j], claimAt[j], statusSentTo[j] = e.peerHeight[i], e.claimAt[i], e.statusSentTo[i]
		}
	}
	e.vs, e.quorum, e.skip = vs, vs.Quorum(), vs.MaxFaulty()+1
	e.peerHeight, e.claimAt, e.statusSentTo = peerHeight, claimAt, statusSentTo
	e.futureCount, e.future = make([]int, n), nil
	e.requests = map[uint64]*blockReq{}
	e.self = -1
	if e.cfg.Key != nil {
		e.self = vs.IndexOf(e.cfg.Key.Public())
	}
	// Nothing of the new height was processed yet (deferred): start it
	// again with the new set's sizes.
	e.resetHeight()
	e.startRound(0)
	return nil
}

// Validators is the validator set of the height being decided.
func (e *Engine) Validators() *types.ValidatorSet { return e.vs }

// Voting reports whether this engine's key is in the current height's set.
func (e *Engine) Voting() bool { return e.self >= 0 }

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

// Held counts what an engine keeps for the height it is deciding; each is
// bounded whatever peers send (the simulator asserts it).
type Held struct {
	Rounds    int `json:"rounds"`    // round states: at most the rounds entered plus roundWindow above the current one
	Proposals int `json:"proposals"` // proposals held over all rounds, at most maxProposalsPerRound per round
	Blocks    int `json:"blocks"`    // distinct proposed blocks
	Future    int `json:"future"`    // buffered next-height messages, at most maxFuturePerPeer per validator
	Fetched   int `json:"fetched"`   // fetched blocks awaiting their height, at most CatchUpWindow
	Requests  int `json:"requests"`  // outstanding block requests, at most CatchUpWindow
}

// HeldBounds returns the bounds Held is documented to keep: Rounds and
// Proposals are given for the current round.
func (e *Engine) HeldBounds() Held {
	r := int(e.round) + roundWindow + 1
	return Held{Rounds: r, Proposals: r * maxProposalsPerRound, Blocks: r*maxProposalsPerRound + 1,
		Future: maxFuturePerPeer * e.vs.Len(), Fetched: int(e.window), Requests: int(e.window)}
}

// Held returns how much the engine holds now.
func (e *Engine) Held() Held {
	h := Held{Rounds: len(e.rounds), Blocks: len(e.blocks), Future: len(e.future), Fetched: len(e.fetched), Requests: len(e.requests)}
	for _, rs := range e.rounds {
		h.Proposals += len(rs.proposals)
	}
	return h
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
		e.onBlockResponse(from, m)
	default:
		e.stats.Malformed++
	}
}

package consensus

// What the driver exchanges with the engine: the Ready a Step returns
// (messages, timers, commits, build and serve requests, evidence), the
// events Step accepts, and the Stats counters.

import (
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

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
	WAL      []WALRecord
	Messages []Outbound
	Timers   []Timer
	Commits  []Commit
	Build    *BuildRequest
	Serve    []ServeRequest
	Evidence []Evidence
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
	Unsolicited          uint64 // block responses from a peer not asked for that height
	Commits              uint64 // blocks decided by consensus here
	CatchUpCommits       uint64 // blocks committed from a peer's certificate
	Rounds               uint64 // rounds started after round 0
}

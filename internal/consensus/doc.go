// Package consensus is Cairn's Byzantine-fault-tolerant agreement: a pure,
// deterministic state machine implementing Tendermint's Algorithm 1
// (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus", 2018)
// with a rotating, power-weighted proposer, in the style of etcd's raft
// package.
//
// The Engine owns no goroutines, clocks, randomness or I/O. A driver feeds
// it events (Step) — a peer's message, a timer it asked for, the mempool's
// pending count, a block the application built — each with the driver's
// current time, and carries out the returned Ready: persist WAL records
// (fsync), then send messages, set timers, store committed blocks, build a
// proposal, serve blocks to lagging peers, report evidence. The same code
// runs in the node and, under virtual time with injected faults, in the
// simulator (package consensus/sim); one seed reproduces one run exactly.
//
// Invariants the engine keeps, with up to f Byzantine validators of power
// below a third:
//
//   - Agreement: no two correct validators commit different blocks at one
//     height. Quorums are Quorum() of voting power (more than two thirds),
//     never a head count or a simple majority.
//   - Every Commit carries a certificate of precommits from a quorum, which
//     types.Certificate.Verify accepts; blocks fetched from peers are
//     committed only after verifying theirs and their parent link.
//   - A validator signs at most one proposal per (height, round) and one
//     vote per (height, round, type), also across restarts, provided the
//     driver honours the WAL contract in Ready.
//   - An idle chain is silent: with nothing pending (and no empty-block
//     interval) round 0 of a height sets no timers and sends nothing.
//
// See docs/consensus.md for the pseudocode, the map from each line to the
// function implementing it, and the safety and liveness arguments.
package consensus

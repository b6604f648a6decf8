// Package robustness holds Cairn's robustness suite: the claim it owns is
// that a faulted run's client-visible history is linearizable and loses no
// acknowledged write. It has no non-test code besides this comment; the
// model follows etcd's tests/robustness.
//
// A run starts four real `cairn node` processes on 127.0.0.1 (with
// --unsafe-test-faults), and while concurrent clients put, compare-and-set
// and read a few contended keys and transfer funds among a few accounts
// against different validators, a fault injector driven by a seeded RNG
// kills validators with SIGKILL and restarts them (sometimes with a torn
// record appended to the consensus WAL, as a crash mid-write leaves it),
// freezes them with SIGSTOP/SIGCONT, partitions one from the others and
// drops a share of messages through the transport's fault switch. Every
// request and its answer is recorded with its call and return times.
//
// After the run the faults are healed and the suite checks:
//
//   - Linearizability of the key-value history with porcupine, per key,
//     against a register of (version, value): put returns the new version
//     (old+1); a compare-and-set put with expect_version e succeeds with
//     version e+1 iff the key is at version e, else fails with
//     version_conflict; a read returns (version, value), version 0 meaning
//     absent. A write is acknowledged when `?wait=commit` answered
//     committed or failed (a committed version_conflict is an answer too).
//     A write whose answer was lost (timeout, node died, connection reset)
//     is indeterminate: the client looks its hash up for a while; if it is
//     found in a block, its outcome is known by then, else it stays
//     pending (porcupine may place it anywhere after its call, or never
//     observe its effect).
//   - Which reads are linearizable. The API only promises that a read is a
//     snapshot at one committed height (docs/api.md, "Reads are
//     snapshots"); a validator's latest state may lag a write another
//     validator already acknowledged, so a plain latest read is not
//     linearizable and is not checked as such. The suite checks exactly
//     what the API offers: a read with `?height=H`, where H is the highest
//     height any client has observed (a commit height or a read height)
//     before the read was called, must be linearizable. Plain latest reads
//     are checked for the weaker, documented property: the answer equals
//     the key's state at the reported read_height in the final chain.
//   - No acknowledged write is lost: every committed put is in its key's
//     final history at its version with its transaction hash, on every
//     validator.
//   - Transfers: the total balance of the transfer accounts is conserved,
//     no balance exceeds that total (no overdraft), and every acknowledged
//     transfer is committed, at the same height, on every validator.
//   - Every validator has the same chain (same block hash at the common
//     height; blocks are hash-linked), and `cairn verify --replay` over
//     every stopped node's data is clean.
//
// A failing run writes history.json, the seed, the fault schedule and the
// node logs into a report directory and prints the command that replays
// its seed. A run is reproducible from its seed as far as scheduling goes:
// the fault schedule and every client's choice of operation, key and
// validator come from the seed; the interleaving with the processes does
// not.
//
// `go test ./internal/robustness` runs a short version (two runs of about
// 12 s of faults). Flags: -robustness.runs=N, -robustness.duration=T (keep
// starting runs until T has passed), -robustness.runtime=T (faulted load
// per run), -robustness.seed=S (the first run's seed; run k uses S+k),
// -robustness.report=DIR.
package robustness

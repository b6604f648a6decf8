// Package snapshot takes, serves and restores state snapshots, so a new
// node joins a chain without replaying it from genesis (state sync).
//
// A snapshot of height H is a manifest and chunks (docs/operations.md,
// "Snapshots and state sync", has the byte layout). The manifest carries
// the certified header of H and its certificate, the counts, and the
// SHA-256 of every chunk. Chain chunks hold, for each height 1..H, the
// header and its block's tx hashes; state chunks hold every state pair
// after H in ascending key order. Those are all a node needs to continue
// from H: the state (accounts, keys, fields, contracts) and the set of
// committed tx hashes the replay rule consults, plus every header.
//
// Invariants:
//   - A joining node trusts only its genesis. The manifest's header must
//     be certified by a quorum of the genesis validator set; every chunk
//     must hash to the manifest's entry for it; the chain chunks' headers
//     must chain by parent hash up to the certified header, each with a tx
//     root equal to its tx hashes; the state's tree, built from the pairs,
//     must have the certified state root. A provider failing any check is
//     logged with its URL and skipped; nothing it sent survives (the
//     ledger directory is wiped before the next attempt).
//   - Memory is bounded: the taker holds one chunk, the joining node one
//     chunk plus one Pebble batch; the tree is built from leaves Pebble
//     sorted (internal/state.BulkLoader).
//   - Taking a snapshot never blocks commits: it reads a Pebble snapshot
//     pinned right after the commit of H, on its own goroutine, one at a
//     time; a snapshot is written under a temporary name and renamed
//     whole, so a crash never leaves one that looks complete.
package snapshot

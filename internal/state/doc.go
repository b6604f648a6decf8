// Package state is Cairn's authenticated, versioned key-value map. Its root
// hash at each height goes into that height's block header, so every value a
// node serves can be proven against a certified header, at the latest height
// or at any earlier one.
//
// # Tree shape and proofs
//
// The map is a compressed binary sparse Merkle tree over SHA-256(key)
// paths. Its shape, its hashes and the proofs against its root (their
// meaning, binary and JSON forms, and verification) are specified in
// docs/encoding.md section 7 and implemented by the public package smt,
// which clients use without this package or Pebble.
// This package stores that tree and produces its proofs (Prove).
//
// # Storage
//
// Every Pebble key the package writes starts with 's':
//
//	's' 'n' version(8, BE) depth(2, BE) path[:ceil(depth/8)]
//	                                        -> node: 0x00 keyHash valueHash | 0x01 leftHash rightHash leftVersion(8) rightVersion(8)
//	's' 'r' height(8, big-endian)           -> root hash (32 bytes) of the tree after that height, and its node's version (8)
//	's' 'l' key                             -> height(8) of its last write, latest value of key
//	's' 'h' epoch(8) len(key)(4) key height(8) seq(4) -> prev(8), value written by the seq-th write of the block
//	's' 'm' "format"                        -> storage format (8, BE): 4 (format.go)
//
// A node is stored under the height that wrote it (its version) and its
// position: its depth and the first depth bits of its path, the rest of
// the path's bytes left out. An internal node names each child by hash and
// version, and the child's position follows from its parent's, so a walk
// from a root record reaches every node of that height's tree by key. The
// first 65 bytes of a stored node are exactly its hash preimage (the
// versions after them are not hashed), so a node is self-verifying, and
// the tree's hashes, roots and proofs do not depend on the layout.
//
// Why not key nodes by hash, which would store a node shared by many
// heights once: hashes are random, so every height's nodes would land all
// over the key space, and Pebble's compactions would merge them into, and
// rewrite, ever more of the older nodes as the chain grows
// (BenchmarkWriteAmp: write amplification rising from 5.0 to 7.8 over
// 400 blocks with hash keys, level at about 3.3 with version keys;
// docs/experiments.md). Keyed by version, a height's nodes are one run
// after every older height's, which compaction moves rather than merges.
// The cost is that a node that comes back (a key set back to an earlier
// value) and a leaf pushed one level down by a new key beside it are
// stored again; as in the Jellyfish Merkle tree and IAVL, whose node keys
// are (version, path) and (version, nonce).
//
// Unless the tree is pruned, nothing is ever deleted: every height's tree
// stays readable. A pruned tree (Options.Track, Prune) keeps every height
// from Oldest() on and deletes what only older heights needed; prune.go
// explains the records. The history (history.go) is kept in epochs, each
// a run of heights whose entries land after every older epoch's; each key's
// versions are chained, newest to oldest, so the value as of the end of any
// height is found from the latest record in a seek or two.
//
// # Writing a block
//
// Prepare computes the next root from a block's writes without touching
// storage or in-memory state. It sorts the updates by path and walks only
// the touched subtrees, one tree level at a time: it looks up all touched
// nodes of a level together (so the CPU overlaps their cache misses), splits
// each node's updates between its children for the next level, builds new
// subtrees where a path reaches an empty slot or a leaf, and finally
// rehashes the changed internal nodes bottom-up. Stage puts the resulting
// nodes, root, latest values and history into the caller's batch in
// ascending key order, and the batch also holds the block itself, so a block
// and its state are durable together or not at all. Committed then advances
// the in-memory height and root and updates the node cache.
//
// Concurrency: Prepare, Stage and Committed must be called from one writer
// goroutine (Prepare reads the node cache without locks, because only
// Committed modifies it). Reads (Get, GetAt, History, HistoryNewest, Scan, Prove, RootAt,
// CheckTree) may run concurrently with each other and with the writer.
//
// # Node cache
//
// Decoded nodes are cached in a bounded 16-way set-associative table with
// buddy-set overflow (see Options.NodeCacheSize and nodeCache). Committed
// inserts the nodes a block created and drops the ones it replaced, so the
// cache holds mostly the current tree: a tree of n random keys has about
// 2.44n nodes, and a cache of 4n slots or more keeps lookups that fall
// through to Pebble well under 0.1% (measured at a million keys: about 65
// of 160,000 per 20,000-write block). Proofs at old heights read what the
// cache lacks from Pebble and do not fill the cache.
//
// # Latest-value cache
//
// Get answers from a bounded cache of the latest values it has read
// (Options.LatestCacheBytes, latest.go): every transaction reads its
// accounts at admission, at each recheck of the mempool and in execution,
// and a Pebble read costs more as the database grows. Committed replaces
// the cached values of the keys a block wrote before the new height is
// visible, and a read that started before a commit never fills the cache,
// so Get answers exactly what Pebble holds for the heights a reader can
// see. Whatever rewrites latest values outside Committed (a rollback, a
// state-sync restore) calls DropLatestCache.
//
// # Pebble configuration
//
// A lookup of a node the cache lacks names an exact key that may sit in
// any level of the LSM, and history and latest-value keys are spread over
// the key space; the database should be opened with bloom filters
// (Levels[i].FilterPolicy = bloom.FilterPolicy(10)). Hashes do not
// compress; block compression of the node key range costs CPU for nothing.
package state

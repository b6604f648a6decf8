// Package state is Cairn's authenticated, versioned key-value map. Its root
// hash at each height goes into that height's block header, so every value a
// node serves can be proven against a certified header, at the latest height
// or at any earlier one.
//
// # Tree shape
//
// The map is a compressed binary sparse Merkle tree over 256-bit paths, in
// the style of Diem's SparseMerkleTree (the binary form of the Jellyfish
// Merkle tree):
//
//   - The path of a key is SHA-256(key), read most significant bit first: bit
//     0 chooses the child of the root (0 = left, 1 = right), bit 1 the child
//     of that node, and so on.
//   - The value hash of a value is SHA-256(value).
//   - The hash of an empty subtree is 32 zero bytes.
//   - A leaf's hash is SHA-256(0x00 || keyHash || valueHash), where keyHash is
//     the key's path (64 bytes hashed after the tag byte).
//   - An internal node's hash is SHA-256(0x01 || leftHash || rightHash).
//   - A subtree that holds no key is empty. A subtree that holds exactly one
//     key is that key's leaf alone: the leaf sits at the shortest prefix of
//     its path that no other key shares, not at depth 256. A subtree that
//     holds two or more keys is an internal node whose children are the
//     subtrees of the keys whose next path bit is 0 and 1; one of them may be
//     empty, and then the other holds two or more keys.
//
// The last rule means no internal node has an empty child and a leaf child
// (such a node collapses into the leaf), and no internal node has two empty
// children. The shape, and so the root, depends only on the set of (key,
// value) pairs, never on the order or batching of the writes that produced
// it. The empty map's root is the zero hash; a map of one key has that key's
// leaf hash as its root.
//
// # Proofs
//
// A proof for a key lists the sibling hashes along the key's path from the
// root down to where the path ends: at the key's own leaf (membership), at an
// empty subtree, or at the leaf of another key whose path shares the prefix
// walked so far (both non-membership; the other leaf's key hash and value hash
// are then part of the proof). The deepest sibling is never empty in a tree
// of this shape, and verifiers reject proofs where it is. The binary
// encoding (Proof.Encode) is:
//
//	flags   1 byte   bit 0 set = the path ends at another key's leaf; other bits zero
//	depth   2 bytes  big-endian number of siblings, at most 256
//	bitmap  ceil(depth/8) bytes; bit i (MSB first) set = sibling i is not the zero hash;
//	                 unused low bits of the last byte are zero
//	hashes  32 bytes for each set bitmap bit, root side first; none is the zero hash
//	leaf    64 bytes (keyHash || valueHash) when flags bit 0 is set
//
// Any other byte string, including one with trailing bytes, is rejected, so
// each proof has exactly one encoding. The JSON form lists every sibling as
// hex, zero hashes included: {"siblings": ["<hex>", ...], "leaf":
// {"key_hash": "<hex>", "value_hash": "<hex>"}} with "leaf" omitted unless
// the path ends at another key's leaf.
//
// # Storage
//
// Every Pebble key the package writes starts with 's':
//
//	's' 'n' nodeHash(32)                    -> node: 0x00 keyHash valueHash | 0x01 leftHash rightHash
//	's' 'r' height(8, big-endian)           -> root hash (32 bytes) of the tree after that height
//	's' 'l' key                             -> latest value of key
//	's' 'h' len(key)(4, BE) key height(8, BE) seq(4, BE) -> value written by the seq-th write of the block
//
// A node's stored bytes are exactly its hash preimage, so a node is
// self-verifying, and a node shared by many heights (or many positions in
// time) is stored once. Nothing is ever deleted: every height's tree stays
// readable. The history key orders one key's versions by (height, seq), so a
// reverse seek finds the value as of the end of any height.
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
// Committed modifies it). Reads (Get, GetAt, History, Prove, RootAt,
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
// # Pebble configuration
//
// Node keys are uniformly random hashes, so a lookup of a node the cache
// lacks may have to search every level of the LSM. The database should be
// opened with bloom filters (Levels[i].FilterPolicy = bloom.FilterPolicy(10)).
// Hashes do not compress; block compression of the node key range costs
// CPU for nothing.
package state

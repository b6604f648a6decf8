package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// prefixScratch holds a bulk load's leaves by path while it runs:
// 's' 'p' path(32) -> valueHash(32). Pebble sorts them (it is an external
// sort with bounded memory), and Finish reads them back in path order to
// build the tree, then deletes them.
const prefixScratch = 'p'

// bulkBatchBytes is the size at which a bulk load commits its batch: large
// enough to amortise a commit, and well under half of a memtable, so that
// Pebble copies it into the memtable (whose count it bounds) instead of
// keeping the batch itself alive until a flush.
const bulkBatchBytes = 4 << 20

// BulkLoader writes a whole state, given as its (key, value) pairs in
// ascending key order, as the state after one height, without the
// per-block path: it is how a node that joins from a snapshot builds its
// tree. Memory stays bounded by one Pebble batch whatever the number of
// keys: leaves are sorted by path in Pebble itself and the tree is built
// from them in one ordered pass with a stack of at most 256 subtrees.
//
// The database must hold no state at or above the load's height (the
// caller starts from a fresh ledger); nothing is visible to a Tree until
// the caller commits its own records and reopens it. A load that fails
// leaves partial records behind: the caller discards the database.
type BulkLoader struct {
	db     *pebble.DB
	height uint64
	b      *pebble.Batch
	last   []byte
	keys   uint64
	key    []byte
	val    []byte
}

// NewBulkLoader starts a bulk load of the state after height.
func NewBulkLoader(db *pebble.DB, height uint64) *BulkLoader {
	return &BulkLoader{db: db, height: height, b: db.NewBatch()}
}

// Add puts one pair. Keys must come in strictly ascending order; a value
// must not be nil.
func (l *BulkLoader) Add(key, value []byte) error {
	if value == nil {
		return fmt.Errorf("state: bulk load: key %x has a nil value", key)
	}
	if l.last != nil && bytes.Compare(key, l.last) <= 0 {
		return fmt.Errorf("state: bulk load: key %x does not follow %x", key, l.last)
	}
	l.last = append(l.last[:0], key...)
	l.keys++
	// The latest value, and the value as of the load's height (so GetAt
	// answers at this height and later), in an epoch of the load's height
	// and with no write before it.
	l.key = append(append(l.key[:0], prefixState, prefixLatest), key...)
	l.val = appendLatestRecord(l.val[:0], l.height, value)
	if err := l.b.Set(l.key, l.val, nil); err != nil {
		return fmt.Errorf("state: bulk load: %w", err)
	}
	l.key = appendHistoryKey(l.key[:0], l.height, key, l.height, 0)
	l.val = appendHistoryValue(l.val[:0], 0, value)
	if err := l.b.Set(l.key, l.val, nil); err != nil {
		return fmt.Errorf("state: bulk load: %w", err)
	}
	path := smt.Path(key)
	vh := sha256.Sum256(value)
	l.key = append(append(l.key[:0], prefixState, prefixScratch), path[:]...)
	if err := l.b.Set(l.key, vh[:], nil); err != nil {
		return fmt.Errorf("state: bulk load: %w", err)
	}
	return l.flushIfFull()
}

// Keys is the number of pairs added so far.
func (l *BulkLoader) Keys() uint64 { return l.keys }

func (l *BulkLoader) flushIfFull() error {
	if l.b.Len() < bulkBatchBytes {
		return nil
	}
	return l.flush()
}

func (l *BulkLoader) flush() error {
	if l.b.Empty() {
		return nil
	}
	if err := l.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: bulk load: %w", err)
	}
	l.b.Reset() // keeps its buffer
	return nil
}

// Finish builds the tree over every pair added, stores its nodes and its
// root for the load's height, deletes the scratch leaves and returns the
// root. Everything is written without sync: the caller syncs the batch
// that marks the load complete.
func (l *BulkLoader) Finish() (crypto.Hash, error) {
	defer l.b.Close()
	if err := l.flush(); err != nil {
		return crypto.Hash{}, err
	}
	lo := []byte{prefixState, prefixScratch}
	hi := []byte{prefixState, prefixScratch + 1}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
	}
	bld := treeBuilder{emit: l.putNode, ver: l.height}
	var n uint64
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 2+crypto.HashSize || len(v) != crypto.HashSize {
			it.Close()
			return crypto.Hash{}, fmt.Errorf("state: bulk load: malformed scratch entry %x", k)
		}
		var path, vh crypto.Hash
		copy(path[:], k[2:])
		copy(vh[:], v)
		if err := bld.add(path, vh); err != nil {
			it.Close()
			return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
		}
		n++
	}
	if err := it.Close(); err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: reading leaves: %w", err)
	}
	if n != l.keys {
		// Two keys with one path would be a SHA-256 collision; anything
		// else is a bug.
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %d keys added but %d distinct paths", l.keys, n)
	}
	root, err := bld.finish()
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
	}
	rootVer := l.height
	if root.IsZero() {
		rootVer = 0
	}
	if err := l.b.Set(rootKey(l.height), rootValue(root, rootVer), nil); err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
	}
	if err := l.b.Set(keyFormat, binary.BigEndian.AppendUint64(nil, storageFormat), nil); err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
	}
	if err := l.b.DeleteRange(lo, hi, nil); err != nil {
		return crypto.Hash{}, fmt.Errorf("state: bulk load: %w", err)
	}
	if err := l.flush(); err != nil {
		return crypto.Hash{}, err
	}
	return root, nil
}

func (l *BulkLoader) putNode(n treeNode, pos nodePos) error {
	var kb [2 + 10 + crypto.HashSize]byte
	var vb [internalStoredSize]byte
	if err := l.b.Set(appendNodeKey(kb[:0], l.height, pos), n.appendStored(vb[:0]), nil); err != nil {
		return err
	}
	return l.flushIfFull()
}

// subtree is a finished part of the tree during a bulk build: its hash,
// whether it is a single leaf (with its value hash: a leaf is stored only
// once its depth is known), the depth of its top internal node, and one of
// its paths (every path below it shares the bits above top).
type subtree struct {
	hash crypto.Hash
	leaf bool
	vh   crypto.Hash
	top  int
	path crypto.Hash
}

// pending is a left subtree waiting for its right sibling: they meet at an
// internal node at depth split.
type pending struct {
	split int
	left  subtree
}

// treeBuilder builds the canonical tree (docs/encoding.md 7.1) from leaves
// given in ascending path order. Consecutive paths that first differ at
// bit c meet at an internal node at depth c; an internal node at depth d
// whose subtree's keys all share bit d has one empty child, so a subtree
// whose top node is deeper than its parent's child slot is wrapped in such
// nodes ("lifted"). Leaves are never lifted: a leaf sits at its shortest
// unique prefix, which is known once the next leaf is: a leaf is emitted
// when it is placed. The stack's split depths strictly increase, so it
// never holds more than 256 entries. Every node is emitted with its
// position; internal nodes name their children as stored at version ver.
type treeBuilder struct {
	emit  func(treeNode, nodePos) error
	ver   uint64
	stack []pending
	cur   *subtree
}

func (b *treeBuilder) add(path, vh crypto.Hash) error {
	n := treeNode{tag: tagLeaf, a: path, b: vh}
	leaf := subtree{hash: n.hash(), leaf: true, vh: vh, path: path}
	if b.cur == nil {
		b.cur = &leaf
		return nil
	}
	if bytes.Compare(b.cur.path[:], path[:]) >= 0 {
		return fmt.Errorf("path %s does not follow %s", path, b.cur.path)
	}
	c := smt.CommonPrefixBits(&b.cur.path, &path)
	if err := b.merge(c); err != nil {
		return err
	}
	b.stack = append(b.stack, pending{split: c, left: *b.cur})
	b.cur = &leaf
	return nil
}

// merge closes every pending node deeper than depth: their right subtrees
// are complete.
func (b *treeBuilder) merge(depth int) error {
	for len(b.stack) > 0 && b.stack[len(b.stack)-1].split > depth {
		top := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		left, err := b.lift(top.left, top.split+1)
		if err != nil {
			return err
		}
		right, err := b.lift(*b.cur, top.split+1)
		if err != nil {
			return err
		}
		n := treeNode{tag: tagInternal, a: left, b: right, va: b.ver, vb: b.ver}
		if err := b.emit(n, posOf(top.split, &b.cur.path)); err != nil {
			return err
		}
		b.cur = &subtree{hash: n.hash(), top: top.split, path: b.cur.path}
	}
	return nil
}

// lift returns the hash of s placed as the subtree at depth: a leaf as
// itself, stored there, an internal subtree wrapped in one-child nodes
// from its top up.
func (b *treeBuilder) lift(s subtree, depth int) (crypto.Hash, error) {
	h := s.hash
	if s.leaf {
		return h, b.emit(treeNode{tag: tagLeaf, a: s.path, b: s.vh}, posOf(depth, &s.path))
	}
	for d := s.top - 1; d >= depth; d-- {
		var n treeNode
		if smt.Bit(&s.path, d) == 0 {
			n = treeNode{tag: tagInternal, a: h, va: b.ver}
		} else {
			n = treeNode{tag: tagInternal, b: h, vb: b.ver}
		}
		h = n.hash()
		if err := b.emit(n, posOf(d, &s.path)); err != nil {
			return crypto.Hash{}, err
		}
	}
	return h, nil
}

// finish closes the tree and returns its root (zero for no leaves).
func (b *treeBuilder) finish() (crypto.Hash, error) {
	if b.cur == nil {
		return crypto.Hash{}, nil
	}
	if err := b.merge(-1); err != nil {
		return crypto.Hash{}, err
	}
	if len(b.stack) != 0 {
		return crypto.Hash{}, errors.New("tree build left open nodes")
	}
	return b.lift(*b.cur, 0)
}

// ExportLatest calls fn with every (key, value) of the latest state as r
// sees it, in ascending key order. With a Pebble snapshot taken right after
// a commit, that is the state after that height, read while later blocks
// commit. The key and value are valid only during the call.
func ExportLatest(r pebble.Reader, fn func(key, value []byte) error) error {
	lo := []byte{prefixState, prefixLatest}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: []byte{prefixState, prefixLatest + 1}})
	if err != nil {
		return fmt.Errorf("state: export: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		_, v, err := splitLatestRecord(it.Key()[2:], it.Value())
		if err == nil {
			err = fn(it.Key()[2:], v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: export: %w", err)
	}
	return nil
}

// RootIn returns the root after height h as r sees it.
func RootIn(r pebble.Reader, h uint64) (crypto.Hash, error) {
	v, closer, err := r.Get(rootKey(h))
	if err != nil {
		return crypto.Hash{}, fmt.Errorf("state: root at height %d: %w", h, err)
	}
	defer closer.Close()
	if len(v) != rootValueSize {
		return crypto.Hash{}, fmt.Errorf("state: root at height %d: stored root is %d bytes", h, len(v))
	}
	root, _ := decodeRootValue(v)
	return root, nil
}

// StageOldest puts into b the record that the state is kept from height h
// on (Oldest), for a state bulk-loaded at h: reads below it answer
// *PrunedError, as on a pruned tree.
func StageOldest(b *pebble.Batch, h uint64) error {
	if err := b.Set(keyOldest, binary.BigEndian.AppendUint64(nil, h), nil); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

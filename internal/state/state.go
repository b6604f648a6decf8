package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/smt"
)

// Pebble key prefixes. Every key starts with 's' because other packages
// share the database under other first bytes.
const (
	prefixState   = 's'
	prefixNode    = 'n'
	prefixRoot    = 'r'
	prefixLatest  = 'l'
	prefixHistory = 'h'
)

// DefaultNodeCacheSize is the number of nodes cached when Options leaves
// NodeCacheSize at zero (about 470 MiB at full size; the table grows as it
// fills): it holds the current tree of a million keys (2.44 nodes per key)
// with room to spare. Use about 4 slots per key for larger states.
const DefaultNodeCacheSize = 4 << 20

// Write sets Key to Value. Value must not be nil: the map has no deletions
// (a deleted user key is a tombstone value written by the executor).
type Write struct{ Key, Value []byte }

// Version is one write of a key: the block height, the write's position
// among the block's writes, and the value written.
type Version struct {
	Height uint64 `json:"height"`
	Seq    uint32 `json:"seq"`
	Value  []byte `json:"value"`
}

// Options tune a Tree.
type Options struct {
	// NodeCacheSize is the number of tree nodes kept in memory (about 115
	// bytes each). Zero means DefaultNodeCacheSize; negative disables the
	// cache.
	NodeCacheSize int
	// LatestCacheBytes bounds the cache of latest values that Get answers
	// from (latest.go). Zero means DefaultLatestCacheBytes; negative
	// disables the cache.
	LatestCacheBytes int
	// Track keeps the records pruning needs (prune.go) from the next
	// height on. Once started, tracking stays on for this database.
	Track bool
	// KeepHistory, if set, names keys whose history is never pruned.
	KeepHistory func(key []byte) bool
	// HistoryEpochBytes is the size of the history kept under one epoch
	// (history.go); zero means DefaultHistoryEpochBytes.
	HistoryEpochBytes int
}

// Tree is the authenticated map stored in a Pebble database. Reads may run
// concurrently with each other and with one writer goroutine that calls
// Prepare, Stage and Committed.
type Tree struct {
	db     *pebble.DB
	cache  *nodeCache
	latest *latestCache

	mu          sync.RWMutex // guards the fields below
	initialized bool
	height      uint64
	root        crypto.Hash
	rootVer     uint64 // the version (height) at which the root node is stored
	tracking    bool   // pruning records are kept (prune.go)
	oldest      uint64 // the oldest height whose state is kept

	keepHistory func(key []byte) bool

	// epochs holds the history's epochs, ascending (history.go).
	epochs atomic.Pointer[[]uint64]
	// epochBytes is the history written under the current epoch since the
	// Tree opened, and epochLimit the size at which Stage starts the next.
	// Writer goroutine only.
	epochBytes, epochLimit int

	// nodesPerUp is the number of nodes per distinct key the last Prepare
	// created, in 1/16ths: the next one sizes its slices by it. Writer
	// goroutine only.
	nodesPerUp int
}

// Open loads the last committed height and root from db. An empty database
// gives a Tree with Initialized() == false and Height() == 0.
func Open(db *pebble.DB, opts Options) (*Tree, error) {
	if db == nil {
		return nil, errors.New("state: open: nil database")
	}
	size := opts.NodeCacheSize
	if size == 0 {
		size = DefaultNodeCacheSize
	}
	if size < 0 {
		size = 0
	}
	latest := opts.LatestCacheBytes
	if latest == 0 {
		latest = DefaultLatestCacheBytes
	}
	s := &Tree{db: db, cache: newNodeCache(size), latest: newLatestCache(latest), keepHistory: opts.KeepHistory, epochLimit: opts.HistoryEpochBytes}
	if s.epochLimit <= 0 {
		s.epochLimit = DefaultHistoryEpochBytes
	}
	if err := checkFormat(db); err != nil {
		return nil, err
	}
	if err := s.loadEpochs(); err != nil {
		return nil, err
	}
	lower := []byte{prefixState, prefixRoot}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{prefixState, prefixRoot + 1}})
	if err != nil {
		return nil, fmt.Errorf("state: open: %w", err)
	}
	defer it.Close()
	if it.Last() {
		k, v := it.Key(), it.Value()
		if len(k) != 2+8 || len(v) != rootValueSize {
			return nil, fmt.Errorf("state: open: malformed root entry (key %x, %d-byte value)", k, len(v))
		}
		s.initialized = true
		s.height = binary.BigEndian.Uint64(k[2:])
		s.root, s.rootVer = decodeRootValue(v)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("state: open: reading last root: %w", err)
	}
	if err := s.loadPruning(opts.Track); err != nil {
		return nil, err
	}
	return s, nil
}

// Initialized reports whether height 0 (genesis) has been committed.
func (s *Tree) Initialized() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.initialized
}

// Height returns the last committed height (0 before genesis too).
func (s *Tree) Height() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// Root returns the root at Height(); the zero hash for an empty tree.
func (s *Tree) Root() crypto.Hash {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.root
}

func (s *Tree) snapshot() (initialized bool, height uint64, root crypto.Hash) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.initialized, s.height, s.root
}

func (s *Tree) rootVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rootVer
}

// checkHeight returns an error unless h has been committed.
func (s *Tree) checkHeight(h uint64) error {
	init, height, _ := s.snapshot()
	if o := s.Oldest(); h < o {
		return &PrunedError{Height: h, Oldest: o}
	}
	if !init {
		return fmt.Errorf("state: height %d not committed: no height committed yet", h)
	}
	if h > height {
		return fmt.Errorf("state: height %d not committed: last committed height is %d", h, height)
	}
	return nil
}

// RootAt returns the root after height h.
func (s *Tree) RootAt(h uint64) (crypto.Hash, error) {
	r, _, err := s.rootRefAt(h)
	return r, err
}

// rootRefAt returns the root after height h and the version its node is
// stored at.
func (s *Tree) rootRefAt(h uint64) (crypto.Hash, uint64, error) {
	if err := s.checkHeight(h); err != nil {
		return crypto.Hash{}, 0, err
	}
	v, closer, err := s.db.Get(rootKey(h))
	if err != nil {
		return crypto.Hash{}, 0, s.prunedAt(h, fmt.Errorf("state: root at height %d: %w", h, err))
	}
	defer closer.Close()
	if len(v) != rootValueSize {
		return crypto.Hash{}, 0, fmt.Errorf("state: root at height %d: stored root is %d bytes", h, len(v))
	}
	r, ver := decodeRootValue(v)
	return r, ver, nil
}

// Get returns the latest committed value of key.
func (s *Tree) Get(key []byte) ([]byte, bool, error) {
	rec, ok, err := s.latestRecord(key, true)
	if err != nil || !ok {
		return nil, false, err
	}
	_, v, err := splitLatestRecord(key, rec)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// DropLatestCache forgets every cached latest value. Whoever rewrites
// latest values in the database other than through Stage and Committed
// (a state-sync restore, a rollback) calls it before the Tree is read
// again.
func (s *Tree) DropLatestCache() { s.latest.drop() }

// GetAt returns the value of key as of the end of height h.
func (s *Tree) GetAt(key []byte, h uint64) ([]byte, bool, error) {
	if err := s.checkHeight(h); err != nil {
		return nil, false, err
	}
	v, ok, err := s.valueAt(key, h)
	if err == nil && s.Oldest() > h {
		// Pruned while it ran: the version found may not be the one.
		err = errors.New("pruned during the read")
	}
	if err != nil || !ok {
		return nil, false, s.prunedAt(h, err)
	}
	return v.Value, true, nil
}

// History returns up to limit versions of key written at heights at or
// above fromHeight and at or below Height(), oldest first.
func (s *Tree) History(key []byte, fromHeight uint64, limit int) ([]Version, error) {
	return s.HistoryFrom(key, fromHeight, 0, limit)
}

// HistoryFrom is History starting at the position (fromHeight, fromSeq):
// the versions at fromHeight whose Seq is below fromSeq are left out. A
// (Height, Seq) pair names one version exactly, so a reader that pages
// with the position after its last version never sees a version twice,
// however many versions one height holds; the read seeks straight to the
// position rather than stepping over the versions before it.
func (s *Tree) HistoryFrom(key []byte, fromHeight uint64, fromSeq uint32, limit int) ([]Version, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("state: history of %x: limit %d must be positive", key, limit)
	}
	init, height, _ := s.snapshot()
	if o := s.Oldest(); fromHeight < o {
		return nil, &PrunedError{Height: fromHeight, Oldest: o}
	}
	if !init || fromHeight > height {
		return nil, nil
	}
	return s.versionsFrom(key, fromHeight, fromSeq, height, limit)
}

// Scan calls fn with the latest committed value of every key k with
// start <= k < end, in ascending key order, until fn returns false or an
// error (which Scan returns). A nil end means no upper bound. The key and
// value passed to fn are the caller's.
//
// Like Get, Scan reads the latest values directly, not a fixed height: a
// block committed while it runs may or may not be seen.
func (s *Tree) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	upper := prefixEnd([]byte{prefixState, prefixLatest})
	if end != nil {
		upper = latestKey(end)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: latestKey(start), UpperBound: upper})
	if err != nil {
		return fmt.Errorf("state: scan from %x: %w", start, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		_, v, err := splitLatestRecord(it.Key()[2:], it.Value())
		if err != nil {
			return err
		}
		more, err := fn(bytes.Clone(it.Key()[2:]), cloneValue(v))
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: scan from %x: %w", start, err)
	}
	return nil
}

// HistoryNewest returns up to limit versions of key written at or below
// Height(), newest first.
func (s *Tree) HistoryNewest(key []byte, limit int) ([]Version, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("state: history of %x: limit %d must be positive", key, limit)
	}
	init, height, _ := s.snapshot()
	if !init {
		return nil, nil
	}
	return s.versionsNewest(key, height, limit)
}

// HistoryNewestAt returns up to limit versions of key written at or below
// height h, newest first.
func (s *Tree) HistoryNewestAt(key []byte, h uint64, limit int) ([]Version, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("state: history of %x: limit %d must be positive", key, limit)
	}
	if err := s.checkHeight(h); err != nil {
		return nil, err
	}
	return s.versionsNewest(key, h, limit)
}

// Update is the result of Prepare: the root after one block's writes and
// everything Stage needs to persist them. It is immutable.
type Update struct {
	height   uint64
	baseInit bool
	base     crypto.Hash
	root     crypto.Hash
	rootVer  uint64
	nodes    []newNode   // nodes the new tree stores at this height
	removed  []staleNode // stored nodes of the old tree that the new one drops
	writes   []Write     // copies, in execution order
	prev     []uint64    // for each write, its key's prev (history.go)
	last     []int32     // index in writes of the last write of each distinct key
	loads    int         // nodes Prepare read
	misses   int         // of which not in the node cache
}

// Root is the state root after the update's height.
func (u *Update) Root() crypto.Hash { return u.root }

// Height is the height the update is for.
func (u *Update) Height() uint64 { return u.height }

// NodeCount is the number of tree nodes the update writes.
func (u *Update) NodeCount() int { return len(u.nodes) }

// leafUp is one key's new leaf: its path and value hash.
type leafUp struct {
	path crypto.Hash
	vh   crypto.Hash
	// existing marks a leaf already in the tree that is being pushed down
	// by an insert next to it: its hash is unchanged, but it is stored
	// again at its new position.
	existing bool
}

// Prepare computes the root after applying writes (in execution order) to
// the current tree, for height, which must be the next height: Height()+1,
// or 0 before genesis. It writes nothing, so it is safe for a block that may
// never commit. The writes are copied. Like Stage and Committed, it must be
// called from the single writer goroutine.
func (s *Tree) Prepare(height uint64, writes []Write) (*Update, error) {
	init, cur, root := s.snapshot()
	rootVer := s.rootVersion()
	next := uint64(0)
	if init {
		if cur == math.MaxUint64 {
			return nil, errors.New("state: prepare: height overflow")
		}
		next = cur + 1
	}
	if height != next {
		return nil, fmt.Errorf("state: prepare height %d: next height is %d", height, next)
	}
	if uint64(len(writes)) > math.MaxUint32 {
		return nil, fmt.Errorf("state: prepare height %d: %d writes is too many", height, len(writes))
	}
	u := &Update{height: height, baseInit: init, base: root}

	// Copy the writes into one arena so the caller may reuse its slices.
	total := 0
	for i, w := range writes {
		if w.Value == nil {
			return nil, fmt.Errorf("state: prepare height %d: write %d (key %x) has a nil value", height, i, w.Key)
		}
		if uint64(len(w.Key)) > math.MaxUint32 {
			return nil, fmt.Errorf("state: prepare height %d: write %d key is too long", height, i)
		}
		total += len(w.Key) + len(w.Value)
	}
	arena := make([]byte, 0, total)
	u.writes = make([]Write, len(writes))
	for i, w := range writes {
		arena = append(arena, w.Key...)
		k := arena[len(arena)-len(w.Key):]
		arena = append(arena, w.Value...)
		v := arena[len(arena)-len(w.Value):]
		u.writes[i] = Write{Key: k[:len(k):len(k)], Value: v[:len(v):len(v)]}
	}

	// Sort by path; among writes of one key, the last in execution order wins.
	type pw struct {
		path crypto.Hash
		idx  int32
	}
	sorted := make([]pw, len(writes))
	for i, w := range u.writes {
		sorted[i] = pw{path: sha256.Sum256(w.Key), idx: int32(i)}
	}
	sort.Slice(sorted, func(i, j int) bool {
		if c := bytes.Compare(sorted[i].path[:], sorted[j].path[:]); c != 0 {
			return c < 0
		}
		return sorted[i].idx < sorted[j].idx
	})
	ups := make([]leafUp, 0, len(sorted))
	u.prev = make([]uint64, len(writes))
	for i := 0; i < len(sorted); {
		j := i
		for j+1 < len(sorted) && sorted[j+1].path == sorted[i].path {
			j++
		}
		w := u.writes[sorted[j].idx]
		ups = append(ups, leafUp{path: sorted[j].path, vh: sha256.Sum256(w.Value)})
		u.last = append(u.last, sorted[j].idx)
		// Each history entry names the key's write before this height.
		prev, err := s.prevWrite(w.Key)
		if err != nil {
			return nil, fmt.Errorf("state: prepare height %d: %w", height, err)
		}
		for k := i; k <= j; k++ {
			u.prev[sorted[k].idx] = prev
		}
		i = j + 1
	}

	// A block of k writes on a tree of n keys creates about k*(log2(n/k)+2)
	// nodes; reserving up front avoids copying a large slice as it grows,
	// and sizing by the last block (n changes slowly) avoids clearing
	// memory that is never used.
	per := s.nodesPerUp
	if per == 0 {
		per = 8 * 16
	}
	est := len(ups)*(per+per/8)/16 + 16
	u.nodes = make([]newNode, 0, est)
	u.removed = make([]staleNode, 0, est)
	p := preparer{s: s, u: u}
	newRoot, newVer, err := p.update(root, rootVer, ups)
	if err != nil {
		return nil, fmt.Errorf("state: prepare height %d: %w", height, err)
	}
	if len(ups) > 0 {
		s.nodesPerUp = max(16, 16*len(u.nodes)/len(ups))
	}
	u.root, u.rootVer = newRoot, newVer
	return u, nil
}

type preparer struct {
	s    *Tree
	u    *Update
	sink uint32 // keeps the cache-touching reads from being optimized away
}

// emit records n, at position pos, as a node stored at the update's height.
func (p *preparer) emit(n treeNode, pos nodePos) crypto.Hash {
	h := n.hash()
	p.u.nodes = append(p.u.nodes, newNode{hash: h, n: n, pos: pos})
	return h
}

// drop records that the node h stored at version ver and position pos
// leaves the tree.
func (p *preparer) drop(h crypto.Hash, ver uint64, pos nodePos) {
	p.u.removed = append(p.u.removed, staleNode{hash: h, ver: ver, pos: pos})
}

// levelItem is one touched subtree in Prepare's level-by-level pass.
type levelItem struct {
	old      crypto.Hash // the subtree's current hash
	oldVer   uint64      // the version its top node is stored at
	lo, hi   int32       // its updates: ups[lo:hi]
	parent   int32       // index of the parent in the level above
	right    bool        // whether it is its parent's right child
	internal bool        // old is an internal node, rebuilt bottom-up
	cached   bool        // n came from the node cache
	n        treeNode    // the old node; for an internal node, its children become the new ones
	result   crypto.Hash // the subtree's new hash
	ver      uint64      // the version its new top node is stored at
}

// update returns the new root after applying ups (sorted by path, distinct)
// to the tree with root h. It works level by level rather than depth first:
// it first looks up every touched node of one level, which are independent
// lookups the CPU overlaps (each one is a cache miss in a table of hundreds
// of megabytes), then splits their updates into the next level's items,
// and finally rebuilds the changed internal nodes bottom-up.
func (p *preparer) update(h crypto.Hash, hv uint64, ups []leafUp) (crypto.Hash, uint64, error) {
	if len(ups) == 0 {
		return h, hv, nil
	}
	levels := [][]levelItem{{{old: h, oldVer: hv, lo: 0, hi: int32(len(ups)), parent: -1}}}
	for depth := 0; len(levels[depth]) > 0; depth++ {
		cur := levels[depth]
		// Look up every item of the level before using any: the lookups
		// are independent, so their cache misses overlap. Touching the
		// sets' tag lines in a first, tighter loop overlaps them further.
		// Chunks keep the touched lines within the CPU's L2 cache.
		const chunk = 512
		for lo := 0; lo < len(cur); lo += chunk {
			part := cur[lo:min(lo+chunk, len(cur))]
			var sink uint32
			for i := range part {
				sink += p.s.cache.touch(&part[i].old)
			}
			p.sink += sink
			for i := range part {
				if !part[i].old.IsZero() {
					part[i].n, part[i].cached = p.s.cache.getOwner(part[i].old)
				}
			}
		}
		// Each item has at most two children, and most levels of a large
		// block hold about as many items as the one above: sizing the next
		// level up front saves growing a slice of large items.
		next := make([]levelItem, 0, len(cur)+len(cur)/4+2)
		for i := range cur {
			it := &cur[i]
			sub := ups[it.lo:it.hi]
			if it.old.IsZero() {
				r, err := p.build(depth, sub)
				if err != nil {
					return crypto.Hash{}, 0, err
				}
				it.result, it.ver = r, p.u.height
				continue
			}
			p.u.loads++
			n := it.n
			if !it.cached {
				p.u.misses++
				var err error
				if n, err = p.s.readNode(it.old, it.oldVer, posOf(depth, &sub[0].path)); err != nil {
					return crypto.Hash{}, 0, err
				}
			}
			if n.isLeaf() {
				r, v, err := p.updateLeaf(it.old, it.oldVer, n, depth, sub)
				if err != nil {
					return crypto.Hash{}, 0, err
				}
				it.result, it.ver = r, v
				continue
			}
			if depth >= smt.MaxDepth {
				return crypto.Hash{}, 0, fmt.Errorf("internal node %s below depth %d", it.old, smt.MaxDepth)
			}
			it.internal, it.n = true, n
			split := it.lo + int32(sort.Search(len(sub), func(i int) bool { return smt.Bit(&sub[i].path, depth) == 1 }))
			if split > it.lo {
				next = append(next, levelItem{old: n.a, oldVer: n.va, lo: it.lo, hi: split, parent: int32(i)})
			}
			if it.hi > split {
				next = append(next, levelItem{old: n.b, oldVer: n.vb, lo: split, hi: it.hi, parent: int32(i), right: true})
			}
		}
		levels = append(levels, next)
	}
	// Bottom-up: an internal node's children are final once the level
	// below is done. Untouched children keep their hashes.
	for depth := len(levels) - 1; depth >= 0; depth-- {
		for i := range levels[depth] {
			it := &levels[depth][i]
			if it.internal {
				it.result, it.ver = p.rebuild(it.old, it.oldVer, posOf(depth, &ups[it.lo].path), it.n)
			}
			if depth > 0 {
				par := &levels[depth-1][it.parent]
				if it.right {
					par.n.b, par.n.vb = it.result, it.ver
				} else {
					par.n.a, par.n.va = it.result, it.ver
				}
			}
		}
	}
	return levels[0][0].result, levels[0][0].ver, nil
}

// rebuild returns the hash and version of internal node n at pos (whose
// children were replaced by their new hashes and versions), emitting it if
// it changed from old (stored at oldVer). A node whose hash is unchanged
// has unchanged children: a child is stored anew only when its hash
// changes, so the old node's child versions still hold.
func (p *preparer) rebuild(old crypto.Hash, oldVer uint64, pos nodePos, n treeNode) (crypto.Hash, uint64) {
	h := n.hash()
	if h == old {
		return old, oldVer
	}
	// Without deletions a subtree never shrinks, so an internal node (two
	// or more keys) stays internal and never collapses.
	p.drop(old, oldVer, pos)
	p.u.nodes = append(p.u.nodes, newNode{hash: h, n: n, pos: pos})
	return h, p.u.height
}

// updateLeaf returns the hash and version of the subtree at depth that is
// now the leaf n (hash h, stored at ver) after applying ups. Whatever
// replaces the leaf, its stored copy at this position leaves the tree: a
// leaf pushed down by an insert next to it keeps its hash but is stored
// again at its new position.
func (p *preparer) updateLeaf(h crypto.Hash, ver uint64, n treeNode, depth int, ups []leafUp) (crypto.Hash, uint64, error) {
	// Replace the leaf in place if one of the updates is its key;
	// otherwise it joins the updates and is pushed down with them.
	i, found := sort.Find(len(ups), func(i int) int { return bytes.Compare(n.a[:], ups[i].path[:]) })
	var merged []leafUp
	switch {
	case found && ups[i].vh == n.b && len(ups) == 1:
		// Rewritten with the same value: the leaf is unchanged.
		return h, ver, nil
	case found && ups[i].vh == n.b:
		merged = slices.Clone(ups)
		merged[i].existing = true
	case found:
		merged = ups
	default:
		merged = make([]leafUp, 0, len(ups)+1)
		merged = append(merged, ups[:i]...)
		merged = append(merged, leafUp{path: n.a, vh: n.b, existing: true})
		merged = append(merged, ups[i:]...)
	}
	p.drop(h, ver, posOf(depth, &n.a))
	r, err := p.build(depth, merged)
	return r, p.u.height, err
}

// build returns the hash of the canonical subtree at depth holding exactly
// the leaves in ups (sorted by path, distinct), emitting its new nodes.
func (p *preparer) build(depth int, ups []leafUp) (crypto.Hash, error) {
	switch len(ups) {
	case 0:
		return crypto.Hash{}, nil
	case 1:
		// An existing leaf comes here only pushed below its old position,
		// so it is stored again like a new one.
		n := treeNode{tag: tagLeaf, a: ups[0].path, b: ups[0].vh}
		return p.emit(n, posOf(depth, &ups[0].path)), nil
	}
	if depth >= smt.MaxDepth {
		return crypto.Hash{}, fmt.Errorf("two keys share the path %s", ups[0].path)
	}
	split := sort.Search(len(ups), func(i int) bool { return smt.Bit(&ups[i].path, depth) == 1 })
	left, err := p.build(depth+1, ups[:split])
	if err != nil {
		return crypto.Hash{}, err
	}
	right, err := p.build(depth+1, ups[split:])
	if err != nil {
		return crypto.Hash{}, err
	}
	n := treeNode{tag: tagInternal, a: left, b: right}
	if !left.IsZero() {
		n.va = p.u.height
	}
	if !right.IsZero() {
		n.vb = p.u.height
	}
	return p.emit(n, posOf(depth, &ups[0].path)), nil
}

// loadNode returns the node with hash h, stored at version ver and
// position pos, from the cache or the database, from any goroutine. A
// cached node is the current tree's copy of h: the same hash, so the same
// node, though its children may be stored at other versions than those of
// the copy at ver.
func (s *Tree) loadNode(h crypto.Hash, ver uint64, pos nodePos) (treeNode, error) {
	if n, ok := s.cache.get(h); ok {
		return n, nil
	}
	return s.readNode(h, ver, pos)
}

// readNode reads the node with hash h stored at version ver and position
// pos from the database, bypassing the cache.
func (s *Tree) readNode(h crypto.Hash, ver uint64, pos nodePos) (treeNode, error) {
	v, closer, err := s.db.Get(nodeKey(ver, pos))
	if err != nil {
		return treeNode{}, fmt.Errorf("reading node %s (version %d, depth %d): %w", h, ver, pos.depth, err)
	}
	defer closer.Close()
	n, err := decodeNode(v)
	if err != nil {
		return treeNode{}, fmt.Errorf("reading node %s (version %d, depth %d): %w", h, ver, pos.depth, err)
	}
	return n, nil
}

// checkFresh returns an error unless u was prepared on the current tree.
func (s *Tree) checkFresh(u *Update) error {
	init, cur, root := s.snapshot()
	next := uint64(0)
	if init {
		next = cur + 1
	}
	if u.height != next || u.baseInit != init || u.base != root {
		return fmt.Errorf("state: stale update for height %d: next height is %d", u.height, next)
	}
	return nil
}

// Stage puts the update's nodes, root, latest values and history into b.
// The caller commits b (synced, with its block) and then calls Committed.
// An update that was not prepared on the current tree is rejected.
func (s *Tree) Stage(b *pebble.Batch, u *Update) error {
	if b == nil || u == nil {
		return errors.New("state: stage: nil batch or update")
	}
	if err := s.checkFresh(u); err != nil {
		return err
	}
	if s.Tracking() {
		if err := s.stageTracking(b, u); err != nil {
			return err
		}
	}
	// Keys go into the batch in ascending order (history 'h' < latest 'l' <
	// nodes 'n' < roots 'r', each sorted; the pruning records are few):
	// Pebble inserts a sorted batch
	// into its memtable several times faster than a random one, because
	// each insert starts from the previous one's position.
	key := make([]byte, 0, 64)
	// History keys order by key length, then key, then position.
	hist := make([]sortEntry, len(u.writes))
	for i, w := range u.writes {
		hist[i] = sortEntry{pfx: uint64(len(w.Key))<<32 | keyPrefix(w.Key)>>32, key: w.Key, idx: int32(i)}
	}
	slices.SortFunc(hist, compareSortEntries)
	histBytes := 0
	for _, w := range u.writes {
		histBytes += 2 + 8 + 4 + len(w.Key) + 12 + 8 + len(w.Value)
	}
	epoch := s.stageEpoch(u.height, histBytes)
	val := make([]byte, 0, 64)
	for _, e := range hist {
		key = appendHistoryKey(key[:0], epoch, e.key, u.height, uint32(e.idx))
		val = appendHistoryValue(val[:0], u.prev[e.idx], u.writes[e.idx].Value)
		if err := b.Set(key, val, nil); err != nil {
			return fmt.Errorf("state: stage height %d: history: %w", u.height, err)
		}
	}
	latest := make([]sortEntry, len(u.last))
	for j, i := range u.last {
		latest[j] = sortEntry{pfx: keyPrefix(u.writes[i].Key), key: u.writes[i].Key, idx: i}
	}
	slices.SortFunc(latest, compareSortEntries)
	for _, e := range latest {
		key = append(key[:0], prefixState, prefixLatest)
		key = append(key, e.key...)
		val = appendLatestRecord(val[:0], u.height, u.writes[e.idx].Value)
		if err := b.Set(key, val, nil); err != nil {
			return fmt.Errorf("state: stage height %d: latest value: %w", u.height, err)
		}
	}
	for _, i := range sortNodesByPos(u.nodes) {
		nn := &u.nodes[i]
		key = appendNodeKey(key[:0], u.height, nn.pos)
		val = nn.n.appendStored(val[:0])
		if err := b.Set(key, val, nil); err != nil {
			return fmt.Errorf("state: stage height %d: node: %w", u.height, err)
		}
	}
	if err := b.Set(rootKey(u.height), rootValue(u.root, u.rootVer), nil); err != nil {
		return fmt.Errorf("state: stage height %d: root: %w", u.height, err)
	}
	return nil
}

// sortEntry is a write being sorted by key for Stage. pfx holds the
// leading bytes of the sort key so most comparisons need no indirection;
// ties fall back to the key bytes, then to the write's position.
type sortEntry struct {
	pfx uint64
	key []byte
	idx int32
}

func compareSortEntries(a, b sortEntry) int {
	if a.pfx != b.pfx {
		if a.pfx < b.pfx {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return int(a.idx - b.idx)
}

// keyPrefix returns the first 8 bytes of k as a big-endian number, zero
// padded: ordering by it agrees with bytes.Compare wherever it differs.
func keyPrefix(k []byte) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// sortNodesByPos returns the indexes of nodes in ascending storage key
// order: by depth, then path. It sorts small (depth, first 8 path bytes,
// index) entries rather than the nodes themselves; within a depth of at
// most 64 the first 8 bytes of two positions' paths differ, and deeper
// ties fall back to the whole path.
func sortNodesByPos(nodes []newNode) []int32 {
	type entry struct {
		depth uint16
		pfx   uint64
		idx   int32
	}
	es := make([]entry, len(nodes))
	for i := range nodes {
		es[i] = entry{depth: nodes[i].pos.depth, pfx: binary.BigEndian.Uint64(nodes[i].pos.path[:8]), idx: int32(i)}
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.depth != b.depth:
			return int(a.depth) - int(b.depth)
		case a.pfx < b.pfx:
			return -1
		case a.pfx > b.pfx:
			return 1
		case a.depth <= 64:
			return 0
		}
		return bytes.Compare(nodes[a.idx].pos.path[:], nodes[b.idx].pos.path[:])
	})
	out := make([]int32, len(es))
	for i := range es {
		out[i] = es[i].idx
	}
	return out
}

// Committed advances the in-memory height, root and node cache once the
// batch holding u (see Stage) is durable. An update that is not for the
// next height of the current tree is ignored, so a repeated call is harmless.
func (s *Tree) Committed(u *Update) {
	if u == nil {
		return
	}
	// Only the writer goroutine changes the fields checked here.
	s.mu.RLock()
	next := uint64(0)
	if s.initialized {
		next = s.height + 1
	}
	stale := u.height != next || u.baseInit != s.initialized || u.base != s.root
	again := s.initialized && u.height == s.height && u.root == s.root
	s.mu.RUnlock()
	if again {
		return
	}
	if stale {
		// The batch may have been committed all the same: the cached
		// latest values are no longer known to be current.
		s.latest.drop()
		return
	}
	// The cached values change before the new height is visible, as the
	// database's did when the batch committed; and the generation moves
	// before any of them does (latest.go).
	s.latest.begin()
	for _, i := range u.last {
		s.latest.update(u.writes[i].Key, u.height, u.writes[i].Value)
	}
	s.mu.Lock()
	s.initialized, s.height, s.root, s.rootVer = true, u.height, u.root, u.rootVer
	s.mu.Unlock()
	s.cache.apply(u.removed, u.nodes)
}

func rootKey(h uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixState, prefixRoot}, h)
}

// rootValueSize is the size of a root record: the root hash and the
// version its node is stored at (0 for the empty tree).
const rootValueSize = crypto.HashSize + 8

func rootValue(root crypto.Hash, ver uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, rootValueSize), root[:]...), ver)
}

func decodeRootValue(v []byte) (crypto.Hash, uint64) {
	var r crypto.Hash
	copy(r[:], v)
	return r, binary.BigEndian.Uint64(v[crypto.HashSize:])
}

// prevWrite returns one more than the height of key's latest write, or 0
// for a key never written: what a history entry of the next height names
// as its prev.
func (s *Tree) prevWrite(key []byte) (uint64, error) {
	h, ok, err := s.latestWriteHeight(key)
	if err != nil || !ok {
		return 0, err
	}
	return h + 1, nil
}

func latestKey(key []byte) []byte {
	k := make([]byte, 0, 2+len(key))
	k = append(k, prefixState, prefixLatest)
	return append(k, key...)
}

// cloneValue copies a stored value. A present value is never nil, even
// when empty: nil means "absent" to smt.Verify.
func cloneValue(v []byte) []byte {
	return append(make([]byte, 0, len(v)), v...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
// p always starts with 's', so it is never all 0xff.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

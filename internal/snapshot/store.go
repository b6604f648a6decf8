package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/ledger"
)

// DefaultChunkBytes is the size at which a chunk is cut: big enough that a
// chunk's request overhead is small, small enough that a joining node
// holds little at a time.
const DefaultChunkBytes = 4 << 20

// ErrNotFound is returned for a snapshot or chunk the store does not hold.
var ErrNotFound = errors.New("snapshot not found")

// Store is a directory of complete snapshots, one subdirectory per height
// (HEIGHT/manifest, HEIGHT/chunk-NNNNNN). A snapshot is written under a
// temporary name and renamed when complete, so a crash leaves no partial
// snapshot that looks whole; Open deletes the leftovers.
type Store struct {
	dir        string
	chunkBytes int

	mu        sync.Mutex
	manifests map[uint64]*Manifest
}

// Open opens (creating) the snapshot directory dir. chunkBytes <= 0 means
// DefaultChunkBytes.
func Open(dir string, chunkBytes int) (*Store, error) {
	if chunkBytes <= 0 {
		chunkBytes = DefaultChunkBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	s := &Store{dir: dir, chunkBytes: chunkBytes, manifests: map[uint64]*Manifest{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshots: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("snapshots: removing unfinished %s: %w", name, err)
			}
			continue
		}
		h, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name, "manifest"))
		if err != nil {
			return nil, fmt.Errorf("snapshots: %w", err)
		}
		m, err := DecodeManifest(b)
		if err != nil || m.Height != h {
			return nil, fmt.Errorf("snapshots: %s/manifest: bad manifest (%v)", name, err)
		}
		s.manifests[h] = m
	}
	return s, nil
}

// Heights returns the heights of the complete snapshots, newest first.
func (s *Store) Heights() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, 0, len(s.manifests))
	for h := range s.manifests {
		out = append(out, h)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// Manifest returns the manifest of the snapshot at height.
func (s *Store) Manifest(height uint64) (*Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.manifests[height]
	if !ok {
		return nil, fmt.Errorf("snapshot at height %d: %w", height, ErrNotFound)
	}
	return m, nil
}

// Chunk opens chunk i of the snapshot at height. The file may be removed
// (by Prune) while open; the open handle stays readable.
func (s *Store) Chunk(height uint64, i int) (*os.File, error) {
	m, err := s.Manifest(height)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= m.Chunks() {
		return nil, fmt.Errorf("snapshot at height %d has %d chunks, no chunk %d: %w", height, m.Chunks(), i, ErrNotFound)
	}
	f, err := os.Open(filepath.Join(s.dir, strconv.FormatUint(height, 10), chunkName(i)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("snapshot at height %d was just deleted: %w", height, ErrNotFound)
	}
	return f, err
}

func chunkName(i int) string { return fmt.Sprintf("chunk-%06d", i) }

// Prune deletes all but the keep newest snapshots.
func (s *Store) Prune(keep int) error {
	hs := s.Heights()
	if keep < 1 {
		keep = 1
	}
	for _, h := range hs[min(keep, len(hs)):] {
		s.mu.Lock()
		delete(s.manifests, h)
		s.mu.Unlock()
		if err := os.RemoveAll(filepath.Join(s.dir, strconv.FormatUint(h, 10))); err != nil {
			return fmt.Errorf("snapshots: prune %d: %w", h, err)
		}
	}
	return nil
}

// Stats describes a snapshot just taken.
type Stats struct {
	Height       uint64
	Keys, Txs    uint64
	Chunks       int
	Bytes        int64
	Took         time.Duration
	ManifestHash crypto.Hash
}

// Take writes the snapshot of pin's height into the store (replacing one
// of the same height) and returns what it wrote. It reads only pin, so
// commits go on meanwhile; it stops early, writing nothing, when ctx ends.
// pin stays the caller's to close.
func (s *Store) Take(ctx context.Context, pin *ledger.Pin, chainID string) (*Stats, error) {
	start := time.Now()
	h := pin.Height
	if h == 0 {
		return nil, errors.New("snapshot: nothing to snapshot at height 0")
	}
	final := filepath.Join(s.dir, strconv.FormatUint(h, 10))
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()
	hdr, err := pin.HeaderBytes(h)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	cert, err := pin.Certificate(h)
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	m := &Manifest{ChainID: chainID, Height: h, Header: hdr, Certificate: cert.Encode()}
	st := &Stats{Height: h}
	w := &chunkWriter{}
	n := 0
	flush := func(list *[]crypto.Hash) error {
		if w.count == 0 {
			return nil
		}
		b := w.bytes()
		if err := writeFileSync(filepath.Join(tmp, chunkName(n)), b); err != nil {
			return fmt.Errorf("snapshot %d: %w", h, err)
		}
		*list = append(*list, sha256.Sum256(b))
		st.Bytes += int64(len(b))
		n++
		w.reset(w.kind)
		return nil
	}
	w.reset(KindChain)
	for ht := uint64(1); ht <= h; ht++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", h, err)
		}
		hb, err := pin.HeaderBytes(ht)
		if err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", h, err)
		}
		txs, err := pin.TxHashes(ht)
		if err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", h, err)
		}
		w.addChain(ht, hb, txs)
		m.Txs += uint64(len(txs))
		if len(w.body) >= s.chunkBytes {
			if err := flush(&m.ChainChunks); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(&m.ChainChunks); err != nil {
		return nil, err
	}
	w.reset(KindState)
	err = pin.ExportState(func(k, v []byte) error {
		w.addPair(k, v)
		m.Keys++
		if len(w.body) >= s.chunkBytes {
			if err := ctx.Err(); err != nil {
				return err
			}
			return flush(&m.StateChunks)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	if err := flush(&m.StateChunks); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(tmp, "manifest"), m.Encode()); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	s.mu.Lock()
	delete(s.manifests, h)
	s.mu.Unlock()
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", h, err)
	}
	syncDir(s.dir)
	ok = true
	s.mu.Lock()
	s.manifests[h] = m
	s.mu.Unlock()
	st.Keys, st.Txs, st.Chunks, st.Took, st.ManifestHash = m.Keys, m.Txs, m.Chunks(), time.Since(start), m.Hash()
	return st, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Taker takes snapshots in the background, one at a time: a node hands it
// a pinned view after a commit and goes on; a view offered while a
// snapshot is being written is dropped (the next interval takes one).
type Taker struct {
	store   *Store
	chainID string
	keep    int
	log     *slog.Logger
	queue   chan *ledger.Pin
	done    chan struct{}
	// OnTaken, if set before Run, is called after each snapshot.
	OnTaken func(*Stats)
}

// NewTaker returns a Taker writing into store and keeping keep snapshots.
func NewTaker(store *Store, chainID string, keep int, log *slog.Logger) *Taker {
	return &Taker{store: store, chainID: chainID, keep: keep, log: log, queue: make(chan *ledger.Pin, 1), done: make(chan struct{})}
}

// Offer hands over pin (which the Taker closes) and reports whether it was
// taken; it never blocks.
func (t *Taker) Offer(pin *ledger.Pin) bool {
	select {
	case t.queue <- pin:
		return true
	default:
		_ = pin.Close()
		return false
	}
}

// Run writes the snapshots offered until ctx ends (which also abandons a
// snapshot being written).
func (t *Taker) Run(ctx context.Context) {
	defer close(t.done)
	for {
		select {
		case <-ctx.Done():
			select {
			case pin := <-t.queue:
				_ = pin.Close()
			default:
			}
			return
		case pin := <-t.queue:
			st, err := t.store.Take(ctx, pin, t.chainID)
			_ = pin.Close()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.log.Error("snapshot failed", "height", pin.Height, "err", err)
				continue
			}
			t.log.Info("snapshot taken", "height", st.Height, "keys", st.Keys, "txs", st.Txs, "chunks", st.Chunks,
				"bytes", st.Bytes, "took", st.Took.Round(time.Millisecond), "manifest", st.ManifestHash)
			if err := t.store.Prune(t.keep); err != nil {
				t.log.Error("snapshot prune failed", "err", err)
			}
			if t.OnTaken != nil {
				t.OnTaken(st)
			}
		}
	}
}

// Wait returns once Run has returned.
func (t *Taker) Wait() { <-t.done }

// Package blobstore keeps bulk payloads (blobs) outside the ledger,
// addressed by their SHA-256. The chain certifies a blob's hash and size
// (a blob.record transaction); an engine stores the bytes. Two engines sit
// behind one interface: Files, the node's own disk (the default), and NATS,
// a JetStream object store replicated on R servers, so that a deployment
// whose payloads outgrow every validator's disk keeps them on a few
// replicas instead of on every node.
//
// Invariants:
//   - A blob is visible under its hash only once all of its bytes are
//     stored and hashed: an upload that fails or is over the limit leaves
//     nothing under any hash (Files writes a temporary file and renames it;
//     NATS uploads under a temporary name and renames the object's metadata,
//     one message, once the hash is known).
//   - A blob is never served as valid unless its bytes match its hash: the
//     Reader that Open returns hashes what it reads and ends with
//     ErrCorrupt, not io.EOF, when the bytes or their length differ.
//   - Blobs are immutable and never deleted through this package, so a
//     blob seen present with a size stays so (Checker caches that).
package blobstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// DefaultMaxBytes bounds one upload unless configured otherwise (1 GiB).
const DefaultMaxBytes = 1 << 30

// Errors. Engines wrap them with context; compare with errors.Is.
var (
	// ErrNotFound: no blob with that hash in the store.
	ErrNotFound = errors.New("blob not found")
	// ErrTooLarge: an upload over the size limit (nothing was stored).
	ErrTooLarge = errors.New("blob over the size limit")
	// ErrSizeMismatch: the blob exists with another size than the one
	// referenced.
	ErrSizeMismatch = errors.New("blob size does not match")
	// ErrCorrupt: the stored bytes do not hash to the blob's name.
	ErrCorrupt = errors.New("blob corrupted in the store: its bytes do not match its SHA-256")
	// ErrUnavailable: the store cannot answer now (servers unreachable, no
	// quorum); nothing was changed.
	ErrUnavailable = errors.New("blob store unavailable")
	// ErrFull: the store has reached its configured size.
	ErrFull = errors.New("blob store full")
)

// Ref names a blob by content: its SHA-256 and its size in bytes (what a
// blob.record transaction carries).
type Ref = types.BlobRef

// Store is a blob engine. All methods are safe for concurrent use.
type Store interface {
	// Put stores what r yields, at most limit bytes, and returns its hash
	// and size. Over the limit it returns ErrTooLarge and stores nothing.
	// Storing a blob that already exists succeeds and keeps one copy.
	Put(ctx context.Context, r io.Reader, limit int64) (Ref, error)
	// Open returns a verifying reader of the blob h (ErrNotFound if absent).
	Open(ctx context.Context, h crypto.Hash) (*Reader, error)
	// Stat returns the size of blob h (ErrNotFound if absent).
	Stat(ctx context.Context, h crypto.Hash) (uint64, error)
	// Engine names the engine ("files", "nats") for logs and status.
	Engine() string
	Close() error
}

// Has reports nil when the blob ref.Hash is in s with size ref.Size; else
// an error wrapping ErrNotFound, ErrSizeMismatch or ErrUnavailable.
func Has(ctx context.Context, s Store, ref Ref) error {
	size, err := s.Stat(ctx, ref.Hash)
	if err != nil {
		return err
	}
	if size != ref.Size {
		return fmt.Errorf("blob %s is %d bytes in the store, not %d: %w", ref.Hash, size, ref.Size, ErrSizeMismatch)
	}
	return nil
}

// Reader streams one blob and verifies it as it goes: the final Read
// returns ErrCorrupt instead of io.EOF when the bytes read do not hash to
// the blob's name or are not Size bytes long. A caller that has not seen
// io.EOF has not seen a verified blob.
type Reader struct {
	ref  Ref
	src  io.ReadCloser
	h    hash.Hash
	n    uint64
	err  error
	done bool
}

// NewReader wraps src, which claims to yield blob ref.
func NewReader(ref Ref, src io.ReadCloser) *Reader {
	return &Reader{ref: ref, src: src, h: sha256.New()}
}

// Size is the blob's size as the store records it.
func (r *Reader) Size() uint64 { return r.ref.Size }

// Hash is the blob's name.
func (r *Reader) Hash() crypto.Hash { return r.ref.Hash }

func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.src.Read(p)
	if n > 0 {
		r.h.Write(p[:n])
		r.n += uint64(n)
		if r.n > r.ref.Size {
			r.err = fmt.Errorf("blob %s: more than its %d bytes: %w", r.ref.Hash, r.ref.Size, ErrCorrupt)
			return n, r.err
		}
	}
	switch {
	case err == io.EOF:
		var got crypto.Hash
		r.h.Sum(got[:0])
		if r.n != r.ref.Size || got != r.ref.Hash {
			r.err = fmt.Errorf("blob %s: read %d bytes hashing to %s: %w", r.ref.Hash, r.n, got, ErrCorrupt)
		} else {
			r.err = io.EOF
		}
		return n, r.err
	case err != nil:
		r.err = err
		return n, err
	}
	return n, nil
}

// Close releases the underlying stream.
func (r *Reader) Close() error { return r.src.Close() }

// limitedHasher counts and hashes what passes through and fails with
// ErrTooLarge past limit bytes.
type limitedHasher struct {
	r     io.Reader
	limit int64
	n     int64
	h     hash.Hash
}

func newLimitedHasher(r io.Reader, limit int64) *limitedHasher {
	return &limitedHasher{r: r, limit: limit, h: sha256.New()}
}

func (l *limitedHasher) Read(p []byte) (int, error) {
	if int64(len(p)) > l.limit-l.n+1 {
		p = p[:l.limit-l.n+1]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.limit {
		return 0, fmt.Errorf("more than %d bytes: %w", l.limit, ErrTooLarge)
	}
	l.h.Write(p[:n])
	return n, err
}

func (l *limitedHasher) ref() Ref {
	var r Ref
	l.h.Sum(r.Hash[:0])
	r.Size = uint64(l.n)
	return r
}

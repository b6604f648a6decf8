package blobstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
)

// corrupter changes the stored bytes of blob h without changing its name
// or size, as a bad disk or a faulty replica would.
type corrupter func(t *testing.T, h crypto.Hash)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, s blobstore.Store, h crypto.Hash) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func put(t *testing.T, s blobstore.Store, b []byte, limit int64) (blobstore.Ref, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Put(ctx, bytes.NewReader(b), limit)
}

// testContract checks what every engine promises.
func testContract(t *testing.T, s blobstore.Store, corrupt corrupter) {
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		for _, n := range []int{0, 5, 128<<10 + 1, 1 << 20} {
			data := randomBytes(t, n)
			ref, err := put(t, s, data, 2<<20)
			if err != nil {
				t.Fatalf("put %d bytes: %v", n, err)
			}
			if ref.Hash != crypto.Sum(data) || ref.Size != uint64(n) {
				t.Fatalf("put %d bytes: got %s/%d", n, ref.Hash, ref.Size)
			}
			if err := blobstore.Has(ctx, s, ref); err != nil {
				t.Fatalf("has: %v", err)
			}
			got, err := readAll(t, s, ref.Hash)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes: %d bytes, %v", n, len(got), err)
			}
			// The same bytes again: the same name, one copy.
			again, err := put(t, s, data, 2<<20)
			if err != nil || again != ref {
				t.Fatalf("second put: %v %v", again, err)
			}
		}
	})
	t.Run("wrong size", func(t *testing.T) {
		ref, err := put(t, s, []byte("sized"), 100)
		if err != nil {
			t.Fatal(err)
		}
		ref.Size++
		if err := blobstore.Has(ctx, s, ref); !errors.Is(err, blobstore.ErrSizeMismatch) {
			t.Fatalf("has with a wrong size: %v, want ErrSizeMismatch", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		h := crypto.Sum([]byte("never stored"))
		if _, err := s.Stat(ctx, h); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("stat: %v, want ErrNotFound", err)
		}
		if _, err := s.Open(ctx, h); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("open: %v, want ErrNotFound", err)
		}
	})
	t.Run("over the limit stores nothing", func(t *testing.T) {
		data := randomBytes(t, 300<<10)
		if _, err := put(t, s, data, int64(len(data)-1)); !errors.Is(err, blobstore.ErrTooLarge) {
			t.Fatalf("put over the limit: %v, want ErrTooLarge", err)
		}
		if _, err := s.Stat(ctx, crypto.Sum(data)); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("after a refused upload: %v, want ErrNotFound", err)
		}
		// Exactly at the limit is fine.
		if _, err := put(t, s, data, int64(len(data))); err != nil {
			t.Fatalf("put at the limit: %v", err)
		}
	})
	t.Run("corruption is detected on read", func(t *testing.T) {
		data := randomBytes(t, 200<<10)
		ref, err := put(t, s, data, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		corrupt(t, ref.Hash)
		got, err := readAll(t, s, ref.Hash)
		if !errors.Is(err, blobstore.ErrCorrupt) {
			t.Fatalf("read of a corrupted blob: %d bytes, err %v; want ErrCorrupt", len(got), err)
		}
	})
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := blobstore.OpenFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	testContract(t, s, func(t *testing.T, h crypto.Hash) {
		p := s.Path(h)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x01
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	// A crash mid-upload leaves a temporary file: never visible, removed
	// at the next open.
	if err := os.WriteFile(dir+"/tmp/upload-crashed", []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := blobstore.OpenFiles(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/tmp/upload-crashed"); !os.IsNotExist(err) {
		t.Fatalf("temporary file survived a reopen: %v", err)
	}
}

// TestReaderRefusesLengthMismatch: a source that yields the right bytes
// plus more, or fewer, is corrupt even if a prefix hashes right.
func TestReaderRefusesLengthMismatch(t *testing.T) {
	data := []byte("exactly these bytes")
	ref := blobstore.Ref{Hash: crypto.Sum(data), Size: uint64(len(data))}
	for name, src := range map[string][]byte{"longer": append(append([]byte{}, data...), 'x'), "shorter": data[:5], "same": data} {
		got, err := io.ReadAll(blobstore.NewReader(ref, io.NopCloser(bytes.NewReader(src))))
		if name == "same" {
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, blobstore.ErrCorrupt) {
			t.Fatalf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cairn-db/cairn/crypto"
)

// Files stores each blob as one file under a directory of the node's home
// (DIR/ab/abcdef..., named by the hex SHA-256), written under a temporary
// name, synced and renamed. It is the engine without any outside service:
// one machine's disk, nothing replicated.
type Files struct {
	dir string
}

// OpenFiles opens (creating it) a Files store in dir.
func OpenFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	// Uploads cut short by a crash leave temporary files: never visible
	// under a hash, removed here.
	tmps, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, t := range tmps {
		_ = os.Remove(filepath.Join(dir, "tmp", t.Name()))
	}
	return &Files{dir: dir}, nil
}

// Engine implements Store.
func (*Files) Engine() string { return "files" }

// Close implements Store.
func (*Files) Close() error { return nil }

// Path is where blob h lives (tests corrupt it there).
func (f *Files) Path(h crypto.Hash) string {
	s := h.String()
	return filepath.Join(f.dir, s[:2], s)
}

// Put implements Store.
func (f *Files) Put(ctx context.Context, r io.Reader, limit int64) (Ref, error) {
	tmp, err := os.CreateTemp(filepath.Join(f.dir, "tmp"), "upload-*")
	if err != nil {
		return Ref{}, fmt.Errorf("blobstore: %w", err)
	}
	defer func() {
		tmp.Close()
		_ = os.Remove(tmp.Name()) // gone after the rename; else the partial upload
	}()
	lh := newLimitedHasher(ctxReader{ctx, r}, limit)
	if _, err := io.Copy(tmp, lh); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return Ref{}, err
		}
		return Ref{}, fmt.Errorf("blobstore: upload: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return Ref{}, fmt.Errorf("blobstore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Ref{}, fmt.Errorf("blobstore: %w", err)
	}
	ref := lh.ref()
	dst := f.Path(ref.Hash)
	if st, err := os.Stat(dst); err == nil && uint64(st.Size()) == ref.Size {
		return ref, nil // already stored: content-addressed, one copy
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Ref{}, fmt.Errorf("blobstore: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Ref{}, fmt.Errorf("blobstore: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return Ref{}, err
	}
	return ref, nil
}

// Open implements Store.
func (f *Files) Open(_ context.Context, h crypto.Hash) (*Reader, error) {
	fh, err := os.Open(f.Path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("blobstore: %w", err)
	}
	return NewReader(Ref{Hash: h, Size: uint64(st.Size())}, fh), nil
}

// Stat implements Store.
func (f *Files) Stat(_ context.Context, h crypto.Hash) (uint64, error) {
	st, err := os.Stat(f.Path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blobstore: %w", err)
	}
	return uint64(st.Size()), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blobstore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blobstore: sync %s: %w", dir, err)
	}
	return nil
}

// ctxReader stops a copy when ctx ends (a client gone mid-upload).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

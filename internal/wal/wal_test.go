package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func records(n int) [][]byte {
	var rs [][]byte
	for i := 0; i < n; i++ {
		rs = append(rs, bytes.Repeat([]byte{byte('a' + i)}, 10+i*7))
	}
	return rs
}

func write(t *testing.T, path string, recs [][]byte) *Log {
	t.Helper()
	l, got, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("fresh log has %d records", len(got))
	}
	for _, r := range recs {
		if err := l.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	return l
}

func equal(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestAppendAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	recs := append(records(5), []byte{}) // an empty record is a record
	l := write(t, path, recs)
	l.Close()
	l, got, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !equal(got, recs) || l.Truncated() != 0 {
		t.Fatalf("reopened %d records (truncated %d), want %d", len(got), l.Truncated(), len(recs))
	}
}

// TestTornTailAtEveryOffset cuts the file at every byte inside the last
// record: Open must return the records before it, cut the file back to
// where the last record began, and keep appending from there.
func TestTornTailAtEveryOffset(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal")
	recs := records(4)
	l := write(t, path, recs)
	end := l.Size()
	l.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := end - int64(headerLen+len(recs[3]))
	for cut := start; cut < end; cut++ {
		p := filepath.Join(dir, fmt.Sprintf("cut%d", cut))
		if err := os.WriteFile(p, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		l, got, err := Open(p)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if !equal(got, recs[:3]) {
			t.Fatalf("cut at %d: got %d records, want 3", cut, len(got))
		}
		if l.Truncated() != cut-start {
			t.Fatalf("cut at %d: truncated %d bytes, want %d", cut, l.Truncated(), cut-start)
		}
		if fi, _ := os.Stat(p); fi.Size() != start {
			t.Fatalf("cut at %d: file is %d bytes, want %d", cut, fi.Size(), start)
		}
		if err := l.Append([]byte("next")); err != nil {
			t.Fatal(err)
		}
		l.Sync()
		l.Close()
		l, got, err = Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if !equal(got, append(recs[:3:3], []byte("next"))) {
			t.Fatalf("cut at %d: after append got %q", cut, got)
		}
		l.Close()
	}
}

// TestCorruptTail flips each byte of the last record in turn.
func TestCorruptTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal")
	recs := records(3)
	l := write(t, path, recs)
	end := l.Size()
	l.Close()
	full, _ := os.ReadFile(path)
	start := end - int64(headerLen+len(recs[2]))
	for i := start; i < end; i++ {
		b := append([]byte(nil), full...)
		b[i] ^= 0x40
		p := filepath.Join(dir, fmt.Sprintf("flip%d", i))
		os.WriteFile(p, b, 0o600)
		l, got, err := Open(p)
		if err != nil {
			t.Fatalf("flip at %d: %v", i, err)
		}
		if !equal(got, recs[:2]) {
			t.Fatalf("flip at %d: got %d records, want 2", i, len(got))
		}
		l.Close()
	}
}

func TestReset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	l := write(t, path, records(3))
	if err := l.Reset([]byte("header")); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("after")); err != nil {
		t.Fatal(err)
	}
	l.Sync()
	l.Close()
	l, got, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !equal(got, [][]byte{[]byte("header"), []byte("after")}) {
		t.Fatalf("after reset got %q", got)
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("temporary file left behind")
	}
}

func TestNotAWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal")
	os.WriteFile(path, []byte("something else entirely"), 0o600)
	if _, _, err := Open(path); !errors.Is(err, ErrNotWAL) {
		t.Fatalf("got %v, want ErrNotWAL", err)
	}
	os.WriteFile(path, []byte("CAIRN"), 0o600) // a torn creation
	l, got, err := Open(path)
	if err != nil || len(got) != 0 {
		t.Fatalf("torn magic: %v, %d records", err, len(got))
	}
	l.Close()
}

package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestCorruptMiddleRefused damages each byte of a frame that valid frames
// follow, in turn: that is not a torn write (a crash tears only the tail)
// but corruption of records that were synced, and perhaps of votes this
// validator signed. Open must refuse, name the file and the offset, and
// leave the file as it was rather than cut the valid frames off.
func TestCorruptMiddleRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal")
	recs := records(4)
	l := write(t, path, recs)
	l.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := int64(len(magic) + headerLen + len(recs[0])) // frame 1 of 0..3
	end := start + int64(headerLen+len(recs[1]))
	damage := map[string]func(b []byte) []byte{}
	for i := start; i < end; i++ {
		damage[fmt.Sprintf("flip at %d", i)] = func(b []byte) []byte { b[i] ^= 0x40; return b }
	}
	damage["zeroed header and body start"] = func(b []byte) []byte {
		clear(b[start : start+12])
		return b
	}
	damage["length past the end"] = func(b []byte) []byte {
		b[start], b[start+1] = 0x00, 0x7f
		return b
	}
	damage["length above MaxRecord"] = func(b []byte) []byte {
		b[start] = 0xff
		return b
	}
	for name, f := range damage {
		p := filepath.Join(dir, "damaged")
		b := f(append([]byte(nil), full...))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		l, got, err := Open(p)
		if err == nil {
			l.Close()
			t.Fatalf("%s: opened with %d records, want ErrCorrupt", name, len(got))
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", start)) {
			t.Fatalf("%s: error %q does not name ErrCorrupt, the file and offset %d", name, err, start)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(after, b) {
			t.Fatalf("%s: a refused log was modified", name)
		}
	}
}

// TestTornTailThenGarbage: a torn last frame followed by bytes that hold no
// valid frame (a crash can leave the file longer than what was written,
// zero-filled or with stale data) is still a torn tail and is cut.
func TestTornTailThenGarbage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wal")
	recs := records(3)
	l := write(t, path, recs)
	end := l.Size()
	l.Close()
	full, _ := os.ReadFile(path)
	start := end - int64(headerLen+len(recs[2]))
	for name, tail := range map[string][]byte{
		"zeros":   make([]byte, 4096),
		"garbage": bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9}, 100),
	} {
		p := filepath.Join(dir, name)
		b := append(append([]byte(nil), full[:start+5]...), tail...)
		os.WriteFile(p, b, 0o600)
		l, got, err := Open(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !equal(got, recs[:2]) || l.Size() != start {
			t.Fatalf("%s: %d records, size %d; want 2 and %d", name, len(got), l.Size(), start)
		}
		l.Close()
	}
}

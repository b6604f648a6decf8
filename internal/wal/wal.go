// Package wal is an append-only file of checksummed records: the
// write-ahead log a validator keeps so that after a crash it remembers what
// it signed and where it was.
//
// Format: an 8-byte magic, then records, each framed as a 4-byte big-endian
// length, a 4-byte CRC-32C (Castagnoli) over the length bytes and the data,
// and the data. Records are only ever appended, and made durable by Sync.
//
// Invariants:
//   - Open returns exactly the records whose frames are complete and whose
//     checksums match, in order, up to the first one that is not. A crash
//     can only tear the tail (the part written after the last Sync), so
//     when nothing valid follows that frame Open cuts the file back to the
//     last good record and appending goes on from there.
//   - A bad frame followed by valid ones is not a torn write but
//     corruption of records that were synced (perhaps votes this validator
//     signed, which it must not forget). Open refuses such a file with
//     ErrCorrupt, naming it and the bad frame's offset, and leaves it as it
//     was. "Followed by valid ones" means: from some later offset, whole
//     frames with matching checksums run exactly to the end of the file.
//     Asking for a run to the end, rather than for one valid-looking frame
//     anywhere, keeps a frame-shaped value inside a torn record's data (a
//     transaction can carry any bytes) from being taken for corruption.
//   - Reset replaces the whole log atomically (write a new file, fsync,
//     rename over the old one, fsync the directory): after a crash the log
//     is either the old one or the new one, never a mix. The consensus
//     driver resets at each new height, once the block of the previous
//     height is stored.
package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

const (
	magic     = "CAIRNWL1"
	headerLen = 8
	// MaxRecord bounds one record; a larger length field can only be a
	// torn or corrupt frame.
	MaxRecord = 128 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrNotWAL means the file exists but does not start with the WAL magic.
var ErrNotWAL = errors.New("not a cairn WAL file")

// ErrCorrupt means a bad frame has valid frames after it: the damage is
// not a torn tail, and cutting it off would drop synced records.
var ErrCorrupt = errors.New("corrupt WAL")

// Log is an open write-ahead log. It is not safe for concurrent use.
type Log struct {
	path      string
	f         *os.File
	size      int64
	truncated int64
}

// Open opens or creates the log at path and returns it with the records it
// holds. A torn or corrupt tail is cut off (see Truncated).
func Open(path string) (*Log, [][]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		data = nil
	case err != nil:
		return nil, nil, fmt.Errorf("wal: read %s: %w", path, err)
	}
	if len(data) < len(magic) {
		if !bytes.HasPrefix([]byte(magic), data) {
			return nil, nil, fmt.Errorf("wal: %s: %w", path, ErrNotWAL)
		}
		// Missing, or (only if written by something other than Reset) a
		// torn creation: start an empty log.
		if err := writeAtomically(path, nil); err != nil {
			return nil, nil, err
		}
		data = []byte(magic)
	}
	if string(data[:len(magic)]) != magic {
		return nil, nil, fmt.Errorf("wal: %s: %w", path, ErrNotWAL)
	}
	recs, good := scan(data)
	if good < len(data) {
		if next, n := validRunToEnd(data, good); n > 0 {
			return nil, nil, fmt.Errorf("wal: %s: bad frame at offset %d, but %d valid frames follow it from offset %d to the end: "+
				"this is damage to synced records, not a torn write, and cutting it would drop them (perhaps signed votes); "+
				"refusing to start: restore the file or the disk before running this validator again: %w",
				path, good, n, next, ErrCorrupt)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: open %s: %w", path, err)
	}
	l := &Log{path: path, f: f, size: int64(good)}
	if good < len(data) {
		l.truncated = int64(len(data) - good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("wal: cut torn tail of %s at %d: %w", path, good, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("wal: sync %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("wal: seek %s: %w", path, err)
	}
	return l, recs, nil
}

// scan returns the records of data (which starts with the magic) and the
// length of the prefix made of whole, valid frames.
func scan(data []byte) ([][]byte, int) {
	off := len(magic)
	var recs [][]byte
	for len(data)-off >= headerLen {
		n := binary.BigEndian.Uint32(data[off:])
		sum := binary.BigEndian.Uint32(data[off+4:])
		if n > MaxRecord || uint64(n) > uint64(len(data)-off-headerLen) {
			break
		}
		body := data[off+headerLen : off+headerLen+int(n)]
		if checksum(data[off:off+4], body) != sum {
			break
		}
		recs = append(recs, append([]byte(nil), body...))
		off += headerLen + int(n)
	}
	return recs, off
}

// validRunToEnd looks past the bad frame at bad for the first offset from
// which whole frames with matching checksums run exactly to the end of
// data, and returns it with the number of frames in the run (0 if there is
// none). A torn tail has no such run: it is at most one partial frame, or a
// partial frame and then bytes the crash left that were never framed.
//
// One backward pass decides every offset: a run starts at k when k holds a
// whole frame whose checksum matches and the frame ends at the end of data
// or where another run starts. The checksum is computed only for frames
// that end there, so the pass costs the tail's length plus each candidate
// frame once, and a byte of memory per byte of tail.
func validRunToEnd(data []byte, bad int) (int, int) {
	end := len(data)
	next := func(k int) int {
		if end-k < headerLen {
			return -1
		}
		n := binary.BigEndian.Uint32(data[k:])
		if n > MaxRecord || uint64(n) > uint64(end-k-headerLen) {
			return -1
		}
		return k + headerLen + int(n)
	}
	runs := make([]bool, end-bad+1) // runs[k-bad]: a valid run starts at k
	runs[end-bad] = true
	first := -1
	for k := end - headerLen; k > bad; k-- {
		j := next(k)
		if j >= 0 && runs[j-bad] && checksum(data[k:k+4], data[k+headerLen:j]) == binary.BigEndian.Uint32(data[k+4:]) {
			runs[k-bad], first = true, k
		}
	}
	if first < 0 {
		return 0, 0
	}
	n := 0
	for k := first; k < end; k = next(k) {
		n++
	}
	return first, n
}

func checksum(lenBytes, body []byte) uint32 {
	c := crc32.Update(0, castagnoli, lenBytes)
	return crc32.Update(c, castagnoli, body)
}

func frame(dst, rec []byte) []byte {
	var h [headerLen]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(rec)))
	binary.BigEndian.PutUint32(h[4:], checksum(h[:4], rec))
	return append(append(dst, h[:]...), rec...)
}

// Truncated is how many bytes of torn or corrupt tail Open cut off.
func (l *Log) Truncated() int64 { return l.truncated }

// Size is the file's length in bytes.
func (l *Log) Size() int64 { return l.size }

// Append writes one record. It is durable only after Sync.
func (l *Log) Append(rec []byte) error {
	if len(rec) > MaxRecord {
		return fmt.Errorf("wal: record of %d bytes exceeds %d", len(rec), MaxRecord)
	}
	b := frame(make([]byte, 0, headerLen+len(rec)), rec)
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("wal: append to %s: %w", l.path, err)
	}
	return nil
}

// Sync makes every appended record durable.
func (l *Log) Sync() error {
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s: %w", l.path, err)
	}
	return nil
}

// Reset atomically replaces the log with one holding exactly recs.
func (l *Log) Reset(recs ...[]byte) error {
	b := []byte(magic)
	for _, r := range recs {
		if len(r) > MaxRecord {
			return fmt.Errorf("wal: record of %d bytes exceeds %d", len(r), MaxRecord)
		}
		b = frame(b, r)
	}
	if err := writeAtomically(l.path, b[len(magic):]); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: reopen %s: %w", l.path, err)
	}
	if _, err := f.Seek(int64(len(b)), io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("wal: seek %s: %w", l.path, err)
	}
	l.f.Close()
	l.f, l.size, l.truncated = f, int64(len(b)), 0
	return nil
}

// Close closes the file; it does not sync.
func (l *Log) Close() error { return l.f.Close() }

// writeAtomically writes magic+frames to path via a synced temporary file
// and a rename, then syncs the directory so the rename is durable.
func writeAtomically(path string, frames []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wal: create %s: %w", tmp, err)
	}
	_, werr := f.Write(append([]byte(magic), frames...))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("wal: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("wal: rename %s: %w", tmp, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("wal: open dir of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: sync dir of %s: %w", path, err)
	}
	return nil
}

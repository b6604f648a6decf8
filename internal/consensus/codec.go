package consensus

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every Decode and DecodeRecord error: the bytes
// are not the one canonical encoding of any message or record.
var ErrMalformed = errors.New("malformed consensus encoding")

// enc appends fixed-width big-endian integers and length-prefixed byte
// strings, the same conventions as types/codec.go (which is unexported).
type enc struct{ b []byte }

func (e *enc) u8(v uint8)       { e.b = append(e.b, v) }
func (e *enc) u32(v uint32)     { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)     { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) fixed(v []byte)   { e.b = append(e.b, v...) }
func (e *enc) bytes32(v []byte) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }

// dec reads what enc wrote. The first error sticks; later reads return
// zero values, so callers check err once.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s (at byte %d)", ErrMalformed, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *dec) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("%s: truncated: need %d bytes, have %d", field, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *dec) u8(field string) uint8 {
	if v := d.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (d *dec) u32(field string) uint32 {
	if v := d.take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *dec) u64(field string) uint64 {
	if v := d.take(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *dec) fixed(dst []byte, field string) {
	if v := d.take(len(dst), field); v != nil {
		copy(dst, v)
	}
}

// bytes32 returns a sub-slice (not a copy) of a 4-byte-length-prefixed
// field of at most max bytes; callers decode it into fresh values.
func (d *dec) bytes32(field string, max int) []byte {
	n := d.u32(field + " length")
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.fail("%s: length %d exceeds limit %d", field, n, max)
		return nil
	}
	return d.take(int(n), field)
}

func (d *dec) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

package types

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNonCanonical is wrapped by every decoding error: the input is not the
// one canonical encoding of any value.
var ErrNonCanonical = errors.New("non-canonical encoding")

// encoder appends the canonical forms described in docs/encoding.md.
// Integers are fixed-width big-endian; variable-length fields carry a fixed
// width big-endian length prefix. Fixed widths (not varints) make every value
// have exactly one encoding without any minimality rules.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) fixed(v []byte) {
	e.b = append(e.b, v...)
}
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// bytes16 writes a field of at most 65535 bytes with a 2-byte length.
func (e *encoder) bytes16(v []byte) { e.u16(uint16(len(v))); e.b = append(e.b, v...) }

// bytes32 writes a field with a 4-byte length.
func (e *encoder) bytes32(v []byte) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }

// decoder reads canonical forms; the first error sticks and later reads
// return zero values, so callers check err once at the end.
type decoder struct {
	b   []byte
	off int
	err error
	// what names the value being decoded, for error messages.
	what string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w: %s (at byte %d)", d.what, ErrNonCanonical, fmt.Sprintf(format, args...), d.off)
	}
}

func (d *decoder) take(n int, field string) []byte {
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

func (d *decoder) u8(field string) uint8 {
	v := d.take(1, field)
	if v == nil {
		return 0
	}
	return v[0]
}

func (d *decoder) u16(field string) uint16 {
	v := d.take(2, field)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

func (d *decoder) u32(field string) uint32 {
	v := d.take(4, field)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

func (d *decoder) u64(field string) uint64 {
	v := d.take(8, field)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (d *decoder) bool(field string) bool {
	v := d.u8(field)
	if v > 1 {
		d.fail("%s: boolean must be 0 or 1, got %d", field, v)
	}
	return v == 1
}

func (d *decoder) fixed(dst []byte, field string) {
	if v := d.take(len(dst), field); v != nil {
		copy(dst, v)
	}
}

// bytes16 returns a copy of a 2-byte-length-prefixed field.
func (d *decoder) bytes16(field string, max int) []byte {
	n := int(d.u16(field + " length"))
	return d.bytesN(n, field, max)
}

// bytes32 returns a copy of a 4-byte-length-prefixed field.
func (d *decoder) bytes32(field string, max int) []byte {
	n := d.u32(field + " length")
	if uint64(n) > uint64(max) {
		d.fail("%s: length %d exceeds limit %d", field, n, max)
		return nil
	}
	return d.bytesN(int(n), field, max)
}

func (d *decoder) bytesN(n int, field string, max int) []byte {
	if d.err != nil {
		return nil
	}
	if n > max {
		d.fail("%s: length %d exceeds limit %d", field, n, max)
		return nil
	}
	v := d.take(n, field)
	if v == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, v)
	return out
}

// finish fails unless every byte was consumed.
func (d *decoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

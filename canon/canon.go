// Package canon writes and reads Cairn's canonical binary encodings (see
// docs/encoding.md): fixed-width big-endian integers, booleans as one byte
// 0 or 1, and variable-length fields behind a fixed-width big-endian length.
// Fixed widths, rather than varints, give every value exactly one encoding
// without minimality rules.
//
// A Decoder's first error sticks and later reads return zero values, so a
// decoding function reads every field and checks the error once, at Finish,
// which also refuses trailing bytes.
package canon

import (
	"encoding/binary"
	"fmt"
)

// Encoder appends canonical fields to B.
type Encoder struct{ B []byte }

// NewEncoder returns an encoder with room for n bytes.
func NewEncoder(n int) *Encoder { return &Encoder{B: make([]byte, 0, n)} }

func (e *Encoder) U8(v uint8)     { e.B = append(e.B, v) }
func (e *Encoder) U16(v uint16)   { e.B = binary.BigEndian.AppendUint16(e.B, v) }
func (e *Encoder) U32(v uint32)   { e.B = binary.BigEndian.AppendUint32(e.B, v) }
func (e *Encoder) U64(v uint64)   { e.B = binary.BigEndian.AppendUint64(e.B, v) }
func (e *Encoder) Fixed(v []byte) { e.B = append(e.B, v...) }
func (e *Encoder) Bool(v bool) {
	if v {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

// Bytes16 writes a field of at most 65535 bytes behind a 2-byte length.
func (e *Encoder) Bytes16(v []byte) { e.U16(uint16(len(v))); e.B = append(e.B, v...) }

// Bytes32 writes a field behind a 4-byte length.
func (e *Encoder) Bytes32(v []byte) { e.U32(uint32(len(v))); e.B = append(e.B, v...) }

// Decoder reads canonical fields from a byte string.
type Decoder struct {
	b        []byte
	off      int
	err      error
	what     string
	sentinel error
}

// NewDecoder reads b, which encodes a `what`; every error wraps sentinel.
func NewDecoder(b []byte, what string, sentinel error) *Decoder {
	return &Decoder{b: b, what: what, sentinel: sentinel}
}

// Err is the first error, if any.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.b[d.off:] }

// Fail records an error (if none is recorded yet) naming the position.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w: %s (at byte %d)", d.what, d.sentinel, fmt.Sprintf(format, args...), d.off)
	}
}

// Take consumes n bytes and returns them (a sub-slice of the input).
func (d *Decoder) Take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.Fail("%s: truncated: need %d bytes, have %d", field, n, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *Decoder) U8(field string) uint8 {
	if v := d.Take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (d *Decoder) U16(field string) uint16 {
	if v := d.Take(2, field); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *Decoder) U32(field string) uint32 {
	if v := d.Take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *Decoder) U64(field string) uint64 {
	if v := d.Take(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Bool reads one byte that must be 0 or 1.
func (d *Decoder) Bool(field string) bool {
	v := d.U8(field)
	if v > 1 {
		d.Fail("%s: boolean must be 0 or 1, got %d", field, v)
	}
	return v == 1
}

// Fixed fills dst.
func (d *Decoder) Fixed(dst []byte, field string) {
	if v := d.Take(len(dst), field); v != nil {
		copy(dst, v)
	}
}

// Bytes16 returns a copy of a 2-byte-length field of at most max bytes.
func (d *Decoder) Bytes16(field string, max int) []byte {
	n := int(d.U16(field + " length"))
	return d.copyN(n, field, max)
}

// Bytes32 returns a copy of a 4-byte-length field of at most max bytes.
func (d *Decoder) Bytes32(field string, max int) []byte {
	v := d.Bytes32Ref(field, max)
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// Bytes32Ref is Bytes32 without the copy: a sub-slice of the input, for
// fields the caller decodes further at once.
func (d *Decoder) Bytes32Ref(field string, max int) []byte {
	n := d.U32(field + " length")
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.Fail("%s: length %d exceeds limit %d", field, n, max)
		return nil
	}
	return d.Take(int(n), field)
}

func (d *Decoder) copyN(n int, field string, max int) []byte {
	if d.err != nil {
		return nil
	}
	if n > max {
		d.Fail("%s: length %d exceeds limit %d", field, n, max)
		return nil
	}
	v := d.Take(n, field)
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, n), v...)
}

// Finish fails unless every byte was consumed, and returns the first error.
func (d *Decoder) Finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.Fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

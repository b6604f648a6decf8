package instrument

import (
	"fmt"
)

// instr is one decoded instruction of a function body: its opcode, the
// sub-opcode of a 0xfc prefix, and its byte range in the original body.
type instr struct {
	op         byte
	sub        uint32
	start, end int
}

// Opcodes the rewrite emits or looks for.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opBrTable     = 0x0e
	opReturn      = 0x0f
	opSelect      = 0x1b
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opLocalTee    = 0x22
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI64Const    = 0x42
	opF32Const    = 0x43
	opF64Const    = 0x44
	opI32GtU      = 0x4b
	opI32Eq       = 0x46
	opMemoryGrow  = 0x40
	opI64LtS      = 0x53
	opF32Eq       = 0x5b
	opF64Eq       = 0x61
	opI32Add      = 0x6a
	opI32Sub      = 0x6b
	opI64Sub      = 0x7d
	opI64ShrU     = 0x88
	opI64ExtendU  = 0xad
	opPrefixFC    = 0xfc
)

// nanF32 and nanF64 say which opcodes produce a float whose NaN bits the
// specification leaves open.
func nanResult(op byte) (f32, f64 bool) {
	switch {
	case op >= 0x8d && op <= 0x97, op == 0xb6: // f32 ceil..max, f32.demote_f64
		return true, false
	case op >= 0x9b && op <= 0xa5, op == 0xbb: // f64 ceil..max, f64.promote_f32
		return false, true
	}
	return false, false
}

// bulkLength reports 0xfc instructions whose work grows with their length
// operand (on top of the stack).
func bulkLength(sub uint32) bool {
	switch sub {
	case 8, 10, 11, 12, 14, 15, 17: // memory.init/copy/fill, table.init/copy/grow/fill
		return true
	}
	return false
}

// decodeBody reads the instructions of one function body, checking that
// every opcode is allowed and that the body ends exactly at its final end.
func decodeBody(r *reader, fn int) ([]instr, error) {
	var out []instr
	depth := 0
	for {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, malformed("function %d: %v", fn, err)
		}
		in := instr{op: op, start: start}
		bad := func(what string) error {
			return fmt.Errorf("%w: %s (opcode 0x%02x) in function %d", ErrForbiddenFeature, what, op, fn)
		}
		switch {
		case op == opUnreachable, op == 0x01, op == opElse, op == opReturn,
			op == 0x1a, op == opSelect, op == 0xd1:
		case op == opEnd:
			depth--
		case op == opBlock, op == opLoop, op == opIf:
			depth++
			if _, err = r.s33(); err != nil {
				break
			}
		case op == 0x26:
			return nil, bad("table.set (instance state the host cannot restore)")
		case op == opBr, op == opBrIf, op == 0x10, op == 0xd2,
			op >= opLocalGet && op <= opGlobalSet, op == 0x25:
			_, err = r.u32()
		case op == opBrTable:
			var n uint32
			if n, err = r.u32(); err != nil {
				break
			}
			for i := uint32(0); i <= n && err == nil; i++ {
				_, err = r.u32()
			}
		case op == 0x11:
			if _, err = r.u32(); err == nil {
				_, err = r.u32()
			}
		case op == 0x12, op == 0x13:
			return nil, bad("tail call")
		case op == 0x1c:
			var n uint32
			if n, err = r.u32(); err != nil {
				break
			}
			var ts []byte
			if ts, err = r.bytes(int(n)); err == nil {
				for _, t := range ts {
					if err := checkValType(t, fmt.Sprintf("function %d", fn)); err != nil {
						return nil, err
					}
				}
			}
		case op >= 0x28 && op <= 0x3e:
			var align uint32
			if align, err = r.u32(); err != nil {
				break
			}
			if align >= 64 {
				return nil, bad("multiple memories")
			}
			_, err = r.u32()
		case op == 0x3f, op == 0x40:
			var b byte
			if b, err = r.byte(); err == nil && b != 0 {
				return nil, bad("multiple memories")
			}
		case op == opI32Const:
			err = r.skipSigned(5)
		case op == opI64Const:
			err = r.skipSigned(10)
		case op == opF32Const:
			_, err = r.bytes(4)
		case op == opF64Const:
			_, err = r.bytes(8)
		case op >= 0x45 && op <= 0xc4:
		case op == 0xd0:
			_, err = r.byte()
		case op == opPrefixFC:
			var sub uint32
			if sub, err = r.u32(); err != nil {
				break
			}
			in.sub = sub
			switch sub {
			case 9, 12, 13, 14, 15, 17:
				return nil, fmt.Errorf("%w: instruction 0xfc %d (data.drop, elem.drop or a table change: instance state the host cannot restore) in function %d", ErrForbiddenFeature, sub, fn)
			}
			switch {
			case sub <= 7:
			case sub == 8: // memory.init
				if _, err = r.u32(); err == nil {
					_, err = r.byte()
				}
			case sub == 9, sub == 13, sub == 15, sub == 16, sub == 17:
				_, err = r.u32()
			case sub == 10:
				_, err = r.bytes(2)
			case sub == 11:
				_, err = r.byte()
			case sub == 12, sub == 14:
				if _, err = r.u32(); err == nil {
					_, err = r.u32()
				}
			default:
				return nil, fmt.Errorf("%w: instruction 0xfc %d in function %d", ErrForbiddenFeature, sub, fn)
			}
		case op == 0xfd:
			return nil, bad("SIMD")
		case op == 0xfe:
			return nil, bad("threads (atomics)")
		case op >= 0x06 && op <= 0x0a, op == 0x18, op == 0x19:
			return nil, bad("exception handling")
		default:
			return nil, malformed("function %d: unknown opcode 0x%02x", fn, op)
		}
		if err != nil {
			return nil, malformed("function %d: %v", fn, err)
		}
		in.end = r.off
		out = append(out, in)
		if depth < 0 {
			return out, nil
		}
	}
}

// segmentStarts marks the instructions that begin a metered segment: the
// first, and each one following an instruction after which control may
// arrive from elsewhere or leave.
func segmentStarts(body []instr) []bool {
	starts := make([]bool, len(body))
	starts[0] = true
	for i, in := range body[:len(body)-1] {
		switch in.op {
		case opBlock, opLoop, opIf, opElse, opEnd, opBr, opBrIf, opBrTable, opReturn, opUnreachable:
			starts[i+1] = true
		}
	}
	return starts
}

func (m *rewriter) rewriteCode(b []byte) ([]byte, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, malformed("code section: %v", err)
	}
	if int(n) != len(m.funcTypes) {
		return nil, malformed("code section has %d bodies for %d functions", n, len(m.funcTypes))
	}
	var out []byte
	out = appendU32(out, n)
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return nil, malformed("function %d: %v", i, err)
		}
		raw, err := r.bytes(int(size))
		if err != nil {
			return nil, malformed("function %d: %v", i, err)
		}
		body, err := m.rewriteBody(raw, int(i))
		if err != nil {
			return nil, err
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !r.eof() {
		return nil, malformed("code section: trailing bytes")
	}
	return out, nil
}

func (m *rewriter) rewriteBody(raw []byte, fn int) ([]byte, error) {
	ft := m.types[m.funcTypes[fn]]
	r := &reader{b: raw}
	groups, err := r.u32()
	if err != nil {
		return nil, malformed("function %d locals: %v", fn, err)
	}
	var declared uint64
	for g := uint32(0); g < groups; g++ {
		c, err := r.u32()
		if err != nil {
			return nil, malformed("function %d locals: %v", fn, err)
		}
		t, err := r.byte()
		if err != nil {
			return nil, malformed("function %d locals: %v", fn, err)
		}
		if err := checkValType(t, fmt.Sprintf("function %d locals", fn)); err != nil {
			return nil, err
		}
		declared += uint64(c)
	}
	max := uint64(m.cfg.MaxFunctionLocals)
	if max == 0 {
		max = 50000
	}
	if declared > max {
		return nil, fmt.Errorf("%w: function %d declares %d locals, limit %d", ErrTooLarge, fn, declared, max)
	}
	localsEnd := r.off
	body, err := decodeBody(r, fn)
	if err != nil {
		return nil, err
	}
	if !r.eof() {
		return nil, malformed("function %d: bytes after its end", fn)
	}
	base := uint32(len(ft.params)) + uint32(declared)
	tmpF32, tmpF64, tmpI32 := base, base+1, base+2

	out := make([]byte, 0, len(raw)*2+64)
	out = appendU32(out, groups+3)
	out = append(out, raw[countLen(raw):localsEnd]...)
	out = append(out, 1, 0x7d, 1, 0x7c, 1, 0x7f)

	// Prologue: count the frame, then open the wrapper block.
	out = append(out, opGlobalGet)
	out = appendU32(out, m.depthIdx)
	out = append(out, opI32Const, 1, opI32Add, opGlobalSet)
	out = appendU32(out, m.depthIdx)
	out = append(out, opGlobalGet)
	out = appendU32(out, m.depthIdx)
	out = append(out, opI32Const)
	out = appendS64(out, int64(m.cfg.MaxCallDepth))
	out = append(out, opI32GtU, opIf, 0x40, opUnreachable, opEnd)
	out = append(out, opBlock)
	out = append(out, m.blockTypeFor(ft.results)...)

	starts := segmentStarts(body)
	decDepth := func() {
		out = append(out, opGlobalGet)
		out = appendU32(out, m.depthIdx)
		out = append(out, opI32Const, 1, opI32Sub, opGlobalSet)
		out = appendU32(out, m.depthIdx)
	}
	for i, in := range body {
		if starts[i] {
			cost := int64(1)
			for j := i + 1; j < len(body) && !starts[j]; j++ {
				cost++
			}
			out = m.charge(out, func(b []byte) []byte { return appendS64(append(b, opI64Const), cost) })
		}
		if in.op == opPrefixFC && bulkLength(in.sub) {
			out = append(out, opLocalTee)
			out = appendU32(out, tmpI32)
			out = m.charge(out, func(b []byte) []byte {
				b = append(b, opLocalGet)
				b = appendU32(b, tmpI32)
				return append(b, opI64ExtendU, opI64Const, 4, opI64ShrU)
			})
		}
		if in.op == opReturn {
			decDepth()
		}
		out = append(out, raw[in.start:in.end]...)
		if i == len(body)-1 {
			// That end closed the wrapper block; leave the frame.
			decDepth()
			out = append(out, opEnd)
			break
		}
		if in.op == opMemoryGrow {
			out = append(out, opLocalTee)
			out = appendU32(out, tmpI32)
			out = append(out, opLocalGet)
			out = appendU32(out, tmpI32)
			out = append(out, opI32Const, 0x7f, opI32Eq, opIf, 0x40, opI32Const, 1, opGlobalSet)
			out = appendU32(out, m.growIdx)
			out = append(out, opEnd)
		}
		switch f32, f64 := nanResult(in.op); {
		case f32:
			out = canonicalise(out, tmpF32, opF32Const, opF32Eq, []byte{0x00, 0x00, 0xc0, 0x7f})
		case f64:
			out = canonicalise(out, tmpF64, opF64Const, opF64Eq, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
		}
	}
	return out, nil
}

// charge emits: gas -= amount; if gas < 0 { unreachable }.
func (m *rewriter) charge(out []byte, amount func([]byte) []byte) []byte {
	out = append(out, opGlobalGet)
	out = appendU32(out, m.gasIdx)
	out = amount(out)
	out = append(out, opI64Sub, opGlobalSet)
	out = appendU32(out, m.gasIdx)
	out = append(out, opGlobalGet)
	out = appendU32(out, m.gasIdx)
	out = append(out, opI64Const, 0, opI64LtS, opIf, 0x40, opUnreachable, opEnd)
	return out
}

// canonicalise emits: t = top; top = (t == t) ? t : canonical NaN.
func canonicalise(out []byte, tmp uint32, constOp, eqOp byte, nan []byte) []byte {
	out = append(out, opLocalSet)
	out = appendU32(out, tmp)
	out = append(out, opLocalGet)
	out = appendU32(out, tmp)
	out = append(out, constOp)
	out = append(out, nan...)
	out = append(out, opLocalGet)
	out = appendU32(out, tmp)
	out = append(out, opLocalGet)
	out = appendU32(out, tmp)
	out = append(out, eqOp, opSelect)
	return out
}

// countLen is the length of the LEB128 number at the start of b.
func countLen(b []byte) int {
	for i, c := range b {
		if c&0x80 == 0 {
			return i + 1
		}
	}
	return len(b)
}

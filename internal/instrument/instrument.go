// Package instrument checks a WebAssembly module at deploy time and rewrites
// its bytecode so that running it is bounded and deterministic on every
// validator, whatever engine or machine executes it.
//
// Check: the binary is well formed; it imports functions only, and only
// those the caller allows (the Cairn host API and the deterministic WASI
// subset); it uses no SIMD (v128), threads (shared memory, atomics), tail
// calls, exceptions, memory64 or multiple memories, and nothing that changes
// instance state other than memory and globals (table.set/grow/fill/copy/
// init, data.drop, elem.drop: the host restores instances between calls by
// rewriting memory and globals, so nothing else may differ); its memory starts within
// the page cap; it exports nothing under the reserved prefix "__cairn_".
//
// Rewrite (every index the module already uses stays valid: new globals,
// locals and types are appended after the existing ones, nothing is imported):
//
//   - Gas. A mutable i64 global, exported as GasGlobal, holds the gas left.
//     Each straight-line segment of a function body (its start, and after
//     every block, loop, if, else, end, br, br_if, br_table, return and
//     unreachable, i.e. every place a branch may land) is charged up front
//     for its instruction count; the bulk memory and table instructions
//     (memory.copy/fill/init, table.copy/fill/init/grow) are charged in
//     addition one unit per 16 bytes or elements of their length operand.
//     When the global drops below zero the module traps with unreachable;
//     the host tells an out-of-gas trap from any other by the global's sign.
//   - Call depth. A mutable i32 global, exported as DepthGlobal, counts the
//     frames on the stack: each function increments it on entry and traps
//     past Config.MaxCallDepth; its body is wrapped in a block so that every
//     way out (falling off the end, a branch to the outermost label, return)
//     decrements it again.
//   - Memory. After every memory.grow that fails (it returns -1 at the
//     runtime's page cap) a third global, exported as GrowFailedGlobal, is
//     set to 1, so that the trap a program raises when it cannot get memory
//     is reported as the memory limit.
//   - Floats. Every float instruction whose NaN result may differ between
//     machines (arithmetic, sqrt, min/max, rounding, promote/demote) is
//     followed by a select that replaces any NaN by the canonical quiet NaN
//     (0x7fc00000, 0x7ff8000000000000). Non-NaN results of these operations
//     are exactly specified by IEEE 754, and the remaining float operations
//     (abs, neg, copysign, loads, stores, reinterpretations) move bits
//     unchanged, so a module's float results are the same everywhere. Go
//     compiles its runtime with floats, so refusing float opcodes would refuse
//     every Go contract; canonicalising is the rule instead.
//
// The charge per instruction is one unit; the rewrite is a pure function of
// the input bytes and Config, so every validator that instruments the same
// code gets the same module and the same gas for the same call.
package instrument

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Names of the globals the rewrite adds and exports.
const (
	GasGlobal   = "__cairn_gas"
	DepthGlobal = "__cairn_depth"
	// GrowFailedGlobal is set to 1 when a memory.grow fails (the memory
	// cap), so the host can name a later trap for what it is.
	GrowFailedGlobal = "__cairn_grow_failed"
	// GlobalPrefix + decimal index exports each of the module's own mutable
	// globals, so the host can snapshot a started instance and restore it.
	GlobalPrefix = "__cairn_g"
	// ReservedPrefix is refused in a module's own export names.
	ReservedPrefix = "__cairn_"
)

// Errors a check returns; test with errors.Is. The wrapping error names the
// offending section, function or import.
var (
	ErrMalformed        = errors.New("malformed wasm module")
	ErrForbiddenImport  = errors.New("forbidden import")
	ErrForbiddenFeature = errors.New("forbidden wasm feature")
	ErrTooLarge         = errors.New("wasm module over a limit")
)

// Config bounds what a module may be and do.
type Config struct {
	// AllowImport reports whether a function import module.name is part of
	// the host API. Nil refuses every import.
	AllowImport func(module, name string) bool
	// MaxMemoryPages caps the pages a module's memory may declare as its
	// minimum (64 KiB each); the runtime enforces the same cap on growth.
	MaxMemoryPages uint32
	// MaxCallDepth caps the frames on the call stack.
	MaxCallDepth uint32
	// MaxModuleBytes caps the module's size before rewriting.
	MaxModuleBytes int
	// MaxFunctionLocals caps the locals one function declares.
	MaxFunctionLocals uint32
}

// Import is one function a module imports.
type Import struct{ Module, Name string }

// Module is the result of a successful check and rewrite.
type Module struct {
	// Code is the instrumented module.
	Code []byte
	// Imports and Exports (the module's own, in declaration order).
	Imports []Import
	Exports []string
	// MemoryMinPages is the initial size of the module's memory.
	MemoryMinPages uint32
	// MutableGlobals lists the export names of the module's own mutable
	// globals (GlobalPrefix + index).
	MutableGlobals []string
}

type funcType struct{ params, results []byte }

type section struct {
	id   byte
	body []byte
}

// order of the known sections in a module (datacount sits before code).
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Instrument checks wasm against cfg and returns the rewritten module.
func Instrument(wasm []byte, cfg Config) (*Module, error) {
	if cfg.MaxModuleBytes > 0 && len(wasm) > cfg.MaxModuleBytes {
		return nil, fmt.Errorf("%w: module is %d bytes, limit %d", ErrTooLarge, len(wasm), cfg.MaxModuleBytes)
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, malformed("no wasm magic number")
	}
	if binary.LittleEndian.Uint32(wasm[4:8]) != 1 {
		return nil, malformed("unsupported binary version %d", binary.LittleEndian.Uint32(wasm[4:8]))
	}
	r := &reader{b: wasm, off: 8}
	var secs []section
	last := 0
	for !r.eof() {
		id, err := r.byte()
		if err != nil {
			return nil, malformed("section header: %v", err)
		}
		n, err := r.u32()
		if err != nil {
			return nil, malformed("section %d size: %v", id, err)
		}
		body, err := r.bytes(int(n))
		if err != nil {
			return nil, malformed("section %d: %v", id, err)
		}
		if id != 0 {
			rank, ok := sectionRank[id]
			if !ok {
				return nil, malformed("unknown section id %d", id)
			}
			if id == 13 {
				return nil, fmt.Errorf("%w: exception handling (tag section)", ErrForbiddenFeature)
			}
			if rank <= last {
				return nil, malformed("section %d out of order or repeated", id)
			}
			last = rank
			// Engines allocate a vector's count before reading its items,
			// so no count may promise more items than bytes remain.
			if id != 8 && id != 12 {
				if err := checkCount(body, fmt.Sprintf("section %d", id)); err != nil {
					return nil, err
				}
			}
		}
		secs = append(secs, section{id, body})
	}
	m := &rewriter{cfg: cfg, out: &Module{}}
	if err := m.run(secs); err != nil {
		return nil, err
	}
	return m.out, nil
}

type rewriter struct {
	cfg         Config
	out         *Module
	types       []funcType
	extraTypes  [][]byte // results of appended [] -> results types
	funcTypes   []uint32 // type index of each defined function
	importFuncs int
	gasIdx      uint32
	depthIdx    uint32
	growIdx     uint32
	mutable     []uint32 // indices of the module's own mutable globals
}

func (m *rewriter) run(secs []section) error {
	find := func(id byte) *section {
		for i := range secs {
			if secs[i].id == id {
				return &secs[i]
			}
		}
		return nil
	}
	if s := find(1); s != nil {
		if err := m.parseTypes(s.body); err != nil {
			return err
		}
	}
	if s := find(2); s != nil {
		if err := m.parseImports(s.body); err != nil {
			return err
		}
	}
	if s := find(3); s != nil {
		if err := m.parseFunctions(s.body); err != nil {
			return err
		}
	}
	if s := find(5); s != nil {
		if err := m.checkMemory(s.body); err != nil {
			return err
		}
	}
	if s := find(4); s != nil {
		if err := checkTables(s.body); err != nil {
			return err
		}
	}
	if s := find(9); s != nil {
		if err := checkElements(s.body); err != nil {
			return err
		}
	}
	if s := find(11); s != nil {
		if err := checkData(s.body); err != nil {
			return err
		}
	}
	var nGlobals uint32
	if s := find(6); s != nil {
		n, mutable, err := checkGlobals(s.body)
		if err != nil {
			return err
		}
		nGlobals = n
		m.mutable = mutable
	}
	m.gasIdx, m.depthIdx, m.growIdx = nGlobals, nGlobals+1, nGlobals+2
	if s := find(7); s != nil {
		if err := m.parseExports(s.body); err != nil {
			return err
		}
	}
	code := find(10)
	if code == nil && len(m.funcTypes) > 0 {
		return malformed("function section without code section")
	}
	var newCode []byte
	if code != nil {
		var err error
		if newCode, err = m.rewriteCode(code.body); err != nil {
			return err
		}
	}

	// Reassemble, adding the global and export sections where absent.
	globalsBody := m.newGlobals(find(6))
	exportsBody := m.newExports(find(7))
	typesBody := m.newTypes(find(1))
	var out []byte
	out = append(out, wasmHeader...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	haveTypes, haveGlobals, haveExports := false, false, false
	flush := func(rank int) {
		if !haveTypes && rank > sectionRank[1] && typesBody != nil {
			emit(1, typesBody)
			haveTypes = true
		}
		if !haveGlobals && rank > sectionRank[6] {
			emit(6, globalsBody)
			haveGlobals = true
		}
		if !haveExports && rank > sectionRank[7] {
			emit(7, exportsBody)
			haveExports = true
		}
	}
	for _, s := range secs {
		switch s.id {
		case 0:
			out = append(out, 0)
			out = appendU32(out, uint32(len(s.body)))
			out = append(out, s.body...)
			continue
		case 1:
			haveTypes = true
			emit(1, typesBody)
			continue
		}
		flush(sectionRank[s.id])
		switch s.id {
		case 6:
			haveGlobals = true
			emit(6, globalsBody)
		case 7:
			haveExports = true
			emit(7, exportsBody)
		case 10:
			emit(10, newCode)
		default:
			emit(s.id, s.body)
		}
	}
	flush(math.MaxInt)
	m.out.Code = out
	return nil
}

var wasmHeader = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

func checkValType(t byte, where string) error {
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f:
		return nil
	case 0x7b:
		return fmt.Errorf("%w: SIMD (v128) in %s", ErrForbiddenFeature, where)
	}
	return malformed("unknown value type 0x%02x in %s", t, where)
}

func (m *rewriter) parseTypes(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("type section: %v", err)
	}
	for i := uint32(0); i < n; i++ {
		form, err := r.byte()
		if err != nil {
			return malformed("type %d: %v", i, err)
		}
		if form != 0x60 {
			return malformed("type %d: form 0x%02x is not a function type", i, form)
		}
		var ft funcType
		for k := 0; k < 2; k++ {
			c, err := r.u32()
			if err != nil {
				return malformed("type %d: %v", i, err)
			}
			vs, err := r.bytes(int(c))
			if err != nil {
				return malformed("type %d: %v", i, err)
			}
			for _, v := range vs {
				if err := checkValType(v, fmt.Sprintf("type %d", i)); err != nil {
					return err
				}
			}
			if k == 0 {
				ft.params = vs
			} else {
				ft.results = vs
			}
		}
		m.types = append(m.types, ft)
	}
	if !r.eof() {
		return malformed("type section: trailing bytes")
	}
	return nil
}

func (m *rewriter) parseImports(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("import section: %v", err)
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return malformed("import %d: %v", i, err)
		}
		name, err := r.name()
		if err != nil {
			return malformed("import %d: %v", i, err)
		}
		kind, err := r.byte()
		if err != nil {
			return malformed("import %d: %v", i, err)
		}
		if kind != 0 {
			what := map[byte]string{1: "table", 2: "memory", 3: "global"}[kind]
			if what == "" {
				return malformed("import %s.%s: unknown kind %d", mod, name, kind)
			}
			return fmt.Errorf("%w: %s.%s is a %s import; only host functions may be imported", ErrForbiddenImport, mod, name, what)
		}
		ti, err := r.u32()
		if err != nil {
			return malformed("import %d: %v", i, err)
		}
		if int(ti) >= len(m.types) {
			return malformed("import %s.%s: type index %d out of range", mod, name, ti)
		}
		if m.cfg.AllowImport == nil || !m.cfg.AllowImport(mod, name) {
			return fmt.Errorf("%w: %s.%s is not part of the Cairn host API or its deterministic WASI subset", ErrForbiddenImport, mod, name)
		}
		m.out.Imports = append(m.out.Imports, Import{mod, name})
		m.importFuncs++
	}
	if !r.eof() {
		return malformed("import section: trailing bytes")
	}
	return nil
}

func (m *rewriter) parseFunctions(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("function section: %v", err)
	}
	if int(n) > len(b) {
		return malformed("function section: count %d too large", n)
	}
	for i := uint32(0); i < n; i++ {
		ti, err := r.u32()
		if err != nil {
			return malformed("function %d: %v", i, err)
		}
		if int(ti) >= len(m.types) {
			return malformed("function %d: type index %d out of range", i, ti)
		}
		m.funcTypes = append(m.funcTypes, ti)
	}
	if !r.eof() {
		return malformed("function section: trailing bytes")
	}
	return nil
}

func (m *rewriter) checkMemory(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("memory section: %v", err)
	}
	if n > 1 {
		return fmt.Errorf("%w: %d memories (multiple memories)", ErrForbiddenFeature, n)
	}
	for i := uint32(0); i < n; i++ {
		flags, err := r.byte()
		if err != nil {
			return malformed("memory: %v", err)
		}
		switch {
		case flags&0x02 != 0:
			return fmt.Errorf("%w: shared memory (threads)", ErrForbiddenFeature)
		case flags&^0x01 != 0:
			return fmt.Errorf("%w: memory limits flags 0x%02x (memory64 or custom pages)", ErrForbiddenFeature, flags)
		}
		min, err := r.u32()
		if err != nil {
			return malformed("memory: %v", err)
		}
		if flags&0x01 != 0 {
			if _, err := r.u32(); err != nil {
				return malformed("memory: %v", err)
			}
		}
		if m.cfg.MaxMemoryPages > 0 && min > m.cfg.MaxMemoryPages {
			return fmt.Errorf("%w: memory starts at %d pages, limit %d", ErrTooLarge, min, m.cfg.MaxMemoryPages)
		}
		m.out.MemoryMinPages = min
	}
	if !r.eof() {
		return malformed("memory section: trailing bytes")
	}
	return nil
}

func checkTables(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("table section: %v", err)
	}
	for i := uint32(0); i < n; i++ {
		t, err := r.byte()
		if err != nil {
			return malformed("table %d: %v", i, err)
		}
		if t != 0x70 && t != 0x6f {
			return malformed("table %d: element type 0x%02x", i, t)
		}
		flags, err := r.byte()
		if err != nil {
			return malformed("table %d: %v", i, err)
		}
		if flags > 1 {
			return fmt.Errorf("%w: table limits flags 0x%02x", ErrForbiddenFeature, flags)
		}
		min, err := r.u32()
		if err != nil {
			return malformed("table %d: %v", i, err)
		}
		if min > MaxTableElements {
			return fmt.Errorf("%w: table %d starts with %d elements, limit %d", ErrTooLarge, i, min, MaxTableElements)
		}
		if flags == 1 {
			if _, err := r.u32(); err != nil {
				return malformed("table %d: %v", i, err)
			}
		}
	}
	if !r.eof() {
		return malformed("table section: trailing bytes")
	}
	return nil
}

// checkGlobals refuses v128 globals and returns the number of globals and
// the indices of the mutable ones.
// Initialisers are constant expressions that end at the first 0x0b of the
// simple forms used in practice; anything richer is validated by the engine.
func checkGlobals(b []byte) (uint32, []uint32, error) {
	var mutable []uint32
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return 0, nil, malformed("global section: %v", err)
	}
	for i := uint32(0); i < n; i++ {
		t, err := r.byte()
		if err != nil {
			return 0, nil, malformed("global %d: %v", i, err)
		}
		if err := checkValType(t, fmt.Sprintf("global %d", i)); err != nil {
			return 0, nil, err
		}
		mut, err := r.byte()
		if err != nil {
			return 0, nil, malformed("global %d: %v", i, err)
		}
		if mut == 1 {
			mutable = append(mutable, i)
		}
		if err := skipConstExpr(r); err != nil {
			return 0, nil, malformed("global %d initialiser: %v", i, err)
		}
	}
	if !r.eof() {
		return 0, nil, malformed("global section: trailing bytes")
	}
	return n, mutable, nil
}

// MaxTableElements caps a table's initial size (an engine allocates it
// when it instantiates the module).
const MaxTableElements = 1 << 20

// checkCount refuses a vector whose count exceeds the bytes that follow it.
func checkCount(b []byte, where string) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("%s: %v", where, err)
	}
	if int64(n) > int64(len(b)-r.off) {
		return malformed("%s: count %d exceeds its %d bytes", where, n, len(b)-r.off)
	}
	return nil
}

// vecCount reads a vector count and checks it against the bytes left.
func (r *reader) vecCount(where string) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, malformed("%s: %v", where, err)
	}
	if int64(n) > int64(len(r.b)-r.off) {
		return 0, malformed("%s: count %d exceeds the %d bytes left", where, n, len(r.b)-r.off)
	}
	return n, nil
}

// checkElements walks the element segments so that no inner vector
// promises more items than its bytes hold.
func checkElements(b []byte) error {
	r := &reader{b: b}
	n, err := r.vecCount("element section")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		where := fmt.Sprintf("element segment %d", i)
		flags, err := r.u32()
		if err != nil {
			return malformed("%s: %v", where, err)
		}
		if flags > 7 {
			return malformed("%s: flags %d", where, flags)
		}
		if flags&2 != 0 && flags&1 == 0 { // explicit table index
			if _, err := r.u32(); err != nil {
				return malformed("%s: %v", where, err)
			}
		}
		if flags&1 == 0 { // active: offset expression
			if err := skipConstExpr(r); err != nil {
				return malformed("%s offset: %v", where, err)
			}
		}
		if flags&3 != 0 { // element kind or reference type
			if _, err := r.byte(); err != nil {
				return malformed("%s: %v", where, err)
			}
		}
		items, err := r.vecCount(where)
		if err != nil {
			return err
		}
		for j := uint32(0); j < items; j++ {
			if flags&4 != 0 {
				err = skipConstExpr(r)
			} else {
				_, err = r.u32()
			}
			if err != nil {
				return malformed("%s item %d: %v", where, j, err)
			}
		}
	}
	if !r.eof() {
		return malformed("element section: trailing bytes")
	}
	return nil
}

// checkData walks the data segments, checking each one's length.
func checkData(b []byte) error {
	r := &reader{b: b}
	n, err := r.vecCount("data section")
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		where := fmt.Sprintf("data segment %d", i)
		flags, err := r.u32()
		if err != nil {
			return malformed("%s: %v", where, err)
		}
		switch flags {
		case 0:
			err = skipConstExpr(r)
		case 1:
		case 2:
			if _, err = r.u32(); err == nil {
				err = skipConstExpr(r)
			}
		default:
			return malformed("%s: flags %d", where, flags)
		}
		if err != nil {
			return malformed("%s: %v", where, err)
		}
		size, err := r.vecCount(where)
		if err != nil {
			return err
		}
		if _, err := r.bytes(int(size)); err != nil {
			return malformed("%s: %v", where, err)
		}
	}
	if !r.eof() {
		return malformed("data section: trailing bytes")
	}
	return nil
}

func skipConstExpr(r *reader) error {
	for {
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0b:
			return nil
		case 0x41:
			err = r.skipSigned(5)
		case 0x42:
			err = r.skipSigned(10)
		case 0x43:
			_, err = r.bytes(4)
		case 0x44:
			_, err = r.bytes(8)
		case 0x23, 0xd2:
			_, err = r.u32()
		case 0xd0:
			_, err = r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constant expressions
		case 0xfd:
			return fmt.Errorf("%w: SIMD constant", ErrForbiddenFeature)
		default:
			return fmt.Errorf("opcode 0x%02x in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

func (m *rewriter) parseExports(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return malformed("export section: %v", err)
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return malformed("export %d: %v", i, err)
		}
		if strings.HasPrefix(name, ReservedPrefix) {
			return fmt.Errorf("%w: export %q uses the reserved prefix %q", ErrForbiddenFeature, name, ReservedPrefix)
		}
		if _, err := r.byte(); err != nil {
			return malformed("export %q: %v", name, err)
		}
		if _, err := r.u32(); err != nil {
			return malformed("export %q: %v", name, err)
		}
		m.out.Exports = append(m.out.Exports, name)
	}
	if !r.eof() {
		return malformed("export section: trailing bytes")
	}
	return nil
}

func (m *rewriter) newTypes(s *section) []byte {
	if len(m.extraTypes) == 0 {
		if s == nil {
			return nil
		}
		return s.body
	}
	var out []byte
	out = appendU32(out, uint32(len(m.types)+len(m.extraTypes)))
	if s != nil {
		r := &reader{b: s.body}
		_, _ = r.u32()
		out = append(out, s.body[r.off:]...)
	}
	for _, res := range m.extraTypes {
		out = append(out, 0x60, 0)
		out = appendU32(out, uint32(len(res)))
		out = append(out, res...)
	}
	return out
}

func (m *rewriter) newGlobals(s *section) []byte {
	var out []byte
	out = appendU32(out, m.gasIdx+3)
	if s != nil {
		r := &reader{b: s.body}
		_, _ = r.u32()
		out = append(out, s.body[r.off:]...)
	}
	out = append(out, 0x7e, 0x01, 0x42, 0x00, 0x0b) // gas: mut i64 = 0
	out = append(out, 0x7f, 0x01, 0x41, 0x00, 0x0b) // depth: mut i32 = 0
	out = append(out, 0x7f, 0x01, 0x41, 0x00, 0x0b) // grow failed: mut i32 = 0
	return out
}

func (m *rewriter) newExports(s *section) []byte {
	var out []byte
	out = appendU32(out, uint32(len(m.out.Exports)+3+len(m.mutable)))
	if s != nil {
		r := &reader{b: s.body}
		_, _ = r.u32()
		out = append(out, s.body[r.off:]...)
	}
	out = appendName(out, GasGlobal)
	out = append(out, 0x03)
	out = appendU32(out, m.gasIdx)
	out = appendName(out, DepthGlobal)
	out = append(out, 0x03)
	out = appendU32(out, m.depthIdx)
	out = appendName(out, GrowFailedGlobal)
	out = append(out, 0x03)
	out = appendU32(out, m.growIdx)
	for _, g := range m.mutable {
		name := fmt.Sprintf("%s%d", GlobalPrefix, g)
		m.out.MutableGlobals = append(m.out.MutableGlobals, name)
		out = appendName(out, name)
		out = append(out, 0x03)
		out = appendU32(out, g)
	}
	return out
}

// blockTypeFor returns the wrapper block's type for a function's results.
func (m *rewriter) blockTypeFor(results []byte) []byte {
	switch len(results) {
	case 0:
		return []byte{0x40}
	case 1:
		return []byte{results[0]}
	}
	for i, res := range m.extraTypes {
		if bytes.Equal(res, results) {
			return appendS64(nil, int64(len(m.types)+i))
		}
	}
	m.extraTypes = append(m.extraTypes, results)
	return appendS64(nil, int64(len(m.types)+len(m.extraTypes)-1))
}

// SnapshotGlobals returns the export names of an instrumented module's own
// mutable globals (GlobalPrefix + index), in index order.
func SnapshotGlobals(code []byte) ([]string, error) {
	if len(code) < 8 || !bytes.Equal(code[:8], wasmHeader) {
		return nil, malformed("no wasm header")
	}
	r := &reader{b: code, off: 8}
	var names []string
	for !r.eof() {
		id, err := r.byte()
		if err != nil {
			return nil, malformed("%v", err)
		}
		n, err := r.u32()
		if err != nil {
			return nil, malformed("%v", err)
		}
		body, err := r.bytes(int(n))
		if err != nil {
			return nil, malformed("%v", err)
		}
		if id != 7 {
			continue
		}
		er := &reader{b: body}
		cnt, err := er.u32()
		if err != nil {
			return nil, malformed("%v", err)
		}
		for i := uint32(0); i < cnt; i++ {
			name, err := er.name()
			if err != nil {
				return nil, malformed("%v", err)
			}
			if _, err := er.byte(); err != nil {
				return nil, malformed("%v", err)
			}
			if _, err := er.u32(); err != nil {
				return nil, malformed("%v", err)
			}
			if strings.HasPrefix(name, GlobalPrefix) {
				names = append(names, name)
			}
		}
	}
	return names, nil
}

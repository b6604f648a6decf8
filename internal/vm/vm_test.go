package vm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/types"
)

func okey(contract string, key []byte) string { return contract + "\x00" + string(key) }

// memState is a committed state for tests: contract keys, history, balances.
type memState struct {
	kv       map[string][]byte
	history  map[string][]Version
	balances map[crypto.Address]uint64
}

func newMemState() *memState {
	return &memState{kv: map[string][]byte{}, history: map[string][]Version{}, balances: map[crypto.Address]uint64{}}
}

func (m *memState) Get(c string, k []byte) ([]byte, bool, error) {
	v, ok := m.kv[okey(c, k)]
	return v, ok, nil
}

func (m *memState) Range(c string, start, end []byte, limit int) ([]KV, error) {
	var keys []string
	for k := range m.kv {
		ck, key, _ := strings.Cut(k, "\x00")
		if ck == c && key >= string(start) && (end == nil || key < string(end)) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	var out []KV
	for _, k := range keys {
		if len(out) == limit {
			break
		}
		out = append(out, KV{Key: []byte(k), Value: m.kv[okey(c, []byte(k))]})
	}
	return out, nil
}

func (m *memState) History(c string, k []byte, limit int) ([]Version, error) {
	h := m.history[okey(c, k)]
	var out []Version
	for i := len(h) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, h[i])
	}
	return out, nil
}

func (m *memState) Balance(a crypto.Address) (uint64, error) { return m.balances[a], nil }

// apply commits an overlay at height h.
func (m *memState) apply(o *Overlay, h uint64) {
	for _, w := range o.Writes {
		k := okey(w.Contract, w.Key)
		if w.Delete {
			delete(m.kv, k)
		} else {
			m.kv[k] = w.Value
		}
		m.history[k] = append(m.history[k], Version{Height: h, Deleted: w.Delete, Value: w.Value})
	}
	for _, t := range o.Transfers {
		m.balances[t.From] -= t.Amount
		m.balances[t.To] += t.Amount
	}
}

type codes map[string][]byte

func (c codes) Resolve(name string) (crypto.Hash, error) {
	if b, ok := c[name]; ok {
		return CodeHash(b), nil
	}
	return crypto.Hash{}, types.Errf(CodeNoSuchContract, "no contract %q", name)
}

func (c codes) CodeByHash(h crypto.Hash) ([]byte, error) {
	for _, b := range c {
		if CodeHash(b) == h {
			return b, nil
		}
	}
	return nil, fmt.Errorf("no code %s", h)
}

var (
	advOnce sync.Once
	advRaw  []byte
	advErr  error
)

// adversary builds testdata/adversary once per test run.
func adversary(t testing.TB) []byte {
	t.Helper()
	advOnce.Do(func() { advRaw, advErr = contractbuild.Cached(context.Background(), "testdata/adversary") })
	if advErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("building the test contract: %v", advErr)
		}
		t.Skipf("SKIPPED: cannot build the test contract: %v", advErr)
	}
	return advRaw
}

type harness struct {
	t      testing.TB
	e      *Engine
	code   []byte
	hash   crypto.Hash
	state  *memState
	height uint64
}

// testCache shares compiled code between the engines of the tests.
var testCache = wazero.NewCompilationCache()

var (
	engines   = map[bool]*Engine{}
	enginesMu sync.Mutex
	prepared  = map[bool][]byte{}
)

func newHarness(t testing.TB, interp bool) *harness {
	t.Helper()
	raw := adversary(t)
	enginesMu.Lock()
	defer enginesMu.Unlock()
	e := engines[interp]
	if e == nil {
		var err error
		e, err = New(context.Background(), Config{Interpreter: interp, Limits: Limits{MaxMemoryPages: 256}, Cache: testCache})
		if err != nil {
			t.Fatal(err)
		}
		code, err := e.Prepare(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		engines[interp], prepared[interp] = e, code
	}
	return &harness{t: t, e: e, code: prepared[interp], hash: CodeHash(prepared[interp]), state: newMemState(), height: 1}
}

func (h *harness) env() Env {
	return Env{Contract: "adv", Self: ContractAddress("adv"), Caller: crypto.Address{7}, TxHash: crypto.Hash{1, 2, 3}, Height: h.height, Time: 1_700_000_000_123_456_789}
}

// invoke runs fn and commits its effects when it succeeds.
func (h *harness) invoke(fn string, args []byte, gas uint64) (*Outcome, *Overlay) {
	h.t.Helper()
	ov := NewOverlay(h.state)
	out, err := h.e.Call(context.Background(), nil, ov, codes{"adv": h.code, "adv2": h.code}, h.hash, h.env(), KindInvoke, fn, args, gas)
	if err != nil {
		h.t.Fatalf("%s: node error: %v", fn, err)
	}
	if out.Err == nil {
		h.state.apply(ov, h.height)
		h.height++
	}
	return out, ov
}

const bigGas = 200_000_000

func TestCallsWork(t *testing.T) {
	h := newHarness(t, false)
	if out, _ := h.invoke("echo", []byte("hi"), bigGas); out.Err != nil || string(out.Result) != "hi" || out.GasUsed == 0 {
		t.Fatalf("echo: %+v", out)
	}
	for _, kv := range []string{"a=1", "b=2", "c=3", "d=4"} {
		if out, _ := h.invoke("put", []byte(kv), bigGas); out.Err != nil {
			t.Fatalf("put: %v", out.Err)
		}
	}
	h.invoke("put", []byte("a=10"), bigGas)
	h.invoke("del", []byte("c"), bigGas)
	out, _ := h.invoke("get", []byte("a"), bigGas)
	if string(out.Result) != "10" {
		t.Fatalf("get a = %q, %v", out.Result, out.Err)
	}
	if out, _ = h.invoke("get", []byte("c"), bigGas); !errors.Is(out.Err, &types.TxError{Code: CodeContractError}) {
		t.Fatalf("get of a deleted key: %+v", out)
	}
	if out, _ = h.invoke("range", []byte("a.."), bigGas); string(out.Result) != "a=10;b=2;d=4;" {
		t.Fatalf("range = %q (%v)", out.Result, out.Err)
	}
	h.invoke("put", []byte("e=5"), bigGas)
	if out, _ = h.invoke("range", []byte("a.."), bigGas); string(out.Result) != "a=10;b=2;d=4;+" {
		t.Fatalf("range page = %q", out.Result)
	}
	if out, _ = h.invoke("range", []byte("b..e"), bigGas); string(out.Result) != "b=2;d=4;" {
		t.Fatalf("bounded range = %q", out.Result)
	}
	if out, _ = h.invoke("history", []byte("a"), bigGas); string(out.Result) != "6:false:10;2:false:1;" {
		t.Fatalf("history = %q", out.Result)
	}
	out, ov := h.invoke("emit", []byte(`{"n":1}`), bigGas)
	if out.Err != nil || len(ov.Events) != 1 || ov.Events[0].Name != "said" || string(ov.Events[0].Data) != `{"n":1}` {
		t.Fatalf("emit: %+v %+v", out, ov.Events)
	}
	if out, _ = h.invoke("nope", nil, bigGas); !errors.Is(out.Err, &types.TxError{Code: CodeContractError}) || !strings.Contains(out.Err.Error(), "no_such_function") {
		t.Fatalf("unknown function: %+v", out)
	}
}

// TestEnvIsDeterministic: clocks read the block time, randomness is seeded
// by the transaction hash, on both engines alike.
func TestEnvIsDeterministic(t *testing.T) {
	var got []string
	for _, interp := range []bool{false, true} {
		h := newHarness(t, interp)
		out, _ := h.invoke("env", nil, bigGas)
		if out.Err != nil {
			t.Fatal(out.Err)
		}
		got = append(got, fmt.Sprintf("%s gas=%d", out.Result, out.GasUsed))
	}
	if got[0] != got[1] {
		t.Fatalf("compiler and interpreter differ:\n%s\n%s", got[0], got[1])
	}
	for _, want := range []string{"name=adv", "height=1", "time=1700000000123456789", "now=1700000000123456789", "caller=07000000", "tx=01020300"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("env %q lacks %q", got[0], want)
		}
	}
	h := newHarness(t, false)
	a, _ := h.invoke("env", nil, bigGas)
	b, _ := h.invoke("env", nil, bigGas)
	ra := a.Result[bytes.Index(a.Result, []byte("rand=")):]
	rb := b.Result[bytes.Index(b.Result, []byte("rand=")):]
	if !bytes.Equal(ra, rb) {
		t.Fatalf("same tx hash, different randomness: %s vs %s", ra, rb)
	}
}

// TestFloatsAreCanonical: NaNs from arithmetic come out canonical (x86
// produces a negative NaN for inf-inf natively), on both engines.
func TestFloatsAreCanonical(t *testing.T) {
	var results [][]byte
	var gas []uint64
	for _, interp := range []bool{false, true} {
		h := newHarness(t, interp)
		out, _ := h.invoke("floats", []byte("abc"), bigGas)
		if out.Err != nil {
			t.Fatal(out.Err)
		}
		results = append(results, out.Result)
		gas = append(gas, out.GasUsed)
	}
	if !bytes.Equal(results[0], results[1]) || gas[0] != gas[1] {
		t.Fatalf("engines differ: %x/%d vs %x/%d", results[0], gas[0], results[1], gas[1])
	}
	r := results[0]
	if v := binary.BigEndian.Uint64(r[0:8]); v != 0x7ff8000000000000 {
		t.Errorf("inf-inf = %#x, want the canonical NaN", v)
	}
	if v := binary.BigEndian.Uint32(r[8:12]); v != 0x7fc00000 {
		t.Errorf("0/0 (f32) = %#x, want the canonical NaN", v)
	}
	if v := binary.BigEndian.Uint64(r[12:20]); v != 0x7ff8000000000000 {
		t.Errorf("sqrt(-4) = %#x, want the canonical NaN", v)
	}
	if v := binary.BigEndian.Uint64(r[20:28]); v != 0x400921fb54442d18 {
		t.Errorf("pi*3/3 = %#x, want pi", v)
	}
}

// TestGasIsExactAndEngineIndependent: the same work costs the same gas on
// both engines, more work costs more, and running out is out_of_gas with
// the limit as gas used.
func TestGasIsExactAndEngineIndependent(t *testing.T) {
	arg := func(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
	var g [2][2]uint64
	for i, interp := range []bool{false, true} {
		h := newHarness(t, interp)
		for j, n := range []uint64{1000, 2000} {
			out, _ := h.invoke("work", arg(n), bigGas)
			if out.Err != nil {
				t.Fatal(out.Err)
			}
			g[i][j] = out.GasUsed
		}
	}
	if g[0] != g[1] {
		t.Fatalf("gas differs between engines: %v vs %v", g[0], g[1])
	}
	perIter := (g[0][1] - g[0][0]) / 1000
	if perIter < 3 || perIter > 40 {
		t.Fatalf("gas per loop iteration = %d, want a handful of instructions", perIter)
	}
	h := newHarness(t, false)
	out, _ := h.invoke("work", arg(1_000_000), g[0][0])
	if !errors.Is(out.Err, &types.TxError{Code: CodeOutOfGas}) || out.GasUsed != g[0][0] {
		t.Fatalf("over its gas: %+v", out)
	}
}

// TestAdversarial: each escape attempt gets its documented code and changes
// nothing; the engine stays usable after each.
func TestAdversarial(t *testing.T) {
	cases := []struct {
		fn   string
		gas  uint64
		want types.Code
	}{
		{"loop", 5_000_000, CodeOutOfGas},
		{"bigrand", 5_000_000, CodeOutOfGas}, // random bytes are priced per byte
		{"sleep", 5_000_000, CodeOutOfGas},   // time does not pass within a block
		{"put_then_loop", 5_000_000, CodeOutOfGas},
		{"grow", 1 << 40, CodeMemoryLimit},
		{"recurse", 1 << 40, CodeCallDepth},
		{"bigevent", bigGas, CodeEventTooLarge},
		{"bigput", bigGas, CodeValueTooLarge},
		{"put_then_fail", bigGas, CodeContractError},
		{"panic", bigGas, CodeContractError},
	}
	for _, interp := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/interp=%v", c.fn, interp), func(t *testing.T) {
				h := newHarness(t, interp)
				h.invoke("put", []byte("keep=1"), bigGas)
				out, ov := h.invoke(c.fn, []byte("x"), c.gas)
				if !errors.Is(out.Err, &types.TxError{Code: c.want}) {
					t.Fatalf("%s: err %v, want %s", c.fn, out.Err, c.want)
				}
				if len(ov.Writes)+len(ov.Events)+len(ov.Transfers) != 0 {
					t.Fatalf("%s: left effects %+v", c.fn, ov)
				}
				if out.GasUsed == 0 || out.GasUsed > c.gas {
					t.Fatalf("%s: gas used %d of %d", c.fn, out.GasUsed, c.gas)
				}
				if c.want == CodeOutOfGas && out.GasUsed != c.gas {
					t.Fatalf("%s: out of gas after %d of %d", c.fn, out.GasUsed, c.gas)
				}
				if len(h.state.kv) != 1 {
					t.Fatalf("%s: state changed: %v", c.fn, h.state.kv)
				}
				if out, _ := h.invoke("get", []byte("keep"), bigGas); string(out.Result) != "1" {
					t.Fatalf("engine unusable after %s: %+v", c.fn, out)
				}
			})
		}
	}
}

func TestReadOnlyQuery(t *testing.T) {
	h := newHarness(t, false)
	env := h.env()
	env.ReadOnly = true
	ov := NewOverlay(h.state)
	out, err := h.e.Call(context.Background(), nil, ov, codes{}, h.hash, env, KindQuery, "put", []byte("a=1"), bigGas)
	if err != nil || !errors.Is(out.Err, &types.TxError{Code: CodeReadOnly}) || len(ov.Writes) != 0 {
		t.Fatalf("write in a query: %+v %v", out, err)
	}
}

func TestCallsBetweenContractsAndTransfers(t *testing.T) {
	h := newHarness(t, false)
	out, ov := h.invoke("call", []byte("adv2 put k=v"), bigGas)
	if out.Err != nil {
		t.Fatal(out.Err)
	}
	if len(ov.Writes) != 1 || ov.Writes[0].Contract != "adv2" || string(ov.Writes[0].Key) != "k" {
		t.Fatalf("nested write: %+v", ov.Writes)
	}
	// A failing callee: the caller sees the error; the callee's writes go.
	out, ov = h.invoke("call", []byte("adv2 put_then_fail zz"), bigGas)
	if !errors.Is(out.Err, &types.TxError{Code: CodeContractError}) || !strings.Contains(out.Err.Error(), "refused on purpose") || len(ov.Writes) != 0 {
		t.Fatalf("failing callee: %+v %+v", out, ov.Writes)
	}
	out, _ = h.invoke("call", []byte("ghost echo x"), bigGas)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "no_such_contract") {
		t.Fatalf("call of a missing contract: %+v", out)
	}
	// Self-recursion through calls stops at the contract depth limit.
	out, _ = h.invoke("call", []byte("adv call adv call adv call adv call adv call adv call adv call adv call adv call adv echo x"), bigGas)
	if out.Err == nil || !strings.Contains(out.Err.Error(), string(CodeCallDepth)) {
		t.Fatalf("deep contract calls: %+v", out)
	}
	// Transfers move the contract's own tokens, never more than it holds.
	h.state.balances[ContractAddress("adv")] = 100
	to := crypto.Address{9}
	out, ov = h.invoke("pay", binary.BigEndian.AppendUint64(to[:], 60), bigGas)
	if out.Err != nil || len(ov.Transfers) != 1 || h.state.balances[to] != 60 {
		t.Fatalf("pay: %+v %+v", out, ov.Transfers)
	}
	out, _ = h.invoke("pay", binary.BigEndian.AppendUint64(to[:], 41), bigGas)
	if out.Err == nil || !strings.Contains(out.Err.Error(), "insufficient_balance") || h.state.balances[to] != 60 {
		t.Fatalf("overdraft: %+v", out)
	}
}

func TestHostNamesMatch(t *testing.T) {
	if len(hostNames) != len(hostFuncs) {
		t.Fatalf("%d names for %d host functions", len(hostNames), len(hostFuncs))
	}
	for n := range hostFuncs {
		if !hostNames[n] {
			t.Errorf("host function %s missing from hostNames", n)
		}
	}
}

func TestDeployRefusals(t *testing.T) {
	h := newHarness(t, false)
	forbidden := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type () -> ()
		"\x02\x0b\x01\x03env\x03now\x00\x00") // import env.now
	for name, code := range map[string][]byte{
		"malformed":        []byte("\x00asm\x01\x00\x00\x00\x01\xff"),
		"not wasm":         []byte("hello"),
		"forbidden import": forbidden,
		"no entry point":   []byte("\x00asm\x01\x00\x00\x00"),
	} {
		if _, err := h.e.Prepare(context.Background(), code); !errors.Is(err, &types.TxError{Code: CodeInvalidCode}) {
			t.Errorf("%s: %v, want %s", name, err, CodeInvalidCode)
		}
	}
}

// BenchmarkInvoke is the cost of one contract call with one PutState on
// the compiler engine: "fresh" restores the started state for each call (a
// query, or a block with one call of the contract), "block" shares the
// instance within a block of 100 calls.
func BenchmarkInvoke(b *testing.B) {
	h := newHarness(b, false)
	for _, perBlock := range []int{1, 100} {
		name := "fresh"
		if perBlock > 1 {
			name = "block"
		}
		b.Run(name, func(b *testing.B) {
			ov := NewOverlay(h.state)
			var sc *Scope
			for i := 0; i < b.N; i++ {
				if i%perBlock == 0 {
					sc.Close(context.Background(), h.e)
					sc = NewScope()
				}
				out, err := h.e.Call(context.Background(), sc, ov, codes{}, h.hash, h.env(), KindInvoke, "put", []byte("k=v"), bigGas)
				if err != nil || out.Err != nil {
					b.Fatal(err, out.Err)
				}
			}
			sc.Close(context.Background(), h.e)
		})
	}
}

// TestScopeSharesAndRecovers: within a scope calls share an instance, a
// failed call drops it, and two runs of the same sequence give the same
// results and gas (what two validators executing a block see).
func TestScopeSharesAndRecovers(t *testing.T) {
	seq := []struct {
		fn, args string
	}{{"put", "a=1"}, {"panic", ""}, {"get", "a"}, {"loop", ""}, {"echo", "x"}, {"env", ""}, {"put", "b=2"}}
	runOnce := func() []string {
		h := newHarness(t, false)
		sc := NewScope()
		defer sc.Close(context.Background(), h.e)
		ov := NewOverlay(h.state)
		var got []string
		for _, c := range seq {
			out, err := h.e.Call(context.Background(), sc, ov, codes{}, h.hash, h.env(), KindInvoke, c.fn, []byte(c.args), 2_000_000)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s:%q:%v:%d", c.fn, out.Result, out.Err, out.GasUsed))
		}
		return got
	}
	a, b := runOnce(), runOnce()
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("two runs differ:\n%s\n--\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if !strings.HasPrefix(a[2], `get:"1":<nil>`) || !strings.HasPrefix(a[4], `echo:"x":<nil>`) {
		t.Fatalf("calls after failures: %v", a)
	}
}

func TestAllowImport(t *testing.T) {
	for _, c := range []struct {
		mod, name string
		ok        bool
	}{
		{"cairn", "get_state", true},
		{"cairn", "wall_clock", false},
		{"wasi_snapshot_preview1", "random_get", true},
		{"wasi_snapshot_preview1", "poll_oneoff", true},
		{"wasi_snapshot_preview1", "path_open", false},
		{"wasi_snapshot_preview1", "sock_accept", false},
		{"env", "abort", false},
	} {
		if got := AllowImport(c.mod, c.name); got != c.ok {
			t.Errorf("AllowImport(%s, %s) = %v", c.mod, c.name, got)
		}
	}
}

// TestScopeSeparatesInstancesOfOneCode: two instances (names) of the same
// code share nothing within a block, not even memory; each instance's own
// calls do share theirs.
func TestScopeSeparatesInstancesOfOneCode(t *testing.T) {
	h := newHarness(t, false)
	sc := NewScope()
	defer sc.Close(context.Background(), h.e)
	ov := NewOverlay(h.state)
	count := func(name string) uint64 {
		t.Helper()
		env := h.env()
		env.Contract, env.Self = name, ContractAddress(name)
		out, err := h.e.Call(context.Background(), sc, ov, codes{"adv": h.code, "adv2": h.code}, h.hash, env, KindInvoke, "count", nil, bigGas)
		if err != nil || out.Err != nil {
			t.Fatalf("count on %s: %v %v", name, err, out.Err)
		}
		return binary.BigEndian.Uint64(out.Result)
	}
	got := []uint64{count("adv"), count("adv2"), count("adv"), count("adv2"), count("adv2")}
	if fmt.Sprint(got) != "[1 1 2 2 3]" {
		t.Fatalf("in-memory counters of adv, adv2, adv, adv2, adv2 = %v, want [1 1 2 2 3]", got)
	}
}

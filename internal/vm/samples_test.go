package vm

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/types"
)

var (
	samplesOnce sync.Once
	samples     = map[string][]byte{} // name -> instrumented code
	sampleHash  = map[string]crypto.Hash{}
	samplesErr  error
	samplesEng  *Engine
)

// sampleChain deploys the sample contracts of examples/contracts on one
// engine (built once per test run) over a fresh state.
type sampleChain struct {
	t      testing.TB
	e      *Engine
	state  *memState
	height uint64
}

func newSampleChain(t testing.TB) *sampleChain {
	t.Helper()
	samplesOnce.Do(func() {
		samplesEng, samplesErr = New(context.Background(), Config{Limits: Limits{MaxMemoryPages: 256}, Cache: testCache})
		if samplesErr != nil {
			return
		}
		for _, name := range []string{"voucher", "assets", "escrow"} {
			raw, err := contractbuild.Cached(context.Background(), "../../examples/contracts/"+name)
			if err != nil {
				samplesErr = err
				return
			}
			code, err := samplesEng.Prepare(context.Background(), raw)
			if err != nil {
				samplesErr = fmt.Errorf("%s: %w", name, err)
				return
			}
			samples[name], sampleHash[name] = code, CodeHash(code)
		}
	})
	if samplesErr != nil {
		if os.Getenv("CI") == "true" || !strings.Contains(samplesErr.Error(), "contract build") {
			t.Fatal(samplesErr)
		}
		t.Skipf("SKIPPED: %v", samplesErr)
	}
	return &sampleChain{t: t, e: samplesEng, state: newMemState(), height: 1}
}

func (c *sampleChain) Resolve(name string) (crypto.Hash, error) {
	if h, ok := sampleHash[name]; ok {
		return h, nil
	}
	return crypto.Hash{}, types.Errf(CodeNoSuchContract, "no contract %q", name)
}

func (c *sampleChain) CodeByHash(h crypto.Hash) ([]byte, error) {
	for name, sh := range sampleHash {
		if sh == h {
			return samples[name], nil
		}
	}
	return nil, fmt.Errorf("no code %s", h)
}

// call runs one transaction in its own block and commits it on success.
func (c *sampleChain) call(name string, caller crypto.Address, kind byte, fn, args string) (*Outcome, *Overlay) {
	c.t.Helper()
	ov := NewOverlay(c.state)
	env := Env{Contract: name, Self: ContractAddress(name), Caller: caller, TxHash: crypto.Sum([]byte(fmt.Sprint(c.height, fn, args))), Height: c.height, Time: int64(c.height) * 1e9}
	out, err := c.e.Call(context.Background(), NewScope(), ov, c, sampleHash[name], env, kind, fn, []byte(args), 50_000_000)
	if err != nil {
		c.t.Fatalf("%s.%s: %v", name, fn, err)
	}
	if out.Err == nil {
		c.state.apply(ov, c.height)
	}
	c.height++
	return out, ov
}

func (c *sampleChain) ok(name string, caller crypto.Address, fn, args string) []byte {
	c.t.Helper()
	out, _ := c.call(name, caller, KindInvoke, fn, args)
	if out.Err != nil {
		c.t.Fatalf("%s.%s(%s): %v", name, fn, args, out.Err)
	}
	return out.Result
}

func (c *sampleChain) fails(name string, caller crypto.Address, fn, args, want string) {
	c.t.Helper()
	before := len(c.state.kv)
	out, ov := c.call(name, caller, KindInvoke, fn, args)
	if !errors.Is(out.Err, &types.TxError{Code: CodeContractError}) || !strings.Contains(out.Err.Error(), want) {
		c.t.Fatalf("%s.%s(%s): %v, want a contract error with %q", name, fn, args, out.Err, want)
	}
	if len(ov.Writes)+len(ov.Events)+len(ov.Transfers) != 0 || len(c.state.kv) != before {
		c.t.Fatalf("%s.%s(%s) failed but left effects", name, fn, args)
	}
}

var (
	alice = crypto.Address{0xa1}
	bob   = crypto.Address{0xb0}
	carol = crypto.Address{0xc0}
)

func hexOf(a crypto.Address) string { return hex.EncodeToString(a[:]) }

func TestSampleVoucher(t *testing.T) {
	c := newSampleChain(t)
	c.ok("voucher", alice, "issue", fmt.Sprintf(`{"id":"g1","value":50,"owner":%q}`, hexOf(bob)))
	c.fails("voucher", alice, "issue", `{"id":"g1","value":5}`, "already exists")
	c.fails("voucher", carol, "transfer", fmt.Sprintf(`{"id":"g1","to":%q}`, hexOf(carol)), "not the caller")
	c.ok("voucher", bob, "transfer", fmt.Sprintf(`{"id":"g1","to":%q}`, hexOf(carol)))
	c.fails("voucher", bob, "redeem", `{"id":"g1"}`, "not the caller")
	_, ov := c.call("voucher", carol, KindInvoke, "redeem", `{"id":"g1"}`)
	if len(ov.Events) != 1 || ov.Events[0].Name != "redeemed" {
		t.Fatalf("redeem events: %+v", ov.Events)
	}
	c.fails("voucher", carol, "redeem", `{"id":"g1"}`, "already redeemed")
	var v struct {
		Owner    string `json:"owner"`
		Redeemed bool   `json:"redeemed"`
		Issuer   string `json:"issuer"`
	}
	if err := json.Unmarshal(c.ok("voucher", bob, "get", `{"id":"g1"}`), &v); err != nil || !v.Redeemed || v.Owner != hexOf(carol) || v.Issuer != hexOf(alice) {
		t.Fatalf("voucher after redeem: %+v %v", v, err)
	}
	var hist []struct {
		Height uint64          `json:"height"`
		Value  json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(c.ok("voucher", bob, "history", `{"id":"g1"}`), &hist); err != nil || len(hist) != 3 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if !strings.Contains(string(hist[0].Value), `"redeemed":true`) || strings.Contains(string(hist[2].Value), `"redeemed":true`) {
		t.Fatalf("history order (newest first): %+v", hist)
	}
}

func TestSampleAssets(t *testing.T) {
	c := newSampleChain(t)
	if out, _ := c.call("assets", alice, KindInit, "", ""); out.Err != nil {
		t.Fatal(out.Err)
	}
	count := func() int {
		var all []map[string]any
		if err := json.Unmarshal(c.ok("assets", alice, "GetAllAssets", ""), &all); err != nil {
			t.Fatal(err)
		}
		return len(all)
	}
	if n := count(); n != 6 {
		t.Fatalf("after InitLedger: %d assets", n)
	}
	c.ok("assets", alice, "CreateAsset", `{"ID":"asset7","Color":"pink","Size":1,"Owner":"Ann","AppraisedValue":9}`)
	c.fails("assets", alice, "CreateAsset", `{"ID":"asset7"}`, "already exists")
	if got := string(c.ok("assets", alice, "TransferAsset", `{"ID":"asset7","NewOwner":"Bea"}`)); got != `"Ann"` {
		t.Fatalf("TransferAsset returned %s", got)
	}
	c.ok("assets", alice, "UpdateAsset", `{"ID":"asset7","Color":"teal","Size":2,"Owner":"Bea","AppraisedValue":10}`)
	if got := string(c.ok("assets", alice, "ReadAsset", `{"ID":"asset7"}`)); got != `{"ID":"asset7","Color":"teal","Size":2,"Owner":"Bea","AppraisedValue":10}` {
		t.Fatalf("ReadAsset: %s", got)
	}
	c.fails("assets", alice, "UpdateAsset", `{"ID":"nope"}`, "does not exist")
	c.ok("assets", alice, "DeleteAsset", `{"ID":"asset1"}`)
	if got := string(c.ok("assets", alice, "AssetExists", `{"ID":"asset1"}`)); got != "false" {
		t.Fatalf("AssetExists after delete: %s", got)
	}
	// Enough assets for several range pages.
	for i := 0; i < 230; i++ {
		c.ok("assets", alice, "CreateAsset", fmt.Sprintf(`{"ID":"bulk%03d","Owner":"x"}`, i))
	}
	if n := count(); n != 236 {
		t.Fatalf("GetAllAssets over pages: %d, want 236", n)
	}
}

func TestSampleEscrow(t *testing.T) {
	c := newSampleChain(t)
	c.ok("voucher", alice, "issue", fmt.Sprintf(`{"id":"v1","value":1,"owner":%q}`, hexOf(bob)))
	deal := fmt.Sprintf(`{"id":"d1","beneficiary":%q,"amount":60,"voucher_contract":"voucher","voucher_id":"v1","deadline":100}`, hexOf(carol))
	c.fails("escrow", alice, "open", deal, "uncommitted tokens")
	c.state.balances[ContractAddress("escrow")] = 100 // alice funded the escrow's account
	c.ok("escrow", alice, "open", deal)
	c.fails("escrow", alice, "open", strings.Replace(deal, `"d1"`, `"d2"`, 1), "holds 40 uncommitted")
	c.fails("escrow", carol, "release", `{"id":"d1"}`, "not redeemed yet")
	c.ok("voucher", bob, "redeem", `{"id":"v1"}`)
	_, ov := c.call("escrow", carol, KindInvoke, "release", `{"id":"d1"}`)
	if len(ov.Transfers) != 1 || c.state.balances[carol] != 60 || c.state.balances[ContractAddress("escrow")] != 40 {
		t.Fatalf("release: transfers %+v, balances %v", ov.Transfers, c.state.balances)
	}
	c.fails("escrow", carol, "release", `{"id":"d1"}`, "is released")
	// A second deal, refunded after its deadline.
	c.ok("voucher", alice, "issue", `{"id":"v2","value":1}`)
	c.ok("escrow", alice, "open", fmt.Sprintf(`{"id":"d3","beneficiary":%q,"amount":40,"voucher_contract":"voucher","voucher_id":"v2","deadline":1}`, hexOf(carol)))
	c.fails("escrow", bob, "refund", `{"id":"d3"}`, "only the payer")
	c.ok("escrow", alice, "refund", `{"id":"d3"}`)
	if c.state.balances[alice] != 40 || c.state.balances[ContractAddress("escrow")] != 0 {
		t.Fatalf("refund: balances %v", c.state.balances)
	}
}

// BenchmarkVoucherInvoke is the engine's CPU per voucher transaction
// (issue), 100 per block scope, compiler engine.
func BenchmarkVoucherInvoke(b *testing.B) {
	c := newSampleChain(b)
	ov := NewOverlay(c.state)
	var sc *Scope
	var gas uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%100 == 0 {
			sc.Close(context.Background(), c.e)
			sc = NewScope()
		}
		env := Env{Contract: "voucher", Self: ContractAddress("voucher"), Caller: alice, Height: 1, Time: 1e9}
		out, err := c.e.Call(context.Background(), sc, ov, c, sampleHash["voucher"], env, KindInvoke, "issue", fmt.Appendf(nil, `{"id":"b%d","value":5}`, i), 50_000_000)
		if err != nil || out.Err != nil {
			b.Fatal(err, out.Err)
		}
		gas += out.GasUsed
	}
	sc.Close(context.Background(), c.e)
	b.ReportMetric(float64(gas)/float64(b.N), "gas/op")
}

// TestFourEnginesAgree runs one sequence of transactions (samples,
// failures, adversarial calls) on four separate engines, two compiling and
// two interpreting, each with its own state, and compares a digest of every
// result, gas figure, event, write and transfer: what four validators must
// agree on.
func TestFourEnginesAgree(t *testing.T) {
	newSampleChain(t) // builds the samples
	adv := adversary(t)
	type step struct{ contract, fn, args string }
	steps := []step{
		{"voucher", "issue", `{"id":"g","value":7}`},
		{"voucher", "redeem", `{"id":"g"}`},
		{"voucher", "redeem", `{"id":"g"}`},
		{"assets", "CreateAsset", `{"ID":"a","Owner":"o"}`},
		{"assets", "GetAllAssets", ``},
		{"adv", "floats", `xyz`},
		{"adv", "env", ``},
		{"adv", "loop", ``},
		{"adv", "grow", ``},
		{"adv", "recurse", ``},
		{"adv", "bigevent", ``},
		{"adv", "work", "\x00\x00\x00\x00\x00\x00\x10\x00"},
		{"escrow", "open", fmt.Sprintf(`{"id":"d","beneficiary":%q,"amount":5,"voucher_contract":"voucher","voucher_id":"g"}`, hexOf(carol))},
		{"escrow", "release", `{"id":"d"}`},
	}
	var digests []crypto.Hash
	for i := 0; i < 4; i++ {
		// The compiling engines share compiled code with the other tests'
		// engines (the cache only saves compile time); the interpreting
		// ones compile their own.
		cfg := Config{Interpreter: i%2 == 1, Limits: Limits{MaxMemoryPages: 256}}
		if !cfg.Interpreter {
			cfg.Cache = testCache
		}
		e, err := New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close(context.Background())
		res := codes{}
		for name, raw := range map[string][]byte{"voucher": nil, "assets": nil, "escrow": nil, "adv": adv} {
			if raw == nil {
				raw, err = contractbuild.Cached(context.Background(), "../../examples/contracts/"+name)
				if err != nil {
					t.Fatal(err)
				}
			}
			code, err := e.Prepare(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			res[name] = code
		}
		state := newMemState()
		state.balances[ContractAddress("escrow")] = 10
		var log []byte
		for h, s := range steps {
			ov := NewOverlay(state)
			sc := NewScope()
			env := Env{Contract: s.contract, Self: ContractAddress(s.contract), Caller: alice, TxHash: crypto.Sum([]byte{byte(h)}), Height: uint64(h + 1), Time: int64(h+1) * 1e9}
			hash, _ := res.Resolve(s.contract)
			out, err := e.Call(context.Background(), sc, ov, res, hash, env, KindInvoke, s.fn, []byte(s.args), 3_000_000)
			sc.Close(context.Background(), e)
			if err != nil {
				t.Fatal(err)
			}
			code := types.Code("")
			var te *types.TxError
			if errors.As(out.Err, &te) {
				code = te.Code
			}
			log = fmt.Appendf(log, "%d %s.%s -> %x gas=%d code=%s\n", h, s.contract, s.fn, out.Result, out.GasUsed, code)
			for _, w := range ov.Writes {
				log = fmt.Appendf(log, "  write %s %q %x %v\n", w.Contract, w.Key, w.Value, w.Delete)
			}
			for _, ev := range ov.Events {
				log = fmt.Appendf(log, "  event %s %s %x\n", ev.Contract, ev.Name, ev.Data)
			}
			for _, tr := range ov.Transfers {
				log = fmt.Appendf(log, "  transfer %x %x %d\n", tr.From, tr.To, tr.Amount)
			}
			if out.Err == nil {
				state.apply(ov, uint64(h+1))
			}
		}
		digests = append(digests, crypto.Sum(log))
		if i == 0 {
			t.Logf("engine 0 log:\n%s", log)
		}
	}
	for i := 1; i < 4; i++ {
		if digests[i] != digests[0] {
			t.Fatalf("engine %d disagrees with engine 0: %x vs %x", i, digests[i], digests[0])
		}
	}
}

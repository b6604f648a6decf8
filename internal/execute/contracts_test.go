package execute

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// sampleCode builds and prepares an examples/contracts sample on eng.
func sampleCode(t *testing.T, eng *vm.Engine, name string) []byte {
	t.Helper()
	raw, err := contractbuild.Cached(context.Background(), "../../examples/contracts/"+name)
	if err != nil {
		if os.Getenv("CI") == "true" || !strings.Contains(err.Error(), "contract build") {
			t.Fatal(err)
		}
		t.Skipf("SKIPPED: %v", err)
	}
	code, err := eng.Prepare(context.Background(), raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return code
}

func instanceWrites(name string, code []byte, owner crypto.Address) []Write {
	h := vm.CodeHash(code)
	info := &types.ContractInfo{Name: name, CodeHash: h, Owner: owner}
	return []Write{{Key: types.ContractCodeKey(h), Value: code}, {Key: types.ContractInfoKey(name), Value: info.Encode()}}
}

// treeReader is a state tree as the executor reads it.
type treeReader struct{ *state.Tree }

func (r treeReader) TxCommitted(crypto.Hash) (bool, error) { return false, nil }

// blockRun executes contract calls as one block on a treeChain: each
// successful call's writes go into the executor's cache, as apply does.
type blockRun struct {
	t      *testing.T
	x      *executor
	b      *blockContracts
	writes []Write
	n      int
}

func newBlockRun(t *testing.T, c *treeChain, eng *vm.Engine) *blockRun {
	x := &executor{r: treeReader{c.s}, height: c.next(), cache: map[string]*entry{}, seen: map[crypto.Hash]bool{}}
	return &blockRun{t: t, x: x, b: newBlockContracts(x, eng, c.s)}
}

func (r *blockRun) call(caller crypto.Address, name, fn, args string) (*vm.Outcome, *callEffects) {
	r.t.Helper()
	r.n++
	tx := crypto.Sum([]byte(fmt.Sprint(r.x.height, r.n)))
	out, fx, err := r.b.call(context.Background(), tx, caller, name, vm.KindInvoke, fn, []byte(args), 50_000_000, int64(r.x.height)*1e9)
	if err != nil {
		r.t.Fatalf("%s.%s: %v", name, fn, err)
	}
	if out.Err == nil {
		for _, w := range fx.Writes {
			r.x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
		}
		r.writes = append(r.writes, fx.Writes...)
	} else if fx != nil {
		r.t.Fatalf("%s.%s failed with effects", name, fn)
	}
	return out, fx
}

func (r *blockRun) ok(caller crypto.Address, name, fn, args string) (*vm.Outcome, *callEffects) {
	r.t.Helper()
	out, fx := r.call(caller, name, fn, args)
	if out.Err != nil {
		r.t.Fatalf("%s.%s(%s): %v", name, fn, args, out.Err)
	}
	return out, fx
}

func (r *blockRun) fails(caller crypto.Address, name, fn, args string, code types.Code, want string) {
	r.t.Helper()
	out, _ := r.call(caller, name, fn, args)
	if !errors.Is(out.Err, &types.TxError{Code: code}) || !strings.Contains(out.Err.Error(), want) {
		r.t.Fatalf("%s.%s(%s): %v, want %s with %q", name, fn, args, out.Err, code, want)
	}
}

// TestBlockContractCalls runs calls of one block that depend on each
// other: a redeem sees the issue before it, a second redeem fails, an
// escrow calls the voucher contract and moves tokens, and only the winners'
// effects reach the block's writes; the next block's history shows the
// committed versions.
func TestBlockContractCalls(t *testing.T) {
	ctx := context.Background()
	eng, err := vm.New(ctx, vm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	voucher, escrow := sampleCode(t, eng, "voucher"), sampleCode(t, eng, "escrow")
	alice, bob, carol := crypto.Address{0xa1}, crypto.Address{0xb0}, crypto.Address{0xc0}
	genesis := append(instanceWrites("voucher", voucher, alice), instanceWrites("escrow", escrow, alice)...)
	genesis = append(genesis, Write{Key: types.AccountKey(vm.ContractAddress("escrow")), Value: types.Account{Balance: 100}.Encode()})
	c := newTreeChain(t, genesis)

	r := newBlockRun(t, c, eng)
	hexOf := func(a crypto.Address) string { return hex.EncodeToString(a[:]) }
	r.ok(alice, "voucher", "issue", fmt.Sprintf(`{"id":"v1","value":1,"owner":%q}`, hexOf(bob)))
	r.ok(alice, "escrow", "open", fmt.Sprintf(`{"id":"d1","beneficiary":%q,"amount":60,"voucher_contract":"voucher","voucher_id":"v1","deadline":100}`, hexOf(carol)))
	r.fails(carol, "escrow", "release", `{"id":"d1"}`, vm.CodeContractError, "not redeemed yet")
	_, fx := r.ok(bob, "voucher", "redeem", `{"id":"v1"}`)
	if len(fx.Events) != 1 || fx.Events[0].Name != "redeemed" {
		t.Fatalf("redeem events %+v", fx.Events)
	}
	r.fails(bob, "voucher", "redeem", `{"id":"v1"}`, vm.CodeContractError, "already redeemed")
	_, fx = r.ok(carol, "escrow", "release", `{"id":"d1"}`)
	balances := map[string]uint64{}
	for _, w := range fx.Writes {
		if w.Key[0] == 'a' {
			acc, err := types.DecodeAccount(w.Value)
			if err != nil {
				t.Fatal(err)
			}
			balances[hex.EncodeToString(w.Key[1:])] = acc.Balance
		}
	}
	if balances[hexOf(vm.ContractAddress("escrow"))] != 40 || balances[hexOf(carol)] != 60 || len(balances) != 2 {
		t.Fatalf("release wrote balances %v", balances)
	}
	r.fails(carol, "escrow", "release", `{"id":"d1"}`, vm.CodeContractError, "is released")
	r.fails(carol, "nobody", "x", ``, vm.CodeNoSuchContract, "nobody")
	r.b.close(ctx)
	c.commit(r.writes)

	// The next block sees the committed state; v1 has two versions, both
	// at the previous height.
	r = newBlockRun(t, c, eng)
	if b, err := r.b.Balance(carol); err != nil || b != 60 {
		t.Fatalf("carol's balance %d, %v", b, err)
	}
	vs, err := r.b.History("voucher", []byte("v/v1"), 10)
	if err != nil || len(vs) != 2 || vs[0].Height != 1 || vs[1].Height != 1 || !strings.Contains(string(vs[0].Value), `"redeemed":true`) {
		t.Fatalf("history of v1: %+v %v", vs, err)
	}
	r.fails(bob, "voucher", "redeem", `{"id":"v1"}`, vm.CodeContractError, "already redeemed")
	r.b.close(ctx)
}

// TestBlockRangeMerge checks range reads over committed entries and the
// block's earlier writes (puts, overwrites and deletes, committed pages
// full or not) against a model, for every start and limit.
func TestBlockRangeMerge(t *testing.T) {
	var genesis []Write
	model := map[string]string{}
	for i := 0; i < 12; i += 1 {
		k := fmt.Sprintf("k%02d", i*2)
		genesis = append(genesis, ContractWrites([]vm.Write{{Contract: "c", Key: []byte(k), Value: []byte("old" + k)}}, 0, crypto.Hash{})...)
		model[k] = "old" + k
	}
	// A deleted committed key and a neighbour's namespace stay out.
	genesis = append(genesis, ContractWrites([]vm.Write{{Contract: "c", Key: []byte("k01"), Delete: true}, {Contract: "cc", Key: []byte("k03"), Value: []byte("x")}}, 0, crypto.Hash{})...)
	c := newTreeChain(t, genesis)
	r := newBlockRun(t, c, nil)
	block := []vm.Write{
		{Contract: "c", Key: []byte("k00"), Delete: true},
		{Contract: "c", Key: []byte("k02"), Delete: true},
		{Contract: "c", Key: []byte("k05"), Value: []byte("new05")},
		{Contract: "c", Key: []byte("k06"), Value: []byte("new06")},
		{Contract: "c", Key: []byte("k01"), Value: []byte("new01")},
		{Contract: "c", Key: []byte("k99"), Value: []byte("new99")},
		{Contract: "c", Key: []byte("k05"), Delete: true},
		{Contract: "c", Key: []byte("k07"), Value: []byte("new07")},
	}
	for _, w := range ContractWrites(block, 1, crypto.Hash{1}) {
		r.x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
	}
	for _, w := range block {
		if w.Delete {
			delete(model, string(w.Key))
		} else {
			model[string(w.Key)] = string(w.Value)
		}
		m := r.b.written[w.Contract]
		if m == nil {
			m = map[string]bool{}
			r.b.written[w.Contract] = m
		}
		m[string(w.Key)] = true
	}
	var keys []string
	for k := range model {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, start := range []string{"", "k00", "k01", "k05", "k10", "k23", "k99", "l"} {
		for _, end := range []string{"", "k07", "k20", "l"} {
			for limit := 1; limit <= len(keys)+1; limit++ {
				var want []string
				for _, k := range keys {
					if k >= start && (end == "" || k < end) && len(want) < limit {
						want = append(want, k+"="+model[k])
					}
				}
				var e []byte
				if end != "" {
					e = []byte(end)
				}
				got, err := r.b.Range("c", []byte(start), e, limit)
				if err != nil {
					t.Fatal(err)
				}
				var gs []string
				for _, kv := range got {
					gs = append(gs, string(kv.Key)+"="+string(kv.Value))
				}
				if strings.Join(gs, " ") != strings.Join(want, " ") {
					t.Fatalf("Range(%q, %q, %d) = %v, want %v", start, end, limit, gs, want)
				}
			}
		}
	}
}

// Every event the default engine lets a transaction emit fits a receipt's
// contract section, and every key and value it lets a contract write fits
// a stored contract entry: what the executor writes always decodes.
func TestEngineLimitsFitStoredForms(t *testing.T) {
	eng, err := vm.New(context.Background(), vm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(context.Background())
	l := eng.Limits()
	if l.MaxEvents > types.MaxReceiptEvents || l.MaxEventBytes > types.MaxEventBytes {
		t.Fatalf("engine allows %d events of %d bytes; receipts hold %d of %d", l.MaxEvents, l.MaxEventBytes, types.MaxReceiptEvents, types.MaxEventBytes)
	}
	if l.MaxKeyBytes > types.MaxContractKeyBytes || l.MaxValueBytes > types.MaxContractValueBytes {
		t.Fatalf("engine allows keys of %d and values of %d bytes; entries hold %d and %d", l.MaxKeyBytes, l.MaxValueBytes, types.MaxContractKeyBytes, types.MaxContractValueBytes)
	}
}

// forbiddenImportModule imports env.f, which is neither the Cairn host API
// nor the WASI subset, and exports cairn_invoke.
var forbiddenImportModule = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type 0: () -> ()
	0x02, 0x09, 0x01, 0x03, 'e', 'n', 'v', 0x01, 'f', 0x00, 0x00, // import env.f
	0x03, 0x02, 0x01, 0x00, // func 1: type 0
	0x07, 0x10, 0x01, 0x0c, 'c', 'a', 'i', 'r', 'n', '_', 'i', 'n', 'v', 'o', 'k', 'e', 0x00, 0x01,
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b,
}

func rawSample(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := contractbuild.Cached(context.Background(), "../../examples/contracts/"+name)
	if err != nil {
		t.Skipf("SKIPPED: %v", err) // sampleCode, called first, fails on CI
	}
	return raw
}

// TestDeployInstantiateUpgrade: code is stored once by hash, a refused
// module names its problem, an instance runs its Init all or nothing, and
// only its owner upgrades it.
func TestDeployInstantiateUpgrade(t *testing.T) {
	ctx := context.Background()
	eng, err := vm.New(ctx, vm.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	voucherCode, assetsCode := sampleCode(t, eng, "voucher"), sampleCode(t, eng, "assets")
	alice, bob := crypto.Address{0xa1}, crypto.Address{0xb0}
	c := newTreeChain(t, nil)
	r := newBlockRun(t, c, eng)
	apply := func(ws []Write) {
		for _, w := range ws {
			r.x.cache[string(w.Key)] = &entry{raw: w.Value, found: true}
		}
		r.writes = append(r.writes, ws...)
	}

	h, ws, err := r.b.deploy(ctx, rawSample(t, "assets"))
	if err != nil || h != vm.CodeHash(assetsCode) || len(ws) != 1 || string(ws[0].Value) != string(assetsCode) {
		t.Fatalf("deploy assets: %s, %d writes, %v", h, len(ws), err)
	}
	apply(ws)
	if h2, ws, err := r.b.deploy(ctx, rawSample(t, "assets")); err != nil || h2 != h || len(ws) != 0 {
		t.Fatalf("second deploy of the same code: %s, %d writes, %v", h2, len(ws), err)
	}
	for name, code := range map[string][]byte{"forbidden import": forbiddenImportModule, "not wasm": []byte("hello")} {
		_, _, err := r.b.deploy(ctx, code)
		if !errors.Is(err, &types.TxError{Code: vm.CodeInvalidCode}) {
			t.Fatalf("%s: %v, want invalid_code", name, err)
		}
		if name == "forbidden import" && !strings.Contains(err.Error(), "env.f") {
			t.Fatalf("forbidden import: %q does not name the import", err)
		}
	}

	tx := crypto.Sum([]byte("inst"))
	if out, fx, err := r.b.instantiate(ctx, tx, alice, "assets", h, alice, nil, 1000, 1e9); err != nil || !errors.Is(out.Err, &types.TxError{Code: vm.CodeOutOfGas}) || fx != nil || out.GasUsed != 1000 {
		t.Fatalf("instantiate with 1000 gas: %+v %v %v", out, fx, err)
	}
	if e := r.x.cache[string(types.ContractInfoKey("assets"))]; e != nil && e.found {
		t.Fatal("a failed instantiation left the instance")
	}
	out, fx, err := r.b.instantiate(ctx, tx, alice, "assets", h, alice, nil, 50_000_000, 1e9)
	if err != nil || out.Err != nil {
		t.Fatalf("instantiate: %v %v", out.Err, err)
	}
	if len(fx.Writes) != 7 || string(fx.Writes[0].Key) != string(types.ContractInfoKey("assets")) {
		t.Fatalf("instantiate wrote %d writes (info + 6 assets expected)", len(fx.Writes))
	}
	apply(fx.Writes)
	for _, bad := range []struct {
		name string
		code crypto.Hash
		want types.Code
	}{{"assets", h, types.CodeInvalid}, {"other", crypto.Hash{1}, types.CodeNotFound}, {"Bad", h, types.CodeMalformed}} {
		if _, _, err := r.b.instantiate(ctx, tx, alice, bad.name, bad.code, alice, nil, 50_000_000, 1e9); !errors.Is(err, &types.TxError{Code: bad.want}) {
			t.Fatalf("instantiate %q of %s: %v, want %s", bad.name, bad.code, err, bad.want)
		}
	}
	r.ok(bob, "assets", "ReadAsset", `{"ID":"asset1"}`)

	// Upgrade: the owner only, to deployed code only; state stays.
	_, ws, err = r.b.deploy(ctx, rawSample(t, "voucher"))
	if err != nil {
		t.Fatal(err)
	}
	apply(ws)
	vh := vm.CodeHash(voucherCode)
	if _, err := r.b.upgrade(bob, "assets", vh); !errors.Is(err, &types.TxError{Code: types.CodeInvalid}) {
		t.Fatalf("upgrade by another: %v", err)
	}
	if _, err := r.b.upgrade(alice, "assets", crypto.Hash{2}); !errors.Is(err, &types.TxError{Code: types.CodeNotFound}) {
		t.Fatalf("upgrade to unknown code: %v", err)
	}
	ws, err = r.b.upgrade(alice, "assets", vh)
	if err != nil {
		t.Fatal(err)
	}
	apply(ws)
	if info, err := r.b.Info("assets"); err != nil || info.CodeHash != vh || info.Owner != alice {
		t.Fatalf("after upgrade: %+v %v", info, err)
	}
	r.ok(alice, "assets", "issue", `{"id":"g1","value":1}`)
	r.fails(alice, "assets", "ReadAsset", `{"ID":"asset1"}`, vm.CodeContractError, "no_such_function")
	if v, ok, err := r.b.Get("assets", []byte("asset/asset1")); err != nil || !ok || !strings.Contains(string(v), "asset1") {
		t.Fatalf("state after upgrade: %q %v %v", v, ok, err)
	}
	r.b.close(ctx)
	c.commit(r.writes)
}

package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/contractbuild"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// buildContract builds a contract of the repository to a file in dir.
func buildContract(t *testing.T, dir, src string) string {
	t.Helper()
	code, err := contractbuild.Cached(context.Background(), src)
	if err != nil {
		if os.Getenv("CI") == "true" || !strings.Contains(err.Error(), "contract build") {
			t.Fatal(err)
		}
		t.Skipf("SKIPPED: cannot build contracts here: %v", err)
	}
	f := filepath.Join(dir, filepath.Base(src)+".wasm")
	if err := os.WriteFile(f, code, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// cli runs the cairn binary against node 0 and returns its stdout and
// exit status.
func (tn *testnet) cli(args ...string) (string, int) {
	tn.t.Helper()
	cmd := exec.Command(bin, append(args, "--node", tn.net.Nodes[0].API)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tn.t.Fatalf("cairn %v: %v", args, err)
	}
	if code != 0 {
		tn.t.Logf("cairn %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
	}
	return out.String(), code
}

// cliOK runs the cairn binary and decodes its JSON output into out.
func (tn *testnet) cliOK(out any, args ...string) {
	tn.t.Helper()
	stdout, code := tn.cli(args...)
	if code != 0 {
		tn.t.Fatalf("cairn %s: exit %d", strings.Join(args, " "), code)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			tn.t.Fatalf("cairn %s: output %q: %v", strings.Join(args, " "), stdout, err)
		}
	}
}

// vals returns the validator set node i reports.
func (tn *testnet) vals(ctx context.Context, i int) *types.ValidatorSet {
	tn.t.Helper()
	st, err := tn.clients[i].Status(ctx)
	if err != nil {
		tn.t.Fatal(err)
	}
	vs, err := types.NewValidatorSet(st.Validators)
	if err != nil {
		tn.t.Fatal(err)
	}
	return vs
}

// TestContractsOnFourValidators runs the three sample contracts and the
// adversarial one on four validator processes, through the CLI and the
// SDK: vouchers issued, transferred and redeemed exactly once, with the
// key's history and a verified proof; Fabric's asset operations; an escrow
// holding native tokens that it releases after asking the voucher contract;
// events found by search; every adversarial call failing with its code and
// its gas recorded and changing nothing; a validator restarted in the
// middle; and all four validators with the same blocks and state roots.
func TestContractsOnFourValidators(t *testing.T) {
	dir := t.TempDir()
	voucherWasm := buildContract(t, dir, "../../examples/contracts/voucher")
	assetsWasm := buildContract(t, dir, "../../examples/contracts/assets")
	escrowWasm := buildContract(t, dir, "../../examples/contracts/escrow")
	advWasm := buildContract(t, dir, "../vm/testdata/adversary")

	// Room for the deep recursion to reach the call depth limit (it takes
	// about 130 M gas: each doubling of the Go stack copies it).
	p := types.DefaultParams()
	p.MaxTxGas = 300_000_000
	tn := startNetWith(t, 4, 1, &p) // the follower (node 4) indexes for search
	keys := newKeys(t, 2)
	bob, carol := keys[0], keys[1]
	tn.fund(keys, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl := tn.clients[0]
	faucetKey := tn.net.FaucetKey
	faucet := tn.faucet.Public().Address()
	hexOf := func(a crypto.Address) string { return hex.EncodeToString(a[:]) }

	// The voucher contract through the CLI.
	var dep struct {
		CodeHash crypto.Hash    `json:"code_hash"`
		Status   string         `json:"status"`
		Receipt  *types.Receipt `json:"receipt"`
	}
	tn.cliOK(&dep, "contract", "deploy", voucherWasm, "--key", faucetKey, "--wait", "--timeout", "60s")
	if dep.Status != client.StatusCommitted || dep.CodeHash == (crypto.Hash{}) {
		t.Fatalf("deploy: %+v", dep)
	}
	voucherCode := dep.CodeHash
	tn.cliOK(nil, "contract", "instantiate", "voucher", voucherCode.String(), "--key", faucetKey, "--wait")
	invoke := func(fn, args string) (string, int) {
		return tn.cli("contract", "invoke", "voucher", fn, args, "--key", faucetKey, "--wait")
	}
	for _, c := range []struct{ fn, args string }{
		{"issue", `{"id":"v1","value":25}`},
		{"issue", fmt.Sprintf(`{"id":"v2","value":50,"owner":%q}`, hexOf(faucet))},
		{"transfer", fmt.Sprintf(`{"id":"v2","to":%q}`, hexOf(bob.Public().Address()))},
		{"redeem", `{"id":"v1"}`},
	} {
		if _, code := invoke(c.fn, c.args); code != 0 {
			t.Fatalf("voucher %s %s: exit %d", c.fn, c.args, code)
		}
	}
	out, code := invoke("redeem", `{"id":"v1"}`)
	var again client.TxResult
	if code != 1 || json.Unmarshal([]byte(out), &again) != nil || again.Receipt == nil || again.Receipt.Code != vm.CodeContractError ||
		!strings.Contains(again.Receipt.Reason, "already redeemed") || again.Receipt.Contract == nil || again.Receipt.Contract.GasUsed == 0 {
		t.Fatalf("second redeem: exit %d, %s", code, out)
	}
	var q struct {
		OK   bool   `json:"ok"`
		Text string `json:"result_text"`
	}
	tn.cliOK(&q, "contract", "query", "voucher", "get", `{"id":"v1"}`)
	if !q.OK || !strings.Contains(q.Text, `"redeemed":true`) {
		t.Fatalf("query get v1: %+v", q)
	}
	// History and a proof of the voucher's key, checked against the
	// validator set.
	var hist client.ContractKeyHistory
	tn.cliOK(&hist, "contract", "history", "voucher", "v/v1")
	if len(hist.Versions) != 2 || !strings.Contains(string(hist.Versions[0].Value), `"redeemed":true`) || strings.Contains(string(hist.Versions[1].Value), `"redeemed":true`) {
		t.Fatalf("history of v/v1: %+v", hist)
	}
	// Node 2 may still be compiling the deployed code or catching up
	// (each node compiles it, seconds on a loaded machine): read it once it
	// holds the redeems.
	eventually(t, 60*time.Second, "node 2 has the redeems", func() bool { return tn.height(2) >= again.Height })
	ck, err := tn.clients[2].ContractKey(ctx, "voucher", []byte("v/v1"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ck.Verify(tn.net.ChainID, tn.vals(ctx, 2)); err != nil || !ck.Found || !strings.Contains(string(ck.Entry.Value), `"redeemed":true`) {
		t.Fatalf("proof of v/v1: %v %+v", err, ck)
	}
	absent, err := cl.ContractKey(ctx, "voucher", []byte("v/none"), 0)
	if err != nil || absent.Found || absent.Verify(tn.net.ChainID, tn.vals(ctx, 0)) != nil {
		t.Fatalf("proof of absence: %v %+v", err, absent)
	}
	var shown client.ContractState
	tn.cliOK(&shown, "contract", "show", "voucher")
	if shown.Info.CodeHash != voucherCode || shown.Info.Owner != faucet || shown.Verify(tn.net.ChainID, tn.vals(ctx, 0)) != nil {
		t.Fatalf("show voucher: %+v", shown)
	}

	// A validator restarts: it compiles the deployed code when it opens
	// and executes the next blocks like the others.
	tn.cluster.Stop(3, 10*time.Second)
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}

	// The SDK: assets and escrow.
	signer := func(k *crypto.PrivateKey) *client.Signer { return cl.NewSigner(k, tn.net.ChainID) }
	fs, bs, cs := signer(tn.faucet), signer(bob), signer(carol)
	send := func(tx *types.Tx, err error) *types.Receipt {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		r, err := cl.SubmitWait(ctx, tx, 60*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if r.Receipt == nil {
			t.Fatalf("tx %s: no receipt (%s)", r.Hash, r.Status)
		}
		if !r.Receipt.OK {
			for _, s := range []*client.Signer{fs, bs, cs} {
				s.Resync() // a failed tx used no nonce
			}
		}
		return r.Receipt
	}
	ok := func(what string, r *types.Receipt) *types.Receipt {
		t.Helper()
		if !r.OK {
			t.Fatalf("%s: %s %s", what, r.Code, r.Reason)
		}
		return r
	}
	deploy := func(file string) crypto.Hash {
		t.Helper()
		var d struct {
			CodeHash crypto.Hash `json:"code_hash"`
		}
		tn.cliOK(&d, "contract", "deploy", file, "--key", faucetKey, "--wait", "--timeout", "60s")
		fs.Resync()
		return d.CodeHash
	}
	assetsCode, escrowCode, advCode := deploy(assetsWasm), deploy(escrowWasm), deploy(advWasm)
	ok("instantiate assets", send(fs.Instantiate(ctx, "assets", assetsCode, faucet, nil, 50_000_000)))
	query := func(name, fn, args string) string {
		t.Helper()
		r, err := cl.QueryContract(ctx, name, client.ContractQuery{Function: fn, Args: []byte(args)}, 0)
		if err != nil || !r.OK {
			t.Fatalf("query %s.%s(%s): %v %+v", name, fn, args, err, r)
		}
		return string(r.Result)
	}
	ok("CreateAsset", send(fs.Invoke(ctx, "assets", "CreateAsset", []byte(`{"ID":"asset7","Color":"pink","Size":3,"Owner":"Ana","AppraisedValue":90}`), 50_000_000, 0)))
	if got := query("assets", "ReadAsset", `{"ID":"asset7"}`); !strings.Contains(got, `"Owner":"Ana"`) {
		t.Fatalf("ReadAsset asset7: %s", got)
	}
	ok("UpdateAsset", send(fs.Invoke(ctx, "assets", "UpdateAsset", []byte(`{"ID":"asset7","Color":"pink","Size":4,"Owner":"Ana","AppraisedValue":95}`), 50_000_000, 0)))
	ok("TransferAsset", send(fs.Invoke(ctx, "assets", "TransferAsset", []byte(`{"ID":"asset7","NewOwner":"Ben"}`), 50_000_000, 0)))
	if got := query("assets", "ReadAsset", `{"ID":"asset7"}`); !strings.Contains(got, `"Owner":"Ben"`) || !strings.Contains(got, `"Size":4`) {
		t.Fatalf("ReadAsset after update and transfer: %s", got)
	}
	ok("DeleteAsset", send(fs.Invoke(ctx, "assets", "DeleteAsset", []byte(`{"ID":"asset1"}`), 50_000_000, 0)))
	if got := query("assets", "AssetExists", `{"ID":"asset1"}`); got != "false" {
		t.Fatalf("AssetExists asset1 after delete: %s", got)
	}
	var all []struct{ ID string }
	if err := json.Unmarshal([]byte(query("assets", "GetAllAssets", "")), &all); err != nil || len(all) != 6 || all[0].ID != "asset2" || all[5].ID != "asset7" {
		t.Fatalf("GetAllAssets: %+v %v", all, err)
	}

	ok("instantiate escrow", send(fs.Instantiate(ctx, "escrow", escrowCode, faucet, nil, 50_000_000)))
	ok("issue v3", send(fs.Invoke(ctx, "voucher", "issue", []byte(fmt.Sprintf(`{"id":"v3","value":1,"owner":%q}`, hexOf(bob.Public().Address()))), 50_000_000, 0)))
	open := fmt.Sprintf(`{"id":"d1","beneficiary":%q,"amount":60,"voucher_contract":"voucher","voucher_id":"v3","deadline":100000}`, hexOf(carol.Public().Address()))
	ok("open escrow with funds", send(bs.Invoke(ctx, "escrow", "open", []byte(open), 50_000_000, 60)))
	if r := send(cs.Invoke(ctx, "escrow", "release", []byte(`{"id":"d1"}`), 50_000_000, 0)); r.OK || !strings.Contains(r.Reason, "not redeemed yet") {
		t.Fatalf("release before the redeem: %+v", r)
	}
	ok("redeem v3", send(bs.Invoke(ctx, "voucher", "redeem", []byte(`{"id":"v3"}`), 50_000_000, 0)))
	rel := ok("release", send(cs.Invoke(ctx, "escrow", "release", []byte(`{"id":"d1"}`), 50_000_000, 0)))
	if rel.Contract == nil || len(rel.Contract.Events) != 1 || rel.Contract.Events[0].Name != "released" {
		t.Fatalf("release events: %+v", rel.Contract)
	}
	if acc, err := cl.Account(ctx, carol.Public().Address()); err != nil || acc.Balance != 1060 {
		t.Fatalf("beneficiary after release: %+v %v", acc, err)
	}
	if acc, err := cl.Account(ctx, bob.Public().Address()); err != nil || acc.Balance != 940 {
		t.Fatalf("payer after the escrow: %+v %v", acc, err)
	}
	if st, err := cl.Contract(ctx, "escrow", 0); err != nil || st.Balance != 0 {
		t.Fatalf("escrow account after release: %+v %v", st, err)
	}

	// Adversarial contracts: each fails with its code and gas, changes
	// nothing, and every validator stays in agreement.
	ok("instantiate adversary", send(fs.Instantiate(ctx, "adv", advCode, faucet, []byte("x"), 50_000_000)))
	before, err := cl.Account(ctx, faucet)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fn   string
		gas  uint64
		code types.Code
	}{
		{"put_then_loop", 5_000_000, vm.CodeOutOfGas},
		{"grow", 50_000_000, vm.CodeMemoryLimit},
		{"recurse", 300_000_000, vm.CodeCallDepth},
		{"bigevent", 50_000_000, vm.CodeEventTooLarge},
		{"bigput", 50_000_000, vm.CodeValueTooLarge},
		{"sleep", 5_000_000, vm.CodeOutOfGas},
	} {
		r := send(fs.Invoke(ctx, "adv", c.fn, []byte("x"), c.gas, 7))
		if r.OK || r.Code != c.code || r.Contract == nil || r.Contract.GasUsed == 0 || r.Contract.GasUsed > c.gas ||
			(c.code == vm.CodeOutOfGas && r.Contract.GasUsed != c.gas) {
			t.Fatalf("adv.%s: %+v %+v, want %s", c.fn, r, r.Contract, c.code)
		}
	}
	forbidden := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x02\x0b\x01\x03env\x03now\x00\x00")
	for name, code := range map[string][]byte{"malformed": []byte("\x00asm\x01\x00\x00\x00\x01\xff"), "forbidden import": forbidden} {
		if r := send(fs.Deploy(ctx, code)); r.OK || r.Code != vm.CodeInvalidCode {
			t.Fatalf("deploy of a %s module: %+v", name, r)
		}
	}
	if after, err := cl.Account(ctx, faucet); err != nil || after.Balance != before.Balance || after.Nonce != before.Nonce {
		t.Fatalf("failed calls changed the sender: %+v -> %+v (%v)", before, after, err)
	}
	if k, err := cl.ContractKey(ctx, "adv", []byte("doomed"), 0); err != nil || k.Found {
		t.Fatalf("a failed call's write was kept: %+v %v", k, err)
	}
	if st, err := cl.Contract(ctx, "adv", 0); err != nil || st.Balance != 0 {
		t.Fatalf("failed calls' funds stayed with the contract: %+v %v", st, err)
	}
	// Floats give the same bits on every validator and the follower (a
	// query on each, once each has the contract).
	h0 := tn.height(0)
	eventually(t, 30*time.Second, "every node at node0's height", func() bool {
		for i := range tn.clients {
			if tn.height(i) < h0 {
				return false
			}
		}
		return true
	})
	var floats []byte
	for i := range tn.clients {
		r, err := tn.clients[i].QueryContract(ctx, "adv", client.ContractQuery{Function: "floats", Args: []byte("abc")}, 0)
		if err != nil || !r.OK {
			t.Fatalf("floats on node%d: %v %+v", i, err, r)
		}
		if i > 0 && !bytes.Equal(r.Result, floats) {
			t.Fatalf("floats: node%d %x, node0 %x", i, r.Result, floats)
		}
		floats = r.Result
	}
	if binary.BigEndian.Uint64(floats) != 0x7ff8000000000000 {
		t.Fatalf("NaN not canonical: %x", floats)
	}
	if r := send(fs.Invoke(ctx, "adv", "echo", []byte("still fine"), 5_000_000, 0)); !r.OK {
		t.Fatalf("a call after the adversarial ones: %+v", r)
	}

	// Events are searchable by contract and name.
	eventually(t, 30*time.Second, "contract:voucher event:redeemed in search", func() bool {
		res, err := tn.clients[4].Search(ctx, client.SearchRequest{Query: "contract:voucher event:redeemed", Limit: 10})
		return err == nil && len(res.Hits) == 2
	})
	var list client.ContractList
	tn.cliOK(&list, "contract", "list")
	if len(list.Contracts) != 4 {
		t.Fatalf("contract list: %+v", list)
	}

	// Every validator, the restarted one included, has the same chain.
	target := tn.height(0)
	eventually(t, 60*time.Second, "all validators at the same height", func() bool {
		for i := range tn.clients {
			if tn.height(i) < target {
				return false
			}
		}
		return true
	})
	tn.sameChain([]int{0, 1, 2, 3, 4}, target)
}

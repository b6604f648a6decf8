package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/internal/vm"
)

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("go tool not found under CI: %v", err)
		}
		t.Skipf("SKIPPED: go tool not found: %v", err)
	}
}

func TestContractBuild(t *testing.T) {
	needGo(t)
	out := filepath.Join(t.TempDir(), "voucher.wasm")
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"contract", "build", "--out", out, "../../examples/contracts/voucher"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var res struct {
		File   string `json:"file"`
		Bytes  int    `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.File != out || len(res.SHA256) != 64 {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	b, err := os.ReadFile(out)
	if err != nil || len(b) != res.Bytes || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("module file: %d bytes, %v", len(b), err)
	}
}

func TestContractBuildRefusesForbiddenImport(t *testing.T) {
	needGo(t)
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"contract", "build", "--out", filepath.Join(t.TempDir(), "x.wasm"), "testdata/clockcontract"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "forbidden import") || !strings.Contains(stderr.String(), "env.wall_clock") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestContractBuildErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"contract"}, &stdout, &stderr); code != 2 {
		t.Fatalf("no subcommand: exit %d", code)
	}
	if code := dispatch([]string{"contract", "frobnicate"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
	stdout.Reset()
	stderr.Reset()
	if code := dispatch([]string{"contract", "--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String()+stderr.String(), "build [--out FILE] DIR") {
		t.Fatalf("help: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	needGo(t)
	stderr.Reset()
	if code := dispatch([]string{"contract", "build", t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "contract build") {
		t.Fatalf("empty dir: exit %d, %q", code, stderr.String())
	}
}

// The contract commands against a chain: deploy (checked first), instantiate,
// invoke with funds, query, list, show, key, history, upgrade; a module the
// validators would refuse is refused before sending, and with --no-check
// the chain refuses it.
func TestContractCommands(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice := c.Users[0]
	akey := keyFile(t, alice)
	node := "--node=" + c.URL
	dir := t.TempDir()
	mod := filepath.Join(dir, "fixture.wasm")
	bad := filepath.Join(dir, "bad.wasm")
	if err := os.WriteFile(mod, txfixtures.ContractModule, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("\x00asm\x01\x00\x00\x00\x01\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := func(v any, args ...string) {
		t.Helper()
		code, stdout, stderr := run(t, append(args, node)...)
		if code != 0 {
			t.Fatalf("cairn %v: exit %d, %s", args, code, stderr)
		}
		if v != nil {
			decode(t, stdout, v)
		}
	}
	var dep struct {
		CodeHash crypto.Hash `json:"code_hash"`
		Status   string      `json:"status"`
	}
	ok(&dep, "contract", "deploy", mod, "--key", akey, "--wait")
	if dep.CodeHash != txfixtures.ContractCodeHash() || dep.Status != client.StatusCommitted {
		t.Fatalf("deploy: %+v", dep)
	}
	if code, _, stderr := run(t, "contract", "deploy", bad, "--key", akey, node); code != 1 || !strings.Contains(stderr, "would be refused") {
		t.Fatalf("deploy of a bad module: exit %d, %s", code, stderr)
	}
	var res client.TxResult
	code, stdout, _ := run(t, "contract", "deploy", bad, "--no-check", "--key", akey, "--wait", node)
	decode(t, stdout, &res)
	if code != 1 || res.Receipt == nil || res.Receipt.Code != vm.CodeInvalidCode {
		t.Fatalf("deploy --no-check of a bad module: exit %d, %+v", code, res)
	}
	ok(nil, "contract", "instantiate", "fix", dep.CodeHash.String(), "hello", "--key", akey, "--gas", "100000", "--wait")
	ok(&res, "contract", "invoke", "fix", "store", "--args-hex", "00ff", "--funds", "5", "--key", akey, "--wait")
	if res.Receipt == nil || !res.Receipt.OK || res.Receipt.Contract == nil || res.Receipt.Contract.GasUsed == 0 {
		t.Fatalf("invoke: %+v", res)
	}
	var q client.ContractQueryResult
	code, stdout, _ = run(t, "contract", "query", "fix", "anything", node)
	decode(t, stdout, &q)
	if code != 1 || q.OK || q.Code != vm.CodeReadOnly {
		t.Fatalf("query of a writing function: exit %d, %+v", code, q)
	}
	var list client.ContractList
	ok(&list, "contract", "list")
	if len(list.Contracts) != 1 || list.Contracts[0].Name != "fix" {
		t.Fatalf("list: %+v", list)
	}
	var st client.ContractState
	ok(&st, "contract", "show", "fix")
	if st.Balance != 5 || st.Info.Owner != alice.Public().Address() {
		t.Fatalf("show: %+v", st)
	}
	var key client.ContractKey
	ok(&key, "contract", "key", "fix", "k")
	if !key.Found || string(key.Entry.Value) != "v" {
		t.Fatalf("key: %+v", key)
	}
	var hist client.ContractKeyHistory
	ok(&hist, "contract", "history", "fix", "6b", "--hex")
	if len(hist.Versions) != 2 {
		t.Fatalf("history: %+v", hist)
	}
	ok(nil, "contract", "upgrade", "fix", dep.CodeHash.String(), "--key", akey, "--wait")
	if code, _, stderr := run(t, "contract", "invoke", "Bad Name", "f", "--key", akey, node); code != 2 || !strings.Contains(stderr, "contract name") {
		t.Fatalf("invoke of a bad name: exit %d, %s", code, stderr)
	}
}

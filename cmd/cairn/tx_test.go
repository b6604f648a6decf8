package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// run calls dispatch in-process and returns exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dispatch(args, &out, &errb)
	return code, out.String(), errb.String()
}

// keyFile saves k in the test's temp dir.
func keyFile(t *testing.T, k *crypto.PrivateKey) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key.json")
	if err := crypto.SaveKey(p, k); err != nil {
		t.Fatal(err)
	}
	return p
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("stdout is not the expected JSON (%v): %s", err, s)
	}
}

func TestKeygen(t *testing.T) {
	out := filepath.Join(t.TempDir(), "k.json")
	code, stdout, stderr := run(t, "keygen", "--out", out)
	if code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	var info struct {
		PublicKey crypto.PublicKey `json:"public_key"`
		Address   crypto.Address   `json:"address"`
	}
	decode(t, stdout, &info)
	k, err := crypto.LoadKey(out)
	if err != nil || k.Public() != info.PublicKey || k.Public().Address() != info.Address {
		t.Fatalf("key file does not match output: %v", err)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	// no silent overwrite; usage errors exit 2
	if code, _, _ := run(t, "keygen", "--out", out); code != 1 {
		t.Fatalf("overwrite without --force: exit %d", code)
	}
	if code, _, _ := run(t, "keygen"); code != 2 {
		t.Fatalf("keygen without --out: exit %d", code)
	}
}

func TestTxCommands(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice, bob := c.Users[0], c.Users[1]
	akey := keyFile(t, alice)
	node := "--node=" + c.URL

	// dry run: prints a signed tx, sends nothing
	code, stdout, stderr := run(t, "tx", "put", "color", "blue", "--key", akey, node, "--dry-run")
	if code != 0 {
		t.Fatalf("dry-run: %d %s", code, stderr)
	}
	var dry types.Tx
	decode(t, stdout, &dry)
	if err := dry.VerifySignature(); err != nil || dry.Nonce != 1 || dry.ChainID != apitest.ChainID {
		t.Fatalf("dry-run tx: %+v %v", dry, err)
	}
	if c.Mempool.Stats().Txs != 0 || c.Ledger.Head().Height != 0 {
		t.Fatal("dry run sent something")
	}
	// dry run with everything given needs no node at all
	code, stdout, _ = run(t, "tx", "transfer", bob.Public().Address().String(), "5", "--key", akey,
		"--node=http://127.0.0.1:1", "--nonce=7", "--chain-id=offline", "--dry-run")
	decode(t, stdout, &dry)
	if code != 0 || dry.Nonce != 7 || dry.ChainID != "offline" {
		t.Fatalf("offline dry-run: %d %+v", code, dry)
	}

	// put and wait
	code, stdout, stderr = run(t, "tx", "put", "color", "blue", "--key", akey, node, "--wait")
	if code != 0 {
		t.Fatalf("put: %d %s", code, stderr)
	}
	var res client.TxResult
	decode(t, stdout, &res)
	if res.Status != client.StatusCommitted || res.Receipt.Version != 1 {
		t.Fatalf("put result %+v", res)
	}
	// compare-and-set on a stale version: commits as failed, exit 1
	code, stdout, stderr = run(t, "tx", "put", "color", "red", "--expect-version", "5", "--key", akey, node, "--wait")
	decode(t, stdout, &res)
	if code != 1 || res.Status != client.StatusFailed || res.Receipt.Code != types.CodeVersionConflict || !strings.Contains(stderr, "FAILED") {
		t.Fatalf("stale CAS: %d %+v %s", code, res, stderr)
	}
	// CAS on the right version, then delete
	if code, _, stderr = run(t, "tx", "put", "color", "red", "--expect-version=1", "--key", akey, node, "--wait"); code != 0 {
		t.Fatalf("CAS put: %s", stderr)
	}
	if code, _, stderr = run(t, "tx", "delete", "color", "--key", akey, node, "--wait"); code != 0 {
		t.Fatalf("delete: %s", stderr)
	}
	// transfer without wait, then the tx status command
	code, stdout, stderr = run(t, "tx", "transfer", bob.Public().Address().String(), "1000", "--key", akey, node)
	if code != 0 {
		t.Fatalf("transfer: %s", stderr)
	}
	decode(t, stdout, &res)
	c.WaitHeight(5) // put, failed CAS, CAS, delete, transfer
	code, stdout, stderr = run(t, "tx", "status", res.Hash.String(), node)
	var ts client.TxStatus
	decode(t, stdout, &ts)
	if code != 0 || ts.Status != client.StatusCommitted {
		t.Fatalf("tx status: %d %+v %s", code, ts, stderr)
	}
	// a record from a file
	doc := filepath.Join(t.TempDir(), "doc.json")
	os.WriteFile(doc, []byte(`{ "event": "shipped", "n": [1, 2] }`), 0o644)
	if code, _, stderr = run(t, "tx", "record", "@"+doc, "--key", akey, node, "--wait"); code != 0 {
		t.Fatalf("record: %s", stderr)
	}

	// refused: overdraft (admission), exit 1 with the node's reason
	code, _, stderr = run(t, "tx", "transfer", bob.Public().Address().String(), "999999999", "--key", akey, node)
	if code != 1 || !strings.Contains(stderr, "insufficient_balance") {
		t.Fatalf("overdraft: %d %s", code, stderr)
	}
	// refused: replayed nonce
	code, _, stderr = run(t, "tx", "put", "x", "y", "--nonce=1", "--key", akey, node)
	if code != 1 || !strings.Contains(stderr, "bad_nonce") {
		t.Fatalf("reused nonce: %d %s", code, stderr)
	}

	// usage errors exit 2
	for _, args := range [][]string{
		{"tx"},
		{"tx", "put", "k", "--key", akey, node},
		{"tx", "put", "k", "v", node},
		{"tx", "transfer", "nothex", "5", "--key", akey},
		{"tx", "transfer", bob.Public().Address().String(), "0", "--key", akey},
		{"tx", "record", "{not json", "--key", akey},
		{"tx", "transfer", bob.Public().Address().String(), "5", "--expect-version=1", "--key", akey},
		{"tx", "mint", "5", "--key", akey},
		{"tx", "put", "k", "v", "--key", akey, "--node=::not a url"},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// a node that is not there: exit 1
	if code, _, _ := run(t, "tx", "put", "k", "v", "--key", akey, "--node=http://127.0.0.1:1"); code != 1 {
		t.Errorf("unreachable node: exit %d", code)
	}
}

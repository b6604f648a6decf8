package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// TestTxStatusVerifiesOutcome checks that `cairn tx status` proves what it
// prints: for a committed and a failed transaction it verifies the
// certificate, the tx inclusion and the receipt inclusion against the
// certified header (client.TxProof, TxStatus.Verify) and says so; it
// refuses (proof_invalid, exit 1) an answer checked against another
// chain's validators, and a node that serves a failed transaction as ok
// with receipt bytes to match; a pending one is printed with no claim of
// proof.
func TestTxStatusVerifiesOutcome(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	cl := c.Client()
	alice, bob := c.Users[0], c.Users[1]
	ctx := context.Background()
	okTx := apitest.Tx(alice, 1, &types.KVPut{Key: "fruit", Value: "apple"})
	seven := uint64(7)
	badTx := apitest.Tx(bob, 1, &types.KVPut{Key: "fruit", Value: "pear", ExpectVersion: &seven})
	for _, tx := range []*types.Tx{okTx, badTx} {
		if _, err := cl.SubmitWait(ctx, tx, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	node := "--node=" + c.URL

	code, stdout, stderr := run(t, "tx", "status", okTx.Hash().String(), node)
	var ts client.TxStatus
	decode(t, stdout, &ts)
	wantOK := "verified: tx " + okTx.Hash().String() + " committed at height " + itoa(ts.Height) + ", position 0, and ok (tx inclusion under tx_root and receipt inclusion under results_root of the certified header); certificate checked against 1 validators (quorum power 1) from the node's /v1/validators"
	if code != 0 || ts.Status != client.StatusCommitted || ts.ReceiptProof == nil || ts.HeaderHex == "" || !strings.HasPrefix(stderr, wantOK) {
		t.Fatalf("tx status of an ok tx: exit %d, %+v\nstderr %q\nwant   %q", code, ts, stderr, wantOK)
	}

	code, stdout, stderr = run(t, "tx", "status", badTx.Hash().String(), node)
	decode(t, stdout, &ts)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if code != 1 || ts.Status != client.StatusFailed || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "verified: tx "+badTx.Hash().String()+" committed at height "+itoa(ts.Height)+", position 0, and failed with version_conflict (") ||
		!strings.HasPrefix(lines[1], "cairn tx status: committed at height "+itoa(ts.Height)+" but FAILED: version_conflict") {
		t.Fatalf("tx status of a failed tx: exit %d, %+v\n%s", code, ts, stderr)
	}

	// Against a genesis file: the same, trusted from the file; against
	// another chain's: refused.
	gpath := filepath.Join(t.TempDir(), "genesis.json")
	gb, _ := json.Marshal(c.Genesis)
	os.WriteFile(gpath, gb, 0o644)
	if code, _, stderr = run(t, "tx", "status", okTx.Hash().String(), "--genesis", gpath, node); code != 0 || !strings.Contains(stderr, "from genesis file "+gpath) {
		t.Fatalf("tx status --genesis: exit %d, %s", code, stderr)
	}
	other := *c.Genesis
	other.ChainID = "someone-else"
	ob, _ := json.Marshal(&other)
	opath := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(opath, ob, 0o644)
	code, stdout, stderr = run(t, "tx", "status", okTx.Hash().String(), "--genesis", opath, node, "--output", "json")
	var p struct{ Error problem }
	if err := json.Unmarshal([]byte(stderr), &p); code != 1 || err != nil || p.Error.Code != "proof_invalid" || stdout != "" {
		t.Fatalf("tx status against another chain: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// A node that serves the failed transaction as ok, receipt bytes and
	// JSON alike: the receipt proof under results_root refuses it.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(c.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(r.URL.Path, "/v1/txs/") {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil && m["status"] == "failed" {
				m["status"] = "committed"
				rc := m["receipt"].(map[string]any)
				rc["ok"] = true
				delete(rc, "code")
				delete(rc, "reason")
				rb := m["receipt_bytes_hex"].(string)
				m["receipt_bytes_hex"] = rb[:64] + "01" + "0000" + "0000" + rb[len(rb)-16:]
				b, _ = json.Marshal(m)
			}
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	}))
	defer liar.Close()
	code, stdout, stderr = run(t, "tx", "status", badTx.Hash().String(), "--node="+liar.URL)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "PROOF DOES NOT VERIFY") || !strings.Contains(stderr, "receipt inclusion") || strings.Contains(stderr, "verified:") {
		t.Fatalf("tx status through a node that forges the receipt: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// Pending: printed, exit 1, and no claim of a proof.
	c.Pause()
	pending := apitest.Tx(alice, 2, &types.KVPut{Key: "later", Value: "x"})
	if _, err := cl.Submit(ctx, pending); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run(t, "tx", "status", pending.Hash().String(), node)
	decode(t, stdout, &ts)
	if code != 1 || ts.Status != client.StatusPending || strings.Contains(stderr, "verified") || !strings.Contains(stderr, "only a committed transaction has a proof") {
		t.Fatalf("tx status of a pending tx: exit %d, %+v, %s", code, ts, stderr)
	}
}

package bench

import (
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
)

func TestSettleGivesBackTheNonceOnlyWhenItCan(t *testing.T) {
	r := &runner{}
	a := &account{nonce: 5, inflight: true}
	// Refused for a full mempool, nothing later handed out: nonce 5 again.
	r.settle(a, 5, "mempool_full")
	if a.nonce != 4 || a.dead.Load() || a.inflight {
		t.Fatalf("after a full mempool: nonce %d dead %v inflight %v", a.nonce, a.dead.Load(), a.inflight)
	}
	// Admitted: the nonce is used.
	a.nonce, a.inflight = 5, true
	r.settle(a, 5, "")
	if a.nonce != 5 || a.dead.Load() || a.inflight {
		t.Fatalf("after admission: nonce %d dead %v inflight %v", a.nonce, a.dead.Load(), a.inflight)
	}
	// A later nonce was already handed out: the gap cannot be closed.
	a.nonce = 7
	r.settle(a, 6, "mempool_full")
	if !a.dead.Load() {
		t.Fatal("account with a gap kept sending")
	}
	// Refused for a reason that will not pass: the account stops.
	b := &account{nonce: 3}
	r.settle(b, 3, "bad_signature")
	if !b.dead.Load() || b.nonce != 3 {
		t.Fatalf("after bad_signature: nonce %d dead %v", b.nonce, b.dead.Load())
	}
	// Pre-signed transactions cannot be re-signed.
	p := &runner{o: Options{Presign: 10}}
	c := &account{nonce: 2}
	p.settle(c, 2, "mempool_full")
	if !c.dead.Load() {
		t.Fatal("pre-signed account kept sending after a refusal")
	}
}

// testRunner is a runner of transfers with n accounts split over nodes,
// for the batch-making tests (nothing is sent).
func testRunner(n int, nodes ...int) *runner {
	r := &runner{o: Options{Network: &client.Network{ChainID: "c"}, Type: "transfer", Nodes: nodes}}
	for i := 0; i < n; i++ {
		var seed [32]byte
		seed[0] = byte(i + 1)
		r.accounts = append(r.accounts, &account{key: crypto.MustKeyFromSeed(seed)})
	}
	r.split()
	return r
}

func TestMakeBatchSkipsAccountsInFlight(t *testing.T) {
	r := testRunner(6, 0, 1)
	// Each node has its own three accounts.
	txs, owners := r.makeBatch(5, 0, true)
	other, _ := r.makeBatch(5, 1, true)
	if len(txs) != 3 || len(other) != 3 {
		t.Fatalf("batches of %d and %d from 3 accounts each", len(txs), len(other))
	}
	for _, a := range txs {
		for _, b := range other {
			if a.Sender == b.Sender {
				t.Fatal("an account sends to two nodes")
			}
		}
	}
	if more, _ := r.makeBatch(5, 0, true); len(more) != 0 {
		t.Fatalf("%d txs from accounts with a tx in flight", len(more))
	}
	r.settle(owners[0], txs[0].Nonce, "mempool_full")
	again, _ := r.makeBatch(5, 0, true)
	if len(again) != 1 || again[0].Nonce != txs[0].Nonce || again[0].Sender != txs[0].Sender {
		t.Fatalf("refused nonce not reused: %+v", again)
	}
	if r.exhausted() {
		t.Fatal("exhausted with live accounts")
	}
}

func TestPresignBatchLargerThanANodesAccounts(t *testing.T) {
	r := testRunner(2, 0)
	txs, _ := r.makeBatch(4, 0, false)
	if len(txs) != 4 {
		t.Fatalf("pre-signed batch of %d from 2 accounts, want 4", len(txs))
	}
	// Each account twice, with consecutive nonces.
	seen := map[crypto.PublicKey][]uint64{}
	for _, tx := range txs {
		seen[tx.Sender] = append(seen[tx.Sender], tx.Nonce)
	}
	for k, ns := range seen {
		if len(ns) != 2 || ns[1] != ns[0]+1 {
			t.Fatalf("account %s nonces %v", k, ns)
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/types"
)

// load submits transfers from senders round-robin over the given nodes
// until stop closes or each sender has sent max; it returns the hashes the
// nodes acknowledged (202).
func (tn *testnet) load(ctx context.Context, senders []*crypto.PrivateKey, nodes []int, max int, stop <-chan struct{}) []crypto.Hash {
	var mu sync.Mutex
	var acked []crypto.Hash
	var wg sync.WaitGroup
	for si, k := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nonce, tries := uint64(0), 0
			var tx *types.Tx
			to := senders[(si+1)%len(senders)].Public().Address()
			for j := 0; j < max; j++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if tx == nil {
					tx = client.NewTx(tn.net.ChainID, k, nonce+1, &types.Transfer{To: to, Amount: 1})
				}
				nd := nodes[(si+j+tries)%len(nodes)]
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := tn.clients[nd].Submit(cctx, tx)
				cancel()
				// A duplicate means an earlier try was accepted after all.
				if err != nil && client.ErrorCode(err) != "duplicate" {
					// A node that is down or refuses: the same tx elsewhere.
					tries++
					time.Sleep(50 * time.Millisecond)
					j--
					continue
				}
				nonce++
				mu.Lock()
				acked = append(acked, tx.Hash())
				mu.Unlock()
				tx = nil
			}
		}()
	}
	wg.Wait()
	return acked
}

// waitCommitted waits until node i reports every hash committed.
func (tn *testnet) waitCommitted(i int, hashes []crypto.Hash, d time.Duration) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for _, h := range hashes {
		for {
			st, err := tn.clients[i].Tx(ctx, h)
			if err == nil && (st.Status == "committed" || st.Status == "failed") {
				if st.Status != "committed" {
					tn.t.Fatalf("tx %s failed: %+v", h, st.Receipt)
				}
				break
			}
			if ctx.Err() != nil {
				tn.t.Fatalf("node%d: tx %s not committed within %v (last: %+v, %v)", i, h, d, st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestThousandTxsAcrossFourValidators(t *testing.T) {
	tn := startNet(t, 4)
	senders := newKeys(t, 20)
	tn.fund(senders, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acked := tn.load(ctx, senders, []int{0, 1, 2, 3}, 50, nil)
	if len(acked) != 1000 {
		t.Fatalf("%d txs acknowledged, want 1000", len(acked))
	}
	for i := 0; i < 4; i++ {
		tn.waitCommitted(i, acked, 60*time.Second)
	}
	h := tn.height(0)
	eventually(t, 30*time.Second, "all nodes at the same height", func() bool {
		return tn.height(1) >= h && tn.height(2) >= h && tn.height(3) >= h
	})
	tn.sameChain([]int{0, 1, 2, 3}, h)
	// Every sender's 50 transfers: nonce 50 everywhere.
	for _, k := range senders[:3] {
		a, err := tn.clients[3].Account(ctx, k.Public().Address())
		if err != nil || a.Nonce != 50 {
			t.Fatalf("account %s: %+v %v", k.Public().Address(), a, err)
		}
	}
}

func TestKillOneValidatorUnderLoad(t *testing.T) {
	tn := startNet(t, 4)
	senders := newKeys(t, 8)
	tn.fund(senders, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	stop := make(chan struct{})
	var acked []crypto.Hash
	done := make(chan struct{})
	go func() {
		acked = tn.load(ctx, senders, []int{0, 1, 2}, 10_000, stop)
		close(done)
	}()
	eventually(t, 30*time.Second, "load committing", func() bool { return tn.height(0) >= 3 })
	tn.cluster.Kill(3)
	before := tn.height(0)
	eventually(t, 30*time.Second, "the three survivors keep committing", func() bool {
		return tn.height(0) >= before+5 && tn.height(1) >= before+5 && tn.height(2) >= before+5
	})
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	<-done
	for _, i := range []int{0, 1, 2} {
		tn.waitCommitted(i, acked, 60*time.Second)
	}
	target := tn.height(0)
	eventually(t, 60*time.Second, "restarted node caught up", func() bool { return tn.height(3) >= target })
	tn.sameChain([]int{0, 1, 2, 3}, target)
	tn.waitCommitted(3, acked, 30*time.Second)
}

func TestTwoOfFourDownHaltsSafely(t *testing.T) {
	tn := startNet(t, 4)
	senders := newKeys(t, 4)
	tn.fund(senders, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tn.cluster.Kill(2)
	tn.cluster.Kill(3)
	h := tn.height(0)
	// Transactions are still accepted into the mempool, but nothing can
	// commit without a quorum.
	acked := tn.load(ctx, senders, []int{0, 1}, 5, nil)
	time.Sleep(3 * time.Second)
	if got := tn.height(0); got != h {
		t.Fatalf("height moved from %d to %d with 2 of 4 validators down", h, got)
	}
	if got := tn.height(1); got != h {
		t.Fatalf("node1 height moved from %d to %d", h, got)
	}
	if err := tn.cluster.Start(2); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 2} {
		tn.waitCommitted(i, acked, 90*time.Second)
	}
	target := tn.height(0)
	tn.sameChain([]int{0, 1, 2}, target)
}

func TestByzantineDoubleVoterCannotStopOrForkTheChain(t *testing.T) {
	tn := startNet(t, 4)
	tn.cluster.Stop(3, 10*time.Second)
	tn.cluster.SetArgs(3, "--unsafe-test-faults", "--byzantine", "equivocate")
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	senders := newKeys(t, 9)
	tn.fund(senders, 1_000_000)
	ticker, senders := senders[8], senders[:8]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	acked := tn.load(ctx, senders, []int{0, 1, 2}, 40, nil)
	for _, i := range []int{0, 1, 2} {
		tn.waitCommitted(i, acked, 90*time.Second)
	}
	target := tn.height(0)
	eventually(t, 30*time.Second, "honest nodes at the same height", func() bool {
		return tn.height(1) >= target && tn.height(2) >= target
	})
	tn.sameChain([]int{0, 1, 2}, target)
	// The honest validators saw the conflicting votes and serve the evidence:
	// two signatures by node3 over different votes for one height and round.
	// A pair seen only after its height committed may be dropped, and an
	// idle chain votes no more, so one transaction per poll keeps heights
	// (and node3's double votes) coming until a pair lands in time.
	var ev *client.Evidence
	nonce := uint64(0)
	eventually(t, 30*time.Second, "double-sign evidence served", func() bool {
		nonce++
		tick := client.NewTx(tn.net.ChainID, ticker, nonce, &types.Transfer{To: ticker.Public().Address(), Amount: 1})
		if _, err := tn.clients[0].Submit(ctx, tick); err != nil {
			nonce-- // refused: the same nonce again next time
		}
		for _, i := range []int{0, 1, 2} {
			l, err := tn.clients[i].Evidence(ctx)
			if err == nil && len(l.Evidence) > 0 {
				ev = &l.Evidence[0]
				return tn.metric(i, "cairn_evidence_total") > 0
			}
		}
		return false
	})
	if ev.Validator != "node3" || len(ev.Votes) != 2 || ev.Votes[0].BlockHash == ev.Votes[1].BlockHash {
		t.Fatalf("evidence %+v", ev)
	}
	for _, v := range ev.Votes {
		msg, _ := hex.DecodeString(v.SignBytesHex)
		sig, _ := hex.DecodeString(v.Signature)
		if !ed25519.Verify(ev.PublicKey[:], msg, sig) {
			t.Fatalf("evidence vote does not verify: %+v", v)
		}
	}
}

func TestUnsafeModesNeedTheFlag(t *testing.T) {
	tn := startNet(t, 1)
	tn.cluster.Stop(0, 10*time.Second)
	out, err := exec.Command(bin, "node", "--home", tn.net.Nodes[0].Home, "--byzantine", "double-vote").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unsafe-test-faults") {
		t.Fatalf("byzantine mode without the flag: err=%v output=%s", err, out)
	}
}

// Search is served by the follower (node 4); validators do not index.
func TestSearchFindsCommittedTransactions(t *testing.T) {
	tn := startNetWith(t, 4, 1, nil)
	senders := newKeys(t, 4)
	tn.fund(senders, 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acked := tn.load(ctx, senders, []int{0, 1, 2, 3}, 10, nil)
	tn.waitCommitted(4, acked, 60*time.Second)
	addr := senders[0].Public().Address().String()
	var body struct {
		Total int `json:"total"`
	}
	eventually(t, 30*time.Second, "search sees the sender's transfers", func() bool {
		resp, err := http.Get(tn.net.Followers[0].API + "/v1/search?q=" + url.QueryEscape("type:transfer AND sender_address:"+addr))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		return body.Total == 10
	})
	st, err := tn.clients[4].Status(ctx)
	if err != nil || !st.SearchEnabled || st.IndexedHeight == 0 || st.IndexedHeight+st.IndexLag < st.Height {
		t.Fatalf("status: %+v %v", st, err)
	}
	if m := tn.metric(4, "cairn_search_indexed_height"); m < float64(st.IndexedHeight) {
		t.Fatalf("cairn_search_indexed_height %v, status says %d", m, st.IndexedHeight)
	}
	resp, err := http.Get(tn.net.Followers[0].API + "/v1/search?q=" + url.QueryEscape("amount:>>5"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad query answered %d", resp.StatusCode)
	}
}

// TestBadInputChangesNothing sends each kind of bad request to a real
// validator process and checks the documented status, then that the chain
// state did not move.
func TestBadInputChangesNothing(t *testing.T) {
	tn := startNet(t, 4)
	alice := newKeys(t, 1)[0]
	tn.fund([]*crypto.PrivateKey{alice}, 100)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := tn.net.Nodes[1].API
	st, err := tn.clients[1].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := st.StateRoot
	to := newKeys(t, 1)[0].Public().Address()
	good := client.NewTx(tn.net.ChainID, alice, 1, &types.Transfer{To: to, Amount: 10})
	goodJSON, _ := json.Marshal(good)

	forged := *good
	forged.Payload = &types.Transfer{To: to, Amount: 99}
	forged = *mustDecode(t, &forged) // re-encode with the old signature
	forgedJSON, _ := json.Marshal(&forged)
	wrongChain, _ := json.Marshal(client.NewTx("other-chain", alice, 1, &types.Transfer{To: to, Amount: 1}))
	overdraft, _ := json.Marshal(client.NewTx(tn.net.ChainID, alice, 1, &types.Transfer{To: to, Amount: 1000}))
	var unknown map[string]any
	_ = json.Unmarshal(goodJSON, &unknown)
	unknown["fee"] = 1
	unknownJSON, _ := json.Marshal(unknown)
	huge := append([]byte(`{"chain_id":"`), make([]byte, 80<<20)...)

	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"malformed JSON", []byte(`{"chain_id": `), http.StatusBadRequest},
		{"unknown field", unknownJSON, http.StatusBadRequest},
		{"bad signature", forgedJSON, http.StatusUnauthorized},
		{"wrong chain id", wrongChain, http.StatusUnprocessableEntity},
		{"overdraft", overdraft, http.StatusUnprocessableEntity},
		{"oversized body", huge, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		resp, err := http.Post(node+"/v1/txs", "application/json", bytes.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.want || e.Error.Code == "" {
			t.Errorf("%s: status %d (%+v), want %d with an error body", c.name, resp.StatusCode, e.Error, c.want)
		}
	}
	// The good transfer commits; sending it again is a replay (409).
	res, err := tn.clients[1].SubmitWait(ctx, good, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(node+"/v1/txs", "application/json", bytes.NewReader(goodJSON))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("replay: status %d, want 409", resp.StatusCode)
	}
	// Only the good transfer changed anything: alice paid 10 once. Node 2
	// learns of the commit on its own schedule; read it once it has.
	eventually(t, 30*time.Second, "node 2 reaches the transfer's height", func() bool { return tn.height(2) >= res.Height })
	a, err := tn.clients[2].Account(ctx, alice.Public().Address())
	if err != nil || a.Balance != 90 || a.Nonce != 1 {
		t.Fatalf("alice after bad input: %+v %v", a, err)
	}
	if st2, _ := tn.clients[1].Status(ctx); st2.StateRoot == before {
		t.Fatalf("the good transfer did not change the state root")
	}
}

// mustDecode re-encodes tx from its fields (dropping any cached bytes).
func mustDecode(t *testing.T, tx *types.Tx) *types.Tx {
	t.Helper()
	fresh := &types.Tx{ChainID: tx.ChainID, Sender: tx.Sender, Nonce: tx.Nonce, Timestamp: tx.Timestamp, Payload: tx.Payload, Signature: tx.Signature}
	out, err := types.DecodeTx(fresh.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestartOnIdleChainCatchesUp: a validator that missed blocks and comes
// back while nothing new is being committed still catches up (it learns the
// others' height when its connections come up).
func TestRestartOnIdleChainCatchesUp(t *testing.T) {
	tn := startNet(t, 4)
	tn.cluster.Stop(3, 10*time.Second)
	senders := newKeys(t, 3)
	tn.fund(senders, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acked := tn.load(ctx, senders, []int{0, 1, 2}, 3, nil)
	tn.waitCommitted(0, acked, 30*time.Second)
	target := tn.height(0)
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	// No load from here on: the chain is idle.
	eventually(t, 20*time.Second, "node3 caught up on an idle chain", func() bool { return tn.height(3) >= target })
	tn.sameChain([]int{0, 3}, target)
}

// A fault switch can be set right after a restart: SetFaults waits for the
// new process's listener instead of posting to the address a killed process
// left behind (the robustness suite restarts nodes and then partitions them).
func TestFaultSwitchRightAfterRestart(t *testing.T) {
	tn := startNet(t, 1)
	tn.cluster.Kill(0)
	tn.cluster.SetArgs(0, "--unsafe-test-faults", "--faults")
	for round := range 3 {
		if err := tn.cluster.Start(0); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := tn.cluster.SetFaults(ctx, nil, 0, devnet.Faults{DropOutbound: 0.5})
		cancel()
		if err != nil {
			t.Fatalf("round %d: set faults right after start: %v", round, err)
		}
		tn.cluster.Kill(0)
	}
}

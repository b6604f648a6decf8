package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// A proposer that puts a transaction the permission table forbids into its
// blocks (node3 in Byzantine mode "unauthorized": a kv.put by an account
// outside `writers`, built past its own mempool and permission check) gets
// every such block refused by the honest validators: the put never
// commits anywhere, node3 never gets a block into the chain, the other
// proposers' rounds carry the writers' load, and all four nodes keep one
// chain. The honest nodes count the refusals (cairn_proposals_refused_total)
// and log the permission as the reason.
func TestUnauthorizedProposalIsRefused(t *testing.T) {
	writers := newKeys(t, 3)
	p := devnet.DefaultChainParams()
	p.Permissions = types.OpenPermissions()
	p.Permissions["kv.put"] = []string{"writers"}
	role := types.Role{Name: "writers"}
	for _, k := range writers {
		role.Members = append(role.Members, k.Public().Address())
	}
	tn := startNetRoles(t, 4, 0, &p, []types.Role{role}, nil)
	byz, err := crypto.LoadKey(filepath.Join(tn.net.NodeHome(3), "validator.key"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := node.UnauthorizedSender()
	if err != nil {
		t.Fatal(err)
	}
	// The outsider has funds, so that its put fails only for the
	// permission: allowed, it would pay its fee and write the key.
	tn.fund(append([]*crypto.PrivateKey{bad}, writers...), 1_000_000)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Admission refuses the put node3 will propose.
	put := client.NewTx(tn.net.ChainID, bad, 1, &types.KVPut{Key: node.UnauthorizedKVKey, Value: "through the API"})
	_, err = tn.clients[0].Submit(ctx, put)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || apiErr.Code != "unauthorized" {
		t.Fatalf("admission of a non-writer's put: %v, want 403 unauthorized", err)
	}

	tn.cluster.Stop(3, 10*time.Second)
	tn.cluster.SetArgs(3, "--unsafe-test-faults", "--byzantine", "unauthorized")
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	start := tn.height(0)

	// Writers' puts through the honest nodes until each of them has refused
	// several of node3's proposals.
	const refusals = 3
	nonces := make([]uint64, len(writers))
	var acked []crypto.Hash
	refused := func() bool {
		for i := range 3 {
			if tn.metric(i, "cairn_proposals_refused_total") < refusals {
				return false
			}
		}
		return true
	}
	// Bounded: without the refusals (the rule gone from execution) the
	// checks below name what went wrong.
	deadline := time.Now().Add(time.Minute)
	for round := 0; !refused() && time.Now().Before(deadline); round++ {
		for wi, k := range writers {
			tx := client.NewTx(tn.net.ChainID, k, nonces[wi]+1, &types.KVPut{Key: fmt.Sprintf("w%d/%d", wi, round), Value: "v"})
			var err error
			for try := 0; try < 3; try++ { // an honest node that is busy: the same tx at the next
				cctx, c := context.WithTimeout(ctx, 5*time.Second)
				_, err = tn.clients[(wi+round+try)%3].Submit(cctx, tx)
				c()
				if err == nil || client.ErrorCode(err) == "duplicate" {
					err = nil
					break
				}
			}
			if err != nil {
				t.Fatalf("writer %d put %d: %v", wi, round, err)
			}
			nonces[wi]++
			acked = append(acked, tx.Hash())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := range 4 {
		tn.waitCommitted(i, acked, 90*time.Second)
	}
	target := tn.height(0)
	eventually(t, 30*time.Second, "every node at the same height", func() bool {
		for i := 1; i < 4; i++ {
			if tn.height(i) < target {
				return false
			}
		}
		return true
	})
	tn.sameChain([]int{0, 1, 2, 3}, target)

	// The put never committed: no node has the key or a nonce for its
	// sender, and no block since node3 turned Byzantine is node3's or holds
	// a tx of that sender; the heights node3 was to propose took another
	// round.
	for i := range 4 {
		if _, err := tn.clients[i].KV(ctx, node.UnauthorizedKVKey, 0); !client.IsNotFound(err) {
			t.Fatalf("node%d: key %s: %v, want not found", i, node.UnauthorizedKVKey, err)
		}
		a, err := tn.clients[i].Account(ctx, bad.Public().Address())
		if err != nil && !client.IsNotFound(err) {
			t.Fatal(err)
		}
		if err == nil && a.Nonce != 0 {
			t.Fatalf("node%d: the unauthorized sender has nonce %d", i, a.Nonce)
		}
	}
	later := 0
	for h := start + 1; h <= target; h++ {
		b, err := tn.clients[0].Block(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if b.Header.Proposer == byz.Public() {
			t.Fatalf("block %d was proposed by the Byzantine node3", h)
		}
		if b.Header.Round > 0 {
			later++
		}
		for _, bt := range b.Txs {
			raw, err := hex.DecodeString(bt.BytesHex)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := types.DecodeTx(raw)
			if err != nil {
				t.Fatal(err)
			}
			if tx.Sender == bad.Public() {
				t.Fatalf("block %d holds the unauthorized tx %s", h, bt.Hash)
			}
		}
	}
	if !refused() {
		t.Fatalf("honest nodes refused %v, %v, %v proposals, want at least %d each",
			tn.metric(0, "cairn_proposals_refused_total"), tn.metric(1, "cairn_proposals_refused_total"), tn.metric(2, "cairn_proposals_refused_total"), refusals)
	}
	if later < refusals {
		t.Fatalf("%d of heights %d..%d took a later round, want at least %d (node3's)", later, start+1, target, refusals)
	}
	// What an operator reads: each honest node logged its refusals with the
	// permission as the reason.
	for i := range 3 {
		n := refusedForPermission(t, tn.net.NodeHome(i))
		if n < refusals {
			t.Fatalf("node%d logged %d refusals naming the kv.put permission, want at least %d", i, n, refusals)
		}
	}
}

// refusedForPermission counts the "refused proposal" lines of a node's log
// that name the kv.put permission.
func refusedForPermission(t *testing.T, home string) int {
	t.Helper()
	f, err := os.Open(filepath.Join(home, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "refused proposal") && strings.Contains(line, "may not submit kv.put") {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

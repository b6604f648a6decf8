package e2e

import (
	"context"
	"encoding/json"
	"fmt"
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

// joiner is a validator node started with --join: a home of its own (key,
// config with the network's validators as peers), run as a one-node
// cluster of the same binary.
type joiner struct {
	key     *crypto.PrivateKey
	p2p     string
	home    string
	client  *client.Client
	cluster *devnet.Cluster
}

// newJoiner prepares node name's home next to the network's: node0's
// config with its own key, addresses and data, and every genesis
// validator (node0 included) as a peer.
func (tn *testnet) newJoiner(name string) *joiner {
	tn.t.Helper()
	ports := freePorts(tn.t, 2)
	ref, err := node.ReadConfigFile(tn.net.Nodes[0].Home)
	if err != nil {
		tn.t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(tn.dir, "genesis.json"))
	if err != nil {
		tn.t.Fatal(err)
	}
	home := filepath.Join(tn.dir, name)
	if err := os.MkdirAll(home, 0o755); err != nil {
		tn.t.Fatal(err)
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := crypto.SaveKey(filepath.Join(home, "validator.key"), k); err != nil {
		tn.t.Fatal(err)
	}
	c := ref
	c.Home, c.Name = home, name
	c.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	c.Peers = append([]node.Peer{{Name: tn.net.Nodes[0].Name, PublicKey: g.Validators[0].PublicKey, Addr: ref.P2PAddr}}, ref.Peers...)
	c.Followers = nil
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		tn.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config.json"), b, 0o644); err != nil {
		tn.t.Fatal(err)
	}
	nn := client.NetworkNode{Name: name, API: "http://" + c.APIAddr, Home: home}
	cl, err := client.New(nn.API)
	if err != nil {
		tn.t.Fatal(err)
	}
	j := &joiner{key: k, p2p: c.P2PAddr, home: home, client: cl,
		cluster: devnet.NewCluster(bin, &client.Network{ChainID: tn.net.ChainID, Nodes: []client.NetworkNode{nn}}, "--join")}
	tn.t.Cleanup(func() {
		j.cluster.StopAll(10 * time.Second)
		if tn.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(home, "node.log"))
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			tn.t.Logf("---- %s log tail ----\n%s", name, b)
		}
	})
	return j
}

func statusOf(c *client.Client) (*client.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return c.Status(ctx)
}

// setHas reports whether the set node c reports (the next height's)
// includes pub, and its size.
func setHas(c *client.Client, pub crypto.PublicKey) (bool, int) {
	st, err := statusOf(c)
	if err != nil {
		return false, 0
	}
	for _, v := range st.Validators {
		if v.PublicKey == pub {
			return true, len(st.Validators)
		}
	}
	return false, len(st.Validators)
}

// signedBy reports whether the certificate of height h on c has a
// signature by pub.
func signedBy(c *client.Client, h uint64, pub crypto.PublicKey) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	b, err := c.Block(ctx, h)
	if err != nil {
		return false
	}
	for _, s := range b.Certificate.Signatures {
		if s.PublicKey == pub {
			return true
		}
	}
	return false
}

// txHeight is the height a committed tx is in, as node c reports it.
func txHeight(t *testing.T, c *client.Client, out string) uint64 {
	t.Helper()
	var res client.TxResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("governance tx not committed: %q %v", out, err)
	}
	return res.Height
}

// TestValidatorJoinsUnderLoadAndOneLeaves: four validators under load; a
// fifth node started with --join syncs while following, is added by
// cairn gov add-validator and votes from two heights on; one of the
// original four is killed and the chain keeps committing (4 of 5 > 2/3);
// the dead one is removed with cairn gov remove-validator. No height is
// skipped, no acknowledged tx lost, every node's chain is identical and
// cairn verify --replay is clean across the changes. A change without
// enough approvals, and a removal of an unknown key, change nothing.
func TestValidatorJoinsUnderLoadAndOneLeaves(t *testing.T) {
	tn := startNet(t, 4)
	senders := newKeys(t, 8)
	tn.fund(append(senders, newKeys(t, 0)...), 1_000_000)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Bad input first: a validator.update sent by a non-governor without
	// approvals is refused (0 of 1 approvals), and nothing changes.
	outsider := filepath.Join(tn.dir, "outsider.key")
	if err := crypto.SaveKey(outsider, senders[7]); err != nil {
		t.Fatal(err)
	}
	ghost, _ := crypto.GenerateKey()
	api := tn.net.Nodes[0].API
	code, out, stderr := cairn(t, "gov", "remove-validator", ghost.Public().String(), "--key", outsider, "--wait", "--node", api)
	if code == 0 || !strings.Contains(stderr, "governor approvals needed") {
		t.Fatalf("a non-governor's validator.update: exit %d, %s %s", code, out, stderr)
	}
	t.Logf("refused: %s", strings.TrimSpace(stderr))
	// By the governor, a removal of a key not in the set: a failed
	// receipt, "not in the validator set".
	faucet := tn.net.FaucetKey
	code, out, stderr = cairn(t, "gov", "remove-validator", ghost.Public().String(), "--key", faucet, "--wait", "--node", api)
	if code == 0 || !strings.Contains(out+stderr, "not in the validator set") {
		t.Fatalf("removing an unknown validator: exit %d, %s %s", code, out, stderr)
	}
	t.Logf("failed: %s", strings.TrimSpace(stderr))
	if _, n := setHas(tn.clients[0], ghost.Public()); n != 4 {
		t.Fatalf("the set changed after refused updates: %d validators", n)
	}

	stop := make(chan struct{})
	var acked []crypto.Hash
	done := make(chan struct{})
	go func() {
		acked = tn.load(ctx, senders[:6], []int{0, 1, 2}, 10_000, stop)
		close(done)
	}()
	eventually(t, 30*time.Second, "load committing", func() bool { return tn.height(0) >= 3 })

	// The fifth node: started first, it waits for the network to admit it.
	j := tn.newJoiner("node4")
	if err := j.cluster.StartAll(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, code = tn.cli("gov", "add-validator", "@"+filepath.Join(j.home, "validator.key"), "1",
		"--name", "node4", "--p2p", j.p2p, "--key", faucet, "--wait", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("add-validator: exit %d: %s", code, out)
	}
	hAdd := txHeight(t, tn.clients[0], out)
	eventually(t, 30*time.Second, "the set of the next height includes node4", func() bool {
		in, n := setHas(tn.clients[0], j.key.Public())
		return in && n == 5
	})
	// In force at hAdd+2: node4 is in that height's certificate's set and
	// signs certificates once it caught up.
	var firstSigned uint64
	eventually(t, 90*time.Second, "node4 caught up and signing", func() bool {
		top := tn.height(0)
		for h := hAdd + 2; h <= top; h++ {
			if signedBy(tn.clients[0], h, j.key.Public()) {
				firstSigned = h
				return true
			}
		}
		return false
	})
	took := time.Since(start)
	t.Logf("set change: validator.update committed at height %d, in force at %d (2 heights), node4's first signature at height %d, %v after submitting",
		hAdd, hAdd+2, firstSigned, took.Round(time.Millisecond))
	blkAdd, err := tn.clients[0].Block(ctx, hAdd)
	if err != nil {
		t.Fatal(err)
	}
	blkIn, err := tn.clients[0].Block(ctx, hAdd+2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("set change: block time from the update's block to the first block of the new set: %d ms", blkIn.Header.Time-blkAdd.Header.Time)
	vs5, err := types.NewValidatorSet(mustStatus(t, tn.clients[0]).Validators)
	if err != nil || blkIn.Header.ValidatorsHash != vs5.Hash() {
		t.Fatalf("height %d names validators %s, want the set of five %s (%v)", hAdd+2, blkIn.Header.ValidatorsHash, vs5.Hash(), err)
	}

	// Kill an original validator: four of five keep committing.
	tn.cluster.Kill(3)
	before := tn.height(0)
	eventually(t, 60*time.Second, "four of five keep committing", func() bool {
		return tn.height(0) >= before+5 && tn.height(1) >= before+5
	})

	// Remove the dead one.
	g, err := types.LoadGenesis(filepath.Join(tn.dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	dead := g.Validators[3].PublicKey
	out, code = tn.cli("gov", "remove-validator", dead.String(), "--key", faucet, "--wait", "--timeout", "30s")
	if code != 0 {
		t.Fatalf("remove-validator: exit %d: %s", code, out)
	}
	hRemove := txHeight(t, tn.clients[0], out)
	eventually(t, 30*time.Second, "node3 out of the set", func() bool {
		in, n := setHas(tn.clients[0], dead)
		return !in && n == 4
	})
	after := max(tn.height(0), hRemove+2)
	eventually(t, 60*time.Second, "the four keep committing after the removal", func() bool {
		return tn.height(0) >= after+3
	})
	// The removed validator comes back: its former peers still admit it,
	// and it follows the chain without voting.
	if err := tn.cluster.Start(3); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the removed validator follows the chain", func() bool {
		st, err := statusOf(tn.clients[3])
		return err == nil && st.Height >= after+3
	})

	close(stop)
	<-done
	if len(acked) == 0 {
		t.Fatal("no load acknowledged")
	}
	for _, i := range []int{0, 1, 2} {
		tn.waitCommitted(i, acked, 90*time.Second)
	}
	top := tn.height(0)
	members := append(tn.clients[:3:3], j.client)
	eventually(t, 60*time.Second, "every live node at the top", func() bool {
		for _, c := range members {
			if st, err := statusOf(c); err != nil || st.Height < top {
				return false
			}
		}
		return true
	})
	// Identical chains, no height skipped (sameChain reads every height),
	// and node4 holds every acknowledged tx too.
	all := tn.clients
	tn.clients = members
	tn.sameChain([]int{0, 1, 2, 3}, top)
	// One lookup per acknowledged tx (about 20,000, 1.5 ms each on a
	// 2-core machine under this test's load): the budget is the other
	// nodes'.
	tn.waitCommitted(3, acked, 90*time.Second)
	tn.clients = all
	t.Logf("%d txs acknowledged and committed; chain of %d heights identical on 4 nodes; update at %d, removal at %d", len(acked), top, hAdd, hRemove)

	// cairn verify --replay on stopped nodes, across both changes.
	tn.cluster.StopAll(10 * time.Second)
	j.cluster.StopAll(10 * time.Second)
	for _, home := range []string{tn.net.Nodes[0].Home, j.home} {
		code, stdout, stderr := cairn(t, "verify", "--home", home, "--replay")
		if code != 0 {
			t.Fatalf("cairn verify --replay %s: exit %d: %s %s", home, code, stdout, stderr)
		}
	}
}

func mustStatus(t *testing.T, c *client.Client) *client.Status {
	t.Helper()
	st, err := statusOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// bin is the cairn binary built once for all tests.
var bin string

func TestMain(m *testing.M) {
	var remove func()
	var err error
	bin, remove, err = devnet.BuildCairnTemp(context.Background(), "cairn-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := devnet.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// testnet is a running network of validator and follower processes;
// clients and cluster indexes are the validators', then the followers'.
type testnet struct {
	t       *testing.T
	dir     string
	net     *client.Network
	cluster *devnet.Cluster
	clients []*client.Client
	faucet  *crypto.PrivateKey
}

// startNet initialises and starts n validators with test-friendly timing.
func startNet(t *testing.T, n int) *testnet { return startNetWith(t, n, 0, nil) }

// startNetWith also starts f followers (nodes n..n+f-1), on a chain with
// parameters p (nil: the defaults).
func startNetWith(t *testing.T, n, f int, p *types.Params) *testnet {
	t.Helper()
	return startNetTuned(t, n, f, p, nil)
}

// startNetTuned is startNetWith with tune applied to each node's config
// last (nil: nothing more).
func startNetTuned(t *testing.T, n, f int, p *types.Params, tune func(i int, c *node.Config)) *testnet {
	t.Helper()
	return startNetRoles(t, n, f, p, nil, tune)
}

// startNetRoles is startNetTuned on a genesis that also has roles.
func startNetRoles(t *testing.T, n, f int, p *types.Params, roles []types.Role, tune func(i int, c *node.Config)) *testnet {
	t.Helper()
	dir := t.TempDir()
	all := n + f
	ports := freePorts(t, 2*all)
	nw, err := devnet.InitNetwork(dir, devnet.Options{Validators: n, Followers: f, ChainID: "e2e", Params: p, Roles: roles, Tune: func(i int, c *node.Config) {
		testConfig(c, ports, all, i)
		if tune != nil {
			tune(i, c)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	return launch(t, dir, nw)
}

// launch starts every member of the network written in dir and waits until
// each is ready; the nodes are stopped (and their log tails printed on
// failure) when the test ends.
func launch(t *testing.T, dir string, nw *client.Network) *testnet {
	t.Helper()
	tn := &testnet{t: t, dir: dir, net: nw, cluster: devnet.NewCluster(bin, nw)}
	for _, m := range nw.Members() {
		c, err := client.New(m.API)
		if err != nil {
			t.Fatal(err)
		}
		tn.clients = append(tn.clients, c)
	}
	var err error
	if tn.faucet, err = crypto.LoadKey(nw.FaucetKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tn.cluster.StopAll(10 * time.Second)
		if t.Failed() {
			for _, nd := range nw.Members() {
				b, _ := os.ReadFile(filepath.Join(nd.Home, "node.log"))
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("---- %s log tail ----\n%s", nd.Name, b)
			}
		}
	})
	if err := tn.cluster.StartAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tn.cluster.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return tn
}

// eventually polls cond every 100 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (tn *testnet) height(i int) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := tn.clients[i].Status(ctx)
	if err != nil {
		return 0
	}
	return st.Height
}

// fund gives each of keys amount from the faucet and waits for the commit.
func (tn *testnet) fund(keys []*crypto.PrivateKey, amount uint64) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := tn.clients[0].NewSigner(tn.faucet, tn.net.ChainID)
	var txs []*types.Tx
	for _, k := range keys {
		tx, err := s.Transfer(ctx, k.Public().Address(), amount)
		if err != nil {
			tn.t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	res, err := tn.clients[0].SubmitBatchWait(ctx, txs, 30*time.Second)
	if err != nil {
		tn.t.Fatalf("fund: %v", err)
	}
	var top uint64
	for i, r := range res.Results {
		if r == nil || r.Receipt == nil || !r.Receipt.OK {
			tn.t.Fatalf("fund tx %d: %+v (%+v)", i, r, res.Errors[i])
		}
		top = max(top, r.Height)
	}
	// Every node has the funds before the test submits anywhere: a node
	// that has not yet committed that height would refuse a spend of them.
	eventually(tn.t, 30*time.Second, "every node at the funding height", func() bool {
		for _, c := range tn.clients {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			st, err := c.Status(ctx)
			cancel()
			if err == nil && st.Height < top { // a node that is down is not waited for
				return false
			}
		}
		return true
	})
}

func newKeys(t *testing.T, n int) []*crypto.PrivateKey {
	ks := make([]*crypto.PrivateKey, n)
	for i := range ks {
		k, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ks[i] = k
	}
	return ks
}

// sameChain checks that every given node reports the same block hash and
// state root at every height up to h.
func (tn *testnet) sameChain(nodes []int, h uint64) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for height := uint64(1); height <= h; height++ {
		var ref *client.Block
		for _, i := range nodes {
			b, err := tn.clients[i].Block(ctx, height)
			if err != nil {
				tn.t.Fatalf("node%d block %d: %v", i, height, err)
			}
			if ref == nil {
				ref = b
				continue
			}
			if b.Hash != ref.Hash || b.Header.StateRoot != ref.Header.StateRoot {
				tn.t.Fatalf("height %d: node%d has %s/%s, node%d has %s/%s", height, i, b.Hash, b.Header.StateRoot, nodes[0], ref.Hash, ref.Header.StateRoot)
			}
		}
	}
}

// metric reads one un-labelled series from node i's /metrics (0 if absent).
func (tn *testnet) metric(i int, name string) float64 {
	resp, err := http.Get(tn.net.Members()[i].API + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}

// testConfig gives node i of all its ports (API ports[i], p2p
// ports[all+i]) and the short timeouts and debug logs of these tests.
func testConfig(c *node.Config, ports []int, all, i int) {
	c.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
	c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", ports[all+i])
	c.Consensus.TimeoutPropose = node.Duration{Duration: 800 * time.Millisecond}
	c.Consensus.TimeoutVote = node.Duration{Duration: 400 * time.Millisecond}
	c.Consensus.TimeoutDelta = node.Duration{Duration: 200 * time.Millisecond}
	c.Consensus.MaxBlockDelay = node.Duration{Duration: 20 * time.Millisecond}
	c.LogLevel = "debug"
}

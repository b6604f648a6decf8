package explorer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/devnet"
	"github.com/cairn-db/cairn/internal/node"
)

// TestExplorerOnDevnet runs a real four-validator devnet (cairn processes
// built from this source, one of them double-voting) and checks the
// explorer against it: the overview lists the four validators and who
// signed, a block's certificate carries a quorum of signatures that verify
// in the browser, a key's proof and a transaction verify on other nodes'
// explorers, and the double-voter's evidence is listed and its signatures
// check.
func TestExplorerOnDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the devnet test builds cairn and starts four validators")
	}
	b := newBrowser(t) // skips (or fails under CI) without chromium, before building anything
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, remove, err := devnet.BuildCairnTemp(ctx, "cairn-explorer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)

	const n = 4
	ports, err := devnet.FreePorts(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	nw, err := devnet.InitNetwork(t.TempDir(), devnet.Options{Validators: n, ChainID: "explorer-devnet", Tune: func(i int, c *node.Config) {
		c.APIAddr = fmt.Sprintf("127.0.0.1:%d", ports[i])
		c.P2PAddr = fmt.Sprintf("127.0.0.1:%d", ports[n+i])
		c.Consensus.TimeoutPropose = node.Duration{Duration: 800 * time.Millisecond}
		c.Consensus.TimeoutVote = node.Duration{Duration: 400 * time.Millisecond}
		c.Consensus.TimeoutDelta = node.Duration{Duration: 200 * time.Millisecond}
		c.Consensus.MaxBlockDelay = node.Duration{Duration: 20 * time.Millisecond}
	}})
	if err != nil {
		t.Fatal(err)
	}
	cluster := devnet.NewCluster(bin, nw)
	// Validator 3 double-votes (one of four: the chain still decides), so
	// the others hold real equivocation evidence for the evidence page.
	cluster.SetArgs(3, "--unsafe-test-faults", "--byzantine", "double-vote")
	t.Cleanup(func() {
		cluster.StopAll(10 * time.Second)
		if t.Failed() {
			for _, nd := range nw.Nodes {
				log, _ := os.ReadFile(filepath.Join(nd.Home, "node.log"))
				if len(log) > 4000 {
					log = log[len(log)-4000:]
				}
				t.Logf("---- %s log tail ----\n%s", nd.Name, log)
			}
		}
	})
	if err := cluster.StartAll(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	clients, err := nw.Clients()
	if err != nil {
		t.Fatal(err)
	}
	faucet, err := nw.LoadFaucetKey()
	if err != nil {
		t.Fatal(err)
	}
	s := clients[0].NewSigner(faucet, nw.ChainID)
	put := func(key, value string) *client.TxResult {
		t.Helper()
		tx, err := s.Put(ctx, key, value, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := clients[0].SubmitWait(ctx, tx, 20*time.Second)
		if err != nil || res.Status != "committed" {
			t.Fatalf("put %s: %v %+v", key, err, res)
		}
		return res
	}
	put("greeting", "hello from the devnet")
	put("greeting", "hello again")

	url := func(i int) string { return strings.TrimSuffix(nw.Nodes[i].API, "/") }
	b.open(url(0) + "/")
	get(b, "four validators", chromedp.Poll[bool](`document.querySelectorAll('tbody tr').length >= 4 && document.body.textContent.includes('explorer-devnet')`))
	for _, nd := range nw.Nodes {
		if !strings.Contains(b.text("main"), nd.Name) {
			t.Errorf("overview does not list validator %s", nd.Name)
		}
	}
	// Live: the next block appears without a reload, with its signers.
	res := put("counter", "1")
	b.do("live block", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tbody a[href="/blocks/%d"]`, res.Height))))
	signed := get(b, "signers", chromedp.Poll[int](`(() => { const n = [...document.querySelectorAll('td')].filter((td) => td.textContent === 'yes').length; return n >= 3 ? n : 0; })()`))
	t.Logf("%d validators signed the latest block", signed)
	b.shot("devnet-overview.png")

	b.open(fmt.Sprintf("%s/blocks/%d", url(0), res.Height))
	verdict, report := b.verify()
	if verdict != "pass" {
		t.Fatalf("verify block %d: %s\n%s", res.Height, verdict, report)
	}
	sigs := strings.Count(report, "passed: Ed25519 signature of ")
	if sigs < 3 || !strings.Contains(report, "of 4, quorum 3") {
		t.Errorf("block %d verified with %d signatures:\n%s", res.Height, sigs, report)
	}
	b.shot("devnet-block-verified.png")

	// Another node's explorer: the key's proof and a transaction.
	b.open(url(2) + "/keys/counter")
	if verdict, report := b.verify(); verdict != "pass" {
		t.Fatalf("verify key on node 2: %s\n%s", verdict, report)
	}
	b.open(fmt.Sprintf("%s/txs/%s", url(1), res.Hash))
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves: committed and ok") {
		t.Fatalf("verify tx on node 1: %s\n%s", verdict, report)
	}
	// The faucet's balance and nonce, proven on node 3's explorer.
	b.open(url(3) + "/accounts/" + faucet.Public().Address().String())
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves balance ") {
		t.Fatalf("verify the faucet's account on node 3: %s\n%s", verdict, report)
	}
	// Validators keep no account index: the page says so instead of a list.
	get(b, "no account index on a validator", chromedp.Poll[bool](`document.querySelector('main').textContent.includes('account listings are not indexed on this node')`))
	b.shot("devnet-account-verified.png")

	// Evidence against node3, as node 0 holds it: listed, and both signed
	// votes verify under node3's trusted key.
	for deadline := time.Now().Add(60 * time.Second); ; {
		ev, err := clients[0].Evidence(ctx)
		if err == nil && len(ev.Evidence) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no evidence against the double-voter after 60 s (%v)", err)
		}
		put("nudge", time.Now().String()) // votes happen only while blocks are made
	}
	b.open(url(0) + "/evidence")
	if s := b.text("main"); !strings.Contains(s, "node3") || !strings.Contains(s, "prevote") && !strings.Contains(s, "precommit") {
		t.Fatalf("evidence page: %q", s)
	}
	b.do("check evidence", chromedp.Click(chromedp.CSS(`tbody button`), chromedp.NodeVisible))
	got := get(b, "evidence checked", chromedp.Poll[string](`(() => { const c = document.querySelector('tbody td:last-child'); return c && !c.querySelector('button') ? c.textContent : ''; })()`))
	if !strings.Contains(got, "both signatures verify under the trusted key") {
		t.Errorf("evidence check: %q", got)
	}
	b.shot("devnet-evidence.png")
}

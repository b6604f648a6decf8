package blockstream_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/blockstream"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/types"
)

// running is a publisher on its own goroutine.
type running struct {
	p    *blockstream.Publisher
	stop context.CancelFunc
	done chan struct{}
}

func start(t *testing.T, c *natstest.Cluster, chain *apitest.Chain) *running {
	t.Helper()
	p, err := blockstream.NewPublisher(blockstream.Config{URLs: c.URLs(), Replicas: 3}, blockstream.LedgerSource(chain.Ledger), apitest.ChainID, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = p.Run(ctx)
	}()
	t.Cleanup(r.close)
	return r
}

func (r *running) close() {
	r.stop()
	<-r.done
	r.p.Close()
}

func (r *running) waitPublished(t *testing.T, h uint64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for r.p.Published() < h {
		if time.Now().After(deadline) {
			t.Fatalf("published %d after %v, want %d", r.p.Published(), timeout, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// commit commits n blocks of a few transactions each.
func commit(t *testing.T, chain *apitest.Chain, n int, nonce *uint64) {
	t.Helper()
	for i := 0; i < n; i++ {
		var txs []*types.Tx
		for j := 0; j < 3; j++ {
			*nonce++
			txs = append(txs, apitest.Tx(chain.Users[0], *nonce, &types.KVPut{Key: fmt.Sprintf("k/%d", *nonce), Value: "v"}))
		}
		chain.CommitBlock(txs...)
	}
}

// checkStream reads the whole subject and checks it holds heights 1..head
// exactly once, in order, each verified against the chain's validators,
// and identical to the ledger's block.
func checkStream(t *testing.T, c *natstest.Cluster, chain *apitest.Chain) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, blockstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	subject := blockstream.Subject(apitest.ChainID)
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := chain.Genesis.ValidatorSet()
	head := chain.Ledger.Head().Height
	for h := uint64(1); h <= head; h++ {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if got := m.Headers().Get(blockstream.HeaderHeight); got != strconv.FormatUint(h, 10) {
			t.Fatalf("message %d of the stream is height %s", h, got)
		}
		if id := m.Headers().Get("Nats-Msg-Id"); id != blockstream.MsgID(apitest.ChainID, h) {
			t.Fatalf("height %d: message id %q", h, id)
		}
		sb, err := client.DecodeStreamBlock(m.Data())
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if err := sb.Verify(apitest.ChainID, vals); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		b, cert, rs, err := chain.Ledger.Block(h)
		if err != nil {
			t.Fatal(err)
		}
		want := (&client.StreamBlock{Block: b, Certificate: cert, Receipts: rs}).Encode()
		if string(want) != string(m.Data()) {
			t.Fatalf("height %d: message differs from the ledger's block", h)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != head {
		t.Fatalf("stream holds %d messages for %d heights", info.State.Msgs, head)
	}
}

// TestPublisherOnCluster publishes a real chain's blocks to a real
// 3-server cluster through failures: one server killed (order kept,
// nothing lost), publisher restarts (resumes, no duplicates), two
// publishers at once (each height once), two servers killed (the
// publisher waits, the chain commits on), everything back (caught up).
func TestPublisherOnCluster(t *testing.T) {
	c := natstest.Start(t, 3)
	chain := apitest.New(t, apitest.Options{})
	var nonce uint64
	commit(t, chain, 10, &nonce)

	p := start(t, c, chain)
	p.waitPublished(t, chain.Ledger.Head().Height, 60*time.Second)

	// One server down while blocks keep coming.
	c.Kill(1)
	commit(t, chain, 10, &nonce)
	p.waitPublished(t, chain.Ledger.Head().Height, 60*time.Second)
	c.Restart(1)
	c.WaitReady(60 * time.Second)
	c.WaitCaughtUp(blockstream.DefaultStream, 60*time.Second)
	checkStream(t, c, chain)

	// A restarted publisher, and a second one at the same time (two nodes
	// configured to publish the same chain).
	p.close()
	commit(t, chain, 5, &nonce)
	p = start(t, c, chain)
	q := start(t, c, chain)
	commit(t, chain, 5, &nonce)
	head := chain.Ledger.Head().Height
	p.waitPublished(t, head, 60*time.Second)
	q.waitPublished(t, head, 60*time.Second)
	checkStream(t, c, chain)
	q.close()

	// Two of three down: no quorum; the publisher waits, commits do not.
	c.Kill(0)
	c.Kill(2)
	before := p.p.Published()
	commit(t, chain, 5, &nonce)
	time.Sleep(2 * time.Second)
	if got := p.p.Published(); got != before {
		t.Fatalf("published %d without a quorum (was %d)", got, before)
	}
	c.Restart(0)
	c.Restart(2)
	c.WaitReady(60 * time.Second)
	p.waitPublished(t, chain.Ledger.Head().Height, 90*time.Second)
	c.WaitCaughtUp(blockstream.DefaultStream, 60*time.Second)
	checkStream(t, c, chain)
}

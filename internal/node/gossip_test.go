package node

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

func gossipKey(i byte) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	seed[0], seed[1] = i, 0x9d
	return crypto.MustKeyFromSeed(seed)
}

// transportPair connects two transports on 127.0.0.1 whose frames are
// limited to maxBytes.
func transportPair(t *testing.T, maxBytes int) (a, b *p2p.Transport) {
	t.Helper()
	ka, kb := gossipKey(1), gossipKey(2)
	lna, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnb, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allowed := []crypto.PublicKey{ka.Public(), kb.Public()}
	// Only a dials, so no duplicate connection is being retired when the
	// test sends.
	peers := [][]p2p.Peer{{{PublicKey: kb.Public(), Addr: lnb.Addr().String()}}, nil}
	var trs []*p2p.Transport
	for i, k := range []*crypto.PrivateKey{ka, kb} {
		ln := []net.Listener{lna, lnb}[i]
		tr, err := p2p.New(p2p.Config{Key: k, Listener: ln, Peers: peers[i], Allowed: allowed, NetworkID: "gossip-test",
			MaxMessageBytes: maxBytes, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		trs = append(trs, tr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for trs[0].Stats().ConnectedPeers != 1 || trs[1].Stats().ConnectedPeers != 1 {
		if time.Now().After(deadline) {
			t.Fatal("transports did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return trs[0], trs[1]
}

// A gossip batch whose encoding exceeds the frame limit still reaches the
// peers: every transaction arrives.
func TestGossipBatchOverFrameLimitArrivesWhole(t *testing.T) {
	const frameLimit = 4 << 10
	a, b := transportPair(t, frameLimit)
	signer := gossipKey(3)
	var txs []*types.Tx
	size := 0
	for i := uint64(1); size <= 4*frameLimit; i++ { // bounded by size
		tx := &types.Tx{ChainID: "gossip-test", Nonce: i, Timestamp: 1700000000000,
			Payload: &types.Transfer{To: gossipKey(4).Public().Address(), Amount: i}}
		tx.Sign(signer)
		txs = append(txs, tx)
		size += tx.Size()
	}
	n := &Node{net: a}
	n.broadcastTxs(txs)

	want := map[crypto.Hash]bool{}
	for _, tx := range txs {
		want[tx.Hash()] = true
	}
	timeout := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-b.Receive():
			got, err := decodeTxBatch(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range got {
				delete(want, tx.Hash())
			}
		case <-timeout:
			t.Fatalf("%d of %d transactions did not arrive; sender stats %+v", len(want), len(txs), a.Stats())
		}
	}
}

// Batches respect the byte and count bounds, split only at transaction
// boundaries, and keep every transaction in order.
func TestEncodeTxBatchesSplits(t *testing.T) {
	signer := gossipKey(3)
	var txs []*types.Tx
	for i := uint64(1); i <= 50; i++ {
		tx := &types.Tx{ChainID: "gossip-test", Nonce: i, Timestamp: 1700000000000,
			Payload: &types.Transfer{To: gossipKey(4).Public().Address(), Amount: i}}
		tx.Sign(signer)
		txs = append(txs, tx)
	}
	one := len(encodeTxBatch(txs[:1]))
	for _, limit := range []int{1, one, 3*one + 5, 1 << 20} {
		var got []*types.Tx
		for _, b := range encodeTxBatches(txs, limit) {
			part, err := decodeTxBatch(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > limit && len(part) != 1 {
				t.Fatalf("limit %d: batch of %d bytes holds %d txs", limit, len(b), len(part))
			}
			got = append(got, part...)
		}
		if len(got) != len(txs) {
			t.Fatalf("limit %d: %d txs out of %d", limit, len(got), len(txs))
		}
		for i := range txs {
			if got[i].Hash() != txs[i].Hash() {
				t.Fatalf("limit %d: tx %d out of order", limit, i)
			}
		}
	}
	if n := len(encodeTxBatches(txs, 1<<20)); n != 1 {
		t.Fatalf("%d batches where one fits", n)
	}
}

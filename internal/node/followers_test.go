package node

import (
	"context"
	"net"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/internal/p2p"
	"github.com/cairn-db/cairn/types"
)

// followerLink connects the test node's transport (validator gossipKey(1),
// which lists gossipKey(3) as a follower) to a follower's transport.
func followerLink(t *testing.T, n *Node) (follower *crypto.PrivateKey, ft *p2p.Transport) {
	t.Helper()
	fk := gossipKey(3)
	lnv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lnf, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var valKeys []crypto.PublicKey
	for _, v := range n.vals.Validators {
		valKeys = append(valKeys, v.PublicKey)
	}
	vt, err := p2p.New(p2p.Config{Key: n.key, Listener: lnv, Allowed: valKeys, Followers: []crypto.PublicKey{fk.Public()}, NetworkID: "gossip-test"})
	if err != nil {
		t.Fatal(err)
	}
	ft, err = p2p.New(p2p.Config{Key: fk, Listener: lnf, Allowed: valKeys, NetworkID: "gossip-test",
		Peers: []p2p.Peer{{PublicKey: n.key.Public(), Addr: lnv.Addr().String()}}, MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*p2p.Transport{vt, ft} {
		if err := tr.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
	}
	deadline := time.Now().Add(10 * time.Second)
	for vt.Stats().ConnectedFollowers != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.net = vt
	n.followers = newFollowerSet([]Peer{{Name: "f0", PublicKey: fk.Public()}}, n.m)
	return fk, ft
}

// receive returns the next message the follower gets, decoded.
func receive(t *testing.T, ft *p2p.Transport) consensus.Message {
	t.Helper()
	select {
	case m := <-ft.Receive():
		msg, err := consensus.Decode(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	case <-time.After(10 * time.Second):
		t.Fatal("nothing arrived at the follower")
		return nil
	}
}

// A validator hears nothing of a follower but block requests: a vote, a
// gossiped transaction or evidence from it is counted as ignored and never
// reaches the engine, the mempool or the store. Requests are served by how
// the height stands to the head: served, parked and pushed at commit, or
// answered with the head.
func TestValidatorHearsOnlyBlockRequestsFromFollowers(t *testing.T) {
	n := testNode(t)
	commitEmpty(t, n)
	commitEmpty(t, n)
	fk, ft := followerLink(t, n)
	ignored := n.followers.requests.WithLabelValues("ignored")
	before := n.engine.Position()

	vote := types.SignVote(fk, n.genesis.ChainID, types.Precommit, 3, 0, crypto.Hash{1}, 0)
	tx := &types.Tx{ChainID: n.genesis.ChainID, Nonce: 1, Timestamp: time.Now().UnixMilli(), Payload: &types.KVPut{Key: "k", Value: "v"}}
	tx.Sign(fk)
	for _, m := range []p2p.Message{
		{From: fk.Public(), Channel: chConsensus, Payload: consensus.Encode(&consensus.VoteMessage{Vote: vote})},
		{From: fk.Public(), Channel: chSync, Payload: consensus.Encode(&consensus.VoteMessage{Vote: vote})},
		{From: fk.Public(), Channel: chMempool, Payload: encodeTxBatch([]*types.Tx{tx})},
		{From: fk.Public(), Channel: chEvidence, Payload: []byte{1, 2, 3}},
		{From: gossipKey(9).Public(), Channel: chSync, Payload: consensus.Encode(&consensus.BlockRequest{Height: 1})}, // not listed
	} {
		if err := n.onMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	var got dto.Metric
	if err := ignored.Write(&got); err != nil || got.GetCounter().GetValue() != 5 {
		t.Fatalf("ignored %v messages, want 5 (%v)", got.GetCounter().GetValue(), err)
	}
	if after := n.engine.Position(); after != before {
		t.Fatalf("a follower's messages moved the engine: %+v -> %+v", before, after)
	}
	if st := n.pool.Stats(); st.Txs != 0 {
		t.Fatalf("a follower's gossip entered the mempool: %+v", st)
	}

	// Height 1 <= head 2: the head is told, the block is queued for the worker.
	if err := n.onMessage(p2p.Message{From: fk.Public(), Channel: chSync, Payload: consensus.Encode(&consensus.BlockRequest{Height: 1})}); err != nil {
		t.Fatal(err)
	}
	if s, ok := receive(t, ft).(*consensus.Status); !ok || s.Height != 2 {
		t.Fatalf("want the head, got %#v", s)
	}
	if st := n.server.stats(); st.Queued != 1 {
		t.Fatalf("serve queue: %+v", st)
	}
	// Height 9 > head+1: the head again.
	if err := n.onMessage(p2p.Message{From: fk.Public(), Channel: chSync, Payload: consensus.Encode(&consensus.BlockRequest{Height: 9})}); err != nil {
		t.Fatal(err)
	}
	if s, ok := receive(t, ft).(*consensus.Status); !ok || s.Height != 2 {
		t.Fatalf("want the head, got %#v", s)
	}
	// Height 3 = head+1: parked, pushed when it commits.
	if err := n.onMessage(p2p.Message{From: fk.Public(), Channel: chSync, Payload: consensus.Encode(&consensus.BlockRequest{Height: 3})}); err != nil {
		t.Fatal(err)
	}
	if n.followers.wants[fk.Public()] != 3 {
		t.Fatalf("not parked: %v", n.followers.wants)
	}
	b := commitEmpty(t, n)
	_, cert, _, err := n.ledger.Block(3)
	if err != nil {
		t.Fatal(err)
	}
	n.pushToFollowers(b, cert)
	r, ok := receive(t, ft).(*consensus.BlockResponse)
	if !ok || r.Block.Hash() != b.Hash() || r.Cert.Verify(n.genesis.ChainID, n.vals) != nil {
		t.Fatalf("want block 3 with its certificate, got %#v", r)
	}
	if len(n.followers.wants) != 0 {
		t.Fatalf("still parked after the push: %v", n.followers.wants)
	}
}

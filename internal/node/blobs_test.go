package node

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/types"
)

// proposeAndCommit has the next height's proposer build a block of txs,
// validates it as a peer would (ValidateBlock, the path to a prevote) and,
// if valid, commits it with both validators' precommits.
func proposeAndCommit(t *testing.T, n *Node, txs ...*types.Tx) (*types.Block, error) {
	t.Helper()
	h := n.ledger.Head().Height + 1
	prop := n.vals.Validators[n.vals.Proposer(h, 0)].PublicKey
	b, _, err := n.ledger.Propose(txs, 0, time.Now().UnixMilli(), prop, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Txs) != len(txs) {
		t.Fatalf("proposal left out %d txs", len(txs)-len(b.Txs))
	}
	if err := n.ValidateBlock(b); err != nil {
		return b, err
	}
	var votes []types.Vote
	for i := 0; i < n.vals.Len(); i++ {
		votes = append(votes, types.SignVote(keyOf(n, i), n.genesis.ChainID, types.Precommit, h, 0, b.Hash(), uint16(i)))
	}
	if err := n.ledger.Commit(b, types.NewCertificate(h, 0, b.Hash(), votes), n.prepared[b.Hash()]); err != nil {
		t.Fatal(err)
	}
	clear(n.prepared)
	return b, nil
}

func blobTx(n *Node, nonce uint64, refs ...types.BlobRef) *types.Tx {
	tx := &types.Tx{ChainID: n.genesis.ChainID, Nonce: nonce, Timestamp: time.Now().UnixMilli(),
		Payload: &types.BlobRecord{Document: []byte(`{"doc":1}`), Blobs: refs}}
	tx.Sign(gossipKey(9))
	return tx
}

// TestValidateBlockBlobAvailability: the prevote path refuses a proposal
// that references a blob its store does not hold with that size, and
// accepts it once the blob is stored; the proposer leaves such txs out.
func TestValidateBlockBlobAvailability(t *testing.T) {
	n := testNode(t)
	fs, err := blobstore.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n.blobs = blobstore.NewChecker(fs, time.Second)
	data := []byte("a scanned contract, in bulk")
	ref := types.BlobRef{Hash: crypto.Sum(data), Size: uint64(len(data))}

	if _, err := proposeAndCommit(t, n, blobTx(n, 1, ref)); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("proposal referencing a missing blob: %v, want ErrNotFound", err)
	}
	if kept, dropped := n.blobs.Filter([]*types.Tx{blobTx(n, 1, ref)}); len(kept) != 0 || dropped != 1 {
		t.Fatalf("proposer kept a tx whose blob is missing")
	}
	if _, err := fs.Put(context.Background(), bytes.NewReader(data), 1<<20); err != nil {
		t.Fatal(err)
	}
	wrong := types.BlobRef{Hash: ref.Hash, Size: ref.Size + 1}
	if _, err := proposeAndCommit(t, n, blobTx(n, 1, wrong)); !errors.Is(err, blobstore.ErrSizeMismatch) {
		t.Fatalf("proposal with a wrong blob size: %v, want ErrSizeMismatch", err)
	}
	if n.ledger.Head().Height != 0 {
		t.Fatal("a refused proposal was committed")
	}
	if _, err := proposeAndCommit(t, n, blobTx(n, 1, ref)); err != nil {
		t.Fatalf("proposal with its blob stored: %v", err)
	}
}

// TestConsensusWithoutBlobQuorum is the node-level path of "kill two of
// three": with the JetStream store without a quorum, proposals that
// reference no blob still validate and commit, a proposal that references
// a new blob is refused within the check timeout (its round would move
// on), and a blob confirmed before stays confirmed.
func TestConsensusWithoutBlobQuorum(t *testing.T) {
	c := natstest.Start(t, 3)
	s, err := blobstore.OpenNATS(blobstore.NATSConfig{URLs: c.URLs(), Bucket: "node-test", Replicas: 3, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := testNode(t)
	n.blobs = blobstore.NewChecker(s, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	known, err := s.Put(ctx, bytes.NewReader([]byte("stored while the cluster was whole")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proposeAndCommit(t, n, blobTx(n, 1, known)); err != nil {
		t.Fatalf("blob.record with a stored blob: %v", err)
	}

	c.Kill(1)
	c.Kill(2)
	for i := 0; i < 5; i++ {
		tx := &types.Tx{ChainID: n.genesis.ChainID, Nonce: uint64(2 + i), Timestamp: time.Now().UnixMilli(),
			Payload: &types.Record{Document: []byte(`{"no":"blob"}`)}}
		tx.Sign(gossipKey(9))
		if _, err := proposeAndCommit(t, n, tx); err != nil {
			t.Fatalf("block %d without blob references, store without quorum: %v", i, err)
		}
	}
	if h := n.ledger.Head().Height; h != 6 {
		t.Fatalf("height %d, want 6", h)
	}
	fresh := types.BlobRef{Hash: crypto.Sum([]byte("never stored")), Size: 12}
	start := time.Now()
	_, err = proposeAndCommit(t, n, blobTx(n, 7, fresh))
	if err == nil {
		t.Fatal("a proposal referencing an unconfirmable blob was valid")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("refusal took %v, check timeout is 1s", took)
	}
	if !strings.Contains(err.Error(), "blob") {
		t.Fatalf("refusal does not say why: %v", err)
	}
	t.Logf("refused: %v", err)
	// The blob confirmed before needs no store round trip.
	if _, err := proposeAndCommit(t, n, blobTx(n, 7, known)); err != nil {
		t.Fatalf("blob.record with a blob confirmed earlier: %v", err)
	}
	// The mempool refuses too, with a clear error, and keeps nothing.
	if err := n.blobs.AdmitTx(blobTx(n, 8, fresh)); !errors.Is(err, blobstore.ErrUnavailable) && !errors.Is(err, types.ErrNotFound) {
		t.Fatalf("admission without a quorum: %v", err)
	}
}

// TestScaleOutConfigChecked: unusable blob or stream settings stop a node
// at start with a message naming them.
func TestScaleOutConfigChecked(t *testing.T) {
	for _, tc := range []struct {
		blobs  *BlobsConfig
		stream *StreamConfig
		want   string
	}{
		{blobs: &BlobsConfig{Engine: "s3"}, want: "engine must be files or nats"},
		{blobs: &BlobsConfig{Engine: "nats"}, want: "engine nats needs urls"},
		{blobs: &BlobsConfig{URLs: []string{"nats://x:4222"}}, want: "urls need engine nats"},
		{blobs: &BlobsConfig{Engine: "nats", URLs: []string{"nats://x:4222"}, Replicas: 7}, want: "replicas must be 1 to 5"},
		{stream: &StreamConfig{}, want: "stream: needs urls"},
	} {
		c := DefaultConfig(t.TempDir())
		c.Blobs, c.Stream = tc.blobs, tc.stream
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v %+v: %v, want %q", tc.blobs, tc.stream, err, tc.want)
		}
	}
	c := DefaultConfig(t.TempDir())
	c.Blobs = &BlobsConfig{Engine: "nats", URLs: []string{"nats://x:4222"}}
	c.Stream = &StreamConfig{URLs: []string{"nats://x:4222"}}
	if err := c.Check(); err != nil {
		t.Fatalf("a good config refused: %v", err)
	}
}

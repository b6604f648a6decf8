package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blockstream"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/internal/node"
	"github.com/cairn-db/cairn/types"
)

// TestBlobsOnJetStreamCluster: four validator processes share a blob
// store on a real 3-server JetStream cluster (R=3), and validator 0
// publishes the block stream. A blob uploaded to one validator is
// referenced through another and read back from a third; with two of the
// three servers killed, uploads are refused with a clear error, a
// blob.record of a new blob is refused, and the chain keeps committing
// transactions that reference no blob; with the servers back, the stream
// holds every height.
func TestBlobsOnJetStreamCluster(t *testing.T) {
	c := natstest.Start(t, 3)
	tn := startNetTuned(t, 4, 0, nil, func(i int, cfg *node.Config) {
		cfg.Blobs = &node.BlobsConfig{Engine: "nats", URLs: c.URLs(), Replicas: 3, Bucket: "e2e-blobs",
			CheckTimeout: node.Duration{Duration: 300 * time.Millisecond}}
		if i == 0 {
			cfg.Stream = &node.StreamConfig{URLs: c.URLs(), Replicas: 3}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	users := newKeys(t, 2)
	tn.fund(users, 1000)

	data := make([]byte, 3<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	ref, err := tn.clients[0].PutBlob(ctx, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	s := tn.clients[1].NewSigner(users[0], "e2e")
	tx, err := s.BlobRecord(ctx, []byte(`{"title":"contract scan"}`), ref)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := tn.clients[1].SubmitWait(ctx, tx, 30*time.Second); err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("blob.record through validator 1: %+v %v", r, err)
	}
	var got bytes.Buffer
	if _, err := tn.clients[3].GetBlob(ctx, ref.Hash, &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back from validator 3: %d bytes, %v", got.Len(), err)
	}

	// Two of three servers down.
	c.Kill(1)
	c.Kill(2)
	lost := []byte("uploaded while the store has no quorum")
	_, err = tn.clients[2].PutBlob(ctx, bytes.NewReader(lost), int64(len(lost)))
	if code := client.ErrorCode(err); code != "blob_store_unavailable" {
		t.Fatalf("upload without a quorum: %v, want blob_store_unavailable", err)
	}
	t.Logf("upload without a quorum: %v", err)
	fresh := types.BlobRef{Hash: crypto.Sum(lost), Size: uint64(len(lost))}
	btx, err := s.BlobRecord(ctx, []byte(`{"title":"lost"}`), fresh)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.clients[2].Submit(ctx, btx); err == nil {
		t.Fatal("a blob.record of a blob the store cannot confirm was admitted")
	} else {
		t.Logf("blob.record without a quorum: %v", err)
	}
	start := tn.height(0)
	s2 := tn.clients[2].NewSigner(users[1], "e2e")
	for i := 0; i < 5; i++ {
		kv, err := s2.Put(ctx, "during-outage", "value", nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if r, err := tn.clients[i%4].SubmitWait(ctx, kv, 30*time.Second); err != nil || r.Status != client.StatusCommitted {
			t.Fatalf("kv.put %d with the blob store down: %+v %v", i, r, err)
		}
		t.Logf("kv.put %d committed with the blob store down in %v", i, time.Since(start).Round(time.Millisecond))
	}
	if h := tn.height(0); h < start+5 {
		t.Fatalf("height %d after 5 commits from %d", h, start)
	}

	// Everything back: the stream has every height, in order.
	c.Restart(1)
	c.Restart(2)
	c.WaitReady(60 * time.Second)
	head := tn.height(0)
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	eventually(t, 60*time.Second, "the stream to reach the head", func() bool {
		qctx, qcancel := context.WithTimeout(ctx, 3*time.Second)
		defer qcancel()
		st, err := js.Stream(qctx, blockstream.DefaultStream)
		if err != nil {
			return false
		}
		m, err := st.GetLastMsgForSubject(qctx, blockstream.Subject("e2e"))
		if err != nil {
			return false
		}
		h, err := strconv.ParseUint(m.Header.Get(blockstream.HeaderHeight), 10, 64)
		return err == nil && h >= head
	})
	st, err := js.Stream(ctx, blockstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{blockstream.Subject("e2e")}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := types.LoadGenesis(filepath.Join(tn.dir, "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := g.ValidatorSet()
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= head; h++ {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("stream height %d: %v", h, err)
		}
		sb, err := client.DecodeStreamBlock(m.Data())
		if err == nil {
			err = sb.Verify("e2e", vals)
		}
		if err != nil || sb.Block.Header.Height != h {
			t.Fatalf("stream message %d: %v", h, err)
		}
	}
	// The refused upload is not there. Its metadata may be (the client
	// sends it without waiting for the chunks' acknowledgement), and the
	// bucket's stream may still be electing a leader (503, as documented);
	// neither may make the read hang or succeed.
	var err503 error
	since := time.Now()
	eventually(t, 60*time.Second, "the refused upload to read as not found", func() bool {
		gctx, gcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer gcancel()
		_, err := tn.clients[0].GetBlob(gctx, fresh.Hash, &bytes.Buffer{})
		switch client.ErrorCode(err) {
		case "blob_not_found":
			return true
		case "blob_store_unavailable":
			err503 = err
			return false
		}
		t.Fatalf("the refused upload is visible: %v", err)
		return false
	})
	if err503 != nil {
		t.Logf("the store answered 503 for %v after the restart: %v", time.Since(since).Round(time.Millisecond), err503)
	}
}

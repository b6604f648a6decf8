package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/natstest"
)

// natsCorrupter rewrites a blob's chunks in the object store's stream
// with one bit flipped: same name, same size, other bytes.
func natsCorrupter(c *natstest.Cluster, bucket string) corrupter {
	return func(t *testing.T, h crypto.Hash) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		nc, err := nats.Connect(strings.Join(c.URLs(), ","))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		obs, err := js.ObjectStore(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		data, err := obs.GetBytes(ctx, h.String())
		if err != nil {
			t.Fatal(err)
		}
		info, err := obs.GetInfo(ctx, h.String())
		if err != nil {
			t.Fatal(err)
		}
		st, err := js.Stream(ctx, "OBJ_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		subj := "$O." + bucket + ".C." + info.NUID
		if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x01
		chunk := int(info.Opts.ChunkSize)
		for off := 0; off < len(data); off += chunk {
			if _, err := js.Publish(ctx, subj, data[off:min(off+chunk, len(data))]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func openNATS(t *testing.T, c *natstest.Cluster, bucket string) *blobstore.NATS {
	t.Helper()
	s, err := blobstore.OpenNATS(blobstore.NATSConfig{URLs: c.URLs(), Bucket: bucket, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNATSCluster runs the engine against a real 3-server JetStream
// cluster with R=3: the contract, then one server killed (everything
// readable and writable), then two killed (uploads refused, nothing
// half-written, stored blobs still named and, from the last replica,
// readable or cleanly unavailable), then all back.
func TestNATSCluster(t *testing.T) {
	c := natstest.Start(t, 3)
	const bucket = "cairn-test"
	s := openNATS(t, c, bucket)
	testContract(t, s, natsCorrupter(c, bucket))

	// The failures on a bucket of their own.
	const fbucket = "cairn-failover"
	s = openNATS(t, c, fbucket)
	ctx := context.Background()
	var stored []blobstore.Ref
	var contents [][]byte
	for i := 0; i < 5; i++ {
		data := randomBytes(t, 100<<10+i)
		ref, err := put(t, s, data, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		stored, contents = append(stored, ref), append(contents, data)
	}
	// readEvery reads every stored blob. Right after a server dies, its
	// streams elect new leaders and the client reconnects (a few
	// seconds): reads in that window may fail with ErrUnavailable, never
	// with wrong bytes; each blob must read back whole within the window.
	readEvery := func(when string) {
		t.Helper()
		t.Logf("%s: %s", when, streamState(t, c, "OBJ_"+fbucket))
		for i, ref := range stored {
			start := time.Now()
			for {
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				r, err := s.Open(rctx, ref.Hash)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(r)
					r.Close()
				}
				cancel()
				if err == nil {
					if !bytes.Equal(got, contents[i]) {
						t.Fatalf("%s: blob %d read back different bytes", when, i)
					}
					break
				}
				if time.Since(start) > 45*time.Second {
					t.Fatalf("%s: blob %d: %v (after %v)", when, i, err, time.Since(start))
				}
				t.Logf("%s: blob %d: %v; retrying", when, i, err)
				time.Sleep(500 * time.Millisecond)
			}
		}
	}

	// One of three down: a quorum remains.
	c.Kill(0)
	readEvery("one server down")
	data := randomBytes(t, 300<<10)
	ref, err := put(t, s, data, 1<<20)
	if err != nil {
		t.Fatalf("upload with one server down: %v", err)
	}
	stored, contents = append(stored, ref), append(contents, data)
	c.Restart(0)
	c.WaitReady(60 * time.Second)
	readEvery("server back")
	c.WaitCaughtUp("OBJ_"+fbucket, 60*time.Second)

	// Two of three down: no quorum, no writes.
	c.Kill(1)
	c.Kill(2)
	lost := randomBytes(t, 300<<10)
	pctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	_, err = s.Put(pctx, bytes.NewReader(lost), 1<<20)
	cancel()
	if !errors.Is(err, blobstore.ErrUnavailable) {
		t.Fatalf("upload without a quorum: %v, want ErrUnavailable", err)
	}
	t.Logf("upload without a quorum: %v", err)
	if !strings.Contains(err.Error(), "blob store unavailable") {
		t.Fatalf("error does not say the store is unavailable: %v", err)
	}
	c.Restart(1)
	c.Restart(2)
	c.WaitReady(60 * time.Second)
	// Nothing of the refused upload is visible under its hash.
	deadline := time.Now().Add(30 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := s.Stat(sctx, crypto.Sum(lost))
		cancel()
		if errors.Is(err, blobstore.ErrNotFound) {
			break
		}
		if err == nil {
			t.Fatal("a refused upload is visible under its hash")
		}
		if time.Now().After(deadline) {
			t.Fatalf("store not back after restarts: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	readEvery("all servers back")
}

// TestNATSMetaWithoutChunks: the JetStream client publishes an object's
// metadata right after its chunks, without waiting for their
// acknowledgement, and purges the chunks when the upload fails. Without a
// quorum both can be left in a server's log and committed once the
// quorum is back: the blob's name then exists with no bytes behind it.
// Such a blob must be absent (ErrNotFound) to Stat, which the validators'
// checks and Put's deduplication rely on, and to Open, whose read would
// otherwise wait for chunks that never come; and uploading it again must
// store it whole.
func TestNATSMetaWithoutChunks(t *testing.T) {
	c := natstest.Start(t, 3)
	const bucket = "metaonly"
	s := openNATS(t, c, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := bytes.Repeat([]byte("refused upload "), 20000) // several chunks
	ref, err := s.Put(ctx, bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// What a refused upload can leave: the metadata, its chunks purged.
	nc, err := nats.Connect(strings.Join(c.URLs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(ctx, ref.Hash.String())
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("$O."+bucket+".C."+info.NUID)); err != nil {
		t.Fatal(err)
	}

	if size, err := s.Stat(ctx, ref.Hash); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat of a blob without chunks: %d, %v; want ErrNotFound", size, err)
	}
	if r, err := s.Open(ctx, ref.Hash); !errors.Is(err, blobstore.ErrNotFound) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open of a blob without chunks: %v; want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, bytes.NewReader(data), 1<<20); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, ref.Hash)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded again: %d bytes, %v", len(got), err)
	}
}

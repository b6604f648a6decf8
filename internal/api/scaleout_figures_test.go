package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"io"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/internal/natstest"
	"github.com/cairn-db/cairn/types"
)

var (
	blobFigures = flag.Bool("blob-figures", false, "measure blob throughput and disk use through the API on a local 3-server JetStream cluster (docs/scale-out.md)")
	blobTotalMB = flag.Int("blob-total-mb", 1024, "with -blob-figures: megabytes of blobs to store")
	blobSizeMB  = flag.Int("blob-size-mb", 64, "with -blob-figures: the size of each blob, in megabytes")
)

func dirBytes(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBlobFigures measures, with -blob-figures: upload and download MB/s
// through the API (SDK PutBlob/GetBlob, hashing on both sides) into a
// JetStream object store with R=3 on three local servers, and then the
// disk the chain itself uses (the ledger, with one blob.record per blob)
// against the store's total.
func TestBlobFigures(t *testing.T) {
	if !*blobFigures {
		t.Skip("figures: run with -blob-figures (docs/scale-out.md)")
	}
	c := natstest.Start(t, 3)
	store, err := blobstore.OpenNATS(blobstore.NATSConfig{URLs: c.URLs(), Replicas: 3, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	chain := apitest.New(t, apitest.Options{API: api.Config{Blobs: store, MaxBlobBytes: 1 << 30, BlobTimeout: time.Hour}})
	cl := chain.Client()
	ctx := context.Background()
	size := *blobSizeMB << 20
	count := *blobTotalMB / *blobSizeMB
	blob := make([]byte, size)
	var refs []types.BlobRef
	var up time.Duration
	for i := 0; i < count; i++ {
		if _, err := rand.Read(blob); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ref, err := cl.PutBlob(ctx, bytes.NewReader(blob), int64(size))
		if err != nil {
			t.Fatal(err)
		}
		up += time.Since(start)
		refs = append(refs, ref)
	}
	var down time.Duration
	for _, ref := range refs {
		start := time.Now()
		if _, err := cl.GetBlob(ctx, ref.Hash, io.Discard); err != nil {
			t.Fatal(err)
		}
		down += time.Since(start)
	}
	s := cl.NewSigner(chain.Users[0], apitest.ChainID)
	for i, ref := range refs {
		tx, err := s.BlobRecord(ctx, []byte(`{"n":1}`), ref)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := cl.SubmitWait(ctx, tx, 30*time.Second); err != nil || r.Status != "committed" {
			t.Fatalf("blob.record %d: %+v %v", i, r, err)
		}
	}
	total := float64(count * size)
	t.Logf("blobs: %d x %d MiB = %d MiB, R=3", count, *blobSizeMB, count**blobSizeMB)
	t.Logf("upload   %.1f MB/s (%.1f s)", total/1e6/up.Seconds(), up.Seconds())
	t.Logf("download %.1f MB/s (%.1f s)", total/1e6/down.Seconds(), down.Seconds())
	var storeTotal int64
	for i := 0; i < 3; i++ {
		n := dirBytes(t, c.StoreDir(i))
		storeTotal += n
		t.Logf("JetStream server %d store: %.1f MiB", i, float64(n)/(1<<20))
	}
	t.Logf("store total: %.1f MiB (%.2f x the blobs)", float64(storeTotal)/(1<<20), float64(storeTotal)/total)
	t.Logf("validator ledger: %.2f MiB for %d blob.records at height %d", float64(dirBytes(t, chain.LedgerDir))/(1<<20), count, chain.Ledger.Head().Height)
}

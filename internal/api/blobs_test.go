package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/types"
)

func blobChain(t *testing.T, maxBlob int64) (*apitest.Chain, *blobstore.Files) {
	t.Helper()
	fs, err := blobstore.OpenFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return apitest.New(t, apitest.Options{API: api.Config{Blobs: fs, MaxBlobBytes: maxBlob}}), fs
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBlobUploadDownload(t *testing.T) {
	c, _ := blobChain(t, 4<<20)
	cl := c.Client()
	ctx := context.Background()
	for _, size := range []int{0, 1, 70_000, 4 << 20} {
		data := random(t, size)
		for _, declared := range []int64{int64(size), -1} { // with and without Content-Length
			ref, err := cl.PutBlob(ctx, bytes.NewReader(data), declared)
			if err != nil {
				t.Fatalf("put %d bytes (declared %d): %v", size, declared, err)
			}
			if ref.Hash != crypto.Sum(data) || ref.Size != uint64(size) {
				t.Fatalf("put %d bytes: got %s/%d", size, ref.Hash, ref.Size)
			}
			var out bytes.Buffer
			n, err := cl.GetBlob(ctx, ref.Hash, &out)
			if err != nil || n != uint64(size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("get %d bytes: %d, %v", size, n, err)
			}
		}
	}
}

func TestBlobBadInput(t *testing.T) {
	c, fs := blobChain(t, 1000)
	cl := c.Client()
	ctx := context.Background()
	over := random(t, 1001)
	for _, declared := range []int64{1001, -1} {
		_, err := cl.PutBlob(ctx, bytes.NewReader(over), declared)
		if client.ErrorCode(err) != "blob_too_large" {
			t.Fatalf("over the limit (declared %d): %v, want blob_too_large", declared, err)
		}
	}
	if _, err := fs.Stat(ctx, crypto.Sum(over)); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("refused upload left something: %v", err)
	}
	if _, err := cl.GetBlob(ctx, crypto.Sum([]byte("absent")), &bytes.Buffer{}); client.ErrorCode(err) != "blob_not_found" {
		t.Fatalf("absent blob: %v, want blob_not_found", err)
	}
	if st, b := do(t, "GET", c.URL+"/v1/blobs/nothex", nil); st != http.StatusBadRequest {
		t.Fatalf("bad hash: %d %s", st, b)
	}
}

// TestBlobCorruptionDetected: stored bytes changed on disk are never
// served as the blob: a small blob gets 502 blob_corrupt, a large one (sent
// as it is read) a cut connection; the SDK reports both.
func TestBlobCorruptionDetected(t *testing.T) {
	c, fs := blobChain(t, 16<<20)
	cl := c.Client()
	ctx := context.Background()
	for _, size := range []int{1000, 9 << 20} {
		data := random(t, size)
		ref, err := cl.PutBlob(ctx, bytes.NewReader(data), int64(size))
		if err != nil {
			t.Fatal(err)
		}
		p := fs.Path(ref.Hash)
		b, _ := os.ReadFile(p)
		b[size-1] ^= 0x80
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = cl.GetBlob(ctx, ref.Hash, &bytes.Buffer{})
		if err == nil {
			t.Fatalf("%d-byte corrupted blob served as valid", size)
		}
		if size == 1000 && client.ErrorCode(err) != "blob_corrupt" {
			t.Fatalf("small corrupted blob: %v, want blob_corrupt", err)
		}
		t.Logf("%d bytes: %v", size, err)
	}
}

func TestBlobsDisabled(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	_, err := c.Client().PutBlob(context.Background(), bytes.NewReader([]byte("x")), 1)
	if client.ErrorCode(err) != "blobs_disabled" {
		t.Fatalf("no store: %v, want blobs_disabled", err)
	}
}

// TestBlobRecordAdmission: a blob.record is refused unless every blob it
// references is stored with that size, and the refusal changes nothing;
// once uploaded, the same reference commits.
func TestBlobRecordAdmission(t *testing.T) {
	c, _ := blobChain(t, 1<<20)
	cl := c.Client()
	ctx := context.Background()
	s := cl.NewSigner(c.Users[0], apitest.ChainID)
	data := random(t, 5000)
	ref := types.BlobRef{Hash: crypto.Sum(data), Size: 5000}
	doc := []byte(`{"title":"scan"}`)

	for _, tc := range []struct {
		name string
		ref  types.BlobRef
		code string
	}{
		{"missing", ref, "not_found"},
		{"wrong size", types.BlobRef{Hash: ref.Hash, Size: 4999}, "invalid"},
	} {
		name := tc.name
		if name == "wrong size" {
			if _, err := cl.PutBlob(ctx, bytes.NewReader(data), 5000); err != nil {
				t.Fatal(err)
			}
		}
		s.SetNonce(1)
		tx, err := s.BlobRecord(ctx, doc, tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.Submit(ctx, tx)
		if client.ErrorCode(err) != tc.code {
			t.Fatalf("%s: %v, want %s", name, err, tc.code)
		}
		t.Logf("%s: %v", name, err)
		if _, ok := c.Mempool.Get(tx.Hash()); ok {
			t.Fatalf("%s: refused tx is in the mempool", name)
		}
	}
	if h := c.Ledger.Head().Height; h != 0 {
		t.Fatalf("refusals committed blocks: height %d", h)
	}
	s.SetNonce(1)
	tx, err := s.BlobRecord(ctx, doc, ref)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.SubmitWait(ctx, tx, 10*time.Second)
	if err != nil || res.Status != "committed" {
		t.Fatalf("blob.record with its blob stored: %+v, %v", res, err)
	}
}

package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// ErrBlobMismatch is returned when the bytes a node served (or the name it
// gave an upload) do not match the blob's SHA-256: the node or its store
// is faulty and the bytes must not be used.
var ErrBlobMismatch = errors.New("blob bytes do not match their SHA-256")

// blobHTTP is the client's HTTP client without the overall timeout, which
// would cut a large upload or download: ctx bounds blob calls instead.
func (c *Client) blobHTTP() *http.Client {
	hc := *c.hc
	hc.Timeout = 0
	return &hc
}

// PutBlob uploads what r yields as one blob (PUT /v1/blobs) and returns
// its reference for a blob.record. size is r's length if known (sent as
// Content-Length, so a node refuses an oversized blob before reading it),
// or -1. The SDK hashes the bytes as it sends them and returns
// ErrBlobMismatch if the node names the blob otherwise.
func (c *Client) PutBlob(ctx context.Context, r io.Reader, size int64) (types.BlobRef, error) {
	h := sha256.New()
	body := io.TeeReader(r, h)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.url("/v1/blobs", nil), body)
	if err != nil {
		return types.BlobRef{}, fmt.Errorf("PUT /v1/blobs: %w", err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/json")
	resp, err := c.blobHTTP().Do(req)
	if err != nil {
		return types.BlobRef{}, fmt.Errorf("PUT /v1/blobs: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return types.BlobRef{}, fmt.Errorf("PUT /v1/blobs: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return types.BlobRef{}, decodeError(resp.StatusCode, b)
	}
	var ref types.BlobRef
	if err := json.Unmarshal(b, &ref); err != nil {
		return types.BlobRef{}, fmt.Errorf("PUT /v1/blobs: decode answer: %w", err)
	}
	var sent crypto.Hash
	h.Sum(sent[:0])
	if ref.Hash != sent || (size >= 0 && ref.Size != uint64(size)) {
		return types.BlobRef{}, fmt.Errorf("PUT /v1/blobs: node named the blob %s (%d bytes), sent %s: %w", ref.Hash, ref.Size, sent, ErrBlobMismatch)
	}
	return ref, nil
}

// GetBlob downloads blob h (GET /v1/blobs/{hash}) into w and verifies it:
// a nil error means w received exactly the bytes whose SHA-256 is h. w gets
// the bytes as they arrive, so on any error its content must be discarded.
// It returns the blob's size.
func (c *Client) GetBlob(ctx context.Context, h crypto.Hash, w io.Writer) (uint64, error) {
	path := "/v1/blobs/" + h.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, nil), nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := c.blobHTTP().Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return 0, decodeError(resp.StatusCode, b)
	}
	vr := &verifier{h: sha256.New()}
	n, err := io.Copy(io.MultiWriter(w, vr), resp.Body)
	if err != nil {
		// A node that finds its store's bytes wrong cuts the body short.
		return 0, fmt.Errorf("GET %s: after %d bytes: %w", path, n, err)
	}
	var got crypto.Hash
	vr.h.Sum(got[:0])
	if got != h {
		return 0, fmt.Errorf("GET %s: %d bytes hash to %s: %w", path, n, got, ErrBlobMismatch)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.FormatInt(n, 10) {
		return 0, fmt.Errorf("GET %s: %d bytes, Content-Length %s: %w", path, n, cl, ErrBlobMismatch)
	}
	return uint64(n), nil
}

type verifier struct{ h hash.Hash }

func (v *verifier) Write(p []byte) (int, error) { return v.h.Write(p) }

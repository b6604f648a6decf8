package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/blobstore"
	"github.com/cairn-db/cairn/types"
)

// verifyFirstBytes: blobs up to this size are read and verified whole
// before the first byte is sent, so corruption gets a proper 502; larger
// ones are streamed and, if the end does not verify, the connection is cut
// (the client sees a short body and its own hash check fails too). Kept small: every request in flight may hold one such buffer.
const verifyFirstBytes = 1 << 20

// putBlob stores the request body as a blob (PUT /v1/blobs). A PUT is not a
// "simple" cross-origin request, so a web page cannot send one without a
// CORS preflight, which the API never grants: no Content-Type rule needed.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Blobs == nil {
		return errf(http.StatusServiceUnavailable, "blobs_disabled", "this node has no blob store")
	}
	limit := s.cfg.MaxBlobBytes
	if r.ContentLength > limit {
		return errf(http.StatusRequestEntityTooLarge, "blob_too_large", "blob of %d bytes is over this node's limit of %d bytes", r.ContentLength, limit)
	}
	// The body of a large upload takes longer than RequestTimeout to read.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BlobTimeout))
	ref, err := s.cfg.Blobs.Put(r.Context(), r.Body, limit)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, blobstore.ErrTooLarge) {
		return errf(http.StatusRequestEntityTooLarge, "blob_too_large", "blob is over this node's limit of %d bytes; nothing stored", limit)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/blobs/"+ref.Hash.String())
	writeJSON(w, http.StatusCreated, types.BlobRef{Hash: ref.Hash, Size: ref.Size})
	return nil
}

// getBlob streams a blob (GET /v1/blobs/{hash}), verified as it goes.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Blobs == nil {
		return errf(http.StatusServiceUnavailable, "blobs_disabled", "this node has no blob store")
	}
	h, err := crypto.ParseHash(strings.ToLower(r.PathValue("hash")))
	if err != nil {
		return badRequest("hash: %v", err)
	}
	br, err := s.cfg.Blobs.Open(r.Context(), h)
	if err != nil {
		return err
	}
	defer br.Close()
	var body io.Reader = br
	if br.Size() <= verifyFirstBytes {
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, br); err != nil {
			return err
		}
		body = &buf
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.BlobTimeout))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatUint(br.Size(), 10))
	w.Header().Set("X-Cairn-Blob-Sha256", h.String())
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.WriteHeader(http.StatusOK)
	// All but the last byte as they come; the last only once the reader
	// has verified the whole blob, so a corrupt blob is never sent whole.
	err = nil
	if size := br.Size(); size > 0 {
		if _, err = io.CopyN(w, body, int64(size-1)); err == nil {
			var last []byte
			if last, err = io.ReadAll(body); err == nil {
				_, err = w.Write(last)
			}
		}
	}
	if err == nil {
		_, err = io.ReadAll(body) // an empty blob: verify it too
	}
	if err != nil {
		if errors.Is(err, blobstore.ErrCorrupt) {
			s.log.Error("api: blob corrupt in the store; response cut", "blob", h, "err", err)
		}
		// Headers are out: cutting the connection is the only way left to
		// tell the client the body is not the blob.
		panic(http.ErrAbortHandler)
	}
	return nil
}

// blobError maps the blob store's errors (asAPIError calls it).
func blobError(err error) *apiError {
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		return errf(http.StatusNotFound, "blob_not_found", "%v", err)
	case errors.Is(err, blobstore.ErrTooLarge):
		return errf(http.StatusRequestEntityTooLarge, "blob_too_large", "%v", err)
	case errors.Is(err, blobstore.ErrCorrupt):
		return errf(http.StatusBadGateway, "blob_corrupt", "%v", err)
	case errors.Is(err, blobstore.ErrFull):
		return errf(http.StatusInsufficientStorage, "blob_store_full", "%v; nothing stored", err)
	case errors.Is(err, blobstore.ErrUnavailable):
		return errf(http.StatusServiceUnavailable, "blob_store_unavailable", "%v; nothing was changed, try again later", err)
	case errors.Is(err, blobstore.ErrSizeMismatch):
		return errf(http.StatusUnprocessableEntity, "blob_size_mismatch", "%v", err)
	}
	return nil
}

package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/ledger"
)

// SnapshotSource is what the API serves under /v1/snapshots: the node's
// state snapshots (internal/snapshot), for new nodes that join by state
// sync. A joining node verifies everything it fetches, so these routes
// carry nothing anyone must trust.
type SnapshotSource interface {
	// List summarises the snapshots held, newest first.
	List() client.SnapshotList
	// Wire returns one snapshot's manifest; an error wrapping
	// ErrSnapshotNotFound when there is none at that height.
	Wire(height uint64) (client.SnapshotManifest, error)
	// Open returns chunk i of the snapshot at height and its size; an
	// error wrapping ErrSnapshotNotFound when there is no such chunk.
	Open(height uint64, i int) (io.ReadSeekCloser, int64, error)
}

// ErrSnapshotNotFound is wrapped by SnapshotSource errors for a snapshot
// or chunk it does not hold: answered 404.
var ErrSnapshotNotFound = errors.New("snapshot not found")

// snapshotRoutes are the routes of GET /v1/snapshots. A chunk is a few
// MiB; its route gets a longer deadline than the default for slow links.
func (s *Server) snapshotRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v1/snapshots", h: s.listSnapshots},
		{method: "GET", pattern: "/v1/snapshots/{height}", h: s.getSnapshot},
		{method: "GET", pattern: "/v1/snapshots/{height}/chunks/{index}", h: s.getSnapshotChunk, timeout: 5 * time.Minute},
	}
}

func (s *Server) snapshots() (SnapshotSource, error) {
	if s.cfg.Snapshots == nil {
		return nil, errf(http.StatusNotFound, "not_found", "this node takes no snapshots (config snapshot.interval is 0)")
	}
	return s.cfg.Snapshots, nil
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) error {
	src, err := s.snapshots()
	if err != nil {
		return writeJSON(w, http.StatusOK, client.SnapshotList{Snapshots: []client.SnapshotInfo{}})
	}
	return writeJSON(w, http.StatusOK, src.List())
}

func snapshotHeight(r *http.Request) (uint64, error) {
	p := r.PathValue("height")
	h, err := strconv.ParseUint(p, 10, 64)
	if err != nil || h == 0 {
		return 0, badRequest("height must be a positive integer, got %q", p)
	}
	return h, nil
}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) error {
	h, err := snapshotHeight(r)
	if err != nil {
		return err
	}
	src, err := s.snapshots()
	if err != nil {
		return err
	}
	m, err := src.Wire(h)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) getSnapshotChunk(w http.ResponseWriter, r *http.Request) error {
	h, err := snapshotHeight(r)
	if err != nil {
		return err
	}
	p := r.PathValue("index")
	i, err := strconv.ParseUint(p, 10, 31)
	if err != nil {
		return badRequest("chunk index must be a non-negative integer, got %q", p)
	}
	src, err := s.snapshots()
	if err != nil {
		return err
	}
	f, size, err := src.Open(h, int(i))
	if err != nil {
		return err
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.FormatInt(size, 10))
	hd.Set("X-Content-Type-Options", "nosniff")
	// A chunk of a snapshot never changes: its hash is in the manifest.
	hd.Set("Cache-Control", "public, max-age=86400, immutable")
	w.WriteHeader(http.StatusOK)
	// A copy error means the client left; there is nobody to tell.
	_, _ = io.CopyN(w, f, size)
	return nil
}

// prunedError maps a read of a height the node does not hold.
func prunedError(ue *ledger.UnavailableError) *apiError {
	return &apiError{status: http.StatusGone, code: "height_pruned", msg: ue.Error(),
		extra: map[string]any{"oldest_height": ue.Oldest}}
}

package snapshot

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/cairn-db/cairn/internal/api"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
)

// Info is the manifest's summary in the API's form.
func (m *Manifest) Info() client.SnapshotInfo {
	info := client.SnapshotInfo{Height: m.Height, ChainID: m.ChainID, ManifestHash: m.Hash().String(),
		Chunks: m.Chunks(), Keys: m.Keys, Txs: m.Txs}
	if hdr, _, err := m.Certified(); err == nil {
		info.BlockHash, info.StateRoot = hdr.Hash().String(), hdr.StateRoot.String()
	}
	return info
}

// Wire is the manifest in the API's form (GET /v1/snapshots/{height}).
func (m *Manifest) Wire() client.SnapshotManifest {
	hexes := func(hs []crypto.Hash) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = h.String()
		}
		return out
	}
	return client.SnapshotManifest{SnapshotInfo: m.Info(), ChainChunks: hexes(m.ChainChunks), StateChunks: hexes(m.StateChunks),
		ManifestHex: hex.EncodeToString(m.Encode())}
}

// List returns the summaries of the store's snapshots, newest first.
func (s *Store) List() client.SnapshotList {
	out := client.SnapshotList{Snapshots: []client.SnapshotInfo{}}
	for _, h := range s.Heights() {
		if m, err := s.Manifest(h); err == nil {
			out.Snapshots = append(out.Snapshots, m.Info())
		}
	}
	return out
}

// API returns the store as the API's snapshot source.
func (s *Store) API() api.SnapshotSource { return source{s} }

// source serves a Store through the API.
type source struct{ s *Store }

func (s source) List() client.SnapshotList { return s.s.List() }

func (s source) Wire(height uint64) (client.SnapshotManifest, error) {
	m, err := s.s.Manifest(height)
	if err != nil {
		return client.SnapshotManifest{}, notFoundErr(err)
	}
	return m.Wire(), nil
}

func (s source) Open(height uint64, i int) (io.ReadSeekCloser, int64, error) {
	f, err := s.s.Chunk(height, i)
	if err != nil {
		return nil, 0, notFoundErr(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("snapshot chunk: %w", err)
	}
	return f, st.Size(), nil
}

func notFoundErr(err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %v", api.ErrSnapshotNotFound, err)
	}
	return err
}

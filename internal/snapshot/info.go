package snapshot

import (
	"encoding/hex"

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

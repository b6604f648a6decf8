package client

// SnapshotInfo describes one snapshot a node offers (GET /v1/snapshots):
// the state after Height and what a joining node needs with it, in Chunks
// chunks. Nothing here is trusted by a joining node: it checks the
// manifest's certified header against the genesis validator set and every
// chunk against the manifest (docs/operations.md, "Snapshots and state
// sync").
type SnapshotInfo struct {
	Height       uint64 `json:"height"`
	ChainID      string `json:"chain_id"`
	BlockHash    string `json:"block_hash"`
	StateRoot    string `json:"state_root"`
	ManifestHash string `json:"manifest_hash"`
	Chunks       int    `json:"chunks"`
	Keys         uint64 `json:"keys"`
	Txs          uint64 `json:"txs"`
}

// SnapshotList is the answer of GET /v1/snapshots, newest first.
type SnapshotList struct {
	Snapshots []SnapshotInfo `json:"snapshots"`
}

// SnapshotManifest is the answer of GET /v1/snapshots/{height}: the
// summary, each chunk's hash (chain chunks first, then state chunks) and
// the manifest's canonical bytes, whose SHA-256 is ManifestHash.
type SnapshotManifest struct {
	SnapshotInfo
	ChainChunks []string `json:"chain_chunks"`
	StateChunks []string `json:"state_chunks"`
	ManifestHex string   `json:"manifest_hex"`
}

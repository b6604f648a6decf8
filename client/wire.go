package client

import (
	"time"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/smt"
	"github.com/cairn-db/cairn/types"
)

// This file holds the JSON shapes of the REST API. The server
// (internal/api) encodes exactly these types, so the SDK and the server
// cannot drift apart; docs/api.md and the OpenAPI document describe them.
// Binary values are lower-case hex; times are Unix milliseconds unless the
// field is a time.Time (RFC 3339).

// Transaction statuses reported by GET /v1/txs/{hash} and ?wait=commit.
const (
	StatusPending   = "pending"
	StatusCommitted = "committed" // in a block, receipt ok
	StatusFailed    = "failed"    // in a block, receipt not ok (changed nothing)
	StatusUnknown   = "unknown"
)

// ErrorBody is the "error" member of every error response. A 500 carries
// a fixed message and an ID under which the node logged the detail.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	ID      string `json:"id,omitempty"`
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// Peer is another validator as this node sees it.
type Peer struct {
	Name      string           `json:"name"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Connected bool             `json:"connected"`
	// Since is when the peer connected (or disconnected); zero if never.
	Since time.Time `json:"since,omitzero"`
}

// MempoolStatus is the size of the node's pending pool.
type MempoolStatus struct {
	Txs   int `json:"txs"`
	Bytes int `json:"bytes"`
}

// ConsensusStatus is where the node's consensus engine is.
type ConsensusStatus struct {
	Height uint64 `json:"height"`
	Round  uint32 `json:"round"`
	Step   string `json:"step,omitempty"`
}

// Status is GET /v1/status.
type Status struct {
	ChainID         string            `json:"chain_id"`
	Node            string            `json:"node"`
	Height          uint64            `json:"height"`
	LatestBlockHash crypto.Hash       `json:"latest_block_hash"`
	LatestBlockTime int64             `json:"latest_block_time"`
	StateRoot       crypto.Hash       `json:"state_root"`
	Validators      []types.Validator `json:"validators"`
	ValidatorsHash  crypto.Hash       `json:"validators_hash"`
	TotalPower      uint64            `json:"total_power"`
	QuorumPower     uint64            `json:"quorum_power"`
	Peers           []Peer            `json:"peers"`
	ConnectedPeers  int               `json:"connected_peers"`
	Mempool         MempoolStatus     `json:"mempool"`
	Consensus       ConsensusStatus   `json:"consensus"`
	// SearchEnabled says whether this node keeps a search index; when it
	// does not, IndexedHeight and IndexLag are 0.
	SearchEnabled bool   `json:"search_enabled"`
	IndexedHeight uint64 `json:"indexed_height"`
	// IndexLag is how many committed heights search has not indexed yet.
	IndexLag uint64 `json:"index_lag"`
	// AccountsIndexed says whether this node keeps the account index
	// (GET /v1/accounts/{address}/txs); AccountsIndexedFrom is the height
	// from which its listings are complete: 1, or higher while the node
	// indexes the blocks it held before the index was turned on.
	AccountsIndexed     bool   `json:"accounts_indexed"`
	AccountsIndexedFrom uint64 `json:"accounts_indexed_from,omitempty"`
	// Fees is the chain's price of a transaction (absent: free);
	// types.FeeOf computes one. Permissions is who may submit what
	// (docs/security.md).
	Fees        *types.Fees       `json:"fees,omitempty"`
	Permissions types.Permissions `json:"permissions,omitempty"`
	// Retained is what the node still holds (pruning): state from
	// StateFrom, block bodies from BodiesFrom (0: everything).
	Retained Retained `json:"retained"`
	// P2PCertificate is the p2p TLS certificate the node presents; absent
	// where the node has none (a test chain).
	P2PCertificate *CertificateStatus `json:"p2p_certificate,omitempty"`
}

// Retained is the oldest heights whose state and block bodies a node keeps;
// reads below them answer height_pruned. Headers and certificates are
// always kept.
type Retained struct {
	StateFrom  uint64 `json:"state_from"`
	BodiesFrom uint64 `json:"bodies_from"`
}

// CertificateStatus describes a node's p2p TLS certificate. Peers
// authenticate the node by its genesis key, not the certificate's dates, so
// an expired certificate does not stop it; Expiring means it is within the
// node's warning window, i.e. renewal is failing.
type CertificateStatus struct {
	NotAfter         int64  `json:"not_after"` // Unix milliseconds
	SecondsLeft      int64  `json:"seconds_left"`
	Expiring         bool   `json:"expiring"`
	Renewals         uint64 `json:"renewals"`
	RenewBeforeHours int64  `json:"renew_before_hours"`
}

// ValidatorSet builds the validator set the status reports. A proof checked
// against it is only as trustworthy as the node that sent the status; pass
// the set from a genesis file you trust when that matters.
func (s *Status) ValidatorSet() (*types.ValidatorSet, error) {
	return types.NewValidatorSet(s.Validators)
}

// TxResult is the outcome of one submitted transaction: POST /v1/txs
// answers {"hash"} alone; with ?wait=commit it adds where the tx committed
// and its receipt (status "pending" if the wait timed out).
type TxResult struct {
	Hash    crypto.Hash    `json:"hash"`
	Status  string         `json:"status,omitempty"`
	Height  uint64         `json:"height,omitempty"`
	Index   *uint32        `json:"index,omitempty"` // position in the block, when in one
	Receipt *types.Receipt `json:"receipt,omitempty"`
}

// BatchResult is the answer to a batch POST /v1/txs (a JSON array).
// Hashes[i] and Errors[i] describe tx i: Errors[i] is nil when it was
// accepted; Hashes[i] is the zero hash when tx i could not be parsed.
// Results is set with ?wait=commit (nil entries for refused txs).
type BatchResult struct {
	Accepted int           `json:"accepted"`
	Hashes   []crypto.Hash `json:"hashes"`
	Errors   []*ErrorBody  `json:"errors"`
	Results  []*TxResult   `json:"results,omitempty"`
}

// TxStatus is GET /v1/txs/{hash}. For a committed or failed tx it carries
// its block, receipt, canonical bytes and the RFC 6962 inclusion proof of
// its hash against the block's tx root.
type TxStatus struct {
	Hash       crypto.Hash    `json:"hash"`
	Status     string         `json:"status"`
	Height     uint64         `json:"height,omitempty"`
	Index      *uint32        `json:"index,omitempty"` // position in the block, when in one
	BlockHash  *crypto.Hash   `json:"block_hash,omitempty"`
	Receipt    *types.Receipt `json:"receipt,omitempty"`
	Tx         *types.Tx      `json:"tx,omitempty"`
	TxBytesHex string         `json:"tx_bytes_hex,omitempty"`
	Proof      *merkle.Proof  `json:"proof,omitempty"`
	TxRoot     *crypto.Hash   `json:"tx_root,omitempty"`

	// With ?prove=true, a committed or failed tx also carries what proves
	// its outcome: the canonical receipt bytes, their inclusion proof
	// (of the receipt's result hash) against the header's results root,
	// and the certified header of its block. Verify checks it all.
	ReceiptBytesHex string        `json:"receipt_bytes_hex,omitempty"`
	ReceiptProof    *merkle.Proof `json:"receipt_proof,omitempty"`
	HeaderHex       string        `json:"header_hex,omitempty"`
	Header          *types.Header `json:"header,omitempty"`
	Certificate     *Certificate  `json:"certificate,omitempty"`
}

// CertifiedHeader is a block's canonical header with the certificate that
// commits it: all a verifier needs to trust the header's roots.
type CertifiedHeader struct {
	Height      uint64        `json:"height"`
	Hash        crypto.Hash   `json:"hash"`
	HeaderHex   string        `json:"header_hex"`
	Header      *types.Header `json:"header"`
	Certificate *Certificate  `json:"certificate"`
}

// BlockTx is one transaction of a block: its hash and canonical signed
// bytes (hash = SHA-256 of the bytes); Tx is the decoded JSON form, present
// with ?decode=true.
type BlockTx struct {
	Hash     crypto.Hash `json:"hash"`
	BytesHex string      `json:"bytes_hex"`
	Tx       *types.Tx   `json:"tx,omitempty"`
}

// Receipt is a receipt with its canonical bytes. The results root is the
// RFC 6962 root over the receipts' result hashes: SHA-256 of these bytes
// without the reason field (types.Receipt.ResultBytes, docs/encoding.md 5).
type Receipt struct {
	types.Receipt
	BytesHex string `json:"bytes_hex"`
}

// CertSignature is one precommit signature of a certificate. SignBytesHex
// is exactly what the validator signed with Ed25519 (it includes the
// domain prefix); it is the same for every signature of one certificate.
type CertSignature struct {
	Validator      string           `json:"validator"`
	ValidatorIndex uint16           `json:"validator_index"`
	PublicKey      crypto.PublicKey `json:"public_key"`
	Signature      string           `json:"signature"`
	SignBytesHex   string           `json:"sign_bytes_hex"`
}

// Certificate is a commit certificate: validators holding more than two
// thirds of the voting power precommitted BlockHash at Height in Round.
type Certificate struct {
	Height     uint64          `json:"height"`
	Round      uint32          `json:"round"`
	BlockHash  crypto.Hash     `json:"block_hash"`
	Signatures []CertSignature `json:"signatures"`
}

// Block is GET /v1/blocks/{height}.
type Block struct {
	Height      uint64       `json:"height"`
	Hash        crypto.Hash  `json:"hash"`
	HeaderHex   string       `json:"header_hex"`
	Header      types.Header `json:"header"`
	Txs         []BlockTx    `json:"txs"`
	Receipts    []Receipt    `json:"receipts"`
	Certificate Certificate  `json:"certificate"`
}

// KVValue is GET /v1/kv/{key}: the live version of a key as of ReadHeight
// (the latest height, or ?height). Height is where this version was written.
type KVValue struct {
	Key        string      `json:"key"`
	Value      string      `json:"value"`
	Version    uint64      `json:"version"`
	Height     uint64      `json:"height"`
	TxHash     crypto.Hash `json:"tx_hash"`
	ReadHeight uint64      `json:"read_height"`
}

// KVProof is GET /v1/kv/{key}?prove=true: the key's state entry at Height
// (or its absence) with a sparse Merkle proof against the state root of the
// certified header at Height. Verify checks it end to end.
type KVProof struct {
	Key    string `json:"key"`
	Height uint64 `json:"height"`
	// Found is whether the state holds an entry for the key; a deleted key
	// has an entry (a tombstone, Entry.Deleted).
	Found       bool           `json:"found"`
	Entry       *types.KVEntry `json:"entry,omitempty"`
	StateKeyHex string         `json:"state_key_hex"`
	ValueHex    string         `json:"value_hex,omitempty"`
	Proof       *smt.Proof     `json:"proof"`
	ProofHex    string         `json:"proof_hex"`
	HeaderHex   string         `json:"header_hex"`
	Header      *types.Header  `json:"header"`
	Certificate *Certificate   `json:"certificate"`
}

// AccountProof is GET /v1/accounts/{address}?prove=true: the account's
// state value at Height (or its absence: an address never seen) with a
// sparse Merkle proof against the state root of the certified header at
// Height. Balance and Nonce repeat the proven value (zero when absent);
// Verify checks that they do.
type AccountProof struct {
	Address     crypto.Address `json:"address"`
	Balance     uint64         `json:"balance"`
	Nonce       uint64         `json:"nonce"`
	Height      uint64         `json:"height"`
	Found       bool           `json:"found"`
	StateKeyHex string         `json:"state_key_hex"`
	ValueHex    string         `json:"value_hex,omitempty"`
	Proof       *smt.Proof     `json:"proof"`
	ProofHex    string         `json:"proof_hex"`
	HeaderHex   string         `json:"header_hex"`
	Header      *types.Header  `json:"header"`
	Certificate *Certificate   `json:"certificate"`
}

// KVHistory is GET /v1/kv/{key}/history: versions oldest first
// (deletions included). NextCursor, when set, fetches the next page.
type KVHistory struct {
	Key        string           `json:"key"`
	Versions   []*types.KVEntry `json:"versions"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// Account is GET /v1/accounts/{address}, as of Height.
type Account struct {
	Address crypto.Address `json:"address"`
	Balance uint64         `json:"balance"`
	Nonce   uint64         `json:"nonce"`
	Height  uint64         `json:"height"`
}

// TxSummary is a committed transaction in a list: account history and
// event streams.
type TxSummary struct {
	Hash    crypto.Hash      `json:"hash"`
	Height  uint64           `json:"height"`
	Index   uint32           `json:"index"`
	Type    string           `json:"type"`
	Sender  crypto.PublicKey `json:"sender"`
	Nonce   uint64           `json:"nonce"`
	OK      bool             `json:"ok"`
	Code    types.Code       `json:"code,omitempty"`
	Reason  string           `json:"reason,omitempty"`
	Version uint64           `json:"version,omitempty"`
}

// AccountTxs is GET /v1/accounts/{address}/txs: newest first.
type AccountTxs struct {
	Address    crypto.Address `json:"address"`
	Txs        []TxSummary    `json:"txs"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// BlockEvent is the data of one "block" server-sent event of
// GET /v1/events (the event id is the height). Txs is omitted with
// ?txs=false.
type BlockEvent struct {
	Height      uint64           `json:"height"`
	Hash        crypto.Hash      `json:"hash"`
	Time        int64            `json:"time"`
	Round       uint32           `json:"round"`
	Proposer    crypto.PublicKey `json:"proposer"`
	TxCount     int              `json:"tx_count"`
	FailedCount int              `json:"failed_count"`
	TxRoot      crypto.Hash      `json:"tx_root"`
	StateRoot   crypto.Hash      `json:"state_root"`
	Txs         []TxSummary      `json:"txs,omitempty"`
}

// Health is GET /healthz and GET /readyz.
type Health struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Evidence is one double-sign observed by the node: validator Validator
// signed two different votes of one type for one height and round. Both
// votes verify against the validator's key (check with SignBytesHex).
type Evidence struct {
	Validator string           `json:"validator"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Type      string           `json:"type"`
	Height    uint64           `json:"height"`
	Round     uint32           `json:"round"`
	Votes     []EvidenceVote   `json:"votes"`
}

// EvidenceVote is one of the two conflicting votes.
type EvidenceVote struct {
	BlockHash    crypto.Hash `json:"block_hash"` // zero hash: a vote for nil
	Signature    string      `json:"signature"`
	SignBytesHex string      `json:"sign_bytes_hex"`
}

// EvidenceList is GET /v1/evidence.
type EvidenceList struct {
	Evidence []Evidence `json:"evidence"`
}

// SearchRequest is one GET /v1/search: Query in the language of
// docs/search.md, a Sort order (-height, the default: newest first;
// height, -time, time, -amount, amount, or _score for relevance), a page
// size Limit (0: the node's default, 20; at most 1,000) and the Cursor of
// the previous page (its NextCursor, with the same Query and Sort).
type SearchRequest struct {
	Query  string
	Sort   string
	Limit  int
	Cursor string
	// Prove asks for proof material with every hit (?prove=true): see
	// SearchResult.Verify.
	Prove bool
}

// SearchHit is one matching block or transaction.
type SearchHit struct {
	// ID is the document id: the tx hash, hash@height.index for a replayed
	// copy, block:HEIGHT for a block.
	ID     string `json:"id"`
	Hash   string `json:"hash"`
	Type   string `json:"type"`
	Height uint64 `json:"height"`
	// Index is the transaction's position in its block (absent for blocks).
	Index *uint32 `json:"index,omitempty"`
	// Time is the block time, RFC 3339 in UTC.
	Time   string `json:"time"`
	Status string `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	// Score is the relevance, when sorted by _score.
	Score float64 `json:"score,omitempty"`
	// Snippet is HTML: text escaped, matching terms in <mark>...</mark>.
	// It falls back to a short description when no stored text matched.
	Snippet string `json:"snippet"`
	// Fragments are the highlighted fragments by field.
	Fragments map[string][]string `json:"fragments,omitempty"`
	// Proof is set on transaction hits with ?prove=true; the certified
	// header of the hit's height is in SearchResult.Headers.
	Proof *HitProof `json:"proof,omitempty"`
}

// HitProof proves a transaction hit is a committed transaction with the
// outcome the hit reports: the tx's canonical bytes and their inclusion
// proof against the tx root, the canonical receipt and its inclusion proof
// against the results root, both roots from the certified header of the
// hit's height (SearchResult.Headers).
type HitProof struct {
	TxBytesHex      string       `json:"tx_bytes_hex"`
	TxProof         merkle.Proof `json:"tx_proof"`
	ReceiptBytesHex string       `json:"receipt_bytes_hex"`
	ReceiptProof    merkle.Proof `json:"receipt_proof"`
}

// SearchResult is GET /v1/search: one page of hits.
type SearchResult struct {
	// Total counts every match, not only this page.
	Total uint64      `json:"total"`
	Hits  []SearchHit `json:"hits"`
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string `json:"next_cursor,omitempty"`
	// IndexedHeight is the height the index had reached.
	IndexedHeight uint64  `json:"indexed_height"`
	TookMs        float64 `json:"took_ms"`
	// Headers holds, with ?prove=true, the certified header of every
	// height a hit of this page is at, ascending, each once.
	Headers []CertifiedHeader `json:"headers,omitzero"`
}

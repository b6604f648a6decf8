// Package store is Cairn's block store on Pebble: blocks by height and hash,
// certificates, transactions by hash, receipts and the per-account
// transaction index. The authenticated state (package state) shares the same
// Pebble database under its own prefix 's'.
//
// Key layout (all integers big-endian, so byte order is numeric order):
//
//	'M' "height"                      -> last committed height (8 bytes)
//	'M' "genesis"                     -> SHA-256 of the genesis document
//	'M' "bodies"                      -> oldest height whose body is kept (absent: 0)
//	'H' height                        -> canonical header bytes
//	'B' block hash                    -> height
//	'T' tx hash                       -> height(8) index(4): where it was first committed
//	'Y' height index(4)               -> the tx's record: tx hash(32) receipt length(4)
//	                                     canonical receipt bytes, canonical tx bytes
//	'C' height                        -> canonical certificate bytes
//	'L' height                        -> the last commit the block carries (certificate of height-1)
//	'A' address height index(4)       -> (empty) account tx index, if kept (accounts.go)
//	'M' "accounts"                    -> lowest height from which the account index is complete (absent: 1)
//	'E' height round(4) kind(1) validator(2) -> evidence bytes (one per slot)
//
// A transaction's hash, receipt and bytes are one record keyed by where it
// is in the chain, not by its hash: each block's records land after every
// earlier block's, so Pebble's compactions move them instead of merging
// them into (and rewriting) older data, and one key per transaction (not
// three, as in storage format 2's 'X' hash, 'R' receipt and 'Y' bytes)
// goes through the memtable and compactions. Reading a block's hashes, txs
// or receipts is one scan of its records, reading one tx or receipt one Get.
// Only the small 'T' record is keyed by a random hash. A record holding
// only the hash (32 bytes) names a tx whose body the store does not keep
// (sync.go). Stores of an older layout are refused when the ledger opens
// (internal/state format.go, storage format 3).
//
// Pruned bodies (prune.go): below the oldest body height, a block's tx
// records (hashes, receipts and transaction bytes) are gone; its header,
// certificate, hash index and evidence stay, and so does each 'T' record,
// because execution's replay check asks whether a tx hash was ever
// committed.
//
// Invariant: everything about one height is written by one batch (StageBlock
// plus the state's writes), committed with sync by the ledger; 'M' "height"
// is in that batch, so after a crash the store is at a height whose data is
// complete.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Key prefixes; see the package comment.
const (
	pMeta     = 'M'
	pHeader   = 'H'
	pByHash   = 'B'
	pTx       = 'T'
	pCert     = 'C'
	pAccount  = 'A'
	pEvidence = 'E'
	// pTxRecord keys a tx's record (txRecord) by its location.
	pTxRecord = 'Y'
	// pLastCommit holds the certificate of height-1 a block carries
	// (types.Block.LastCommit); absent at height 1.
	pLastCommit = 'L'
)

var (
	keyHeight  = []byte{pMeta, 'h', 'e', 'i', 'g', 'h', 't'}
	keyGenesis = []byte{pMeta, 'g', 'e', 'n', 'e', 's', 'i', 's'}
)

// ErrNotFound is returned for a block, tx or height the store does not have.
var ErrNotFound = errors.New("not found")

// Store reads and stages block data. It holds no state of its own beyond
// the database handle, so reads are safe from any goroutine.
type Store struct {
	db     *pebble.DB
	oldest atomic.Uint64 // the oldest height with a body (LoadRetention, PruneBodies)
	txs    txFilter      // the tx index's hashes in memory (txfilter.go)
	// acctFrom is the account index's mark (accounts.go).
	acctFrom atomic.Uint64
}

// New wraps an open database. Call LoadRetention before reading a store
// that may have been pruned.
func New(db *pebble.DB) *Store { return &Store{db: db} }

// DB returns the underlying database.
func (s *Store) DB() *pebble.DB { return s.db }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func key(prefix byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	k = append(k, prefix)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func hi(height uint64, index uint32) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 12), height)
	return binary.BigEndian.AppendUint32(b, index)
}

// get returns a copy of the value at k, or ErrNotFound.
func (s *Store) get(k []byte) ([]byte, error) {
	v, c, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, c.Close()
}

// Height returns the last committed height (0 before the first block).
func (s *Store) Height() (uint64, error) {
	v, err := s.get(keyHeight)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read height: %w", err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("read height: corrupt value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// GenesisHash returns the stored genesis hash, or ErrNotFound on a new store.
func (s *Store) GenesisHash() (crypto.Hash, error) {
	v, err := s.get(keyGenesis)
	if err != nil {
		return crypto.Hash{}, err
	}
	var h crypto.Hash
	if len(v) != len(h) {
		return h, fmt.Errorf("genesis hash: corrupt value")
	}
	copy(h[:], v)
	return h, nil
}

// StageGenesis records the genesis hash.
func StageGenesis(b *pebble.Batch, h crypto.Hash) error {
	return b.Set(keyGenesis, h[:], nil)
}

// StageBlock puts a block, its certificate and receipts, the tx index and
// (unless accounts is nil: a node that does not keep it, accounts.go) the
// account index into b, and sets the committed height. It does not commit
// b.
func (s *Store) StageBlock(b *pebble.Batch, blk *types.Block, cert *types.Certificate, receipts []*types.Receipt, accounts [][]crypto.Address) error {
	h := blk.Header.Height
	if len(receipts) != len(blk.Txs) || (accounts != nil && len(accounts) != len(blk.Txs)) {
		return fmt.Errorf("stage block %d: %d txs, %d receipts, %d account lists", h, len(blk.Txs), len(receipts), len(accounts))
	}
	hb := u64(h)
	hash := blk.Hash()
	// Keys go into b in ascending order (and every state key, which
	// follows, sorts after them): Pebble inserts a batch into its memtable
	// in batch order, starting each search where the previous key went, so
	// keys in order cost a short walk each instead of a search from the top
	// of the skiplist with a cache miss at every level.
	hashes := make([][2][]byte, 0, len(blk.Txs))
	for i, tx := range blk.Txs {
		// A replayed tx (failed receipt) keeps the index of its first, real
		// inclusion: the later copy stays reachable through its block.
		// Every copy's record is kept under its own location.
		if receipts[i].Code != types.CodeReplay {
			th := tx.Hash()
			s.txs.add(th)
			hashes = append(hashes, [2][]byte{key(pTx, th[:]), hi(h, uint32(i))})
		}
	}
	slices.SortFunc(hashes, func(x, y [2][]byte) int { return bytes.Compare(x[0], y[0]) })
	if accounts != nil {
		if err := StageAccountIndex(b, h, accounts); err != nil {
			return fmt.Errorf("stage block %d: %w", h, err)
		}
	}
	sets := [][2][]byte{
		{key(pByHash, hash[:]), hb},
		{key(pCert, hb), cert.Encode()},
		{key(pHeader, hb), blk.Header.Encode()},
	}
	if blk.LastCommit != nil {
		sets = append(sets, [2][]byte{key(pLastCommit, hb), blk.LastCommit.Encode()})
	}
	sets = append(sets, [2][]byte{keyHeight, hb})
	sets = append(sets, hashes...)
	for _, kv := range sets {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			return fmt.Errorf("stage block %d: %w", h, err)
		}
	}
	for i, tx := range blk.Txs {
		if err := b.Set(key(pTxRecord, hi(h, uint32(i))), encodeTxRecord(tx.Hash(), receipts[i].Encode(), tx.Bytes()), nil); err != nil {
			return fmt.Errorf("stage block %d: %w", h, err)
		}
	}
	return nil
}

// Header returns the header at height.
func (s *Store) Header(height uint64) (*types.Header, error) {
	v, err := s.get(key(pHeader, u64(height)))
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", height, err)
	}
	h, err := types.DecodeHeader(v)
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", height, err)
	}
	return h, nil
}

// HeaderBytes returns the stored canonical header bytes at height.
func (s *Store) HeaderBytes(height uint64) ([]byte, error) {
	v, err := s.get(key(pHeader, u64(height)))
	if err != nil {
		return nil, fmt.Errorf("header %d: %w", height, err)
	}
	return v, nil
}

// HeightOf returns the height of the block with the given hash.
func (s *Store) HeightOf(hash crypto.Hash) (uint64, error) {
	v, err := s.get(key(pByHash, hash[:]))
	if err != nil {
		return 0, fmt.Errorf("block %s: %w", hash, err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("block %s: corrupt height", hash)
	}
	return binary.BigEndian.Uint64(v), nil
}

// txRecord is a transaction's record under its location: its hash, and,
// when the store keeps the body, its receipt and bytes.
type txRecord struct {
	hash    crypto.Hash
	body    bool
	receipt []byte
	tx      []byte
}

const txRecordHead = len(crypto.Hash{}) + 4

func encodeTxRecord(th crypto.Hash, receipt, tx []byte) []byte {
	v := make([]byte, 0, txRecordHead+len(receipt)+len(tx))
	v = append(v, th[:]...)
	v = binary.BigEndian.AppendUint32(v, uint32(len(receipt)))
	v = append(v, receipt...)
	return append(v, tx...)
}

// decodeTxRecord splits v without copying: the parts alias v.
func decodeTxRecord(v []byte) (txRecord, error) {
	var r txRecord
	if len(v) != len(r.hash) && len(v) < txRecordHead {
		return r, fmt.Errorf("corrupt tx record of %d bytes", len(v))
	}
	copy(r.hash[:], v)
	if len(v) == len(r.hash) {
		return r, nil
	}
	n := uint64(binary.BigEndian.Uint32(v[len(r.hash):]))
	if n > uint64(len(v)-txRecordHead) {
		return r, fmt.Errorf("corrupt tx record: receipt of %d bytes in %d", n, len(v))
	}
	r.body = true
	r.receipt = v[txRecordHead : txRecordHead+int(n)]
	r.tx = v[txRecordHead+int(n):]
	return r, nil
}

// scanTxRecords calls fn with each tx record of the block at height, in
// order, as r sees them. The record aliases the iterator's buffer.
func scanTxRecords(r pebble.Reader, height uint64, fn func(index uint32, rec txRecord) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: key(pTxRecord, hi(height, 0)), UpperBound: key(pTxRecord, u64(height+1))})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 1+12 {
			it.Close()
			return fmt.Errorf("corrupt tx record key %x", k)
		}
		rec, err := decodeTxRecord(it.Value())
		if err == nil {
			err = fn(binary.BigEndian.Uint32(k[9:]), rec)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// getTxRecord returns the record at (height, index), a copy.
func (s *Store) getTxRecord(height uint64, index uint32) (txRecord, error) {
	v, err := s.get(key(pTxRecord, hi(height, index)))
	if err != nil {
		return txRecord{}, err
	}
	return decodeTxRecord(v)
}

// TxHashes returns the transaction hashes of the block at height, in order.
func (s *Store) TxHashes(height uint64) ([]crypto.Hash, error) {
	if err := s.checkBody(height); err != nil {
		return nil, err
	}
	return TxHashesIn(s.db, height)
}

// TxLocation is where a transaction was committed.
type TxLocation struct {
	Height uint64
	Index  uint32
}

// location returns where the hash index says tx h was committed.
func (s *Store) location(h crypto.Hash) (TxLocation, error) {
	v, err := s.get(key(pTx, h[:]))
	if err != nil {
		return TxLocation{}, fmt.Errorf("tx %s: %w", h, err)
	}
	if len(v) != 12 {
		return TxLocation{}, fmt.Errorf("tx %s: corrupt entry", h)
	}
	return TxLocation{Height: binary.BigEndian.Uint64(v), Index: binary.BigEndian.Uint32(v[8:])}, nil
}

// Tx returns a committed transaction and where it is.
func (s *Store) Tx(h crypto.Hash) (*types.Tx, TxLocation, error) {
	loc, err := s.location(h)
	if err != nil {
		return nil, TxLocation{}, err
	}
	tx, err := s.txAt(loc.Height, loc.Index)
	if err != nil {
		return nil, loc, fmt.Errorf("tx %s: %w", h, err)
	}
	return tx, loc, nil
}

// txAt decodes the tx whose record is at (height, index); a record not
// stored, pruned or without its body (never held by a store that joined
// later) answers *PrunedError.
func (s *Store) txAt(height uint64, index uint32) (*types.Tx, error) {
	rec, err := s.getTxRecord(height, index)
	if errors.Is(err, ErrNotFound) || err == nil && !rec.body {
		return nil, &PrunedError{What: "block body", Height: height, Oldest: s.OldestBody()}
	}
	if err != nil {
		return nil, err
	}
	return types.DecodeTx(rec.tx)
}

// HasTx reports whether a transaction hash is committed.
func (s *Store) HasTx(h crypto.Hash) (bool, error) {
	if s.txs.absent(&h) {
		return false, nil
	}
	_, c, err := s.db.Get(key(pTx, h[:]))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tx %s: %w", h, err)
	}
	return true, c.Close()
}

// Block assembles the block at height from its header and transactions.
func (s *Store) Block(height uint64) (*types.Block, error) {
	hdr, err := s.Header(height)
	if err != nil {
		return nil, err
	}
	if err := s.checkBody(height); err != nil {
		return nil, err
	}
	blk := &types.Block{Header: *hdr, Txs: []*types.Tx{}}
	if !hdr.LastCommitHash.IsZero() {
		if blk.LastCommit, err = s.LastCommit(height); err != nil {
			return nil, err
		}
	}
	err = scanTxRecords(s.db, height, func(index uint32, rec txRecord) error {
		if !rec.body {
			return fmt.Errorf("tx %s: %w", rec.hash, &PrunedError{What: "block body", Height: height, Oldest: s.OldestBody()})
		}
		tx, err := types.DecodeTx(rec.tx)
		if err != nil {
			return fmt.Errorf("tx %s at %d/%d: %w", rec.hash, height, index, err)
		}
		blk.Txs = append(blk.Txs, tx)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", height, err)
	}
	return blk, nil
}

// LastCommit returns the last commit block height carries (the
// certificate of height-1 in the block's body).
func (s *Store) LastCommit(height uint64) (*types.Certificate, error) {
	v, err := s.get(key(pLastCommit, u64(height)))
	if err != nil {
		return nil, fmt.Errorf("block %d: last commit: %w", height, err)
	}
	c, err := types.DecodeCertificate(v)
	if err != nil {
		return nil, fmt.Errorf("block %d: last commit: %w", height, err)
	}
	return c, nil
}

// BlockTx returns the transaction th at (height, index) of a block and the
// location its hash index names (its first inclusion; another one for a
// replayed copy).
func (s *Store) BlockTx(height uint64, index uint32, th crypto.Hash) (*types.Tx, TxLocation, error) {
	loc, err := s.location(th)
	if err != nil {
		return nil, TxLocation{}, err
	}
	tx, err := s.txAt(height, index)
	if err != nil {
		return nil, loc, fmt.Errorf("tx %s at %d/%d: %w", th, height, index, err)
	}
	return tx, loc, nil
}

// Receipts returns the receipts of the block at height, in order.
func (s *Store) Receipts(height uint64) ([]*types.Receipt, error) {
	if err := s.checkBody(height); err != nil {
		return nil, err
	}
	var out []*types.Receipt
	err := scanTxRecords(s.db, height, func(index uint32, rec txRecord) error {
		if !rec.body {
			return fmt.Errorf("receipt %d/%d: %w", height, index, ErrNotFound)
		}
		r, err := types.DecodeReceipt(rec.receipt)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("receipts %d: %w", height, err)
	}
	return out, nil
}

// Receipt returns one receipt.
func (s *Store) Receipt(loc TxLocation) (*types.Receipt, error) {
	if err := s.checkBody(loc.Height); err != nil {
		return nil, err
	}
	rec, err := s.getTxRecord(loc.Height, loc.Index)
	if err == nil && !rec.body {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("receipt %d/%d: %w", loc.Height, loc.Index, err)
	}
	return types.DecodeReceipt(rec.receipt)
}

// Certificate returns the certificate of the block at height.
func (s *Store) Certificate(height uint64) (*types.Certificate, error) {
	v, err := s.get(key(pCert, u64(height)))
	if err != nil {
		return nil, fmt.Errorf("certificate %d: %w", height, err)
	}
	c, err := types.DecodeCertificate(v)
	if err != nil {
		return nil, fmt.Errorf("certificate %d: %w", height, err)
	}
	return c, nil
}

// AccountTxs returns up to limit locations of transactions involving a,
// newest first, strictly before the cursor (height, index) when before is set.
func (s *Store) AccountTxs(a crypto.Address, before *TxLocation, limit int) ([]TxLocation, error) {
	lo := key(pAccount, a[:])
	up := key(pAccount, a[:], u64(^uint64(0)), []byte{0xff, 0xff, 0xff, 0xff, 0xff})
	if before != nil {
		up = key(pAccount, a[:], hi(before.Height, before.Index))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: up})
	if err != nil {
		return nil, fmt.Errorf("account index %s: %w", a, err)
	}
	defer it.Close()
	var out []TxLocation
	for it.Last(); it.Valid() && len(out) < limit; it.Prev() {
		k := it.Key()[1+crypto.AddressSize:]
		if len(k) != 12 {
			return nil, fmt.Errorf("account index %s: corrupt key", a)
		}
		out = append(out, TxLocation{Height: binary.BigEndian.Uint64(k), Index: binary.BigEndian.Uint32(k[8:])})
	}
	return out, it.Error()
}

// EvidenceKey names one piece of misbehaviour evidence: at most one record
// is kept per (height, round, kind, validator). Kind is the evidence kind's
// number (internal/consensus.EvidenceKind).
type EvidenceKey struct {
	Height    uint64
	Round     uint32
	Kind      uint8
	Validator uint16
}

func (k EvidenceKey) bytes() []byte {
	b := make([]byte, 0, 15)
	b = binary.BigEndian.AppendUint64(b, k.Height)
	b = binary.BigEndian.AppendUint32(b, k.Round)
	b = append(b, k.Kind)
	b = binary.BigEndian.AppendUint16(b, k.Validator)
	return key(pEvidence, b)
}

// StageEvidence records misbehaviour evidence under k, replacing any
// record of the same key.
func StageEvidence(b *pebble.Batch, k EvidenceKey, ev []byte) error {
	return b.Set(k.bytes(), ev, nil)
}

// HasEvidence reports whether evidence is stored under k.
func (s *Store) HasEvidence(k EvidenceKey) (bool, error) {
	_, err := s.get(k.bytes())
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("evidence: %w", err)
	}
	return true, nil
}

// CountEvidence returns how many records name validator at height, counting
// up to limit.
func (s *Store) CountEvidence(height uint64, validator uint16, limit int) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: key(pEvidence, u64(height)), UpperBound: key(pEvidence, u64(height+1))})
	if err != nil {
		return 0, fmt.Errorf("evidence: %w", err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid() && n < limit; it.Next() {
		k := it.Key()
		if len(k) == 1+15 && binary.BigEndian.Uint16(k[14:]) == validator {
			n++
		}
	}
	return n, it.Error()
}

// Evidence returns stored evidence records, oldest first, up to limit.
func (s *Store) Evidence(limit int) ([][]byte, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pEvidence}, UpperBound: []byte{pEvidence + 1}})
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	defer it.Close()
	var out [][]byte
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		out = append(out, append([]byte(nil), it.Value()...))
	}
	return out, it.Error()
}

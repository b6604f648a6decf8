package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// A ledger that joined the chain from a snapshot (state sync) holds, for
// the heights up to the snapshot's, only what continuing the chain needs:
//
//	'H' height                  -> header bytes        (every height)
//	'B' block hash              -> height              (every height)
//	'Y' height index(4)         -> tx hash             (every height; no receipt or tx bytes)
//	'T' tx hash                 -> height(8) index(4)
//	'C' snapshot height         -> its certificate
//	'M' "statesync"             -> snapshot height (8 bytes)
//
// The 'T' entries keep the replay rule (a committed hash is refused again)
// exactly as on a node with the whole chain, and the tx lists let the node
// serve snapshots of its own whose history checks against the headers;
// there are no receipts or account index entries below the snapshot height.
var (
	keySyncBase  = []byte{pMeta, 's', 't', 'a', 't', 'e', 's', 'y', 'n', 'c'}
	keyRestoring = []byte{pMeta, 'r', 'e', 's', 't', 'o', 'r', 'i', 'n', 'g'}
)

// MarkRestoring records (synced) that a state sync is filling the store:
// until StageSyncHead's batch commits, the store holds a partial chain
// that must never be opened as a ledger.
func (s *Store) MarkRestoring() error {
	if err := s.db.Set(keyRestoring, nil, pebble.Sync); err != nil {
		return fmt.Errorf("mark restore: %w", err)
	}
	return nil
}

// Restoring reports whether a state sync began filling the store and did
// not finish.
func (s *Store) Restoring() (bool, error) {
	_, err := s.get(keyRestoring)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read restore mark: %w", err)
	}
	return true, nil
}

// ErrBodyNotStored is returned for a transaction this store knows was
// committed (its hash is in the replay index) but whose body it does not
// hold: it was committed before the snapshot the node joined from.
var ErrBodyNotStored = errors.New("transaction body not stored")

// SyncBase returns the height of the snapshot this store was built from,
// and false for a store that holds the chain from genesis.
func (s *Store) SyncBase() (uint64, bool, error) {
	v, err := s.get(keySyncBase)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read sync base: %w", err)
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("read sync base: corrupt value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// StageSyncedHeader puts the header of a height below or at the snapshot
// height (already verified by the caller) and its hash index into b.
func StageSyncedHeader(b *pebble.Batch, height uint64, headerBytes []byte, hash crypto.Hash) error {
	hb := u64(height)
	if err := b.Set(key(pHeader, hb), headerBytes, nil); err != nil {
		return fmt.Errorf("stage header %d: %w", height, err)
	}
	if err := b.Set(key(pByHash, hash[:]), hb, nil); err != nil {
		return fmt.Errorf("stage header %d: %w", height, err)
	}
	return nil
}

// StageSyncedTx records that tx hash h was committed at (height, index),
// without its body.
func (s *Store) StageSyncedTx(b *pebble.Batch, h crypto.Hash, height uint64, index uint32) error {
	s.txs.add(h)
	loc := hi(height, index)
	if err := b.Set(key(pTxRecord, loc), h[:], nil); err != nil {
		return fmt.Errorf("stage tx %s: %w", h, err)
	}
	if err := b.Set(key(pTx, h[:]), loc, nil); err != nil {
		return fmt.Errorf("stage tx %s: %w", h, err)
	}
	return nil
}

// StageSyncHead makes the snapshot height the store's height: its
// certificate, the committed height and the sync base.
func StageSyncHead(b *pebble.Batch, cert *types.Certificate) error {
	hb := u64(cert.Height)
	// Bodies are kept from the height after the snapshot (prune.go).
	bodies := u64(cert.Height + 1)
	for _, kv := range [][2][]byte{{key(pCert, hb), cert.Encode()}, {keyHeight, hb}, {keySyncBase, hb}, {keyBodies, bodies}} {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			return fmt.Errorf("stage sync head %d: %w", cert.Height, err)
		}
	}
	if err := b.Delete(keyRestoring, nil); err != nil {
		return fmt.Errorf("stage sync head %d: %w", cert.Height, err)
	}
	return nil
}

// HeaderBytesIn returns the header bytes at height as r (a snapshot of the
// database) sees them.
func HeaderBytesIn(r pebble.Reader, height uint64) ([]byte, error) {
	return getIn(r, key(pHeader, u64(height)))
}

// CertificateIn returns the certificate at height as r sees it.
func CertificateIn(r pebble.Reader, height uint64) (*types.Certificate, error) {
	v, err := getIn(r, key(pCert, u64(height)))
	if err != nil {
		return nil, fmt.Errorf("certificate %d: %w", height, err)
	}
	return types.DecodeCertificate(v)
}

// TxHashesIn returns the tx hashes of the block at height as r sees them.
func TxHashesIn(r pebble.Reader, height uint64) ([]crypto.Hash, error) {
	var out []crypto.Hash
	err := scanTxRecords(r, height, func(_ uint32, rec txRecord) error {
		out = append(out, rec.hash)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tx list %d: %w", height, err)
	}
	return out, nil
}

// SyncBaseIn is SyncBase as r sees it.
func SyncBaseIn(r pebble.Reader) (uint64, bool, error) {
	v, err := getIn(r, keySyncBase)
	if errors.Is(err, ErrNotFound) {
		return 0, false, nil
	}
	if err != nil || len(v) != 8 {
		return 0, false, fmt.Errorf("read sync base: %v (%d bytes)", err, len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func getIn(r pebble.Reader, k []byte) ([]byte, error) {
	v, c, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, c.Close()
}

// BodyStored reports whether the store holds tx h's body (false for a tx
// committed before the snapshot this store joined from, or never).
func (s *Store) BodyStored(h crypto.Hash) (bool, error) {
	loc, err := s.location(h)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rec, err := s.getTxRecord(loc.Height, loc.Index)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tx %s: %w", h, err)
	}
	return rec.body, nil
}

// StageTxLocation makes tx's hash index name (height, index). A joined store
// uses it for a replayed copy of a tx whose first inclusion it holds
// without a body, so that a lookup by hash finds this copy's body and
// receipt: StageBlock puts the copy's record under (height, index) in the
// same batch.
func (s *Store) StageTxLocation(b *pebble.Batch, tx *types.Tx, height uint64, index uint32) error {
	th := tx.Hash()
	s.txs.add(th)
	if err := b.Set(key(pTx, th[:]), hi(height, index), nil); err != nil {
		return fmt.Errorf("stage tx %s: %w", th, err)
	}
	return nil
}

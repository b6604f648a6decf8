package store

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairn-db/cairn/crypto"
)

// The account index ('A' address height index) lists each account's
// transactions for GET /v1/accounts/{address}/txs. Nothing in execution or
// consensus reads it, and it is keyed by address, so a block's entries land
// all over the key space and each compaction out of L0 rewrites a share of
// the index that grows with the chain. A node that does not serve account
// listings (a validator, by default) does not keep it: the ledger then
// passes no account lists to StageBlock.
//
// The mark 'M' "accounts" says from which height the index is complete:
//   - absent: from the first block (a store that always kept it);
//   - AccountIndexOff: not kept;
//   - any other H: every block at H and above is indexed, the blocks below
//     are not (yet). A node that turns the index on marks the next height
//     and builds the rest downwards (the ledger's backfill), lowering the
//     mark with each batch of blocks it indexes, until it reaches the first
//     block or the first one whose body it no longer has.
//
// The mark moves only in a batch that also holds the entries it vouches
// for, so after a crash the index is at least as complete as it says.

// AccountIndexOff is the mark of a store that does not keep the account
// index.
const AccountIndexOff = ^uint64(0)

var keyAccounts = []byte{pMeta, 'a', 'c', 'c', 'o', 'u', 'n', 't', 's'}

// LoadAccountIndexMark reads the account index's mark from the database.
func (s *Store) LoadAccountIndexMark() error {
	v, _, err := s.getHeight(keyAccounts, "account index mark")
	if err != nil {
		return err
	}
	s.acctFrom.Store(max(1, v)) // absent: complete from the first block
	return nil
}

// AccountIndexFrom returns the lowest height from which the account index
// is complete: 1 when it covers every block, AccountIndexOff when the
// store does not keep it.
func (s *Store) AccountIndexFrom() uint64 { return s.acctFrom.Load() }

// StageAccountIndexFrom puts the account index's mark into b; call
// AccountIndexMarked after b commits.
func StageAccountIndexFrom(b *pebble.Batch, from uint64) error {
	if from <= 1 {
		return b.Delete(keyAccounts, nil)
	}
	return b.Set(keyAccounts, u64(from), nil)
}

// AccountIndexMarked records a mark staged by StageAccountIndexFrom whose
// batch has committed.
func (s *Store) AccountIndexMarked(from uint64) { s.acctFrom.Store(max(1, from)) }

// StageAccountIndex puts the account index entries of the block at height
// into b: accounts[i] lists the addresses the block's i-th transaction
// involves.
func StageAccountIndex(b *pebble.Batch, height uint64, accounts [][]crypto.Address) error {
	n := 0
	for _, as := range accounts {
		n += len(as)
	}
	keys := make([][]byte, 0, n)
	for i, as := range accounts {
		idx := hi(height, uint32(i))
		for _, a := range as {
			keys = append(keys, key(pAccount, a[:], idx))
		}
	}
	// In key order: Pebble inserts a sorted batch into its memtable faster.
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		if err := b.Set(k, nil, nil); err != nil {
			return fmt.Errorf("account index of height %d: %w", height, err)
		}
	}
	return nil
}

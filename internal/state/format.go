package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// storageFormat is the layout of the records this version reads and
// writes, kept in the database under keyFormat. The state shares its Pebble
// database with the block store (internal/store), so the number covers
// both: whoever opens the ledger opens the state first and is refused here.
// Format 1 (never recorded: a database without the record that holds state
// is format 1) keyed tree nodes by their hash. Format 2 keys them by
// (version, position), see node.go, and stores child versions in internal
// nodes and the root's version in root records. Format 3 keeps the state
// of format 2 and changes the block store: a transaction's hash, receipt
// and bytes are one record under its location ('Y'), where format 2 had
// three ('X', 'R', 'Y'). Format 4 keys the history by epoch first and
// chains each key's versions, and a latest value carries the height of
// its write (history.go). The tree's hashes, roots and proofs, and every
// byte the store answers, are the same in all of them: only the storage
// differs.
const storageFormat = 4

var keyFormat = []byte{prefixState, prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}

// ErrStorageFormat is the error Open returns for a database written in a
// storage format this version of cairn does not read.
var ErrStorageFormat = errors.New("state: unsupported storage format")

// checkFormat returns an error unless db holds state in storageFormat or
// no state at all; in the latter case it records storageFormat.
func checkFormat(db *pebble.DB) error {
	v, err := readU64(db, keyFormat)
	switch {
	case err == nil && v == storageFormat:
		return nil
	case err == nil:
		return fmt.Errorf("%w: the database is in storage format %d, this cairn reads format %d: "+
			"run the cairn version that wrote it, or re-sync this node from its peers (docs/operations.md, \"Storage format\")", ErrStorageFormat, v, storageFormat)
	case !errors.Is(err, pebble.ErrNotFound):
		return fmt.Errorf("state: open: reading the storage format: %w", err)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixState}, UpperBound: []byte{prefixState + 1}})
	if err != nil {
		return fmt.Errorf("state: open: %w", err)
	}
	has := it.First()
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: open: %w", err)
	}
	if has {
		return fmt.Errorf("%w: the database was written by an older cairn (storage format 1, tree nodes keyed by hash); "+
			"this cairn reads format %d: re-sync this node from its peers (docs/operations.md, \"Storage format\")", ErrStorageFormat, storageFormat)
	}
	if err := db.Set(keyFormat, binary.BigEndian.AppendUint64(nil, storageFormat), pebble.Sync); err != nil {
		return fmt.Errorf("state: open: recording the storage format: %w", err)
	}
	return nil
}

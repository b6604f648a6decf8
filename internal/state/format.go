package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// storageFormat is the layout of the state's records this package reads
// and writes, kept in the database under keyFormat. Format 1 (never
// recorded: a database without the record that holds state is format 1)
// keyed tree nodes by their hash. Format 2 keys them by (version,
// position), see node.go, and stores child versions in internal nodes and
// the root's version in root records. The tree's hashes, roots and proofs
// are the same in both: only the storage differs.
const storageFormat = 2

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
		return fmt.Errorf("%w: the database's state is in storage format %d, this cairn reads format %d: "+
			"run the cairn version that wrote it, or re-sync this node from its peers (docs/operations.md)", ErrStorageFormat, v, storageFormat)
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
		return fmt.Errorf("%w: the database's state was written by an older cairn (storage format 1, tree nodes keyed by hash); "+
			"this cairn reads format %d: re-sync this node from its peers (docs/operations.md, \"Storage format\")", ErrStorageFormat, storageFormat)
	}
	if err := db.Set(keyFormat, binary.BigEndian.AppendUint64(nil, storageFormat), pebble.Sync); err != nil {
		return fmt.Errorf("state: open: recording the storage format: %w", err)
	}
	return nil
}

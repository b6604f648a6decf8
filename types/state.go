package types

import (
	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Keys in the authenticated state are namespaced by a one-byte prefix so an
// account can never collide with a user key.
const (
	stateAccountPrefix = 'a'
	stateKVPrefix      = 'k'
)

// AccountKey is the state key of an account.
func AccountKey(a crypto.Address) []byte {
	return append([]byte{stateAccountPrefix}, a[:]...)
}

// KVKey is the state key of a user key.
func KVKey(key string) []byte {
	return append([]byte{stateKVPrefix}, key...)
}

// Account is an account's state: its balance and the nonce of the last
// transaction it sent (0 before the first).
type Account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

// Encode returns the canonical bytes (16 bytes).
func (a Account) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 16)}
	e.U64(a.Balance)
	e.U64(a.Nonce)
	return e.B
}

// DecodeAccount parses canonical account bytes.
func DecodeAccount(b []byte) (Account, error) {
	d := canon.NewDecoder(b, "account", ErrNonCanonical)
	a := Account{Balance: d.U64("balance"), Nonce: d.U64("nonce")}
	return a, d.Finish()
}

// KVEntry is one version of a user key as stored in the state: the value
// and where it was written. Deleted marks a tombstone version.
type KVEntry struct {
	Version uint64      `json:"version"`
	Height  uint64      `json:"height"`
	TxHash  crypto.Hash `json:"tx_hash"`
	Deleted bool        `json:"deleted"`
	Value   string      `json:"value"`
}

// Encode returns the canonical bytes.
func (v *KVEntry) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 53+len(v.Value))}
	e.U64(v.Version)
	e.U64(v.Height)
	e.Fixed(v.TxHash[:])
	e.Bool(v.Deleted)
	e.Bytes32([]byte(v.Value))
	return e.B
}

// DecodeKVEntry parses canonical KVEntry bytes.
func DecodeKVEntry(b []byte) (*KVEntry, error) {
	d := canon.NewDecoder(b, "kv entry", ErrNonCanonical)
	v := &KVEntry{}
	v.Version = d.U64("version")
	v.Height = d.U64("height")
	d.Fixed(v.TxHash[:], "tx_hash")
	v.Deleted = d.Bool("deleted")
	v.Value = string(d.Bytes32("value", MaxValueBytesHard))
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return v, nil
}

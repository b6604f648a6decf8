package types

import (
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
	e := encoder{b: make([]byte, 0, 16)}
	e.u64(a.Balance)
	e.u64(a.Nonce)
	return e.b
}

// DecodeAccount parses canonical account bytes.
func DecodeAccount(b []byte) (Account, error) {
	d := decoder{b: b, what: "account"}
	a := Account{Balance: d.u64("balance"), Nonce: d.u64("nonce")}
	return a, d.finish()
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
	e := encoder{b: make([]byte, 0, 53+len(v.Value))}
	e.u64(v.Version)
	e.u64(v.Height)
	e.fixed(v.TxHash[:])
	e.bool(v.Deleted)
	e.bytes32([]byte(v.Value))
	return e.b
}

// DecodeKVEntry parses canonical KVEntry bytes.
func DecodeKVEntry(b []byte) (*KVEntry, error) {
	d := decoder{b: b, what: "kv entry"}
	v := &KVEntry{}
	v.Version = d.u64("version")
	v.Height = d.u64("height")
	d.fixed(v.TxHash[:], "tx_hash")
	v.Deleted = d.bool("deleted")
	v.Value = string(d.bytes32("value", MaxValueBytesHard))
	if err := d.finish(); err != nil {
		return nil, err
	}
	return v, nil
}

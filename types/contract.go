package types

import (
	"crypto/sha256"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Contracts live in three namespaces of the authenticated state, so that
// code, instances and every key a contract writes have state proofs like any
// other key (docs/encoding.md, "Contract state"):
//
//	'w' codeHash(32)          -> instrumented WebAssembly code (stored once per hash)
//	'i' name                  -> ContractInfo
//	'c' len(name)(1) name key -> ContractEntry, one version of a contract key
//
// The length byte before a contract's name makes one contract's keys never a
// prefix range of another's, so a range read of one contract is one
// contiguous range of state keys.
const (
	stateContractCodePrefix = 'w'
	stateContractInfoPrefix = 'i'
	stateContractKeyPrefix  = 'c'
)

// Contract state limits.
const (
	// MaxContractNameBytes bounds an instance name.
	MaxContractNameBytes = 64
	// MaxContractKeyBytes and MaxContractValueBytes bound what a contract
	// may write (the runtime's defaults enforce the same numbers).
	MaxContractKeyBytes   = 1024
	MaxContractValueBytes = 64 << 10
)

// CheckContractName reports whether name is a valid instance name: 1 to 64
// bytes of lower-case ASCII letters, digits, '.', '_' and '-', starting with
// a letter. Names appear in URLs, search queries and state keys, so they are
// kept to characters that need no escaping anywhere.
func CheckContractName(name string) error {
	if name == "" || len(name) > MaxContractNameBytes {
		return Errf(CodeMalformed, "contract name must be 1..%d bytes", MaxContractNameBytes)
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return Errf(CodeMalformed, "contract name %q must start with a lower-case letter", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return Errf(CodeMalformed, "contract name %q: byte %d (%q) is not one of a-z 0-9 . _ -", name, i, c)
		}
	}
	return nil
}

// ContractAddress is the account of contract instance name: the native
// tokens it holds live there. The first 20 bytes of
// SHA-256("cairn/contract-address/v1\x00" || name).
func ContractAddress(name string) crypto.Address {
	h := sha256.Sum256(append([]byte("cairn/contract-address/v1\x00"), name...))
	var a crypto.Address
	copy(a[:], h[:])
	return a
}

// ContractCodeKey is the state key of deployed code, by the SHA-256 of its
// instrumented bytes.
func ContractCodeKey(codeHash crypto.Hash) []byte {
	return append([]byte{stateContractCodePrefix}, codeHash[:]...)
}

// ContractCodeRange is the state key range [start, end) holding all
// deployed code.
func ContractCodeRange() (start, end []byte) {
	return []byte{stateContractCodePrefix}, []byte{stateContractCodePrefix + 1}
}

// ContractInfoRange is the state key range [start, end) holding every
// contract instance's info, in name order.
func ContractInfoRange() (start, end []byte) {
	return []byte{stateContractInfoPrefix}, []byte{stateContractInfoPrefix + 1}
}

// ContractInfoKey is the state key of a contract instance's metadata.
func ContractInfoKey(name string) []byte {
	return append([]byte{stateContractInfoPrefix}, name...)
}

// ContractKeyPrefix is the prefix of every state key of one contract's
// namespace. name must pass CheckContractName.
func ContractKeyPrefix(name string) []byte {
	b := make([]byte, 0, 2+len(name))
	b = append(b, stateContractKeyPrefix, byte(len(name)))
	return append(b, name...)
}

// IsContractKey reports whether state key k is a key of some contract's
// namespace (whose history contracts read during execution).
func IsContractKey(k []byte) bool { return len(k) > 0 && k[0] == stateContractKeyPrefix }

// ContractKey is the state key of one key of a contract's namespace.
func ContractKey(name string, key []byte) []byte {
	return append(ContractKeyPrefix(name), key...)
}

// ContractKeyRange returns the state key range [start, end) holding the
// contract keys k with from <= k < to; a nil to means no upper bound within
// the contract's namespace.
func ContractKeyRange(name string, from, to []byte) (start, end []byte) {
	p := ContractKeyPrefix(name)
	start = append(append([]byte(nil), p...), from...)
	if to != nil {
		return start, append(append([]byte(nil), p...), to...)
	}
	// The prefix ends in the name's last byte, which is never 0xff, so
	// incrementing it gives the first key past the namespace.
	end = append([]byte(nil), p...)
	end[len(end)-1]++
	return start, end
}

// ContractInfo is a contract instance's metadata as stored in the state.
type ContractInfo struct {
	Name     string      `json:"name"`
	CodeHash crypto.Hash `json:"code_hash"`
	// Owner may upgrade the instance to other code.
	Owner crypto.Address `json:"owner"`
	// Created is the height of the instantiation, Updated that of the last
	// upgrade (equal to Created before any).
	Created uint64 `json:"created"`
	Updated uint64 `json:"updated"`
}

// Encode returns the canonical bytes.
func (c *ContractInfo) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 1+len(c.Name)+32+20+16)}
	e.U8(uint8(len(c.Name)))
	e.Fixed([]byte(c.Name))
	e.Fixed(c.CodeHash[:])
	e.Fixed(c.Owner[:])
	e.U64(c.Created)
	e.U64(c.Updated)
	return e.B
}

// DecodeContractInfo parses canonical ContractInfo bytes.
func DecodeContractInfo(b []byte) (*ContractInfo, error) {
	d := canon.NewDecoder(b, "contract info", ErrNonCanonical)
	c := &ContractInfo{}
	n := d.U8("name length")
	c.Name = string(d.Take(int(n), "name"))
	d.Fixed(c.CodeHash[:], "code_hash")
	d.Fixed(c.Owner[:], "owner")
	c.Created = d.U64("created")
	c.Updated = d.U64("updated")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if err := CheckContractName(c.Name); err != nil {
		return nil, fmt.Errorf("contract info: %w: %v", ErrNonCanonical, err)
	}
	return c, nil
}

// ContractEntry is one version of a contract key as stored in the state:
// the value and the transaction that wrote it. Deleted marks a tombstone
// (its Value is empty), so a key's history records its deletion.
type ContractEntry struct {
	Height  uint64      `json:"height"`
	TxHash  crypto.Hash `json:"tx_hash"`
	Deleted bool        `json:"deleted"`
	Value   []byte      `json:"value"`
}

// Encode returns the canonical bytes.
func (v *ContractEntry) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 45+len(v.Value))}
	e.U64(v.Height)
	e.Fixed(v.TxHash[:])
	e.Bool(v.Deleted)
	e.Bytes32(v.Value)
	return e.B
}

// DecodeContractEntry parses canonical ContractEntry bytes.
func DecodeContractEntry(b []byte) (*ContractEntry, error) {
	d := canon.NewDecoder(b, "contract entry", ErrNonCanonical)
	v := &ContractEntry{}
	v.Height = d.U64("height")
	d.Fixed(v.TxHash[:], "tx_hash")
	v.Deleted = d.Bool("deleted")
	v.Value = d.Bytes32("value", MaxContractValueBytes)
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if v.Deleted && len(v.Value) != 0 {
		return nil, fmt.Errorf("contract entry: %w: a tombstone has a value", ErrNonCanonical)
	}
	return v, nil
}

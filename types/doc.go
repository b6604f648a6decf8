// Package types is Cairn's data model and its one canonical encoding: the
// signed transaction (Tx, with a payload of one of the registered types) and
// its strict JSON form, Header, Block, Receipt, Vote, Certificate,
// ValidatorSet, Genesis and Params, the state values (Account, KVEntry), and
// the typed rejection codes (TxError). Every byte string Cairn hashes, signs
// or stores is encoded here or in package canon; docs/encoding.md specifies
// them for independent verifiers.
//
// Invariants:
//
//   - One encoding per value. Decoders refuse anything that is not exactly
//     the canonical encoding of a well-formed value (trailing bytes, bad
//     lengths, non-canonical record JSON, ...) with an error wrapping
//     ErrNonCanonical, so re-encoding a decoded value reproduces its input
//     byte for byte and a hash of the bytes is a hash of the value. Fuzz
//     targets check this for every decoder.
//   - Signatures and hashes cover the binary encoding, never JSON. A Tx is
//     immutable once signed or decoded: its encoding and hash are cached.
//   - The JSON form is strict: unknown fields, missing required fields,
//     trailing data and a member name repeated in any object (record
//     document included) are errors (*TxError malformed or unknown_type),
//     and a parsed Tx is checked for the same well-formedness as a decoded
//     one. Record documents and genesis files repeat no member name either:
//     other languages' parsers may read a different value than Go's.
//   - Transaction types are registered once, in TxTypes (txtypes.go); type
//     numbers are part of the encoding and never reused. Adding one is a
//     checklist (docs/architecture.md, "Adding a transaction type").
//   - Rejection codes (Code) are stable: they appear in receipts, API errors
//     and the search index.
//   - No clock, randomness or state: everything here is a function of its
//     inputs (the only I/O is reading and writing a genesis file). What
//     depends on a chain's state is decided in internal/execute, not here.
package types

// Package contract is the SDK for Cairn contracts: Go programs built with
// the standard toolchain for WebAssembly (GOOS=wasip1 GOARCH=wasm,
// -buildmode=c-shared; `cairn contract build DIR` runs exactly that) and
// run by validators in a sandbox, metered by gas.
//
// A contract registers its functions from an init function; main is never
// called:
//
//	func init() {
//		contract.Init(func(args []byte) ([]byte, error) { ... })
//		contract.Register("issue", issue)
//	}
//	func main() {}
//
// A function's returned error fails its transaction: every write, transfer
// and event of the call is discarded (so is a panic, reported as an error).
// State is the contract's own namespace of the ledger's authenticated state:
// GetState, PutState, DelState, GetStateByRange (one bounded page at a
// time), GetHistoryForKey. Caller, TxHash, Height, Time and Self describe
// the call; Emit records an event in the receipt (indexed by search as
// `contract:NAME event:EVENT`); Call invokes another contract; Transfer
// moves native tokens the contract holds.
//
// Everything a contract can observe is the same on every validator: time.Now
// is the block time, crypto/rand and math/rand's seed come from the
// transaction hash, and there is no file system, network or environment.
// Floating point works and is deterministic (NaNs are canonicalised), but
// money belongs in integers.
//
// The package compiles only for wasip1; on other platforms it offers the
// types alone, so tools can refer to them.
package contract

// Address is an account address (20 bytes): a user's, or a contract's own
// (the account its tokens are held in).
type Address [20]byte

// KV is one entry of a range page.
type KV struct {
	Key, Value []byte
}

// Version is one committed version of a key, for GetHistoryForKey.
type Version struct {
	Height  uint64
	Deleted bool
	Value   []byte
}

// Handler is a contract function: its argument bytes in, its result out.
type Handler func(args []byte) ([]byte, error)

// Package txfixtures holds one valid, signed sample transaction per
// registered transaction type (types.TxTypes). The tests that check that
// every consumer of the type list handles every type (execute, mempool,
// search, the CLI) run these samples; its own test checks that there is
// exactly one sample per registered type.
//
// Invariants:
//   - Deterministic: fixed keys, fixed timestamps, and Ed25519 signing is
//     deterministic, so a sample's bytes and hash are the same on every run.
//   - A sequence: Txs signs the samples with one sender and consecutive
//     nonces, in registry order. Executed in that order on a state where
//     the sender holds Balance and no key under KeyPrefix exists, every one
//     succeeds (kv.delete deletes what kv.put wrote; the field samples open
//     a field of the sender and FieldPeer with a deposit of FieldDeposit from
//     the sender, close it unilaterally at state 1, challenge with state 2
//     claiming wrong balances, dispute them with payment 2, and close it
//     cooperatively at state 2, all within its challenge period; the
//     contract samples deploy ContractModule, instantiate it as
//     ContractName, invoke it with 50 tokens of funds and upgrade it to the
//     same code; the
//     governance samples grant Recipient the role SampleRole and revoke it,
//     which needs the sender to be a governor: Params and Roles give the
//     chain that makes it one; validator.update adds SampleValidator to
//     the chain's validator set).
package txfixtures

import (
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// ChainID is a chain id for tests that have no chain of their own.
const ChainID = "cairn-fixtures"

// Balance is what the sender needs for every sample to succeed.
const Balance uint64 = 1000

// KeyPrefix starts every state key the samples write.
const KeyPrefix = "fixture/"

// Timestamp is every sample's timestamp (Unix ms).
const Timestamp int64 = 1_700_000_000_000

// Key returns deterministic test key i (i >= 0).
func Key(i int) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	copy(seed[:], "txfixtures")
	seed[len(seed)-2], seed[len(seed)-1] = byte(i>>8), byte(i)
	return crypto.MustKeyFromSeed(seed)
}

// BlobContent is the bytes of the blob the blob.record sample references.
var BlobContent = []byte("the txfixtures blob: bulk payload bytes kept outside the ledger\n")

// SampleRole is the role the governance samples grant and revoke.
const SampleRole = "writers"

// Params are the chain parameters the samples run under: the defaults with
// governance on (one governor's approval, its own signature, suffices).
func Params() types.Params {
	p := types.DefaultParams()
	p.GovernanceThreshold = 1
	return p
}

// Roles makes sender k the chain's one governor, as the governance samples
// need: put it in the genesis (or write GenesisRoleWrites) of the chain the
// samples run on.
func Roles(k *crypto.PrivateKey) []types.Role {
	return []types.Role{{Name: types.RoleGovernors, Members: []crypto.Address{k.Public().Address()}}}
}

// SampleValidator is the key the validator.update sample adds.
func SampleValidator() crypto.PublicKey { return Key(2000).Public() }

// Recipient is the address the transfer sample pays.
func Recipient() crypto.Address { return Key(1000).Public().Address() }

// samples builds each type's sample payload. A new type needs an entry
// here; TestOneSamplePerType fails until it has one.
// Samples that carry signatures of their own (payment fields) depend on the
// chain id and on the sender's key.
var samples = map[types.TxType]func(chainID string, k *crypto.PrivateKey) types.Payload{
	types.TxTransfer: func(string, *crypto.PrivateKey) types.Payload { return &types.Transfer{To: Recipient(), Amount: 250} },
	types.TxKVPut: func(string, *crypto.PrivateKey) types.Payload {
		return &types.KVPut{Key: KeyPrefix + "color", Value: "blue"}
	},
	types.TxKVDelete: func(string, *crypto.PrivateKey) types.Payload { return &types.KVDelete{Key: KeyPrefix + "color"} },
	types.TxRecord: func(string, *crypto.PrivateKey) types.Payload {
		return &types.Record{Document: []byte(`{"fixture":"record","tags":["a","b"],"n":1}`)}
	},
	types.TxFieldOpen: func(chainID string, k *crypto.PrivateKey) types.Payload { return sampleField(chainID, k).open },
	types.TxFieldCloseUnilateral: func(chainID string, k *crypto.PrivateKey) types.Payload {
		return sampleField(chainID, k).unilateral
	},
	types.TxFieldChallenge: func(chainID string, k *crypto.PrivateKey) types.Payload { return sampleField(chainID, k).challenge },
	types.TxFieldDispute:   func(chainID string, k *crypto.PrivateKey) types.Payload { return sampleField(chainID, k).dispute },
	types.TxFieldClose:     func(chainID string, k *crypto.PrivateKey) types.Payload { return sampleField(chainID, k).close },
	types.TxRoleGrant: func(string, *crypto.PrivateKey) types.Payload {
		return &types.RoleGrant{RoleChange: types.RoleChange{Role: SampleRole, Address: Recipient(), Approvals: []types.Approval{}}}
	},
	types.TxRoleRevoke: func(string, *crypto.PrivateKey) types.Payload {
		return &types.RoleRevoke{RoleChange: types.RoleChange{Role: SampleRole, Address: Recipient(), Approvals: []types.Approval{}}}
	},
	// Adds SampleValidator; the chain needs a validator set in its state
	// (every genesis writes one) whose total power is at least 4, so that
	// a power-1 join fits in one step.
	types.TxValidatorUpdate: func(string, *crypto.PrivateKey) types.Payload {
		return &types.ValidatorUpdate{Op: types.ValidatorAdd, PublicKey: SampleValidator(), Power: 1, Name: "fixture-validator",
			Addr: "127.0.0.1:26699", Approvals: []types.Approval{}}
	},
	// Its blob is BlobContent: a node with a blob store admits it only once
	// that is stored.
	types.TxBlobRecord: func(string, *crypto.PrivateKey) types.Payload {
		return &types.BlobRecord{Document: []byte(`{"fixture":"blob.record"}`),
			Blobs: []types.BlobRef{{Hash: crypto.Sum(BlobContent), Size: uint64(len(BlobContent))}}}
	},
}

// Payload returns a fresh sample payload of type t for chainID and sender
// k, or false when the package has none.
func Payload(t types.TxType, chainID string, k *crypto.PrivateKey) (types.Payload, bool) {
	mk, ok := samples[t]
	if !ok {
		mk, ok = contractSamples()[t]
	}
	if !ok {
		mk, ok = stakingSamples()[t]
	}
	if !ok {
		return nil, false
	}
	return mk(chainID, k), true
}

// Txs returns one signed sample per registered type, in registry order,
// for chainID, signed by k with nonces first, first+1, ... It fails tb
// when a registered type has no sample.
func Txs(tb testing.TB, chainID string, k *crypto.PrivateKey, first uint64) []*types.Tx {
	tb.Helper()
	var txs []*types.Tx
	for i, info := range types.TxTypes() {
		p, ok := Payload(info.Type, chainID, k)
		if !ok {
			tb.Fatalf("txfixtures has no sample %s transaction: add one to samples", info.Name)
		}
		tx := &types.Tx{ChainID: chainID, Nonce: first + uint64(i), Timestamp: Timestamp, Payload: p}
		tx.Sign(k)
		txs = append(txs, tx)
	}
	return txs
}

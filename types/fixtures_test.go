package types

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/merkle"
)

// Deterministic fixtures shared by the tests, the fuzz seeds and the worked
// example in docs/encoding.md. Ed25519 signing is deterministic, so every
// encoding below is the same on every run.

const testChain = "cairn-test"

// testKey returns the key whose 32-byte seed is b repeated.
func testKey(b byte) *crypto.PrivateKey {
	var seed [crypto.SeedSize]byte
	for i := range seed {
		seed[i] = b
	}
	return crypto.MustKeyFromSeed(seed)
}

func u64p(v uint64) *uint64 { return &v }

// transferMax has every integer field at its maximum.
func transferMax(k *crypto.PrivateKey) *Tx {
	tx := &Tx{ChainID: testChain, Nonce: math.MaxUint64, Timestamp: math.MaxInt64,
		Payload: &Transfer{To: testKey(3).Public().Address(), Amount: math.MaxUint64}}
	tx.Sign(k)
	return tx
}

// namedTx is a fixture transaction and a short name for test output.
type namedTx struct {
	name string
	tx   *Tx
}

// recordDoc is a canonical document with HTML-sensitive characters and
// non-ASCII text, to exercise the record canonical-JSON rule.
var recordDoc = mustCanonical(`{"html":"<tag>&</tag>","text":"héllo ☃ 😀","n":[1,2.5,-3e10,true,null],"sep":"a` + "\u2028" + `b"}`)

func mustCanonical(s string) json.RawMessage {
	c, err := CanonicalJSON([]byte(s))
	if err != nil {
		panic(err)
	}
	return c
}

// sampleTransfer is the worked example of docs/encoding.md.
func sampleTransfer() *Tx {
	tx := &Tx{
		ChainID:   testChain,
		Nonce:     1,
		Timestamp: 1700000000000,
		Payload:   &Transfer{To: testKey(2).Public().Address(), Amount: 250},
	}
	tx.Sign(testKey(1))
	return tx
}

// sampleTxs covers all four payload types, with and without expect_version.
func sampleTxs() []namedTx {
	k := testKey(1)
	mk := func(nonce uint64, p Payload) *Tx {
		tx := &Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1700000000000 + int64(nonce), Payload: p}
		tx.Sign(k)
		return tx
	}
	return []namedTx{
		{"transfer", sampleTransfer()},
		{"transfer-max", transferMax(k)},
		{"kv.put", mk(2, &KVPut{Key: "users/alice", Value: `{"age":31}`})},
		{"kv.put-expect", mk(3, &KVPut{Key: "users/alice", Value: "v2", ExpectVersion: u64p(1)})},
		{"kv.put-expect-zero", mk(4, &KVPut{Key: "ключ/🔑", Value: "", ExpectVersion: u64p(0)})},
		{"kv.delete", mk(5, &KVDelete{Key: "users/alice"})},
		{"kv.delete-expect", mk(6, &KVDelete{Key: "users/bob", ExpectVersion: u64p(7)})},
		{"record", mk(7, &Record{Document: recordDoc})},
		{"record-scalar", mk(8, &Record{Document: json.RawMessage(`"just a string"`)})},
		{"field.open", mk(9, sampleFieldOpen(k))},
		{"field.close_unilateral", mk(10, &FieldCloseUnilateral{sampleClaim(3)})},
		{"field.challenge", mk(11, &FieldChallenge{sampleClaim(4)})},
		{"field.dispute", mk(12, sampleDispute())},
		{"field.close", mk(13, &FieldClose{sampleClaim(0)})},
		{"blob.record", mk(14, &BlobRecord{Document: recordDoc, Blobs: []BlobRef{
			{Hash: crypto.Sum([]byte("blob one")), Size: 8}, {Hash: crypto.Sum(nil), Size: 0}}})},
	}
}

// sampleContractTxs are the contract transactions' samples, kept apart
// from sampleTxs so that the block, header and receipt vectors built from
// sampleTxs stay as they were.
func sampleContractTxs() []namedTx {
	k := testKey(1)
	mk := func(nonce uint64, p Payload) *Tx {
		tx := &Tx{ChainID: testChain, Nonce: nonce, Timestamp: 1700000000000 + int64(nonce), Payload: p}
		tx.Sign(k)
		return tx
	}
	code := crypto.Sum([]byte("sample code"))
	return []namedTx{
		{"contract.deploy", mk(14, &ContractDeploy{Code: []byte("\x00asm\x01\x00\x00\x00")})},
		{"contract.instantiate", mk(15, &ContractInstantiate{Name: "voucher", CodeHash: code, Owner: k.Public().Address(), Args: []byte(`{"issuer":"x"}`), GasLimit: 5_000_000})},
		{"contract.instantiate-noargs", mk(16, &ContractInstantiate{Name: "a.b_c-1", CodeHash: code, GasLimit: 1})},
		{"contract.invoke", mk(17, &ContractInvoke{Name: "voucher", Function: "issue", Args: []byte{0, 0xff, '{'}, GasLimit: 1_000_000, Funds: 42})},
		{"contract.invoke-nofunds", mk(18, &ContractInvoke{Name: "voucher", Function: "get", GasLimit: ^uint64(0)})},
		{"contract.upgrade", mk(19, &ContractUpgrade{Name: "voucher", CodeHash: code})},
	}
}

// sampleGovernanceTxs are the governance samples, kept apart from
// sampleTxs like the contract ones: a grant approved by a second governor
// and a revoke.
func sampleGovernanceTxs() []namedTx {
	k := testKey(1)
	revoke := &Tx{ChainID: testChain, Nonce: 21, Timestamp: 1700000000021,
		Payload: &RoleRevoke{RoleChange{Role: "writers", Address: testKey(2).Public().Address(), Approvals: []Approval{}}}}
	revoke.Sign(k)
	return []namedTx{{"role.grant", sampleRoleGrant(k)}, {"role.revoke", revoke}, {"validator.update", sampleValidatorUpdate(k)}}
}

// sampleValidatorUpdate adds a validator, approved by a second governor.
func sampleValidatorUpdate(k *crypto.PrivateKey) *Tx {
	tx := &Tx{ChainID: testChain, Sender: k.Public(), Nonce: 22, Timestamp: 1700000000022,
		Payload: &ValidatorUpdate{Op: ValidatorAdd, PublicKey: testKey(9).Public(), Power: 3, Name: "v9", Addr: "127.0.0.1:19709", Approvals: []Approval{}}}
	if err := Approve(tx, testKey(3)); err != nil {
		panic(err)
	}
	tx.Sign(k)
	return tx
}

// sampleRoleGrant is a grant approved by a second governor.
func sampleRoleGrant(k *crypto.PrivateKey) *Tx {
	tx := &Tx{ChainID: testChain, Sender: k.Public(), Nonce: 20, Timestamp: 1700000000020,
		Payload: &RoleGrant{RoleChange{Role: "writers", Address: testKey(2).Public().Address(), Approvals: []Approval{}}}}
	if err := Approve(tx, testKey(3)); err != nil {
		panic(err)
	}
	tx.Sign(k)
	return tx
}

func sampleFieldOpen(k *crypto.PrivateKey) *FieldOpen {
	t := FieldTerms{FieldID: crypto.Sum([]byte("sample field")), Leader: k.Public(),
		Members:         []FieldMember{{Key: k.Public(), Deposit: 100}, {Key: testKey(2).Public(), Deposit: 0}, {Key: testKey(3).Public(), Deposit: 7}},
		ChallengePeriod: 10, Expiry: 1000, Penalty: 5}
	o := &FieldOpen{FieldTerms: t}
	for _, kk := range []*crypto.PrivateKey{k, testKey(2), testKey(3)} {
		o.Joins = append(o.Joins, kk.Sign(crypto.DomainFieldJoin, JoinSignBytes(testChain, &t)))
	}
	return o
}

func sampleClaim(state uint64) FieldStateClaim {
	return FieldStateClaim{FieldID: crypto.Sum([]byte("sample field")), State: state, Root: crypto.Sum([]byte("root")),
		Balances: []uint64{50, 30, 27}, Signatures: []FieldSig{{1}, {2}, {}}}
}

func sampleDispute() *FieldDispute {
	return &FieldDispute{FieldID: crypto.Sum([]byte("sample field")),
		Payment: FieldPayment{Seq: 5, From: 0, To: 2, Amount: 9, PayerSeq: 3, PayerSig: FieldSig{9}, Balances: []uint64{50, 30, 27}},
		Proof:   merkle.Proof{Index: 4, Size: 5, Path: []crypto.Hash{{1}, {2}}}}
}

// cloneTx copies the fields of tx into a fresh Tx without its cached
// encoding, so Bytes() re-encodes from the fields.
func cloneTx(tx *Tx) *Tx {
	return &Tx{ChainID: tx.ChainID, Sender: tx.Sender, Nonce: tx.Nonce, Timestamp: tx.Timestamp, Payload: tx.Payload, Signature: tx.Signature}
}

// testValidators returns n validators with keys testKey(100+i) and the
// given powers (all 1 when powers is empty).
func testValidators(n int, powers ...uint64) ([]*crypto.PrivateKey, *ValidatorSet) {
	keys := make([]*crypto.PrivateKey, n)
	vals := make([]Validator, n)
	for i := range keys {
		keys[i] = testKey(byte(100 + i))
		p := uint64(1)
		if len(powers) > 0 {
			p = powers[i]
		}
		vals[i] = Validator{Name: fmt.Sprintf("v%d", i), PublicKey: keys[i].Public(), Power: p}
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		panic(err)
	}
	return keys, vs
}

// sampleBlock returns a block at height 2 holding txs, with consistent
// tx_count and tx_root.
func sampleBlock(txs []*Tx) *Block {
	_, vs := testValidators(4)
	b := &Block{
		Header: Header{
			ChainID:        testChain,
			Height:         2,
			Round:          1,
			Time:           1700000001234,
			Proposer:       testKey(100).Public(),
			ParentHash:     crypto.Sum([]byte("parent")),
			TxCount:        uint32(len(txs)),
			ResultsRoot:    crypto.Sum([]byte("results")),
			StateRoot:      crypto.Sum([]byte("state")),
			ValidatorsHash: vs.Hash(),
			// The sample's next set is the same.
			NextValidatorsHash: vs.Hash(),
		},
		Txs: txs,
	}
	b.Header.TxRoot = b.ComputeTxRoot()
	return b
}

func allSampleTxs() []*Tx {
	var out []*Tx
	for _, n := range sampleTxs() {
		out = append(out, n.tx)
	}
	return out
}

func sampleReceipts() []*Receipt {
	txs := sampleTxs()
	return []*Receipt{
		{TxHash: txs[0].tx.Hash(), OK: true},
		{TxHash: txs[2].tx.Hash(), OK: true, Version: 1},
		{TxHash: txs[3].tx.Hash(), OK: false, Code: CodeVersionConflict, Reason: `key "users/alice" is at version 2, expected 1`},
		{TxHash: txs[1].tx.Hash(), OK: false, Code: CodeInsufficientBalance, Reason: "balance 0, transfer 18446744073709551615"},
	}
}

// sampleCertificate is signed by validators idx of a 4-validator set.
func sampleCertificate(idx ...uint16) (*Certificate, *ValidatorSet) {
	keys, vs := testValidators(4)
	block := crypto.Sum([]byte("block"))
	var votes []Vote
	for _, i := range idx {
		votes = append(votes, SignVote(keys[i], testChain, Precommit, 9, 2, block, i))
	}
	return NewCertificate(9, 2, block, votes), vs
}

func sampleKVEntries() []*KVEntry {
	return []*KVEntry{
		{Version: 1, Height: 2, TxHash: crypto.Sum([]byte("t1")), Value: `{"age":31}`},
		{Version: 2, Height: 5, TxHash: crypto.Sum([]byte("t2")), Deleted: true},
		{Version: ^uint64(0), Height: ^uint64(0), TxHash: crypto.Sum([]byte("t3")), Value: "ünïcødé"},
	}
}

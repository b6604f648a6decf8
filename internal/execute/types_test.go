package execute

import (
	"fmt"
	"sort"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/state"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// mapReader is committed state in a map; nothing is committed by hash.
type mapReader map[string][]byte

func (m mapReader) Get(key []byte) ([]byte, bool, error) {
	v, ok := m[string(key)]
	return v, ok, nil
}

func (m mapReader) TxCommitted(crypto.Hash) (bool, error) { return false, nil }

// Scan visits the map's keys in order (a ContractReader, for contracts'
// range reads).
func (m mapReader) Scan(start, end []byte, fn func(key, value []byte) (bool, error)) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k >= string(start) && k < string(end) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if more, err := fn([]byte(k), m[k]); err != nil || !more {
			return err
		}
	}
	return nil
}

// HistoryNewest: a map keeps no history.
func (m mapReader) HistoryNewest([]byte, int) ([]state.Version, error) { return nil, nil }

// mustContractKey returns a contract key's entry as written.
func mustContractKey(t *testing.T, writes map[string][]byte, name, key string) *types.ContractEntry {
	t.Helper()
	raw, ok := writes[string(types.ContractKey(name, []byte(key)))]
	if !ok {
		t.Fatalf("contract %s key %q not written", name, key)
	}
	e, err := types.DecodeContractEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// effects says what each registered type must write, beyond the sender's
// account (checked for every type). A new type needs an entry:
// TestEveryTypeExecutes fails until it has one.
var effects = map[types.TxType]func(t *testing.T, tx *types.Tx, rc *types.Receipt, writes map[string][]byte){
	types.TxTransfer: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.Transfer)
		to := mustAccount(t, writes, p.To)
		if to.Balance != p.Amount {
			t.Errorf("transfer: recipient balance %d, want %d", to.Balance, p.Amount)
		}
		if len(writes) != 2 {
			t.Errorf("transfer: %d keys written, want sender and recipient", len(writes))
		}
	},
	types.TxKVPut: func(t *testing.T, tx *types.Tx, rc *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.KVPut)
		e := mustEntry(t, writes, p.Key)
		if e.Deleted || e.Value != p.Value || e.Version != rc.Version || rc.Version == 0 || e.TxHash != tx.Hash() {
			t.Errorf("kv.put: entry %+v, receipt version %d", e, rc.Version)
		}
	},
	types.TxKVDelete: func(t *testing.T, tx *types.Tx, rc *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.KVDelete)
		e := mustEntry(t, writes, p.Key)
		if !e.Deleted || e.Version != rc.Version || rc.Version == 0 || e.TxHash != tx.Hash() {
			t.Errorf("kv.delete: entry %+v, receipt version %d", e, rc.Version)
		}
	},
	types.TxRecord: func(t *testing.T, _ *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		// A record's effect is its presence in the ledger: state only sees
		// the sender's nonce.
		if len(writes) != 1 {
			t.Errorf("record: %d keys written, want only the sender's account", len(writes))
		}
	},
	types.TxBlobRecord: func(t *testing.T, _ *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		// As a record: the blobs' availability is checked outside execution.
		if len(writes) != 1 {
			t.Errorf("blob.record: %d keys written, want only the sender's account", len(writes))
		}
	},
	types.TxFieldOpen: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.FieldOpen)
		f := mustField(t, writes, p.FieldID)
		if f.Status != types.FieldOpenStatus || f.Due != p.Expiry+1 || f.OpenTx != tx.Hash() {
			t.Errorf("field.open: field %+v", f)
		}
		for _, m := range p.Members {
			if got := writes[string(types.FieldMemberKey(m.Key.Address()))]; string(got) != string(p.FieldID[:]) {
				t.Errorf("field.open: member %s not marked in the field", m.Key)
			}
		}
		if acc := mustAccount(t, writes, tx.Sender.Address()); acc.Balance != txfixtures.Balance-250-txfixtures.FieldDeposit {
			t.Errorf("field.open: sender balance %d, deposit not locked", acc.Balance)
		}
	},
	types.TxFieldCloseUnilateral: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.FieldCloseUnilateral)
		f := mustField(t, writes, p.FieldID)
		if f.Status != types.FieldClosingStatus || f.Pending.Kind != types.CloseUnilateral || f.Pending.State != p.State || f.Pending.Submitter != 0 {
			t.Errorf("field.close_unilateral: pending %+v", f.Pending)
		}
	},
	types.TxFieldChallenge: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.FieldChallenge)
		f := mustField(t, writes, p.FieldID)
		if f.Pending.Kind != types.CloseChallenge || f.Pending.State != p.State || len(f.Penalties) != 0 {
			t.Errorf("field.challenge: pending %+v penalties %+v (the sender challenged its own close: no penalty)", f.Pending, f.Penalties)
		}
	},
	types.TxFieldDispute: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.FieldDispute)
		f := mustField(t, writes, p.FieldID)
		if f.Pending.Kind != types.CloseDispute || fmt.Sprint(f.Pending.Balances) != fmt.Sprint(p.Payment.Balances) {
			t.Errorf("field.dispute: pending %+v, want the balances of payment %d", f.Pending, p.Payment.Seq)
		}
	},
	types.TxContractDeploy: func(t *testing.T, _ *types.Tx, rc *types.Receipt, writes map[string][]byte) {
		if code, ok := writes[string(types.ContractCodeKey(txfixtures.ContractCodeHash()))]; !ok || vm.CodeHash(code) != txfixtures.ContractCodeHash() {
			t.Errorf("contract.deploy: code not stored under its hash")
		}
		if rc.Contract != nil || len(writes) != 2 {
			t.Errorf("contract.deploy: contract section %+v, %d keys written (want code and sender)", rc.Contract, len(writes))
		}
	},
	types.TxContractInstantiate: func(t *testing.T, tx *types.Tx, rc *types.Receipt, writes map[string][]byte) {
		info, err := types.DecodeContractInfo(writes[string(types.ContractInfoKey(txfixtures.ContractName))])
		if err != nil || info.CodeHash != txfixtures.ContractCodeHash() || info.Owner != tx.Sender.Address() || info.Created != info.Updated {
			t.Errorf("contract.instantiate: info %+v, %v", info, err)
		}
		if e := mustContractKey(t, writes, txfixtures.ContractName, "k"); string(e.Value) != "v" || e.TxHash != tx.Hash() {
			t.Errorf("contract.instantiate: Init wrote %+v", e)
		}
		if rc.Contract == nil || rc.Contract.GasUsed == 0 {
			t.Errorf("contract.instantiate: contract section %+v", rc.Contract)
		}
	},
	types.TxContractInvoke: func(t *testing.T, tx *types.Tx, rc *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.ContractInvoke)
		if e := mustContractKey(t, writes, p.Name, "k"); e.TxHash != tx.Hash() {
			t.Errorf("contract.invoke: entry %+v", e)
		}
		if acc := mustAccount(t, writes, types.ContractAddress(p.Name)); acc.Balance != p.Funds {
			t.Errorf("contract.invoke: contract balance %d, want the funds %d", acc.Balance, p.Funds)
		}
		if acc := mustAccount(t, writes, tx.Sender.Address()); acc.Balance != txfixtures.Balance-250-txfixtures.FieldDeposit-p.Funds {
			t.Errorf("contract.invoke: sender balance %d, funds not taken once", acc.Balance)
		}
		if rc.Contract == nil || rc.Contract.GasUsed == 0 || rc.Contract.GasUsed > p.GasLimit {
			t.Errorf("contract.invoke: contract section %+v", rc.Contract)
		}
	},
	types.TxContractUpgrade: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		info, err := types.DecodeContractInfo(writes[string(types.ContractInfoKey(txfixtures.ContractName))])
		if err != nil || info.Updated <= info.Created {
			t.Errorf("contract.upgrade: info %+v, %v", info, err)
		}
	},
	types.TxRoleGrant: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		c := tx.Payload.(*types.RoleGrant)
		if v := writes[string(types.RoleMemberKey(c.Role, c.Address))]; len(v) != 1 || v[0] != types.RoleMember {
			t.Errorf("role.grant: membership %x", v)
		}
		if n, err := types.DecodeU64(writes[string(types.RoleCountKey(c.Role))]); err != nil || n != 1 {
			t.Errorf("role.grant: count %d, %v", n, err)
		}
	},
	types.TxRoleRevoke: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		c := tx.Payload.(*types.RoleRevoke)
		if v := writes[string(types.RoleMemberKey(c.Role, c.Address))]; len(v) != 1 || v[0] != types.RoleNotMember {
			t.Errorf("role.revoke: membership %x", v)
		}
		if n, err := types.DecodeU64(writes[string(types.RoleCountKey(c.Role))]); err != nil || n != 0 {
			t.Errorf("role.revoke: count %d, %v", n, err)
		}
	},
	types.TxValidatorUpdate: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.ValidatorUpdate)
		target, err := types.DecodeValidators(writes[string(types.TargetValidatorsKey())])
		if err != nil || target[len(target)-1].PublicKey != p.PublicKey {
			t.Errorf("validator.update: target %v, %v", target, err)
		}
		info, err := types.DecodeValidatorInfo(writes[string(types.ValidatorInfoKey(p.PublicKey))])
		if err != nil || info.Addr != p.Addr {
			t.Errorf("validator.update: info %+v, %v", info, err)
		}
	},
	types.TxFieldClose: func(t *testing.T, tx *types.Tx, _ *types.Receipt, writes map[string][]byte) {
		p := tx.Payload.(*types.FieldClose)
		f := mustField(t, writes, p.FieldID)
		if f.Pending.Kind != types.CloseCooperative || f.Pending.Submitter != types.NoMember || f.Pending.TxHash != tx.Hash() {
			t.Errorf("field.close: pending %+v", f.Pending)
		}
	},
}

func mustField(t *testing.T, writes map[string][]byte, id crypto.Hash) *types.Field {
	t.Helper()
	raw, ok := writes[string(types.FieldKey(id))]
	if !ok {
		t.Fatalf("field %s not written", id)
	}
	f, err := types.DecodeField(raw)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustAccount(t *testing.T, writes map[string][]byte, a crypto.Address) types.Account {
	t.Helper()
	raw, ok := writes[string(types.AccountKey(a))]
	if !ok {
		t.Fatalf("account %s not written", a)
	}
	acc, err := types.DecodeAccount(raw)
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func mustEntry(t *testing.T, writes map[string][]byte, key string) *types.KVEntry {
	t.Helper()
	raw, ok := writes[string(types.KVKey(key))]
	if !ok {
		t.Fatalf("key %q not written", key)
	}
	e, err := types.DecodeKVEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Every registered type executes: its sample, run as a block of its own on
// the state the samples before it left, succeeds, bumps the sender's nonce
// and has the effect its type promises.
func TestEveryTypeExecutes(t *testing.T) {
	k := txfixtures.Key(0)
	from := k.Public().Address()
	state := mapReader{string(types.AccountKey(from)): types.Account{Balance: txfixtures.Balance}.Encode()}
	keys, values := (&types.Genesis{Roles: txfixtures.Roles(k)}).RoleWrites()
	for i := range keys {
		state[string(keys[i])] = values[i]
	}
	for _, w := range genesisValidators(&types.Genesis{Validators: testVals(4)}) {
		state[string(w.Key)] = w.Value
	}
	for i, tx := range txfixtures.Txs(t, txfixtures.ChainID, k, 1) {
		name := tx.Type().String()
		check, ok := effects[tx.Type()]
		if !ok {
			t.Errorf("%s: no expected effect in this test: say what the type writes", name)
			continue
		}
		res, err := Block(state, txfixtures.ChainID, txfixtures.Params(), Env{Height: uint64(i + 1), TimeMs: 1_700_000_000_000}, []*types.Tx{tx}, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rc := res.Receipts[0]
		if !rc.OK {
			t.Fatalf("%s: failed receipt: %s", name, rc.Reason)
		}
		writes := map[string][]byte{}
		for _, w := range res.Writes {
			writes[string(w.Key)] = w.Value
			state[string(w.Key)] = w.Value
		}
		if acc := mustAccount(t, writes, from); acc.Nonce != tx.Nonce {
			t.Errorf("%s: sender nonce %d, want %d", name, acc.Nonce, tx.Nonce)
		}
		check(t, tx, rc, writes)
	}
}

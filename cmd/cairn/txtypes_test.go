package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

// txArgs gives, per registered type, the `cairn tx` arguments that build
// a given payload of that type. A new type needs an entry here, or one in
// txWithoutCLI saying why it has no subcommand.
var txArgs = map[types.TxType]func(p types.Payload) []string{
	types.TxTransfer: func(p types.Payload) []string {
		t := p.(*types.Transfer)
		return []string{"transfer", t.To.String(), jsonText(t.Amount)}
	},
	types.TxKVPut: func(p types.Payload) []string {
		kv := p.(*types.KVPut)
		return append([]string{"put", kv.Key, kv.Value}, expectArgs(kv.ExpectVersion)...)
	},
	types.TxKVDelete: func(p types.Payload) []string {
		kv := p.(*types.KVDelete)
		return append([]string{"delete", kv.Key}, expectArgs(kv.ExpectVersion)...)
	},
	types.TxRecord:               func(p types.Payload) []string { return []string{"record", string(p.(*types.Record).Document)} },
	types.TxFieldOpen:            fieldArgs("field.open"),
	types.TxFieldClose:           fieldArgs("field.close"),
	types.TxFieldCloseUnilateral: fieldArgs("field.close_unilateral"),
	types.TxFieldChallenge:       fieldArgs("field.challenge"),
	types.TxFieldDispute:         fieldArgs("field.dispute"),
	types.TxContractDeploy:       fieldArgs("contract.deploy"),
	types.TxContractInstantiate:  fieldArgs("contract.instantiate"),
	types.TxContractInvoke:       fieldArgs("contract.invoke"),
	types.TxContractUpgrade:      fieldArgs("contract.upgrade"),
	types.TxRoleGrant: func(p types.Payload) []string {
		c := p.(*types.RoleGrant)
		return []string{"role.grant", c.Role, c.Address.String()}
	},
	types.TxRoleRevoke: func(p types.Payload) []string {
		c := p.(*types.RoleRevoke)
		return []string{"role.revoke", c.Role, c.Address.String()}
	},
	types.TxBlobRecord:      fieldArgs("blob.record"),
	types.TxValidatorUpdate: fieldArgs("validator.update"),
	// Staking: the generic JSON form (cairn validator and cairn stake
	// build the same payloads; stake_test.go).
	types.TxValidatorRegister: fieldArgs("validator.register"),
	types.TxStakeDelegate:     fieldArgs("stake.delegate"),
	types.TxStakeUndelegate:   fieldArgs("stake.undelegate"),
	types.TxStakeVote:         fieldArgs("stake.vote"),
	types.TxValidatorUnjail:   fieldArgs("validator.unjail"),
	types.TxEvidenceSubmit:    fieldArgs("evidence.submit"),
}

// txWithoutCLI lists the types deliberately left out of `cairn tx`, each
// with the reason. Empty: every type has a subcommand.
var txWithoutCLI = map[types.TxType]string{}

func fieldArgs(kind string) func(p types.Payload) []string {
	return func(p types.Payload) []string { return []string{kind, jsonText(p)} }
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func expectArgs(v *uint64) []string {
	if v == nil {
		return nil
	}
	return []string{"--expect-version", jsonText(*v)}
}

// Every registered type has a `cairn tx` subcommand (or is listed as
// deliberately CLI-less), and the subcommand signs exactly the payload asked
// for: the dry run of each sample's arguments prints that sample's payload.
func TestEveryTypeHasTxCommand(t *testing.T) {
	k := txfixtures.Key(0)
	key := keyFile(t, k)
	for _, tx := range txfixtures.Txs(t, txfixtures.ChainID, k, 1) {
		name := tx.Type().String()
		argsOf, ok := txArgs[tx.Type()]
		if _, skip := txWithoutCLI[tx.Type()]; skip {
			if ok {
				t.Errorf("%s: both in txArgs and txWithoutCLI", name)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: no `cairn tx` subcommand in this test: add one to txArgs, or the type to txWithoutCLI with a reason", name)
			continue
		}
		args := append([]string{"tx"}, argsOf(tx.Payload)...)
		args = append(args, "--key", key, "--node=http://127.0.0.1:1", "--nonce=1", "--chain-id="+txfixtures.ChainID, "--dry-run")
		code, stdout, stderr := run(t, args...)
		if code != 0 {
			t.Errorf("%s: cairn %v: exit %d: %s", name, args, code, stderr)
			continue
		}
		var got types.Tx
		decode(t, stdout, &got)
		gotPayload, _ := json.Marshal(got.Payload)
		wantPayload, _ := json.Marshal(tx.Payload)
		if got.Type() != tx.Type() || !bytes.Equal(gotPayload, wantPayload) {
			t.Errorf("%s: cairn %v signed a %s with payload %s, want %s", name, args, got.Type(), gotPayload, wantPayload)
		}
	}
}

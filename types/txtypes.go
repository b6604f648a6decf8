package types

import "fmt"

// TxTypeInfo describes one registered transaction type.
type TxTypeInfo struct {
	Type TxType
	// Name is the type's name in JSON, the API, receipts' search documents
	// and queries ("kv.put").
	Name string
	// New returns an empty payload of this type, for decoding into.
	New func() Payload
}

// txTypes is the one list of transaction types, in TxType order. Every other
// table of types derives from it: String, ParseTxType, DecodeTx and
// UnmarshalJSON here, the search query language, and the tests that check
// execute, mempool, search, the CLI, the OpenAPI document and the fixtures
// each handle every entry (docs/architecture.md, "Adding a transaction type").
var txTypes = []TxTypeInfo{
	{TxTransfer, "transfer", func() Payload { return &Transfer{} }},
	{TxKVPut, "kv.put", func() Payload { return &KVPut{} }},
	{TxKVDelete, "kv.delete", func() Payload { return &KVDelete{} }},
	{TxRecord, "record", func() Payload { return &Record{} }},
	{TxFieldOpen, "field.open", func() Payload { return &FieldOpen{} }},
	{TxFieldCloseUnilateral, "field.close_unilateral", func() Payload { return &FieldCloseUnilateral{} }},
	{TxFieldChallenge, "field.challenge", func() Payload { return &FieldChallenge{} }},
	{TxFieldDispute, "field.dispute", func() Payload { return &FieldDispute{} }},
	{TxFieldClose, "field.close", func() Payload { return &FieldClose{} }},
	{TxContractDeploy, "contract.deploy", func() Payload { return &ContractDeploy{} }},
	{TxContractInstantiate, "contract.instantiate", func() Payload { return &ContractInstantiate{} }},
	{TxContractInvoke, "contract.invoke", func() Payload { return &ContractInvoke{} }},
	{TxContractUpgrade, "contract.upgrade", func() Payload { return &ContractUpgrade{} }},
	// Governance (access.go).
	{TxRoleGrant, "role.grant", func() Payload { return &RoleGrant{} }},
	{TxRoleRevoke, "role.revoke", func() Payload { return &RoleRevoke{} }},
	{TxBlobRecord, "blob.record", func() Payload { return &BlobRecord{} }},
	// The validator set (valset_tx.go).
	{TxValidatorUpdate, "validator.update", func() Payload { return &ValidatorUpdate{} }},
	// Delegated proof of stake (staking.go).
	{TxValidatorRegister, "validator.register", func() Payload { return &ValidatorRegister{} }},
	{TxStakeDelegate, "stake.delegate", func() Payload { return &StakeDelegate{} }},
	{TxStakeUndelegate, "stake.undelegate", func() Payload { return &StakeUndelegate{} }},
	{TxStakeVote, "stake.vote", func() Payload { return &StakeVote{} }},
	{TxValidatorUnjail, "validator.unjail", func() Payload { return &ValidatorUnjail{} }},
	{TxEvidenceSubmit, "evidence.submit", func() Payload { return &EvidenceSubmit{} }},
}

// ParsePayloadJSON parses the strict JSON form of a payload of the named
// type and checks its well-formedness (what a transaction's "payload"
// member holds).
func ParsePayloadJSON(name string, b []byte) (Payload, error) {
	t, err := ParseTxType(name)
	if err != nil {
		return nil, err
	}
	info, _ := lookupTxType(t)
	p := info.New()
	if err := p.parseJSON(b); err != nil {
		return nil, Errf(CodeMalformed, "%s payload: %v", name, err)
	}
	if err := p.wellFormed(); err != nil {
		return nil, err
	}
	return p, nil
}

// TxTypes returns the registered transaction types in TxType order. The
// slice is the caller's.
func TxTypes() []TxTypeInfo { return append([]TxTypeInfo(nil), txTypes...) }

// TxTypeNames returns the registered types' names in TxType order.
func TxTypeNames() []string {
	names := make([]string, len(txTypes))
	for i, t := range txTypes {
		names[i] = t.Name
	}
	return names
}

func lookupTxType(t TxType) (TxTypeInfo, bool) {
	for _, info := range txTypes {
		if info.Type == t {
			return info, true
		}
	}
	return TxTypeInfo{}, false
}

func (t TxType) String() string {
	if info, ok := lookupTxType(t); ok {
		return info.Name
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseTxType maps a type name ("transfer", "kv.put", ...) to its TxType.
func ParseTxType(s string) (TxType, error) {
	for _, info := range txTypes {
		if info.Name == s {
			return info.Type, nil
		}
	}
	return 0, Errf(CodeUnknownType, "unknown transaction type %q", s)
}

// CheckPayload checks a payload's well-formedness, the rules that hold
// whatever the chain (what decoding a transaction checks), so a client can
// refuse a bad payload before signing it.
func CheckPayload(p Payload) error { return p.wellFormed() }

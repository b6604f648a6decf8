package types

import (
	"unicode/utf8"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// The contract transactions (docs/contracts.md): deploy code, create a named
// instance of it, call an instance, point an instance at other code.

// MaxContractFunctionBytes bounds the function name of an invoke.
const MaxContractFunctionBytes = 256

// ContractDeploy stores WebAssembly code on the chain. The code is checked
// and instrumented by every validator (internal/vm); the instrumented bytes
// are stored once under their SHA-256, the code hash instances name.
type ContractDeploy struct {
	Code []byte `json:"code"` // base64 in JSON
}

// ContractInstantiate creates instance Name of deployed code CodeHash,
// owned by Owner (who may upgrade it), and runs its Init with Args and at
// most GasLimit gas.
type ContractInstantiate struct {
	Name     string         `json:"name"`
	CodeHash crypto.Hash    `json:"code_hash"`
	Owner    crypto.Address `json:"owner"`
	Args     []byte         `json:"args,omitempty"` // base64 in JSON
	GasLimit uint64         `json:"gas_limit"`
}

// ContractInvoke calls Function of instance Name with Args and at most
// GasLimit gas, after moving Funds of the native token from the sender to
// the contract's account (all undone if the call fails).
type ContractInvoke struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	Args     []byte `json:"args,omitempty"` // base64 in JSON
	GasLimit uint64 `json:"gas_limit"`
	Funds    uint64 `json:"funds,omitempty"`
}

// ContractUpgrade points instance Name at deployed code CodeHash; only the
// instance's owner may. The instance keeps its name, account and state.
type ContractUpgrade struct {
	Name     string      `json:"name"`
	CodeHash crypto.Hash `json:"code_hash"`
}

func (*ContractDeploy) TxType() TxType      { return TxContractDeploy }
func (*ContractInstantiate) TxType() TxType { return TxContractInstantiate }
func (*ContractInvoke) TxType() TxType      { return TxContractInvoke }
func (*ContractUpgrade) TxType() TxType     { return TxContractUpgrade }

func (p *ContractDeploy) encode(e *canon.Encoder) { e.Bytes32(p.Code) }
func (p *ContractInstantiate) encode(e *canon.Encoder) {
	e.Bytes16([]byte(p.Name))
	e.Fixed(p.CodeHash[:])
	e.Fixed(p.Owner[:])
	e.Bytes32(p.Args)
	e.U64(p.GasLimit)
}
func (p *ContractInvoke) encode(e *canon.Encoder) {
	e.Bytes16([]byte(p.Name))
	e.Bytes16([]byte(p.Function))
	e.Bytes32(p.Args)
	e.U64(p.GasLimit)
	e.U64(p.Funds)
}
func (p *ContractUpgrade) encode(e *canon.Encoder) {
	e.Bytes16([]byte(p.Name))
	e.Fixed(p.CodeHash[:])
}

func (p *ContractDeploy) decode(d *canon.Decoder) { p.Code = d.Bytes32("code", MaxTxBytesHard) }
func (p *ContractInstantiate) decode(d *canon.Decoder) {
	p.Name = string(d.Bytes16("name", MaxContractNameBytes))
	d.Fixed(p.CodeHash[:], "code_hash")
	d.Fixed(p.Owner[:], "owner")
	p.Args = emptyNil(d.Bytes32("args", MaxTxBytesHard))
	p.GasLimit = d.U64("gas_limit")
}
func (p *ContractInvoke) decode(d *canon.Decoder) {
	p.Name = string(d.Bytes16("name", MaxContractNameBytes))
	p.Function = string(d.Bytes16("function", MaxContractFunctionBytes))
	p.Args = emptyNil(d.Bytes32("args", MaxTxBytesHard))
	p.GasLimit = d.U64("gas_limit")
	p.Funds = d.U64("funds")
}
func (p *ContractUpgrade) decode(d *canon.Decoder) {
	p.Name = string(d.Bytes16("name", MaxContractNameBytes))
	d.Fixed(p.CodeHash[:], "code_hash")
}

// emptyNil makes empty arguments nil, so that binary and JSON (where empty
// arguments are omitted) decode to the same payload.
func emptyNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (p *ContractDeploy) wellFormed() error {
	if len(p.Code) == 0 {
		return Errf(CodeMalformed, "contract code is empty")
	}
	return nil
}
func (p *ContractInstantiate) wellFormed() error {
	if err := CheckContractName(p.Name); err != nil {
		return err
	}
	if p.GasLimit == 0 {
		return Errf(CodeMalformed, "gas_limit must be positive")
	}
	return nil
}
func (p *ContractInvoke) wellFormed() error {
	if err := CheckContractName(p.Name); err != nil {
		return err
	}
	if p.Function == "" || len(p.Function) > MaxContractFunctionBytes || !utf8.ValidString(p.Function) {
		return Errf(CodeMalformed, "function must be 1..%d bytes of UTF-8", MaxContractFunctionBytes)
	}
	if p.GasLimit == 0 {
		return Errf(CodeMalformed, "gas_limit must be positive")
	}
	return nil
}
func (p *ContractUpgrade) wellFormed() error { return CheckContractName(p.Name) }

type contractDeployIn struct {
	Code *[]byte `json:"code"`
}

type contractInstantiateIn struct {
	Name     *string         `json:"name"`
	CodeHash *crypto.Hash    `json:"code_hash"`
	Owner    *crypto.Address `json:"owner"`
	Args     []byte          `json:"args"`
	GasLimit *uint64         `json:"gas_limit"`
}

type contractInvokeIn struct {
	Name     *string `json:"name"`
	Function *string `json:"function"`
	Args     []byte  `json:"args"`
	GasLimit *uint64 `json:"gas_limit"`
	Funds    uint64  `json:"funds"`
}

type contractUpgradeIn struct {
	Name     *string      `json:"name"`
	CodeHash *crypto.Hash `json:"code_hash"`
}

func (p *ContractDeploy) parseJSON(b []byte) error {
	var in contractDeployIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"code", in.Code != nil}); err != nil {
		return err
	}
	*p = ContractDeploy{Code: *in.Code}
	return nil
}

func (p *ContractInstantiate) parseJSON(b []byte) error {
	var in contractInstantiateIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"name", in.Name != nil}, field{"code_hash", in.CodeHash != nil},
		field{"owner", in.Owner != nil}, field{"gas_limit", in.GasLimit != nil}); err != nil {
		return err
	}
	*p = ContractInstantiate{Name: *in.Name, CodeHash: *in.CodeHash, Owner: *in.Owner, Args: emptyNil(in.Args), GasLimit: *in.GasLimit}
	return nil
}

func (p *ContractInvoke) parseJSON(b []byte) error {
	var in contractInvokeIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"name", in.Name != nil}, field{"function", in.Function != nil}, field{"gas_limit", in.GasLimit != nil}); err != nil {
		return err
	}
	*p = ContractInvoke{Name: *in.Name, Function: *in.Function, Args: emptyNil(in.Args), GasLimit: *in.GasLimit, Funds: in.Funds}
	return nil
}

func (p *ContractUpgrade) parseJSON(b []byte) error {
	var in contractUpgradeIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"name", in.Name != nil}, field{"code_hash", in.CodeHash != nil}); err != nil {
		return err
	}
	*p = ContractUpgrade{Name: *in.Name, CodeHash: *in.CodeHash}
	return nil
}

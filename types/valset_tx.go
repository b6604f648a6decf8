package types

import (
	"encoding/json"
	"fmt"
	"net"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// TxValidatorUpdate changes the validator set's target on a permissioned
// chain (Params.ValidatorGovernance "" or "permissioned"): it adds a
// validator, removes one or sets one's power, approved by the governors
// exactly as role.grant is (Approval, ApprovalSignBytes). The change takes
// effect through the end-of-block step (valset.go, docs/consensus.md).
const TxValidatorUpdate TxType = 30

// ValidatorOp is what a validator.update does.
type ValidatorOp uint8

// Validator update operations.
const (
	ValidatorAdd      ValidatorOp = 1 // a new validator: key, power, name and p2p address
	ValidatorRemove   ValidatorOp = 2 // a validator leaves: key
	ValidatorSetPower ValidatorOp = 3 // a validator's new power: key, power
)

var validatorOpNames = map[ValidatorOp]string{ValidatorAdd: "add", ValidatorRemove: "remove", ValidatorSetPower: "set_power"}

func (o ValidatorOp) String() string {
	if s, ok := validatorOpNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// ParseValidatorOp maps "add", "remove" or "set_power" to its op.
func ParseValidatorOp(s string) (ValidatorOp, error) {
	for o, n := range validatorOpNames {
		if n == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("validator op %q: want add, remove or set_power", s)
}

// ValidatorUpdate is the payload of validator.update.
type ValidatorUpdate struct {
	Op        ValidatorOp
	PublicKey crypto.PublicKey
	// Power: the new validator's (add) or the new power (set_power); 0
	// for remove.
	Power uint64
	// Name and Addr (host:port, where peers dial it) for add only; they
	// go to the validator's ValidatorInfoKey.
	Name      string
	Addr      string
	Approvals []Approval
}

func (*ValidatorUpdate) TxType() TxType { return TxValidatorUpdate }

func (p *ValidatorUpdate) approvalBody(e *canon.Encoder) {
	e.U8(uint8(p.Op))
	e.Fixed(p.PublicKey[:])
	e.U64(p.Power)
	e.Bytes16([]byte(p.Name))
	e.Bytes16([]byte(p.Addr))
}

func (p *ValidatorUpdate) approvalList() *[]Approval { return &p.Approvals }

func (p *ValidatorUpdate) encode(e *canon.Encoder) {
	p.approvalBody(e)
	encodeApprovals(e, p.Approvals)
}

func (p *ValidatorUpdate) decode(d *canon.Decoder) {
	p.Op = ValidatorOp(d.U8("op"))
	d.Fixed(p.PublicKey[:], "public_key")
	p.Power = d.U64("power")
	p.Name = string(d.Bytes16("name", MaxValidatorNameBytes))
	p.Addr = string(d.Bytes16("p2p_addr", MaxValidatorAddrBytes))
	p.Approvals = decodeApprovals(d)
}

func (p *ValidatorUpdate) wellFormed() error {
	bad := func(f string, a ...any) error { return Errf(CodeMalformed, "validator.update: "+f, a...) }
	if p.PublicKey.SmallOrder() {
		return bad("public_key %s is not a usable key", p.PublicKey)
	}
	switch p.Op {
	case ValidatorAdd:
		if p.Power == 0 {
			return bad("add needs a positive power")
		}
		if p.Name == "" || len(p.Name) > MaxValidatorNameBytes {
			return bad("add needs a name of 1..%d bytes", MaxValidatorNameBytes)
		}
		if _, port, err := net.SplitHostPort(p.Addr); err != nil || port == "" || len(p.Addr) > MaxValidatorAddrBytes {
			return bad("add needs the p2p address peers dial (host:port), got %q", p.Addr)
		}
	case ValidatorRemove:
		if p.Power != 0 || p.Name != "" || p.Addr != "" {
			return bad("remove takes only the key (power, name and p2p_addr must be empty)")
		}
	case ValidatorSetPower:
		if p.Power == 0 {
			return bad("set_power needs a positive power (remove takes a validator out)")
		}
		if p.Name != "" || p.Addr != "" {
			return bad("set_power takes only the key and the power")
		}
	default:
		return bad("unknown op %d (1 add, 2 remove, 3 set_power)", p.Op)
	}
	return checkApprovalList(p.Approvals)
}

type validatorUpdateIn struct {
	Op        *string           `json:"op"`
	PublicKey *crypto.PublicKey `json:"public_key"`
	Power     uint64            `json:"power"`
	Name      string            `json:"name"`
	Addr      string            `json:"p2p_addr"`
	Approvals []approvalIn      `json:"approvals"`
}

func (p *ValidatorUpdate) parseJSON(b []byte) error {
	var in validatorUpdateIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"op", in.Op != nil}, field{"public_key", in.PublicKey != nil}, field{"approvals", in.Approvals != nil}); err != nil {
		return err
	}
	op, err := ParseValidatorOp(*in.Op)
	if err != nil {
		return err
	}
	approvals, err := parseApprovals(in.Approvals)
	if err != nil {
		return err
	}
	*p = ValidatorUpdate{Op: op, PublicKey: *in.PublicKey, Power: in.Power, Name: in.Name, Addr: in.Addr, Approvals: approvals}
	return nil
}

// MarshalJSON writes the payload's JSON form (op by name).
func (p *ValidatorUpdate) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Op        string           `json:"op"`
		PublicKey crypto.PublicKey `json:"public_key"`
		Power     uint64           `json:"power"`
		Name      string           `json:"name,omitempty"`
		Addr      string           `json:"p2p_addr,omitempty"`
		Approvals []Approval       `json:"approvals"`
	}{p.Op.String(), p.PublicKey, p.Power, p.Name, p.Addr, nonNilApprovals(p.Approvals)})
}

func nonNilApprovals(a []Approval) []Approval {
	if a == nil {
		return []Approval{}
	}
	return a
}

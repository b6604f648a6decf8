package types

import (
	"fmt"
	"math/bits"
	"regexp"
	"sort"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Who may do what (docs/security.md). A chain's genesis names roles and
// their first members (Genesis.Roles), and says per transaction type which
// roles may submit it (Params.Permissions). Role membership lives in the
// authenticated state and changes only by the governance transactions
// role.grant and role.revoke, each approved by Params.GovernanceThreshold
// distinct members of the governors role. The permission table itself is
// fixed by genesis.
//
// Invariants:
//   - the permission check is a function of (params, committed state, tx):
//     admission and execution ask the same question of the same data, so a
//     transaction refused as unauthorized at admission is also refused in a
//     block (a block carrying one is invalid);
//   - a chain is open only by saying so: a genesis file without
//     "permissions" is refused, and "anyone" must be written out;
//   - the governors role never has fewer members than the threshold, so
//     governance can never lock itself out.

// Pseudo roles and the governing role.
const (
	// RoleAnyone, in a permission list, lets every account submit the type.
	// It cannot have members.
	RoleAnyone = "anyone"
	// RoleGovernors is the role whose members approve governance
	// transactions.
	RoleGovernors = "governors"
	// PermissionDefault is the permission table's fallback entry for types
	// it does not name.
	PermissionDefault = "*"
	// MaxRoleBytes bounds a role's name.
	MaxRoleBytes = 32
	// MaxApprovals bounds a governance transaction's approval list.
	MaxApprovals = 64
)

// Transaction types of governance (numbers 25-29 are governance's; 27 and
// 28 are not yet used; validator.update is 30, valset_tx.go).
const (
	TxRoleGrant  TxType = 25
	TxRoleRevoke TxType = 26
)

// CodeUnauthorized: the sender may not submit this type, or a governance
// transaction lacks its approvals. Never in a valid block.
const CodeUnauthorized Code = "unauthorized"

// ErrUnauthorized matches any unauthorized *TxError.
var ErrUnauthorized = &TxError{Code: CodeUnauthorized}

var roleName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// CheckRoleName refuses a role name that is not 1..32 bytes of a-z, 0-9
// and '_' starting with a letter, or that is the pseudo role "anyone".
func CheckRoleName(r string) error {
	if len(r) == 0 || len(r) > MaxRoleBytes || !roleName.MatchString(r) {
		return fmt.Errorf("role %q: a role is 1..%d bytes of a-z, 0-9 and _, starting with a letter", r, MaxRoleBytes)
	}
	if r == RoleAnyone {
		return fmt.Errorf("role %q cannot have members", r)
	}
	return nil
}

// Role is a named role and its members, as genesis lists them.
type Role struct {
	Name    string           `json:"name"`
	Members []crypto.Address `json:"members"`
}

// Permissions maps a transaction type's name (or "*" for every type not
// named) to the roles whose members may submit it; "anyone" admits every
// account. A type neither named nor covered by "*" may be submitted by
// nobody.
type Permissions map[string][]string

// OpenPermissions is the table of an open chain: anyone may submit any type.
func OpenPermissions() Permissions { return Permissions{PermissionDefault: {RoleAnyone}} }

// Roles returns the roles allowed to submit a type of the given name, and
// whether that includes everyone.
func (p Permissions) Roles(typeName string) (roles []string, anyone bool) {
	roles, ok := p[typeName]
	if !ok {
		roles = p[PermissionDefault]
	}
	for _, r := range roles {
		if r == RoleAnyone {
			return nil, true
		}
	}
	return roles, false
}

// check refuses unknown role names and empty lists. Type names are not
// checked against the registry here, so a genesis may name a type this
// build does not have yet (it simply never applies).
func (p Permissions) check() error {
	if p == nil {
		return fmt.Errorf(`params: "permissions" is missing: name who may submit each transaction type ({"*": ["anyone"]} for an open chain; docs/security.md)`)
	}
	for t, roles := range p {
		if t == "" {
			return fmt.Errorf("params: permissions: empty type name")
		}
		if len(roles) == 0 {
			return fmt.Errorf("params: permissions[%q]: no roles (omit the type to fall back on \"*\")", t)
		}
		for _, r := range roles {
			if r == RoleAnyone {
				continue
			}
			if err := CheckRoleName(r); err != nil {
				return fmt.Errorf("params: permissions[%q]: %w", t, err)
			}
		}
	}
	return nil
}

// Fees is the price of a transaction in the native token: PerTx for every
// transaction, PerKiB for every started KiB of its canonical encoding, and
// Types[name] more for a type of that name. A transaction pays only when it
// succeeds, from its sender's balance; the fee is burned (the state keeps
// the total burned at BurnedKey, so balances plus the burned total stay the
// genesis supply). Zero fees are a chain without a price for writing.
type Fees struct {
	PerTx  uint64            `json:"per_tx"`
	PerKiB uint64            `json:"per_kib"`
	Types  map[string]uint64 `json:"types,omitempty"`
}

// DefaultFees is what `cairn init` and the devnet write: 1 per transaction
// and 1 per started KiB, so a small transfer or kv.put costs 2.
func DefaultFees() *Fees { return &Fees{PerTx: 1, PerKiB: 1} }

// maxFeeUnit bounds each fee parameter so that a fee never overflows.
const maxFeeUnit = 1 << 40

func (f *Fees) check() error {
	if f == nil {
		return nil
	}
	if f.PerTx > maxFeeUnit || f.PerKiB > maxFeeUnit {
		return fmt.Errorf("params: fees: per_tx and per_kib must be at most %d", uint64(maxFeeUnit))
	}
	for t, v := range f.Types {
		if v > maxFeeUnit {
			return fmt.Errorf("params: fees.types[%q] must be at most %d", t, uint64(maxFeeUnit))
		}
	}
	return nil
}

// FeeOf is the fee a transaction pays if it succeeds under fees f (0 when f
// is nil). Sizes are bounded by MaxTxBytesHard, so it cannot overflow.
// evidence.submit is free (docs/staking.md): the validator whose node
// submits it signs with its consensus key, which need hold no balance, and
// each piece of evidence is accepted once.
func FeeOf(f *Fees, tx *Tx) uint64 {
	if f == nil || tx.Type() == TxEvidenceSubmit {
		return 0
	}
	kib := uint64(tx.Size()+1023) / 1024
	hi, fee := bits.Mul64(f.PerKiB, kib)
	if hi != 0 {
		return ^uint64(0)
	}
	fee += f.PerTx + f.Types[tx.Type().String()]
	return fee
}

// State keys of roles and fees.
const (
	stateRolePrefix      = 'r' // role name length, name, address -> membership byte
	stateRoleCountPrefix = 'n' // role name -> member count (u64)
	stateBurnedKey       = 'b' // total fees burned (u64)
)

// RoleMemberKey is the state key of one account's membership of a role:
// its value is one byte, 1 for a member and 0 for a former one.
func RoleMemberKey(role string, a crypto.Address) []byte {
	k := make([]byte, 0, 2+len(role)+crypto.AddressSize)
	k = append(k, stateRolePrefix, byte(len(role)))
	k = append(k, role...)
	return append(k, a[:]...)
}

// RoleCountKey is the state key of a role's member count (a u64).
func RoleCountKey(role string) []byte { return append([]byte{stateRoleCountPrefix}, role...) }

// BurnedKey is the state key of the total fees burned (a u64).
func BurnedKey() []byte { return []byte{stateBurnedKey} }

// EncodeU64 and DecodeU64 are the state encoding of a count.
func EncodeU64(v uint64) []byte {
	e := canon.Encoder{B: make([]byte, 0, 8)}
	e.U64(v)
	return e.B
}

// DecodeU64 parses what EncodeU64 writes.
func DecodeU64(b []byte) (uint64, error) {
	d := canon.NewDecoder(b, "count", ErrNonCanonical)
	v := d.U64("count")
	return v, d.Finish()
}

// Membership byte values.
const (
	RoleMember    byte = 1
	RoleNotMember byte = 0
)

// checkRoles validates genesis roles: valid distinct names, distinct
// members, governors at least the threshold when governance is enabled.
func (g *Genesis) checkRoles() error {
	seen := map[string]bool{}
	governors := 0
	for _, r := range g.Roles {
		if err := CheckRoleName(r.Name); err != nil {
			return fmt.Errorf("genesis: roles: %w", err)
		}
		if seen[r.Name] {
			return fmt.Errorf("genesis: roles: %q listed twice", r.Name)
		}
		seen[r.Name] = true
		m := map[crypto.Address]bool{}
		for _, a := range r.Members {
			if m[a] {
				return fmt.Errorf("genesis: roles: %s is listed twice in %q", a, r.Name)
			}
			m[a] = true
		}
		if r.Name == RoleGovernors {
			governors = len(r.Members)
		}
	}
	t := g.Params.GovernanceThreshold
	if t < 0 || t > MaxApprovals {
		return fmt.Errorf("genesis: governance_threshold must be 0..%d", MaxApprovals)
	}
	if governors > 0 && t == 0 {
		return fmt.Errorf("genesis: governors are listed but governance_threshold is 0 (set how many must approve a role change)")
	}
	if t > governors {
		return fmt.Errorf("genesis: governance_threshold %d exceeds the %d governors", t, governors)
	}
	return nil
}

// RoleWrites returns the genesis roles as state (key, value) pairs: one
// membership entry per member and a count per role, roles in name order.
func (g *Genesis) RoleWrites() (keys, values [][]byte) {
	roles := append([]Role(nil), g.Roles...)
	sort.Slice(roles, func(i, j int) bool { return roles[i].Name < roles[j].Name })
	for _, r := range roles {
		for _, a := range r.Members {
			keys = append(keys, RoleMemberKey(r.Name, a))
			values = append(values, []byte{RoleMember})
		}
		keys = append(keys, RoleCountKey(r.Name))
		values = append(values, EncodeU64(uint64(len(r.Members))))
	}
	return keys, values
}

// --- governance transactions ----------------------------------------------

// Approval is one governor's signature over a governance transaction's
// ApprovalSignBytes.
type Approval struct {
	Key       crypto.PublicKey `json:"key"`
	Signature FieldSig         `json:"signature"`
}

// RoleChange names an account and a role, with governors' approvals. The
// sender's own signature counts as an approval when the sender is a
// governor, so with a threshold of 1 a governor needs none.
type RoleChange struct {
	Role      string         `json:"role"`
	Address   crypto.Address `json:"address"`
	Approvals []Approval     `json:"approvals"`
}

// RoleGrant makes Address a member of Role.
type RoleGrant struct{ RoleChange }

// RoleRevoke removes Address from Role.
type RoleRevoke struct{ RoleChange }

func (*RoleGrant) TxType() TxType  { return TxRoleGrant }
func (*RoleRevoke) TxType() TxType { return TxRoleRevoke }

// Approvable is a governance payload (role.grant, role.revoke,
// validator.update): its approved fields, which approvals sign
// (ApprovalSignBytes), and its approvals. Every governance type shares
// this one approval scheme and its check (execute.Authorize).
type Approvable interface {
	// approvalBody appends the fields the approvals sign.
	approvalBody(e *canon.Encoder)
	approvalList() *[]Approval
}

// Approvals returns a governance payload's Approvable, or nil for any
// other payload.
func Approvals(p Payload) Approvable {
	switch p := p.(type) {
	case *RoleGrant:
		return &p.RoleChange
	case *RoleRevoke:
		return &p.RoleChange
	case *ValidatorUpdate:
		return p
	}
	return nil
}

// ApprovalList returns the approvals a governance payload carries.
func ApprovalList(a Approvable) []Approval { return *a.approvalList() }

func (c *RoleChange) approvalBody(e *canon.Encoder) { c.encodeBody(e) }
func (c *RoleChange) approvalList() *[]Approval     { return &c.Approvals }

func (c *RoleChange) encode(e *canon.Encoder) {
	c.encodeBody(e)
	encodeApprovals(e, c.Approvals)
}

func encodeApprovals(e *canon.Encoder, as []Approval) {
	e.U16(uint16(len(as)))
	for _, a := range as {
		e.Fixed(a.Key[:])
		e.Fixed(a.Signature[:])
	}
}

func (c *RoleChange) encodeBody(e *canon.Encoder) {
	e.Bytes16([]byte(c.Role))
	e.Fixed(c.Address[:])
}

func (c *RoleChange) decode(d *canon.Decoder) {
	c.Role = string(d.Bytes16("role", MaxRoleBytes))
	d.Fixed(c.Address[:], "address")
	c.Approvals = decodeApprovals(d)
}

func decodeApprovals(d *canon.Decoder) []Approval {
	n := int(d.U16("approvals"))
	if n > MaxApprovals {
		d.Fail("approvals: %d, limit %d", n, MaxApprovals)
		return nil
	}
	as := make([]Approval, n)
	for i := range as {
		d.Fixed(as[i].Key[:], "approval key")
		d.Fixed(as[i].Signature[:], "approval signature")
	}
	return as
}

func (c *RoleChange) wellFormed() error {
	if err := CheckRoleName(c.Role); err != nil {
		return Errf(CodeMalformed, "%v", err)
	}
	return checkApprovalList(c.Approvals)
}

func checkApprovalList(as []Approval) error {
	if len(as) > MaxApprovals {
		return Errf(CodeMalformed, "%d approvals, limit %d", len(as), MaxApprovals)
	}
	seen := make(map[crypto.PublicKey]bool, len(as))
	for i, a := range as {
		if seen[a.Key] {
			return Errf(CodeMalformed, "approval %d: %s approves twice", i, a.Key)
		}
		seen[a.Key] = true
	}
	return nil
}

type approvalIn struct {
	Key       *crypto.PublicKey `json:"key"`
	Signature *FieldSig         `json:"signature"`
}

type roleChangeIn struct {
	Role      *string         `json:"role"`
	Address   *crypto.Address `json:"address"`
	Approvals []approvalIn    `json:"approvals"`
}

func (c *RoleChange) parseJSON(b []byte) error {
	var in roleChangeIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"role", in.Role != nil}, field{"address", in.Address != nil}, field{"approvals", in.Approvals != nil}); err != nil {
		return err
	}
	as, err := parseApprovals(in.Approvals)
	if err != nil {
		return err
	}
	*c = RoleChange{Role: *in.Role, Address: *in.Address, Approvals: as}
	return nil
}

func parseApprovals(in []approvalIn) ([]Approval, error) {
	out := make([]Approval, 0, len(in))
	for _, a := range in {
		if err := missing(field{"approvals[].key", a.Key != nil}, field{"approvals[].signature", a.Signature != nil}); err != nil {
			return nil, err
		}
		out = append(out, Approval{Key: *a.Key, Signature: *a.Signature})
	}
	return out, nil
}

func (p *RoleGrant) encode(e *canon.Encoder)  { p.RoleChange.encode(e) }
func (p *RoleGrant) decode(d *canon.Decoder)  { p.RoleChange.decode(d) }
func (p *RoleGrant) parseJSON(b []byte) error { return p.RoleChange.parseJSON(b) }
func (p *RoleGrant) wellFormed() error        { return p.RoleChange.wellFormed() }

func (p *RoleRevoke) encode(e *canon.Encoder)  { p.RoleChange.encode(e) }
func (p *RoleRevoke) decode(d *canon.Decoder)  { p.RoleChange.decode(d) }
func (p *RoleRevoke) parseJSON(b []byte) error { return p.RoleChange.parseJSON(b) }
func (p *RoleRevoke) wellFormed() error        { return p.RoleChange.wellFormed() }

// Change returns a governance payload's RoleChange, or nil for any other
// payload.
func Change(p Payload) *RoleChange {
	switch p := p.(type) {
	case *RoleGrant:
		return &p.RoleChange
	case *RoleRevoke:
		return &p.RoleChange
	}
	return nil
}

// ApprovalSignBytes is what a governor signs to approve a governance
// transaction: chain id, type, the sender and its nonce (which make the
// approval good for this one transaction only), and the payload's approved
// fields (role and address; a validator.update's op, key, power, name and
// address), under domain crypto.DomainGovernance. The approvals themselves
// are not in it.
func ApprovalSignBytes(chainID string, t TxType, sender crypto.PublicKey, nonce uint64, c Approvable) []byte {
	e := canon.Encoder{B: make([]byte, 0, 128)}
	e.Bytes16([]byte(chainID))
	e.U8(uint8(t))
	e.Fixed(sender[:])
	e.U64(nonce)
	c.approvalBody(&e)
	return e.B
}

// Approve adds k's approval to a governance transaction (before the sender
// signs it). tx.Sender and tx.Nonce must already be set.
func Approve(tx *Tx, k *crypto.PrivateKey) error {
	c := Approvals(tx.Payload)
	if c == nil {
		return fmt.Errorf("approve: %s is not a governance transaction", tx.Type())
	}
	sig := k.Sign(crypto.DomainGovernance, ApprovalSignBytes(tx.ChainID, tx.Type(), tx.Sender, tx.Nonce, c))
	l := c.approvalList()
	*l = append(*l, Approval{Key: k.Public(), Signature: sig})
	tx.raw = nil
	return nil
}

// Who may submit what, governance and fees, as block execution applies
// them (the model: types/access.go and docs/security.md).

package execute

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// Getter reads state: committed state at admission, the block's own view
// (earlier transactions' writes included) during execution.
type Getter interface {
	Get(key []byte) (value []byte, found bool, err error)
}

// Authorize applies the permission rules to tx: its sender must hold a role
// the chain's permission table allows for its type, and a governance
// transaction must carry the approvals of at least the threshold of
// distinct governors. A refusal is a *types.TxError of code unauthorized;
// any other error means state could not be read. The mempool calls it at
// admission on committed state and execution on the block's state, so both
// give the same answer for the same state (rule 2b of the package doc).
//
// Params without a permission table (only code that builds Params by hand;
// a genesis file must have one) are an open chain.
func Authorize(g Getter, chainID string, p types.Params, tx *types.Tx) error {
	name := tx.Type().String()
	if p.Permissions != nil {
		roles, anyone := p.Permissions.Roles(name)
		if !anyone {
			from := tx.Sender.Address()
			ok := false
			for _, r := range roles {
				m, err := isMember(g, r, from)
				if err != nil {
					return err
				}
				if m {
					ok = true
					break
				}
			}
			if !ok {
				if len(roles) == 0 {
					return types.Errf(types.CodeUnauthorized, "this chain lets nobody submit %s transactions", name)
				}
				return types.Errf(types.CodeUnauthorized, "sender %s may not submit %s transactions (roles allowed: %v)", from, name, roles)
			}
		}
	}
	if _, ok := tx.Payload.(*types.ValidatorUpdate); ok && p.ValidatorGovernance == types.GovernanceDPoS {
		return types.Errf(types.CodeUnauthorized, "this chain elects its validators by stake (validator_governance %q): validator.update is refused", p.ValidatorGovernance)
	}
	if c := types.Approvals(tx.Payload); c != nil {
		return checkApprovals(g, chainID, p, tx, c)
	}
	return nil
}

// checkApprovals counts the distinct governors among the sender and the
// approvers; every approval must verify and come from a governor.
func checkApprovals(g Getter, chainID string, p types.Params, tx *types.Tx, c types.Approvable) error {
	need := p.GovernanceThreshold
	if need <= 0 {
		return types.Errf(types.CodeUnauthorized, "this chain has no governance (governance_threshold is 0)")
	}
	n := 0
	sender, err := isMember(g, types.RoleGovernors, tx.Sender.Address())
	if err != nil {
		return err
	}
	if sender {
		n++
	}
	msg := types.ApprovalSignBytes(chainID, tx.Type(), tx.Sender, tx.Nonce, c)
	for i, a := range types.ApprovalList(c) {
		if a.Key == tx.Sender {
			return types.Errf(types.CodeUnauthorized, "approval %d is the sender's own (its transaction signature already counts)", i)
		}
		// Membership first: a state read is cheaper than a signature
		// check, so approvals by strangers cost a sender nothing to refuse.
		m, err := isMember(g, types.RoleGovernors, a.Key.Address())
		if err != nil {
			return err
		}
		if !m {
			return types.Errf(types.CodeUnauthorized, "approval %d: %s is not a governor", i, a.Key.Address())
		}
		if !crypto.Verify(a.Key, crypto.DomainGovernance, msg, a.Signature[:]) {
			return types.Errf(types.CodeUnauthorized, "approval %d (%s) does not verify", i, a.Key)
		}
		n++
	}
	if n < need {
		return types.Errf(types.CodeUnauthorized, "%d of the %d governor approvals needed", n, need)
	}
	return nil
}

func isMember(g Getter, role string, a crypto.Address) (bool, error) {
	v, found, err := g.Get(types.RoleMemberKey(role, a))
	if err != nil {
		return false, fmt.Errorf("read role %q: %w", role, err)
	}
	return found && len(v) == 1 && v[0] == types.RoleMember, nil
}

// Get makes the executor a Getter over the block's state so far.
func (x *executor) Get(key []byte) ([]byte, bool, error) {
	e, err := x.get(key)
	if err != nil {
		return nil, false, err
	}
	return e.raw, e.found, nil
}

// roleChange applies a role.grant or role.revoke whose approvals Authorize
// already checked: a grant of a member, or a revoke of a non-member, fails;
// a revoke that would leave fewer governors than the threshold fails.
func (x *executor) roleChange(grant bool, c *types.RoleChange) ([]Write, error) {
	member, err := isMember(x, c.Role, c.Address)
	if err != nil {
		return nil, err
	}
	countKey := types.RoleCountKey(c.Role)
	var count uint64
	e, err := x.get(countKey)
	if err != nil {
		return nil, err
	}
	if e.found {
		if count, err = types.DecodeU64(e.raw); err != nil {
			return nil, fmt.Errorf("role %q count: %w", c.Role, err)
		}
	}
	mark := types.RoleMember
	switch {
	case grant && member:
		return nil, types.Errf(types.CodeInvalid, "%s already has role %q", c.Address, c.Role)
	case grant:
		count++
	case !member:
		return nil, types.Errf(types.CodeNotFound, "%s does not have role %q", c.Address, c.Role)
	default:
		if c.Role == types.RoleGovernors && count-1 < uint64(x.params.GovernanceThreshold) {
			return nil, types.Errf(types.CodeInvalid, "revoking %s would leave %d governors, fewer than the threshold %d", c.Address, count-1, x.params.GovernanceThreshold)
		}
		count--
		mark = types.RoleNotMember
	}
	return []Write{
		{Key: types.RoleMemberKey(c.Role, c.Address), Value: []byte{mark}},
		{Key: countKey, Value: types.EncodeU64(count)},
	}, nil
}

// chargeFee takes fee from the sender's account as a successful contract
// transaction left it (its last write, already in the cache). The caller
// checked the balance covered fee and funds before the call, and a call
// can only add to the sender's balance beyond the funds it took, so the fee
// is always there.
func (x *executor) chargeFee(writes []Write, senderKey []byte, fee uint64) ([]Write, error) {
	for i := len(writes) - 1; i >= 0; i-- {
		if string(writes[i].Key) != string(senderKey) {
			continue
		}
		acc, err := types.DecodeAccount(writes[i].Value)
		if err != nil {
			return nil, fmt.Errorf("sender account: %w", err)
		}
		if acc.Balance < fee {
			return nil, fmt.Errorf("sender balance %d below the fee %d after a checked call", acc.Balance, fee)
		}
		acc.Balance -= fee
		writes[i].Value = acc.Encode()
		x.cache[string(senderKey)] = &entry{raw: writes[i].Value, found: true}
		x.burned = satAdd(x.burned, fee)
		return writes, nil
	}
	return nil, errors.New("a successful contract transaction wrote no sender account")
}

// burnWrite adds the fees this block burned to the state's running total;
// nothing when it burned none, so a chain without fees has no such key.
func (x *executor) burnWrite() ([]Write, error) {
	if x.burned == 0 {
		return nil, nil
	}
	e, err := x.get(types.BurnedKey())
	if err != nil {
		return nil, err
	}
	var total uint64
	if e.found {
		if total, err = types.DecodeU64(e.raw); err != nil {
			return nil, fmt.Errorf("fees burned: %w", err)
		}
	}
	return []Write{{Key: types.BurnedKey(), Value: types.EncodeU64(satAdd(total, x.burned))}}, nil
}

package ledger

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/types"
)

// valNet is closedNet with validator.update governed by the same three
// governors, and the keys of every validator that may join.
type valNet struct {
	*net
	keys map[crypto.PublicKey]*crypto.PrivateKey
}

func newValNet() *valNet {
	n := closedNet()
	n.g.Params.Permissions["validator.update"] = []string{types.RoleGovernors}
	vn := &valNet{net: n, keys: map[crypto.PublicKey]*crypto.PrivateKey{}}
	for _, k := range n.vkeys {
		vn.keys[k.Public()] = k
	}
	return vn
}

// gov signs a governance tx by user 1 approved by user 2 (threshold 2).
func (n *valNet) gov(p types.Payload, approvers ...*crypto.PrivateKey) *types.Tx {
	s := n.users[1]
	n.nonce[s.Public()]++
	tx := &types.Tx{ChainID: n.g.ChainID, Sender: s.Public(), Nonce: n.nonce[s.Public()], Timestamp: 1_700_000_000_000, Payload: p}
	for _, a := range approvers {
		if err := types.Approve(tx, a); err != nil {
			panic(err)
		}
	}
	tx.Sign(s)
	return tx
}

// commit builds the next block with its height's proposer and certifies
// it with every validator of the height's set.
func (n *valNet) commit(t *testing.T, l *Ledger, txs ...*types.Tx) (*types.Block, []*types.Receipt) {
	t.Helper()
	h := l.Head().Height + 1
	vs, err := l.ValidatorsAt(h)
	if err != nil {
		t.Fatal(err)
	}
	proposer := vs.Validators[vs.Proposer(h, 0)].PublicKey
	blk, p, err := l.Propose(txs, 0, l.Head().Time+1000, proposer, execute.Options{})
	if err != nil {
		t.Fatalf("propose %d: %v", h, err)
	}
	for _, d := range p.Dropped {
		t.Fatalf("propose %d dropped %s: %v", h, d.Tx.Type(), d.Err)
	}
	var votes []types.Vote
	for i, v := range vs.Validators {
		votes = append(votes, types.SignVote(n.keys[v.PublicKey], n.g.ChainID, types.Precommit, h, 0, blk.Hash(), uint16(i)))
	}
	if err := l.Commit(blk, types.NewCertificate(h, 0, blk.Hash(), votes), p); err != nil {
		t.Fatalf("commit %d: %v", h, err)
	}
	return blk, p.Result.Receipts
}

// A validator added at height h is in the set of h+2 (and in the header of
// h+1 as the next set); a certificate is verified against the set of its
// own height (the old set's quorum no longer certifies h+2); removal works
// the same way; bad updates fail and change nothing; a replay audit walks
// the changes.
func TestValidatorUpdateChangesTheSetTwoHeightsOn(t *testing.T) {
	n := newValNet()
	fs := vfs.NewMem()
	l := n.open(t, fs, "l")
	joiner := key('j', 0)
	n.keys[joiner.Public()] = joiner
	add := &types.ValidatorUpdate{Op: types.ValidatorAdd, PublicKey: joiner.Public(), Power: 1, Name: "v4", Addr: "127.0.0.1:19750", Approvals: []types.Approval{}}

	// Not enough approvals: refused at admission, nothing changes.
	alone := n.gov(add)
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, alone); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("update by one governor: %v", err)
	}
	n.nonce[n.users[1].Public()]--

	genesisHash := l.GenesisValidators().Hash()
	blk, rcs := n.commit(t, l, n.gov(add, n.users[2])) // height 1
	wantReceipt(t, rcs[0], true, "")
	if blk.Header.ValidatorsHash != genesisHash || blk.Header.NextValidatorsHash != genesisHash {
		t.Fatal("height 1: the change showed before its time")
	}
	blk, _ = n.commit(t, l) // height 2: still the genesis set, next is the new one
	vs3, err := l.ValidatorsAt(3)
	if err != nil || vs3.Len() != 5 || vs3.IndexOf(joiner.Public()) != 4 {
		t.Fatalf("set of height 3: %v %v", vs3, err)
	}
	if blk.Header.ValidatorsHash != genesisHash || blk.Header.NextValidatorsHash != vs3.Hash() {
		t.Fatal("height 2: next_validators_hash is not the set of height 3")
	}
	// At height 3 the genesis four's precommits are 4 of 5: still a
	// quorum (> 2/3); three of them are not.
	h3, p3, err := l.Propose(nil, 0, l.Head().Time+1000, vs3.Validators[vs3.Proposer(3, 0)].PublicKey, execute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h3.Header.ValidatorsHash != vs3.Hash() {
		t.Fatal("height 3 header does not name the new set")
	}
	if err := l.Commit(h3, n.certify(h3, 3), p3); err == nil {
		t.Fatal("3 of 5 certified height 3")
	}
	if err := l.Commit(h3, n.certify(h3, 4), p3); err != nil {
		t.Fatalf("4 of 5: %v", err)
	}
	if h3.LastCommit == nil || h3.LastCommit.Height != 2 {
		t.Fatal("height 3 carries no last commit")
	}

	// Bad updates: each a failed receipt, nothing written.
	for _, bad := range []*types.ValidatorUpdate{
		{Op: types.ValidatorAdd, PublicKey: joiner.Public(), Power: 1, Name: "again", Addr: "127.0.0.1:1", Approvals: []types.Approval{}},
		{Op: types.ValidatorRemove, PublicKey: key('x', 9).Public(), Approvals: []types.Approval{}},
		{Op: types.ValidatorSetPower, PublicKey: joiner.Public(), Power: 1, Approvals: []types.Approval{}},
	} {
		_, rcs := n.commit(t, l, n.gov(bad, n.users[2]))
		if rcs[0].OK {
			t.Fatalf("%s of %s succeeded", bad.Op, bad.PublicKey)
		}
		n.nonce[n.users[1].Public()]-- // a failed tx leaves the nonce
		if vs, _ := l.ValidatorsAt(l.Head().Height + 2); vs.Hash() != vs3.Hash() {
			t.Fatalf("a failed %s changed the set", bad.Op)
		}
	}

	// Remove a genesis validator: gone two heights on.
	out := n.vkeys[0].Public()
	h := l.Head().Height + 1
	_, rcs = n.commit(t, l, n.gov(&types.ValidatorUpdate{Op: types.ValidatorRemove, PublicKey: out, Approvals: []types.Approval{}}, n.users[2]))
	wantReceipt(t, rcs[0], true, "")
	n.commit(t, l)
	n.commit(t, l)
	if vs, _ := l.ValidatorsAt(h + 1); vs.IndexOf(out) < 0 {
		t.Fatal("removed a height early")
	}
	if vs, _ := l.ValidatorsAt(h + 2); vs.IndexOf(out) >= 0 || vs.Len() != 4 {
		t.Fatalf("not removed at h+2: %d validators", vs.Len())
	}
	changes := l.ValidatorChanges()
	if len(changes) != 3 || changes[1].From != 3 || changes[2].From != h+2 {
		t.Fatalf("changes %+v", changes)
	}

	rep, err := l.Audit(t.Context(), AuditOptions{Replay: true, ScratchDir: t.TempDir()})
	if err != nil || !rep.OK {
		t.Fatalf("audit with replay: %+v %v", rep, err)
	}
	// Reopened, the ledger reads the same sets from its state's history.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = n.open(t, fs, "l")
	defer l.Close()
	again := l.ValidatorChanges()
	for i := range changes {
		if i >= len(again) || again[i].From != changes[i].From || again[i].Set.Hash() != changes[i].Set.Hash() {
			t.Fatalf("after reopening: %+v, want %+v", again, changes)
		}
	}
}

// validator.update is refused on a DPoS chain.
func TestValidatorUpdateRefusedUnderDPoS(t *testing.T) {
	n := newValNet()
	n.g.Params.ValidatorGovernance = types.GovernanceDPoS
	l := n.open(t, vfs.NewMem(), "l")
	defer l.Close()
	tx := n.gov(&types.ValidatorUpdate{Op: types.ValidatorRemove, PublicKey: n.vkeys[0].Public(), Approvals: []types.Approval{}}, n.users[2])
	if err := execute.Authorize(l, n.g.ChainID, n.g.Params, tx); !errors.Is(err, types.ErrUnauthorized) {
		t.Fatalf("validator.update under dpos: %v", err)
	}
}

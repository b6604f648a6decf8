package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// dposChain is an apitest chain with DPoS governance: its validator bonds
// 1,000 of its own at genesis. Epochs are long so the set stays the
// genesis one (the proofs are checked against it).
func dposChain(t *testing.T) *apitest.Chain {
	return apitest.New(t, apitest.Options{Genesis: func(g *types.Genesis) {
		g.Params.ValidatorGovernance = types.GovernanceDPoS
		g.Params.StakingParams = types.StakingParams{EpochBlocks: 100_000, UnbondingBlocks: 50}
		v := g.Validators[0].PublicKey
		g.Stakes = []types.GenesisStake{{Delegator: v.Address(), Validator: v, Amount: 1000}}
	}})
}

func commitOK(t *testing.T, cl *client.Client, tx *types.Tx, err error) *client.TxResult {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	r, err := cl.SubmitWait(context.Background(), tx, 5*time.Second)
	if err != nil || r.Status != client.StatusCommitted {
		t.Fatalf("%s: %+v %v", tx.Type(), r, err)
	}
	return r
}

// The staking reads: every answer carries proofs that verify against the
// certified header, and a tampered answer fails verification.
func TestStakingReadsProve(t *testing.T) {
	c := dposChain(t)
	cl := c.Client()
	ctx := context.Background()
	alice := cl.NewSigner(c.Users[0], "")
	cand := apitest.Key('c', 0)
	tx, err := alice.RegisterValidator(ctx, cand, "cand", "127.0.0.1:19902", 250)
	commitOK(t, cl, tx, err)
	tx, err = alice.Delegate(ctx, cand.Public(), 700)
	commitOK(t, cl, tx, err)
	tx, err = alice.Vote(ctx, cand.Public(), c.ValKey.Public())
	commitOK(t, cl, tx, err)
	tx, err = alice.Undelegate(ctx, cand.Public(), 200)
	commitOK(t, cl, tx, err)
	chainID, vals := apitest.ChainID, c.Ledger.Validators()
	a := c.Users[0].Public().Address()

	params, err := cl.StakingParams(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := params.Verify(chainID, vals); err != nil {
		t.Fatal(err)
	}
	if params.Governance != types.GovernanceDPoS || params.Params.UnbondingBlocks != 50 || params.Params.MaxValidators != 21 ||
		params.Totals.Bonded != 1000+500 || params.Totals.Unbonding != 200 {
		t.Errorf("params %+v", params)
	}

	vs, err := cl.StakingValidators(ctx, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := vs.Verify(chainID, vals); err != nil {
		t.Fatal(err)
	}
	if len(vs.Validators) != 2 || vs.Validators[1].PublicKey != cand.Public() || vs.Validators[1].Name != "cand" ||
		vs.Validators[1].Stake != 500 || vs.Validators[1].Votes != 500 || vs.Validators[0].Votes != 1000+500 || !vs.Validators[0].InTarget {
		t.Errorf("validators %+v", vs.Validators)
	}
	vs.Validators[1].Stake++
	if err := vs.Verify(chainID, vals); err == nil {
		t.Error("a tampered stake verified")
	}

	d, err := cl.StakingValidator(ctx, cand.Public(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(chainID, vals); err != nil {
		t.Fatal(err)
	}
	if len(d.Delegators) != 1 || d.Delegators[0].Amount != 500 || len(d.Unbonding) != 1 || d.Unbonding[0].Amount != 200 || d.CommissionBP != 250 {
		t.Errorf("validator detail %+v", d)
	}
	d.Unbonding[0].ReleaseHeight++
	if err := d.Verify(chainID, vals); err == nil {
		t.Error("a tampered unbonding entry verified")
	}

	del, err := cl.StakingDelegator(ctx, a, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := del.Verify(chainID, vals); err != nil {
		t.Fatal(err)
	}
	if del.Bonded != 500 || del.Unbonding != 200 || len(del.Votes) != 2 || len(del.Entries) != 1 || del.Entries[0].ReleaseHeight != d.Unbonding[0].ReleaseHeight-1 {
		t.Errorf("delegator %+v", del)
	}
	del.Proofs.Entries = del.Proofs.Entries[1:]
	if err := del.Verify(chainID, vals); err == nil {
		t.Error("an answer missing a proof verified")
	}

	rw, err := cl.StakingReward(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Verify(chainID, vals); err != nil {
		t.Fatal(err)
	}

	// GET /v1/validators/{key} carries the same stake and delegators.
	standing, err := cl.Validator(ctx, cand.Public())
	if err != nil {
		t.Fatal(err)
	}
	if standing.Stake == nil || standing.Stake.Stake != 500 || standing.Stake.Votes != 500 || len(standing.Stake.Delegators) != 1 ||
		standing.Stake.Delegators[0].Amount != 500 || standing.Name != "cand" || standing.InSet {
		t.Errorf("validator standing %+v (stake %+v)", standing, standing.Stake)
	}
	if _, err := cl.StakingValidator(ctx, apitest.Key('c', 9).Public(), 0, false); !client.IsNotFound(err) {
		t.Errorf("unknown candidate: %v", err)
	}
}

// Bad staking input through the API: a clear error, nothing changed.
func TestStakingBadInputAPI(t *testing.T) {
	c := dposChain(t)
	cl := c.Client()
	ctx := context.Background()
	u := c.Users[0]
	s := cl.NewSigner(u, "")
	before, err := cl.StakingParams(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sign func() (*types.Tx, error)
		want types.Code
	}{
		{"self-delegation beyond the balance", func() (*types.Tx, error) {
			return s.Delegate(ctx, c.ValKey.Public(), apitest.Balance+1)
		}, types.CodeInsufficientBalance},
		{"undelegating more than delegated", func() (*types.Tx, error) { return s.Undelegate(ctx, c.ValKey.Public(), 1) }, types.CodeInsufficientStake},
		{"votes for a non-candidate", func() (*types.Tx, error) { return s.Vote(ctx, apitest.Key('z', 1).Public()) }, types.CodeNotCandidate},
		{"a registration with a key already in use", func() (*types.Tx, error) {
			return s.RegisterValidator(ctx, c.ValKey, "again", "127.0.0.1:19903", 0)
		}, types.CodeKeyInUse},
	}
	for _, tc := range cases {
		tx, err := tc.sign()
		if err != nil {
			t.Fatal(err)
		}
		r, err := cl.SubmitWait(ctx, tx, 5*time.Second)
		var code types.Code
		var apiErr *client.Error
		switch {
		case errors.As(err, &apiErr):
			code = types.Code(apiErr.Code) // refused at admission
		case err != nil:
			t.Fatalf("%s: %v", tc.name, err)
		case r.Status == client.StatusFailed && r.Receipt != nil:
			code = r.Receipt.Code
		default:
			t.Fatalf("%s: %+v", tc.name, r)
		}
		if code != tc.want {
			t.Errorf("%s: code %q, want %q", tc.name, code, tc.want)
		}
		s.Resync()
	}
	after, err := cl.StakingParams(ctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if after.Totals != before.Totals {
		t.Errorf("totals changed: %+v -> %+v", before.Totals, after.Totals)
	}
	acc, err := cl.Account(ctx, u.Public().Address())
	if err != nil || acc.Balance != apitest.Balance || acc.Nonce != 0 {
		t.Errorf("account after bad input: %+v %v", acc, err)
	}
	del, err := cl.StakingDelegator(ctx, u.Public().Address(), 0, false)
	if err != nil || del.Bonded != 0 || len(del.Votes) != 0 {
		t.Errorf("delegator after bad input: %+v %v", del, err)
	}
}

// Block rewards are provable and searchable: the coinbase of a block is
// served with a proof that verifies, and the block is found by the account
// it paid and by its reward.
func TestStakingRewardsProvableAndSearchable(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true, Genesis: func(g *types.Genesis) {
		g.Params.ValidatorGovernance = types.GovernanceDPoS
		g.Params.StakingParams = types.StakingParams{EpochBlocks: 100_000, BlockReward: 77}
		v := g.Validators[0].PublicKey
		g.Stakes = []types.GenesisStake{{Delegator: v.Address(), Validator: v, Amount: 1000}}
	}})
	cl := c.Client()
	ctx := context.Background()
	s := cl.NewSigner(c.Users[0], "")
	tx, err := s.Transfer(ctx, c.Users[1].Public().Address(), 5)
	r := commitOK(t, cl, tx, err)
	c.WaitIndexed()
	rw, err := cl.StakingReward(ctx, r.Height, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Verify(apitest.ChainID, c.Ledger.Validators()); err != nil {
		t.Fatal(err)
	}
	op := c.ValKey.Public().Address()
	if !rw.Paid || rw.Coinbase.Reward != 77 || len(rw.Coinbase.Payments) != 1 || rw.Coinbase.Payments[0] != (types.Payment{Address: op, Amount: 77}) {
		t.Fatalf("reward of block %d: %+v", r.Height, rw)
	}
	rw.Coinbase.Reward++
	if err := rw.Verify(apitest.ChainID, c.Ledger.Validators()); err == nil {
		t.Error("a tampered coinbase verified")
	}
	res, err := cl.Search(ctx, client.SearchRequest{Query: "type:block to:" + op.String(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range res.Hits {
		found = found || h.Height == r.Height
	}
	if !found || res.Total == 0 {
		t.Errorf("search for the blocks that paid %s: %+v", op, res)
	}
	if res, err = cl.Search(ctx, client.SearchRequest{Query: "reward:77", Limit: 1}); err != nil || res.Total == 0 {
		t.Errorf("search reward:77: %+v %v", res, err)
	}
}

// Stake released at the end of its unbonding is a step of the chain, not a
// transaction: the block that paid it back is found by the delegator's
// address, like a block that paid a reward.
func TestUnbondedStakeSearchable(t *testing.T) {
	c := apitest.New(t, apitest.Options{Search: true, Genesis: func(g *types.Genesis) {
		g.Params.ValidatorGovernance = types.GovernanceDPoS
		g.Params.StakingParams = types.StakingParams{EpochBlocks: 100_000, UnbondingBlocks: 2}
		v := g.Validators[0].PublicKey
		g.Stakes = []types.GenesisStake{{Delegator: v.Address(), Validator: v, Amount: 1000}}
	}})
	cl := c.Client()
	ctx := context.Background()
	s := cl.NewSigner(c.Users[0], "")
	me := c.Users[0].Public().Address()
	tx, err := s.Delegate(ctx, c.ValKey.Public(), 10)
	commitOK(t, cl, tx, err)
	tx, err = s.Undelegate(ctx, c.ValKey.Public(), 10)
	u := commitOK(t, cl, tx, err)
	var last uint64
	for range 4 { // blocks past the release height
		tx, err := s.Transfer(ctx, c.Users[1].Public().Address(), 1)
		last = commitOK(t, cl, tx, err).Height
	}
	c.WaitIndexed()
	res, err := cl.Search(ctx, client.SearchRequest{Query: "type:block to:" + me.String(), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 || len(res.Hits) != 1 || res.Hits[0].Height <= u.Height || res.Hits[0].Height > last {
		t.Fatalf("blocks that paid back %s's stake (undelegated at %d, chain at %d): %+v", me, u.Height, last, res)
	}
	released, err := c.Ledger.Unbonded(res.Hits[0].Height)
	if err != nil || len(released) != 1 || released[0] != (types.Payment{Address: me, Amount: 10}) {
		t.Fatalf("released at %d: %+v %v", res.Hits[0].Height, released, err)
	}
}

package types

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// sampleStakingTxs are one sample per staking type, for the fuzz seeds.
func sampleStakingTxs() []namedTx {
	k, v := testKey(1), testKey(4)
	reg := &ValidatorRegister{Name: "v4", P2PAddr: "10.0.0.4:26656", CommissionBP: 750}
	SignRegistration(reg, testChain, k.Public().Address(), v)
	a := SignVote(v, testChain, Precommit, 7, 1, crypto.Sum([]byte("a")), 3)
	b := SignVote(v, testChain, Precommit, 7, 1, crypto.Sum([]byte("b")), 3)
	ev := append(append([]byte{byte(Precommit)}, a.Encode()...), b.Encode()...)
	payloads := []Payload{
		reg,
		&StakeDelegate{Validator: v.Public(), Amount: 1000},
		&StakeUndelegate{Validator: v.Public(), Amount: 400},
		&StakeVote{Candidates: []crypto.PublicKey{v.Public(), testKey(5).Public()}},
		&ValidatorUnjail{Validator: v.Public()},
		&EvidenceSubmit{Validator: v.Public(), Evidence: ev},
	}
	var out []namedTx
	for i, p := range payloads {
		tx := &Tx{ChainID: testChain, Nonce: uint64(30 + i), Timestamp: 1700000000030 + int64(i), Payload: p}
		tx.Sign(k)
		out = append(out, namedTx{p.TxType().String(), tx})
	}
	return out
}

func TestStakingTxRoundTrips(t *testing.T) {
	for _, n := range sampleStakingTxs() {
		d, err := DecodeTx(n.tx.Bytes())
		if err != nil || d.Hash() != n.tx.Hash() {
			t.Fatalf("%s: binary: %v", n.name, err)
		}
		j, err := json.Marshal(n.tx)
		if err != nil {
			t.Fatal(err)
		}
		var back Tx
		if err := json.Unmarshal(j, &back); err != nil || back.Hash() != n.tx.Hash() {
			t.Fatalf("%s: JSON %s: %v", n.name, j, err)
		}
	}
}

func TestStakingPayloadsRefused(t *testing.T) {
	v := testKey(4).Public()
	cases := map[string]string{
		"stake.delegate":     `{"validator":"` + v.String() + `","amount":0}`,
		"stake.undelegate":   `{"validator":"` + v.String() + `"}`,
		"stake.vote":         `{"candidates":["` + v.String() + `","` + v.String() + `"]}`,
		"validator.register": `{"public_key":"` + v.String() + `","name":"","p2p_addr":"h:1","commission_bp":0,"key_signature":"` + strings.Repeat("00", 64) + `"}`,
		"validator.unjail":   `{"validator":"` + v.String() + `","extra":1}`,
		"evidence.submit":    `{"validator":"` + v.String() + `","evidence":"0102"}`,
	}
	for name, js := range cases {
		if _, err := ParsePayloadJSON(name, []byte(js)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s %s: %v, want malformed", name, js, err)
		}
	}
	many := &StakeVote{}
	for i := 0; i <= MaxVotesHard; i++ {
		var k crypto.PublicKey
		k[0], k[1] = byte(i), 1
		many.Candidates = append(many.Candidates, k)
	}
	if err := CheckPayload(many); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d votes: %v", len(many.Candidates), err)
	}
	reg := &ValidatorRegister{Name: "x", P2PAddr: "h:1", CommissionBP: MaxCommissionBP + 1}
	if err := CheckPayload(reg); !errors.Is(err, ErrMalformed) {
		t.Errorf("commission above 100%%: %v", err)
	}
}

func TestStakingRecordsRoundTrip(t *testing.T) {
	c := &Candidate{PublicKey: testKey(1).Public(), Operator: testKey(2).Public().Address(), CommissionBP: 5, Stake: 10,
		Votes: 20, Jailed: true, JailedUntil: 99, Slashed: 3, SlashedAt: 8, Rewards: 7, RegisteredAt: 4}
	if back, err := DecodeCandidate(c.Encode()); err != nil || *back != *c {
		t.Errorf("candidate: %+v %v", back, err)
	}
	s := &Staker{Bonded: 1, Unbonding: 2, Delegations: []crypto.PublicKey{testKey(1).Public()}, Votes: []crypto.PublicKey{}, UnbondingFrom: nil}
	back, err := DecodeStaker(s.Encode())
	if err != nil || back.Bonded != 1 || back.Unbonding != 2 || len(back.Delegations) != 1 || len(back.Votes) != 0 {
		t.Errorf("staker: %+v %v", back, err)
	}
	cb := &Coinbase{Height: 9, Proposer: testKey(1).Public(), Reward: 10, Commission: 1, Payments: []Payment{{Address: testKey(2).Public().Address(), Amount: 10}}}
	if back, err := DecodeCoinbase(cb.Encode()); err != nil || back.Payments[0] != cb.Payments[0] || back.Reward != 10 {
		t.Errorf("coinbase: %+v %v", back, err)
	}
	us := []Unbonding{{Delegator: testKey(3).Public().Address(), Amount: 5, ReleaseHeight: 100}}
	if back, err := DecodeUnbondings(EncodeUnbondings(us)); err != nil || back[0] != us[0] {
		t.Errorf("unbondings: %+v %v", back, err)
	}
	es := []SetEntry{{From: 1, Hash: crypto.Sum([]byte("x"))}}
	if back, err := DecodeSetHistory(EncodeSetHistory(es)); err != nil || back[0] != es[0] {
		t.Errorf("set history: %+v %v", back, err)
	}
	// Truncated and padded records are refused.
	for _, b := range [][]byte{c.Encode()[:10], append(c.Encode(), 0)} {
		if _, err := DecodeCandidate(b); !errors.Is(err, ErrNonCanonical) {
			t.Errorf("candidate %d bytes: %v", len(b), err)
		}
	}
	if _, err := DecodeUnbondings([]byte{0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("a huge count was accepted")
	}
}

// A genesis written before staking reads and writes unchanged: every
// staking param is omitted when zero; defaults fill in.
func TestStakingParamsOmittedAndDefaults(t *testing.T) {
	p := DefaultParams()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"epoch_blocks", "block_reward", "slot_blocks", "stakes"} {
		if strings.Contains(string(b), name) {
			t.Errorf("%s in a default params document: %s", name, b)
		}
	}
	s := p.Staking()
	if s.EpochBlocks != 100 || s.MaxValidators != 21 || s.SlotBlocks != 6 || s.UnbondingBlocks != 1000 || s.EvidenceMaxAge != 1000 || s.SlashFractionBP != 500 {
		t.Errorf("defaults %+v", s)
	}
	p.StakingParams = StakingParams{EpochBlocks: 7, BlockReward: 3}
	b, _ = json.Marshal(p)
	var back Params
	if err := json.Unmarshal(b, &back); err != nil || back.Staking().EpochBlocks != 7 || back.Staking().BlockReward != 3 {
		t.Errorf("round trip %s: %+v %v", b, back.StakingParams, err)
	}
	for _, bad := range []StakingParams{{MaxVotes: MaxVotesHard + 1}, {SlashFractionBP: 10_001}, {DowntimeWindow: 10, DowntimeMaxMissed: 10},
		{UnbondingBlocks: 10, EvidenceMaxAge: 11}, {MaxValidators: 50, MaxCandidates: 20}} {
		q := DefaultParams()
		q.StakingParams = bad
		if err := q.Check(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestGenesisStakesChecked(t *testing.T) {
	v := testKey(1)
	g := &Genesis{ChainID: "c", Params: DefaultParams(), Validators: []Validator{{Name: "v", PublicKey: v.Public(), Power: 1}}}
	g.Stakes = []GenesisStake{{Delegator: v.Public().Address(), Validator: v.Public(), Amount: 5}}
	if err := g.Check(); err == nil {
		t.Error("stakes on a permissioned chain accepted")
	}
	g.Params.ValidatorGovernance = GovernanceDPoS
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	g.Stakes = append(g.Stakes, GenesisStake{Delegator: v.Public().Address(), Validator: testKey(2).Public(), Amount: 5})
	if err := g.Check(); err == nil {
		t.Error("a stake on a non-validator accepted")
	}
}

// ALZA's slots: each validator proposes slot_blocks heights in a row, in
// set order; a round passes the turn on.
func TestProposerSlots(t *testing.T) {
	var vals []Validator
	for i := byte(1); i <= 4; i++ {
		vals = append(vals, Validator{PublicKey: testKey(i).Public(), Power: uint64(i)})
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	slotted := vs.WithSlots(3)
	want := []int{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0}
	for h, w := range want {
		if got := slotted.Proposer(uint64(h+1), 0); got != w {
			t.Errorf("height %d: proposer %d, want %d", h+1, got, w)
		}
	}
	if got := slotted.Proposer(1, 1); got != 1 {
		t.Errorf("height 1 round 1: %d, want 1", got)
	}
	if got := slotted.Proposer(10, 5); got != (3+5)%4 {
		t.Errorf("height 10 round 5: %d", got)
	}
	if slotted.Hash() != vs.Hash() || vs.SlotBlocks() != 0 || slotted.SlotBlocks() != 3 {
		t.Error("slots changed the set or its hash")
	}
	if vs.WithSlots(0) != vs {
		t.Error("WithSlots(0) is not the set itself")
	}
}

func TestProposalEvidenceShape(t *testing.T) {
	k := testKey(4)
	enc := func(h2 uint64, same bool) []byte {
		e := canon.Encoder{}
		e.U8(EvidenceKindProposal)
		e.U16(2)
		for i, h := range []uint64{5, h2} {
			b := crypto.Sum([]byte{byte(i)})
			if same {
				b = crypto.Sum(nil)
			}
			e.U64(h)
			e.U32(1)
			e.U32(^uint32(0))
			e.Fixed(b[:])
			sig := k.SignRaw(ProposalSignBytes(testChain, h, 1, -1, b))
			e.Fixed(sig[:])
		}
		return e.B
	}
	if e, err := ParseProposalEvidence(enc(5, false)); err != nil || e.Validator != 2 || e.A.POLRound != -1 {
		t.Fatalf("%+v %v", e, err)
	}
	for name, b := range map[string][]byte{"two heights": enc(6, false), "one block": enc(5, true), "truncated": enc(5, false)[:40]} {
		if err := CheckPayload(&EvidenceSubmit{Validator: k.Public(), Evidence: b}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

package types

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Delegated proof of stake (docs/staking.md), the validator governance of a
// chain whose genesis says "validator_governance": "dpos". (The staking
// transactions keep their books on any chain; only a DPoS chain elects,
// rewards, rotates in slots and jails for downtime.) Accounts bond
// native token to registered candidates (stake.delegate), vote for up to
// max_votes of them (stake.vote, weighted by the voter's bonded stake), and
// every epoch_blocks the top max_validators unjailed candidates by votes
// become the target validator set (types/valset.go), with power by stake.
// The proposer of each block is paid block_reward, shared with its
// delegators by stake after its commission. Evidence of a double vote burns
// slash_fraction_bp of the validator's stake (bonded and unbonding) and
// jails it; downtime jails it without burning.
//
// The staking state lives under one prefix, 's', one tag byte per kind
// (StakingPrefix). Every record is canonical bytes, so every balance change
// is provable with a state proof like an account.

// Transaction types of staking (numbers 31-39 are staking's; 37-39 unused).
const (
	TxValidatorRegister TxType = 31
	TxStakeDelegate     TxType = 32
	TxStakeUndelegate   TxType = 33
	TxStakeVote         TxType = 34
	TxValidatorUnjail   TxType = 35
	TxEvidenceSubmit    TxType = 36
)

// Failure codes of staking transactions.
const (
	// CodeInsufficientStake: undelegating more than is delegated.
	CodeInsufficientStake Code = "insufficient_stake"
	// CodeNotCandidate: delegating to or voting for a key that is not a
	// registered candidate.
	CodeNotCandidate Code = "not_candidate"
	// CodeKeyInUse: registering a consensus key another candidate or
	// validator holds.
	CodeKeyInUse Code = "key_in_use"
	// CodeJailed: unjailing before the jail time is over.
	CodeJailed Code = "jailed"
	// CodeBadEvidence: evidence that does not prove misbehaviour, is too
	// old, or was already punished.
	CodeBadEvidence Code = "bad_evidence"
)

// Hard limits of staking payloads, whatever the chain's params.
const (
	// MaxVotesHard bounds a stake.vote's list (Params max_votes is at most
	// this).
	MaxVotesHard = 64
	// MaxCommissionBP is 100% in basis points.
	MaxCommissionBP = 10_000
	// PowerScale is the total voting power an epoch gives the elected set
	// before the powers are divided by their greatest common divisor: a
	// validator's power is stake * PowerScale / (total stake of the
	// elected), at least 1. So ratios are kept to 1/10,000 and the set's
	// proposer cycle stays below MaxProposerCycle.
	PowerScale = 10_000
)

// StakingParams are the staking parameters (docs/staking.md). They are
// embedded in Params, so they appear as members of "params" in genesis;
// each is omitted when zero and zero takes the default (Staking()).
type StakingParams struct {
	// EpochBlocks: every this many heights the top candidates become the
	// target set (default 100).
	EpochBlocks uint64 `json:"epoch_blocks,omitempty"`
	// MaxValidators: the number of candidates elected (default 21).
	MaxValidators int `json:"max_validators,omitempty"`
	// MaxCandidates bounds the registered candidates (default 100).
	MaxCandidates int `json:"max_candidates,omitempty"`
	// MaxDelegators bounds the accounts delegating to one candidate
	// (default 100): a block's reward pays each of them.
	MaxDelegators int `json:"max_delegators,omitempty"`
	// MaxVotes bounds a stake.vote's candidates (default 30).
	MaxVotes int `json:"max_votes,omitempty"`
	// SlotBlocks: consecutive heights a producer proposes before the next
	// one's turn (ALZA's slot; default 6).
	SlotBlocks uint64 `json:"slot_blocks,omitempty"`
	// UnbondingBlocks: heights undelegated stake waits before it returns
	// to the balance; it can still be slashed meanwhile (default 1000).
	UnbondingBlocks uint64 `json:"unbonding_blocks,omitempty"`
	// BlockReward: native token issued per block to its proposer and
	// delegators (default 0: no issuance).
	BlockReward uint64 `json:"block_reward,omitempty"`
	// SlashFractionBP: the part of a double-signer's stake burned, in basis
	// points (default 500 = 5%).
	SlashFractionBP uint64 `json:"slash_fraction_bp,omitempty"`
	// JailBlocks: heights a jailed validator waits before validator.unjail
	// (default 100).
	JailBlocks uint64 `json:"jail_blocks,omitempty"`
	// DowntimeWindow and DowntimeMaxMissed: a validator whose precommit is
	// missing from more than DowntimeMaxMissed of the last DowntimeWindow
	// blocks' last commits is jailed (defaults 100 and 50).
	DowntimeWindow    uint64 `json:"downtime_window,omitempty"`
	DowntimeMaxMissed uint64 `json:"downtime_max_missed,omitempty"`
	// EvidenceMaxAge: evidence about a height older than this many heights
	// is refused (default and maximum: unbonding_blocks, so the stake that
	// misbehaved is still there to burn).
	EvidenceMaxAge uint64 `json:"evidence_max_age,omitempty"`
}

// Staking returns the staking params in force, defaults filled in.
func (p Params) Staking() StakingParams {
	s := p.StakingParams
	def := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.EpochBlocks, 100)
	defInt(&s.MaxValidators, 21)
	defInt(&s.MaxCandidates, 100)
	defInt(&s.MaxDelegators, 100)
	defInt(&s.MaxVotes, 30)
	def(&s.SlotBlocks, 6)
	def(&s.UnbondingBlocks, 1000)
	def(&s.SlashFractionBP, 500)
	def(&s.JailBlocks, 100)
	def(&s.DowntimeWindow, 100)
	def(&s.DowntimeMaxMissed, 50)
	def(&s.EvidenceMaxAge, s.UnbondingBlocks)
	return s
}

// ValidatorSet builds a validator set of this chain: on a DPoS chain with
// ALZA's slotted proposer rotation (ValidatorSet.WithSlots(slot_blocks)),
// otherwise as NewValidatorSet. Every set a node uses for consensus is
// built here, so that all agree on the proposer.
func (p Params) ValidatorSet(vals []Validator) (*ValidatorSet, error) {
	vs, err := NewValidatorSet(vals)
	if err != nil || !p.DPoS() {
		return vs, err
	}
	return vs.WithSlots(p.Staking().SlotBlocks), nil
}

// DPoS reports whether the chain's validator set is elected by stake.
func (p Params) DPoS() bool { return p.ValidatorGovernance == GovernanceDPoS }

func (p Params) checkStaking() error {
	s := p.Staking()
	switch {
	case s.MaxValidators < 1 || s.MaxValidators > 1000:
		return fmt.Errorf("params: max_validators must be 1..1000")
	case s.MaxCandidates < s.MaxValidators || s.MaxCandidates > 10_000:
		return fmt.Errorf("params: max_candidates must be max_validators..10000")
	case s.MaxDelegators < 1 || s.MaxDelegators > 10_000:
		return fmt.Errorf("params: max_delegators must be 1..10000")
	case s.MaxVotes < 1 || s.MaxVotes > MaxVotesHard:
		return fmt.Errorf("params: max_votes must be 1..%d", MaxVotesHard)
	case s.SlashFractionBP > MaxCommissionBP:
		return fmt.Errorf("params: slash_fraction_bp must be at most %d", MaxCommissionBP)
	case s.DowntimeMaxMissed >= s.DowntimeWindow:
		return fmt.Errorf("params: downtime_max_missed must be below downtime_window")
	case s.DowntimeWindow > 100_000:
		return fmt.Errorf("params: downtime_window must be at most 100000")
	case s.EvidenceMaxAge > s.UnbondingBlocks:
		return fmt.Errorf("params: evidence_max_age must be at most unbonding_blocks (stake must still be bonded when its evidence is judged)")
	case s.BlockReward > 1<<50:
		return fmt.Errorf("params: block_reward must be at most 2^50")
	}
	return nil
}

// GenesisStake is stake bonded at genesis: Delegator's Amount delegated to
// Validator (a genesis validator), which Delegator also votes for. It is
// part of the genesis supply like a balance.
type GenesisStake struct {
	Delegator crypto.Address   `json:"delegator"`
	Validator crypto.PublicKey `json:"validator"`
	Amount    uint64           `json:"amount"`
}

func (g *Genesis) checkStakes() error {
	if len(g.Stakes) > 0 && !g.Params.DPoS() {
		return fmt.Errorf("genesis: stakes need \"validator_governance\": %q", GovernanceDPoS)
	}
	vals := map[crypto.PublicKey]bool{}
	for _, v := range g.Validators {
		vals[v.PublicKey] = true
	}
	s := g.Params.Staking()
	if g.Params.DPoS() && len(g.Validators) > s.MaxCandidates {
		return fmt.Errorf("genesis: %d validators, max_candidates is %d", len(g.Validators), s.MaxCandidates)
	}
	seen := map[[2]string]bool{}
	per := map[crypto.PublicKey]int{}
	for i, st := range g.Stakes {
		if !vals[st.Validator] {
			return fmt.Errorf("genesis: stakes[%d]: %s is not a genesis validator", i, st.Validator)
		}
		if st.Amount == 0 {
			return fmt.Errorf("genesis: stakes[%d]: amount must be positive", i)
		}
		k := [2]string{st.Delegator.String(), st.Validator.String()}
		if seen[k] {
			return fmt.Errorf("genesis: stakes[%d]: %s delegates to %s twice", i, st.Delegator, st.Validator)
		}
		seen[k] = true
		if per[st.Validator]++; per[st.Validator] > s.MaxDelegators {
			return fmt.Errorf("genesis: more than max_delegators (%d) stakes on %s", s.MaxDelegators, st.Validator)
		}
	}
	return nil
}

// --- state keys ---------------------------------------------------------------

// StakingPrefix is the one state prefix of staking; the byte after it says
// which record follows.
const StakingPrefix = 's'

// Tags under StakingPrefix.
const (
	stakeCandidateTag  = 'c' // key(32) -> Candidate
	stakeCandidatesTag = 'C' // -> list of candidate keys, registration order
	stakeDelegationTag = 'd' // key(32) address(20) -> amount (u64)
	stakeDelegatorsTag = 'D' // key(32) -> list of delegator addresses
	stakeStakerTag     = 'a' // address(20) -> Staker
	stakeUnbondingTag  = 'u' // key(32) -> unbonding entries from that candidate
	stakeQueueTag      = 'q' // height(8) -> candidate keys with entries maturing then
	stakeMissedTag     = 'm' // key(32) -> heights of recently missed precommits
	stakeSetsTag       = 'h' // -> recent validator sets: (from height, hash) list
	stakeSetTag        = 'H' // hash(32) -> EncodeValidators bytes
	stakeTotalsTag     = 't' // -> StakingTotals
	stakeCoinbaseTag   = 'r' // -> Coinbase of the last block that paid a reward
)

func stakeKey(tag byte, parts ...[]byte) []byte {
	k := []byte{StakingPrefix, tag}
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func u64Bytes(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// CandidateKey is the state key of a candidate's record.
func CandidateKey(pub crypto.PublicKey) []byte { return stakeKey(stakeCandidateTag, pub[:]) }

// CandidatesKey is the state key of the list of registered candidates.
func CandidatesKey() []byte { return stakeKey(stakeCandidatesTag) }

// DelegationKey is the state key of an account's bonded stake on a
// candidate (a u64).
func DelegationKey(pub crypto.PublicKey, a crypto.Address) []byte {
	return stakeKey(stakeDelegationTag, pub[:], a[:])
}

// DelegatorsKey is the state key of the accounts delegating to a candidate.
func DelegatorsKey(pub crypto.PublicKey) []byte { return stakeKey(stakeDelegatorsTag, pub[:]) }

// StakerKey is the state key of an account's staking summary.
func StakerKey(a crypto.Address) []byte { return stakeKey(stakeStakerTag, a[:]) }

// UnbondingKey is the state key of the unbonding entries from a candidate.
func UnbondingKey(pub crypto.PublicKey) []byte { return stakeKey(stakeUnbondingTag, pub[:]) }

// UnbondingQueueKey is the state key of the candidates whose unbonding
// entries mature at height.
func UnbondingQueueKey(height uint64) []byte { return stakeKey(stakeQueueTag, u64Bytes(height)) }

// MissedKey is the state key of a validator's recently missed precommits.
func MissedKey(pub crypto.PublicKey) []byte { return stakeKey(stakeMissedTag, pub[:]) }

// SetHistoryKey is the state key of the recent validator sets (SetHistory).
func SetHistoryKey() []byte { return stakeKey(stakeSetsTag) }

// SetByHashKey is the state key of a validator list by its set hash.
func SetByHashKey(h crypto.Hash) []byte { return stakeKey(stakeSetTag, h[:]) }

// StakingTotalsKey is the state key of the chain's staking totals.
func StakingTotalsKey() []byte { return stakeKey(stakeTotalsTag) }

// CoinbaseKey is the state key of the last block reward (Coinbase). Its
// value at height h (a state proof at h) is the reward of the last block up
// to h that paid one; Coinbase.Height says which.
func CoinbaseKey() []byte { return stakeKey(stakeCoinbaseTag) }

// --- records ------------------------------------------------------------------

// Candidate is a registered candidate for the validator set.
type Candidate struct {
	PublicKey crypto.PublicKey `json:"public_key"`
	// Operator is the account that registered the candidate: it receives
	// the commission and may unjail it.
	Operator     crypto.Address `json:"operator"`
	CommissionBP uint16         `json:"commission_bp"`
	// Stake is the bonded stake delegated to it (its operator's included).
	Stake uint64 `json:"stake"`
	// Votes is the sum of the bonded stake of the accounts voting for it.
	Votes       uint64 `json:"votes"`
	Jailed      bool   `json:"jailed"`
	JailedUntil uint64 `json:"jailed_until,omitempty"`
	// Slashed is the stake burned for its misbehaviour so far; SlashedAt
	// the height of the block that last slashed it (0: never). Evidence
	// about a height before SlashedAt + jail_blocks is covered by that
	// punishment.
	Slashed   uint64 `json:"slashed"`
	SlashedAt uint64 `json:"slashed_at,omitempty"`
	// Rewards is what the blocks it proposed have paid, all recipients.
	Rewards      uint64 `json:"rewards"`
	RegisteredAt uint64 `json:"registered_at"`
}

// Encode returns the canonical bytes.
func (c *Candidate) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 128)}
	e.Fixed(c.PublicKey[:])
	e.Fixed(c.Operator[:])
	e.U16(c.CommissionBP)
	e.U64(c.Stake)
	e.U64(c.Votes)
	e.Bool(c.Jailed)
	e.U64(c.JailedUntil)
	e.U64(c.Slashed)
	e.U64(c.SlashedAt)
	e.U64(c.Rewards)
	e.U64(c.RegisteredAt)
	return e.B
}

// DecodeCandidate parses Candidate bytes.
func DecodeCandidate(b []byte) (*Candidate, error) {
	d := canon.NewDecoder(b, "candidate", ErrNonCanonical)
	c := &Candidate{}
	d.Fixed(c.PublicKey[:], "public_key")
	d.Fixed(c.Operator[:], "operator")
	c.CommissionBP = d.U16("commission_bp")
	c.Stake = d.U64("stake")
	c.Votes = d.U64("votes")
	c.Jailed = d.Bool("jailed")
	c.JailedUntil = d.U64("jailed_until")
	c.Slashed = d.U64("slashed")
	c.SlashedAt = d.U64("slashed_at")
	c.Rewards = d.U64("rewards")
	c.RegisteredAt = d.U64("registered_at")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// EncodeKeys and DecodeKeys are the state encoding of a list of public keys.
func EncodeKeys(keys []crypto.PublicKey) []byte {
	e := canon.Encoder{B: make([]byte, 0, 2+32*len(keys))}
	e.U16(uint16(len(keys)))
	for _, k := range keys {
		e.Fixed(k[:])
	}
	return e.B
}

// DecodeKeys parses EncodeKeys' bytes.
func DecodeKeys(b []byte) ([]crypto.PublicKey, error) {
	d := canon.NewDecoder(b, "key list", ErrNonCanonical)
	keys := decodeKeys(d, "keys")
	return keys, d.Finish()
}

func encodeKeys(e *canon.Encoder, keys []crypto.PublicKey) {
	e.U16(uint16(len(keys)))
	for _, k := range keys {
		e.Fixed(k[:])
	}
}

func decodeKeys(d *canon.Decoder, what string) []crypto.PublicKey {
	n := int(d.U16(what))
	if d.Err() == nil && n*crypto.PublicKeySize > d.Remaining() {
		d.Fail("%s: count %d exceeds remaining bytes", what, n)
		return nil
	}
	keys := make([]crypto.PublicKey, n)
	for i := range keys {
		d.Fixed(keys[i][:], what)
	}
	return keys
}

// EncodeAddresses and DecodeAddresses are the state encoding of a list of
// addresses.
func EncodeAddresses(as []crypto.Address) []byte {
	e := canon.Encoder{B: make([]byte, 0, 2+20*len(as))}
	e.U16(uint16(len(as)))
	for _, a := range as {
		e.Fixed(a[:])
	}
	return e.B
}

// DecodeAddresses parses EncodeAddresses' bytes.
func DecodeAddresses(b []byte) ([]crypto.Address, error) {
	d := canon.NewDecoder(b, "address list", ErrNonCanonical)
	n := int(d.U16("count"))
	if d.Err() == nil && n*crypto.AddressSize > d.Remaining() {
		d.Fail("count %d exceeds remaining bytes", n)
	}
	var as []crypto.Address
	if d.Err() == nil {
		as = make([]crypto.Address, n)
	}
	for i := range as {
		d.Fixed(as[i][:], "address")
	}
	return as, d.Finish()
}

// Staker is an account's staking summary: its bonded and unbonding totals,
// the candidates it delegates to (non-zero delegations), those it has
// stake unbonding from, and its votes.
type Staker struct {
	Bonded        uint64             `json:"bonded"`
	Unbonding     uint64             `json:"unbonding"`
	Delegations   []crypto.PublicKey `json:"delegations"`
	UnbondingFrom []crypto.PublicKey `json:"unbonding_from"`
	Votes         []crypto.PublicKey `json:"votes"`
}

// Encode returns the canonical bytes.
func (s *Staker) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 22+32*(len(s.Delegations)+len(s.UnbondingFrom)+len(s.Votes)))}
	e.U64(s.Bonded)
	e.U64(s.Unbonding)
	encodeKeys(&e, s.Delegations)
	encodeKeys(&e, s.UnbondingFrom)
	encodeKeys(&e, s.Votes)
	return e.B
}

// DecodeStaker parses Staker bytes.
func DecodeStaker(b []byte) (*Staker, error) {
	d := canon.NewDecoder(b, "staker", ErrNonCanonical)
	s := &Staker{Bonded: d.U64("bonded"), Unbonding: d.U64("unbonding")}
	s.Delegations = decodeKeys(d, "delegations")
	s.UnbondingFrom = decodeKeys(d, "unbonding_from")
	s.Votes = decodeKeys(d, "votes")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return s, nil
}

// Unbonding is stake on its way back to an account's balance: at
// ReleaseHeight's end of block it is credited, unless slashed first.
type Unbonding struct {
	Delegator     crypto.Address `json:"delegator"`
	Amount        uint64         `json:"amount"`
	ReleaseHeight uint64         `json:"release_height"`
}

// EncodeUnbondings returns the canonical bytes of a candidate's entries.
func EncodeUnbondings(us []Unbonding) []byte {
	e := canon.Encoder{B: make([]byte, 0, 4+36*len(us))}
	e.U32(uint32(len(us)))
	for _, u := range us {
		e.Fixed(u.Delegator[:])
		e.U64(u.Amount)
		e.U64(u.ReleaseHeight)
	}
	return e.B
}

// DecodeUnbondings parses EncodeUnbondings' bytes.
func DecodeUnbondings(b []byte) ([]Unbonding, error) {
	d := canon.NewDecoder(b, "unbonding entries", ErrNonCanonical)
	n := int(d.U32("count"))
	if d.Err() == nil && n*36 > d.Remaining() {
		d.Fail("count %d exceeds remaining bytes", n)
	}
	var us []Unbonding
	if d.Err() == nil {
		us = make([]Unbonding, n)
	}
	for i := range us {
		d.Fixed(us[i].Delegator[:], "delegator")
		us[i].Amount = d.U64("amount")
		us[i].ReleaseHeight = d.U64("release_height")
	}
	return us, d.Finish()
}

// EncodeHeights and DecodeHeights are the state encoding of a list of
// heights (missed precommits).
func EncodeHeights(hs []uint64) []byte {
	e := canon.Encoder{B: make([]byte, 0, 4+8*len(hs))}
	e.U32(uint32(len(hs)))
	for _, h := range hs {
		e.U64(h)
	}
	return e.B
}

// DecodeHeights parses EncodeHeights' bytes.
func DecodeHeights(b []byte) ([]uint64, error) {
	d := canon.NewDecoder(b, "heights", ErrNonCanonical)
	n := int(d.U32("count"))
	if d.Err() == nil && n*8 > d.Remaining() {
		d.Fail("count %d exceeds remaining bytes", n)
	}
	var hs []uint64
	if d.Err() == nil {
		hs = make([]uint64, n)
	}
	for i := range hs {
		hs[i] = d.U64("height")
	}
	return hs, d.Finish()
}

// SetEntry says that the validator set of hash Hash is in force from
// height From (until the next entry's From).
type SetEntry struct {
	From uint64      `json:"from"`
	Hash crypto.Hash `json:"hash"`
}

// EncodeSetHistory returns the canonical bytes of the recent sets.
func EncodeSetHistory(es []SetEntry) []byte {
	e := canon.Encoder{B: make([]byte, 0, 4+40*len(es))}
	e.U32(uint32(len(es)))
	for _, s := range es {
		e.U64(s.From)
		e.Fixed(s.Hash[:])
	}
	return e.B
}

// DecodeSetHistory parses EncodeSetHistory's bytes.
func DecodeSetHistory(b []byte) ([]SetEntry, error) {
	d := canon.NewDecoder(b, "set history", ErrNonCanonical)
	n := int(d.U32("count"))
	if d.Err() == nil && n*40 > d.Remaining() {
		d.Fail("count %d exceeds remaining bytes", n)
	}
	var es []SetEntry
	if d.Err() == nil {
		es = make([]SetEntry, n)
	}
	for i := range es {
		es[i].From = d.U64("from")
		d.Fixed(es[i].Hash[:], "hash")
	}
	return es, d.Finish()
}

// StakingTotals are the chain-wide staking sums. With the burned fees
// (BurnedKey) they balance: the sum of all balances, plus Bonded, plus
// Unbonding (plus payment-field deposits) equals the genesis supply plus
// Issued minus burned fees minus Slashed.
type StakingTotals struct {
	Bonded    uint64 `json:"bonded"`
	Unbonding uint64 `json:"unbonding"`
	Issued    uint64 `json:"issued"`
	Slashed   uint64 `json:"slashed"`
}

// Encode returns the canonical bytes.
func (t StakingTotals) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 32)}
	e.U64(t.Bonded)
	e.U64(t.Unbonding)
	e.U64(t.Issued)
	e.U64(t.Slashed)
	return e.B
}

// DecodeStakingTotals parses StakingTotals bytes.
func DecodeStakingTotals(b []byte) (StakingTotals, error) {
	d := canon.NewDecoder(b, "staking totals", ErrNonCanonical)
	t := StakingTotals{Bonded: d.U64("bonded"), Unbonding: d.U64("unbonding"), Issued: d.U64("issued"), Slashed: d.U64("slashed")}
	return t, d.Finish()
}

// Payment is one credit of a block reward.
type Payment struct {
	Address crypto.Address `json:"address"`
	Amount  uint64         `json:"amount"`
}

// Coinbase is a block's reward receipt (ALZA's coinbase transaction from
// account 0x0): the proposer's candidate key, the amount issued, the
// commission, and every credit, the operator's first. The credits sum to
// Reward.
type Coinbase struct {
	Height     uint64           `json:"height"`
	Proposer   crypto.PublicKey `json:"proposer"`
	Reward     uint64           `json:"reward"`
	Commission uint64           `json:"commission"`
	Payments   []Payment        `json:"payments"`
}

// Encode returns the canonical bytes.
func (c *Coinbase) Encode() []byte {
	e := canon.Encoder{B: make([]byte, 0, 64+28*len(c.Payments))}
	e.U64(c.Height)
	e.Fixed(c.Proposer[:])
	e.U64(c.Reward)
	e.U64(c.Commission)
	e.U32(uint32(len(c.Payments)))
	for _, p := range c.Payments {
		e.Fixed(p.Address[:])
		e.U64(p.Amount)
	}
	return e.B
}

// DecodeCoinbase parses Coinbase bytes.
func DecodeCoinbase(b []byte) (*Coinbase, error) {
	d := canon.NewDecoder(b, "coinbase", ErrNonCanonical)
	c := &Coinbase{Height: d.U64("height")}
	d.Fixed(c.Proposer[:], "proposer")
	c.Reward = d.U64("reward")
	c.Commission = d.U64("commission")
	n := int(d.U32("payments"))
	if d.Err() == nil && n*28 > d.Remaining() {
		d.Fail("payments: count %d exceeds remaining bytes", n)
	}
	if d.Err() == nil {
		c.Payments = make([]Payment, n)
	}
	for i := range c.Payments {
		d.Fixed(c.Payments[i].Address[:], "address")
		c.Payments[i].Amount = d.U64("amount")
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return c, nil
}

// --- payloads -----------------------------------------------------------------

// ValidatorRegister registers PublicKey (a consensus key) as a candidate
// operated by the sender. KeySignature is the consensus key's signature
// over RegisterSignBytes, so nobody can register a key they do not hold.
type ValidatorRegister struct {
	PublicKey    crypto.PublicKey `json:"public_key"`
	Name         string           `json:"name"`
	P2PAddr      string           `json:"p2p_addr"`
	CommissionBP uint16           `json:"commission_bp"`
	KeySignature FieldSig         `json:"key_signature"`
}

// StakeDelegate bonds Amount of the sender's balance to Validator.
type StakeDelegate struct {
	Validator crypto.PublicKey `json:"validator"`
	Amount    uint64           `json:"amount"`
}

// StakeUndelegate starts unbonding Amount of the sender's stake on
// Validator.
type StakeUndelegate struct {
	Validator crypto.PublicKey `json:"validator"`
	Amount    uint64           `json:"amount"`
}

// StakeVote replaces the sender's votes with Candidates (empty: none).
type StakeVote struct {
	Candidates []crypto.PublicKey `json:"candidates"`
}

// ValidatorUnjail lets a jailed candidate be elected again; its operator
// sends it after the jail time. Unjailing a candidate that is not jailed
// succeeds and changes nothing.
type ValidatorUnjail struct {
	Validator crypto.PublicKey `json:"validator"`
}

// EvidenceSubmit carries evidence that Validator signed two different votes
// of one type for one height and round (the consensus encoding,
// internal/consensus.DuplicateVote.Encode: the vote type, then the two
// votes), or, as the proposer of a height and round, two proposals of
// different blocks (ConflictingProposal.Encode: kind 3, the index, the two
// signed proposals). The evidence names the validator by its index in the
// set of its height; on a DPoS chain that index must be Validator's.
type EvidenceSubmit struct {
	Validator crypto.PublicKey `json:"validator"`
	Evidence  HexBytes         `json:"evidence"`
}

// MaxEvidenceBytes bounds an evidence.submit's evidence.
const MaxEvidenceBytes = 1024

func (*ValidatorRegister) TxType() TxType { return TxValidatorRegister }
func (*StakeDelegate) TxType() TxType     { return TxStakeDelegate }
func (*StakeUndelegate) TxType() TxType   { return TxStakeUndelegate }
func (*StakeVote) TxType() TxType         { return TxStakeVote }
func (*ValidatorUnjail) TxType() TxType   { return TxValidatorUnjail }
func (*EvidenceSubmit) TxType() TxType    { return TxEvidenceSubmit }

func (p *ValidatorRegister) encode(e *canon.Encoder) {
	e.Fixed(p.PublicKey[:])
	e.Bytes16([]byte(p.Name))
	e.Bytes16([]byte(p.P2PAddr))
	e.U16(p.CommissionBP)
	e.Fixed(p.KeySignature[:])
}
func (p *ValidatorRegister) decode(d *canon.Decoder) {
	d.Fixed(p.PublicKey[:], "public_key")
	p.Name = string(d.Bytes16("name", MaxValidatorNameBytes))
	p.P2PAddr = string(d.Bytes16("p2p_addr", MaxValidatorAddrBytes))
	p.CommissionBP = d.U16("commission_bp")
	d.Fixed(p.KeySignature[:], "key_signature")
}
func (p *StakeDelegate) encode(e *canon.Encoder) { e.Fixed(p.Validator[:]); e.U64(p.Amount) }
func (p *StakeDelegate) decode(d *canon.Decoder) {
	d.Fixed(p.Validator[:], "validator")
	p.Amount = d.U64("amount")
}
func (p *StakeUndelegate) encode(e *canon.Encoder) { e.Fixed(p.Validator[:]); e.U64(p.Amount) }
func (p *StakeUndelegate) decode(d *canon.Decoder) {
	d.Fixed(p.Validator[:], "validator")
	p.Amount = d.U64("amount")
}
func (p *StakeVote) encode(e *canon.Encoder) { encodeKeys(e, p.Candidates) }
func (p *StakeVote) decode(d *canon.Decoder) {
	p.Candidates = decodeKeys(d, "candidates")
	if len(p.Candidates) > MaxVotesHard {
		d.Fail("candidates: %d, limit %d", len(p.Candidates), MaxVotesHard)
	}
}
func (p *ValidatorUnjail) encode(e *canon.Encoder) { e.Fixed(p.Validator[:]) }
func (p *ValidatorUnjail) decode(d *canon.Decoder) { d.Fixed(p.Validator[:], "validator") }
func (p *EvidenceSubmit) encode(e *canon.Encoder)  { e.Fixed(p.Validator[:]); e.Bytes16(p.Evidence) }
func (p *EvidenceSubmit) decode(d *canon.Decoder) {
	d.Fixed(p.Validator[:], "validator")
	p.Evidence = d.Bytes16("evidence", MaxEvidenceBytes)
}

func (p *ValidatorRegister) wellFormed() error {
	if p.Name == "" || len(p.Name) > MaxValidatorNameBytes || !utf8.ValidString(p.Name) {
		return Errf(CodeMalformed, "name must be 1..%d bytes of UTF-8", MaxValidatorNameBytes)
	}
	if p.P2PAddr == "" || len(p.P2PAddr) > MaxValidatorAddrBytes || !utf8.ValidString(p.P2PAddr) {
		return Errf(CodeMalformed, "p2p_addr must be 1..%d bytes (host:port)", MaxValidatorAddrBytes)
	}
	if p.CommissionBP > MaxCommissionBP {
		return Errf(CodeMalformed, "commission_bp must be at most %d", MaxCommissionBP)
	}
	if p.PublicKey.SmallOrder() {
		return Errf(CodeMalformed, "public_key %s is not a usable key", p.PublicKey)
	}
	return nil
}
func (p *StakeDelegate) wellFormed() error {
	if p.Amount == 0 {
		return Errf(CodeMalformed, "amount must be positive")
	}
	return nil
}
func (p *StakeUndelegate) wellFormed() error {
	if p.Amount == 0 {
		return Errf(CodeMalformed, "amount must be positive")
	}
	return nil
}
func (p *StakeVote) wellFormed() error {
	if len(p.Candidates) > MaxVotesHard {
		return Errf(CodeMalformed, "%d candidates, limit %d", len(p.Candidates), MaxVotesHard)
	}
	seen := make(map[crypto.PublicKey]bool, len(p.Candidates))
	for _, c := range p.Candidates {
		if seen[c] {
			return Errf(CodeMalformed, "candidate %s listed twice", c)
		}
		seen[c] = true
	}
	return nil
}
func (p *ValidatorUnjail) wellFormed() error { return nil }
func (p *EvidenceSubmit) wellFormed() error {
	var err error
	if len(p.Evidence) > 0 && p.Evidence[0] == EvidenceKindProposal {
		_, err = ParseProposalEvidence(p.Evidence)
	} else {
		_, _, err = ParseVoteEvidence(p.Evidence)
	}
	if err != nil {
		return Errf(CodeMalformed, "%v", err)
	}
	return nil
}

// EvidenceKindProposal is the kind byte of conflicting-proposal evidence
// (internal/consensus.EvidenceProposal); 1 and 2 are double prevotes and
// precommits.
const EvidenceKindProposal = 3

// SignedProposal is what a proposer signed of one proposal.
type SignedProposal struct {
	Height    uint64
	Round     uint32
	POLRound  int32
	BlockHash crypto.Hash
	Signature [crypto.SignatureSize]byte
}

// SignBytes returns the bytes the proposer signed.
func (s *SignedProposal) SignBytes(chainID string) []byte {
	return ProposalSignBytes(chainID, s.Height, s.Round, s.POLRound, s.BlockHash)
}

// ProposalEvidence is evidence that the proposer of (height, round),
// validator index Validator of that height's set, signed two proposals of
// different blocks.
type ProposalEvidence struct {
	Validator uint16
	A, B      SignedProposal
}

// ParseProposalEvidence parses conflicting-proposal evidence in the
// consensus encoding (internal/consensus.ConflictingProposal.Encode): the
// kind 3, the validator index, then both signed proposals (height, round,
// POL round, block hash, signature). It checks the shape only.
func ParseProposalEvidence(b []byte) (*ProposalEvidence, error) {
	if len(b) == 0 || b[0] != EvidenceKindProposal {
		return nil, fmt.Errorf("evidence: not conflicting proposals")
	}
	d := canon.NewDecoder(b[1:], "proposal evidence", ErrNonCanonical)
	e := &ProposalEvidence{Validator: d.U16("validator")}
	for _, p := range []*SignedProposal{&e.A, &e.B} {
		p.Height = d.U64("height")
		p.Round = d.U32("round")
		p.POLRound = int32(d.U32("pol_round"))
		d.Fixed(p.BlockHash[:], "block_hash")
		d.Fixed(p.Signature[:], "signature")
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	if e.A.Height != e.B.Height || e.A.Round != e.B.Round || e.A.BlockHash == e.B.BlockHash || e.A.Height == 0 {
		return nil, fmt.Errorf("evidence: the proposals do not conflict")
	}
	return e, nil
}

// ProposalSignBytes is what a proposer signs for a proposal (the consensus
// engine's internal/consensus.ProposalSignBytes is this function), here so
// that the chain can judge proposal evidence.
func ProposalSignBytes(chainID string, height uint64, round uint32, polRound int32, block crypto.Hash) []byte {
	e := canon.Encoder{B: make([]byte, 0, 2+len(chainID)+48)}
	e.B = append(e.B, byte(len(chainID)>>8), byte(len(chainID)))
	e.Fixed([]byte(chainID))
	e.U64(height)
	e.U32(round)
	e.U32(uint32(polRound))
	e.Fixed(block[:])
	return crypto.SignBytes(crypto.DomainProposal, e.B)
}

// ParseVoteEvidence parses double-vote evidence in the consensus encoding:
// the vote type, then two votes of that type by one validator for one
// height and round and different blocks. It checks the shape only.
func ParseVoteEvidence(b []byte) (a, c Vote, err error) {
	if len(b) < 1 {
		return a, c, fmt.Errorf("evidence: empty")
	}
	if t := VoteType(b[0]); t != Prevote && t != Precommit {
		return a, c, fmt.Errorf("evidence: kind %d is not a double vote", b[0])
	}
	a, c, err = DecodeDuplicateVote(b[1:])
	if err != nil {
		return a, c, err
	}
	if a.Type != VoteType(b[0]) {
		return a, c, fmt.Errorf("evidence: kind %d, votes of type %d", b[0], a.Type)
	}
	if a.Height == 0 {
		return a, c, fmt.Errorf("evidence: height 0")
	}
	return a, c, nil
}

// RegisterSignBytes is what a candidate's consensus key signs to prove the
// operator holds it: chain id and the operator's address, under
// crypto.DomainStake.
func RegisterSignBytes(chainID string, operator crypto.Address) []byte {
	e := canon.Encoder{B: make([]byte, 0, 96)}
	e.Bytes16([]byte(chainID))
	e.Fixed(operator[:])
	return e.B
}

// SignRegistration fills in p.KeySignature with the consensus key k, for
// the operator's address on chainID.
func SignRegistration(p *ValidatorRegister, chainID string, operator crypto.Address, k *crypto.PrivateKey) {
	p.PublicKey = k.Public()
	p.KeySignature = k.Sign(crypto.DomainStake, RegisterSignBytes(chainID, operator))
}

// --- strict JSON ----------------------------------------------------------------

type validatorRegisterIn struct {
	PublicKey    *crypto.PublicKey `json:"public_key"`
	Name         *string           `json:"name"`
	P2PAddr      *string           `json:"p2p_addr"`
	CommissionBP *uint16           `json:"commission_bp"`
	KeySignature *FieldSig         `json:"key_signature"`
}

func (p *ValidatorRegister) parseJSON(b []byte) error {
	var in validatorRegisterIn
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"public_key", in.PublicKey != nil}, field{"name", in.Name != nil}, field{"p2p_addr", in.P2PAddr != nil},
		field{"commission_bp", in.CommissionBP != nil}, field{"key_signature", in.KeySignature != nil}); err != nil {
		return err
	}
	*p = ValidatorRegister{PublicKey: *in.PublicKey, Name: *in.Name, P2PAddr: *in.P2PAddr, CommissionBP: *in.CommissionBP, KeySignature: *in.KeySignature}
	return nil
}

type stakeAmountIn struct {
	Validator *crypto.PublicKey `json:"validator"`
	Amount    *uint64           `json:"amount"`
}

func parseStakeAmount(b []byte) (crypto.PublicKey, uint64, error) {
	var in stakeAmountIn
	if err := strictJSON(b, &in); err != nil {
		return crypto.PublicKey{}, 0, err
	}
	if err := missing(field{"validator", in.Validator != nil}, field{"amount", in.Amount != nil}); err != nil {
		return crypto.PublicKey{}, 0, err
	}
	return *in.Validator, *in.Amount, nil
}

func (p *StakeDelegate) parseJSON(b []byte) (err error) {
	p.Validator, p.Amount, err = parseStakeAmount(b)
	return err
}

func (p *StakeUndelegate) parseJSON(b []byte) (err error) {
	p.Validator, p.Amount, err = parseStakeAmount(b)
	return err
}

func (p *StakeVote) parseJSON(b []byte) error {
	var in struct {
		Candidates []crypto.PublicKey `json:"candidates"`
	}
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if in.Candidates == nil {
		return fmt.Errorf("missing field %q (an empty list clears the votes)", "candidates")
	}
	p.Candidates = in.Candidates
	return nil
}

func (p *ValidatorUnjail) parseJSON(b []byte) error {
	var in struct {
		Validator *crypto.PublicKey `json:"validator"`
	}
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"validator", in.Validator != nil}); err != nil {
		return err
	}
	p.Validator = *in.Validator
	return nil
}

func (p *EvidenceSubmit) parseJSON(b []byte) error {
	var in struct {
		Validator *crypto.PublicKey `json:"validator"`
		Evidence  *string           `json:"evidence"`
	}
	if err := strictJSON(b, &in); err != nil {
		return err
	}
	if err := missing(field{"validator", in.Validator != nil}, field{"evidence", in.Evidence != nil}); err != nil {
		return err
	}
	p.Validator = *in.Validator
	raw, err := hex.DecodeString(*in.Evidence)
	if err != nil || hex.EncodeToString(raw) != *in.Evidence {
		return fmt.Errorf("evidence must be lower-case hex")
	}
	if len(raw) > MaxEvidenceBytes {
		return fmt.Errorf("evidence is %d bytes, limit %d", len(raw), MaxEvidenceBytes)
	}
	p.Evidence = raw
	return nil
}

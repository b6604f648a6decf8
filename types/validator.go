package types

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
)

// Validator is one member of the validator set.
type Validator struct {
	Name      string           `json:"name"`
	PublicKey crypto.PublicKey `json:"public_key"`
	Power     uint64           `json:"power"`
}

// MaxValidators bounds the set so indexes fit in 16 bits.
const MaxValidators = 1 << 15

// MaxProposerCycle bounds a set's proposer cycle: its total power divided
// by the greatest common divisor of the powers. The set keeps one cycle of
// proposers as a table (two bytes a step), which makes Proposer a lookup
// for every height and round; the bound keeps that table and the work of
// building it small (at most 128 KiB). Equal powers have a cycle of n, so
// every set of up to MaxValidators equal validators fits.
const MaxProposerCycle = 1 << 16

// ValidatorSet is an ordered set of validators. The order is fixed by genesis
// and gives each validator its index in certificates.
type ValidatorSet struct {
	Validators []Validator
	total      uint64
	index      map[crypto.PublicKey]int
	hash       crypto.Hash
	// proposers[s] is the validator the proposer-priority procedure picks
	// at step s+1 of its cycle (see Proposer).
	proposers []uint16
	// slotBlocks, when set (WithSlots), replaces the proposer-priority
	// procedure by ALZA's fixed slots.
	slotBlocks uint64
}

// WithSlots returns a copy of vs whose proposers take turns in fixed slots
// (ALZA, docs/staking.md): each validator in set order proposes slotBlocks
// consecutive heights, then the next; a round change passes the turn on
// to the next validator, so the proposer of (height, round) is index
// ((height-1)/slotBlocks + round) mod n, whatever the powers. A chain
// whose params say "validator_governance": "dpos" builds every set with
// WithSlots(Params.Staking().SlotBlocks). slotBlocks 0 returns vs.
func (vs *ValidatorSet) WithSlots(slotBlocks uint64) *ValidatorSet {
	if slotBlocks == 0 {
		return vs
	}
	c := *vs
	c.slotBlocks = slotBlocks
	return &c
}

// SlotBlocks is the slot length of a set built WithSlots, 0 otherwise.
func (vs *ValidatorSet) SlotBlocks() uint64 { return vs.slotBlocks }

// NewValidatorSet checks and indexes vals: at least one, distinct keys,
// positive power, total power without overflow.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 || len(vals) > MaxValidators {
		return nil, fmt.Errorf("validator set: need 1..%d validators, got %d", MaxValidators, len(vals))
	}
	vs := &ValidatorSet{Validators: append([]Validator(nil), vals...), index: make(map[crypto.PublicKey]int, len(vals))}
	e := canon.Encoder{}
	e.U16(uint16(len(vals)))
	for i, v := range vals {
		if v.Power == 0 {
			return nil, fmt.Errorf("validator set: validator %d (%s) has zero power", i, v.Name)
		}
		if _, dup := vs.index[v.PublicKey]; dup {
			return nil, fmt.Errorf("validator set: duplicate public key %s", v.PublicKey)
		}
		if vs.total+v.Power < vs.total || vs.total+v.Power > 1<<60 {
			return nil, fmt.Errorf("validator set: total power overflows")
		}
		vs.total += v.Power
		vs.index[v.PublicKey] = i
		e.Fixed(v.PublicKey[:])
		e.U64(v.Power)
	}
	vs.hash = crypto.Sum(e.B)
	g := uint64(0)
	for _, v := range vals {
		g = gcd(g, v.Power)
	}
	if cycle := vs.total / g; cycle > MaxProposerCycle {
		return nil, fmt.Errorf("validator set: proposer cycle %d (total power %d over the powers' common divisor %d) exceeds %d; use smaller powers (only their ratios matter for proposing)", cycle, vs.total, g, MaxProposerCycle)
	}
	vs.proposers = proposerCycle(vs.Validators, g)
	return vs, nil
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Len is the number of validators.
func (vs *ValidatorSet) Len() int { return len(vs.Validators) }

// TotalPower is the sum of voting power.
func (vs *ValidatorSet) TotalPower() uint64 { return vs.total }

// Quorum is the smallest power strictly greater than two thirds of the total:
// 2f+1 when n = 3f+1 validators have equal power. Any two quorums overlap in
// more than a third, hence in at least one honest validator.
func (vs *ValidatorSet) Quorum() uint64 { return vs.total*2/3 + 1 }

// MaxFaulty is the largest power strictly below a third of the total, f.
func (vs *ValidatorSet) MaxFaulty() uint64 { return (vs.total - 1) / 3 }

// Hash commits to the keys and powers in order (names are cosmetic).
func (vs *ValidatorSet) Hash() crypto.Hash { return vs.hash }

// IndexOf returns the index of pub, or -1.
func (vs *ValidatorSet) IndexOf(pub crypto.PublicKey) int {
	if i, ok := vs.index[pub]; ok {
		return i
	}
	return -1
}

// Proposer returns the index of the proposer for height and round, by
// Tendermint's proposer-priority rule run from zero priorities: each step
// adds every validator's power to its priority, the highest priority
// proposes (the smaller address on a tie) and loses the total power. The
// proposer of (height, round) is the pick of step height+round, so a round
// change moves one step on, as does a new height (Tendermint advances once
// per height and once more per round of it).
//
// A validator with power p proposes p times in every total-power steps,
// spread out rather than in a run of p; equal powers rotate in address
// order. Every validator computes the same answer from the set alone, for
// any height and round, in constant time: see proposerCycle.
func (vs *ValidatorSet) Proposer(height uint64, round uint32) int {
	if vs.slotBlocks > 0 {
		n := uint64(len(vs.Validators))
		slot := uint64(0)
		if height > 0 {
			slot = (height - 1) / vs.slotBlocks
		}
		return int((slot%n + uint64(round)%n) % n)
	}
	c := uint64(len(vs.proposers))
	// step-1 modulo the cycle; each term is reduced first so nothing
	// overflows (c <= MaxProposerCycle).
	s := (height%c + uint64(round)%c + c - 1) % c
	return int(vs.proposers[s])
}

// proposerCycle runs the proposer-priority procedure over one cycle of
// total/g steps with every power divided by g (dividing all priorities by
// g changes no comparison, so the picks are the same). The procedure is
// periodic with that period: within the first cycle no validator is picked
// more than its (reduced) power p times, because once it has been picked p
// times its priority after step t is p*t - cycle*p <= 0 while the highest
// priority is positive (the priorities sum to cycle after the additions).
// The picks of the cycle sum to cycle, so each validator is picked exactly p
// times, every priority is back at zero, and the sequence repeats.
//
// Validators of equal power are picked in turn in address order (the one
// picked fewest times has the highest priority of its power; ties go to
// the smaller address), so a step compares one head per distinct power:
// O(cycle x distinct powers) in all, bounded by MaxProposerCycle.
func proposerCycle(vals []Validator, g uint64) []uint16 {
	type group struct {
		power   int64
		members []int // validator indexes, by address
		picks   int64 // times a member of the group was picked
	}
	addrs := make([]crypto.Address, len(vals))
	byPower := map[uint64]*group{}
	var groups []*group
	var cycle int64
	for i, v := range vals {
		addrs[i] = v.PublicKey.Address()
		p := v.Power / g
		cycle += int64(p)
		gr := byPower[p]
		if gr == nil {
			gr = &group{power: int64(p)}
			byPower[p] = gr
			groups = append(groups, gr)
		}
		gr.members = append(gr.members, i)
	}
	for _, gr := range groups {
		slices.SortFunc(gr.members, func(a, b int) int { return bytes.Compare(addrs[a][:], addrs[b][:]) })
	}
	out := make([]uint16, 0, cycle)
	for t := int64(1); t <= cycle; t++ {
		var best *group
		var bestPrio int64
		bestIdx := -1
		for _, gr := range groups {
			m := int64(len(gr.members))
			idx := gr.members[gr.picks%m]
			// The head was picked picks/m times, each costing cycle.
			prio := t*gr.power - cycle*(gr.picks/m)
			if best == nil || prio > bestPrio || prio == bestPrio && bytes.Compare(addrs[idx][:], addrs[bestIdx][:]) < 0 {
				best, bestPrio, bestIdx = gr, prio, idx
			}
		}
		best.picks++
		out = append(out, uint16(bestIdx))
	}
	return out
}

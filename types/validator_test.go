package types

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func TestQuorum(t *testing.T) {
	for _, c := range []struct {
		powers        []uint64
		quorum, fault uint64
	}{
		{[]uint64{1}, 1, 0},
		{[]uint64{1, 1}, 2, 0},
		{[]uint64{1, 1, 1}, 3, 0},
		{[]uint64{1, 1, 1, 1}, 3, 1},
		{[]uint64{1, 1, 1, 1, 1, 1, 1}, 5, 2},
		{[]uint64{5, 1, 1, 1}, 6, 2},
		{[]uint64{50, 50}, 67, 33},
	} {
		_, vs := testValidators(len(c.powers), c.powers...)
		if vs.Quorum() != c.quorum || vs.MaxFaulty() != c.fault {
			t.Errorf("powers %v: quorum %d faulty %d, want %d %d", c.powers, vs.Quorum(), vs.MaxFaulty(), c.quorum, c.fault)
		}
		// Quorum is strictly more than two thirds, and the smallest such.
		if 3*vs.Quorum() <= 2*vs.TotalPower() || 3*(vs.Quorum()-1) > 2*vs.TotalPower() {
			t.Errorf("powers %v: quorum %d is not the least power above 2/3 of %d", c.powers, vs.Quorum(), vs.TotalPower())
		}
	}
}

func TestNewValidatorSetRejects(t *testing.T) {
	k1, k2 := testKey(1).Public(), testKey(2).Public()
	for name, vals := range map[string][]Validator{
		"empty":      nil,
		"zero power": {{PublicKey: k1, Power: 1}, {PublicKey: k2, Power: 0}},
		"duplicate":  {{PublicKey: k1, Power: 1}, {PublicKey: k1, Power: 2}},
		"overflow":   {{PublicKey: k1, Power: 1 << 60}, {PublicKey: k2, Power: 1}},
		"wraparound": {{PublicKey: k1, Power: ^uint64(0)}, {PublicKey: k2, Power: 2}},
	} {
		if _, err := NewValidatorSet(vals); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewValidatorSet(make([]Validator, MaxValidators+1)); err == nil {
		t.Error("too many validators accepted")
	}
}

func TestValidatorSetHash(t *testing.T) {
	keys, vs := testValidators(3, 3, 1, 2)
	var want []byte
	want = binary.BigEndian.AppendUint16(want, 3)
	for i, p := range []uint64{3, 1, 2} {
		pub := keys[i].Public()
		want = append(want, pub[:]...)
		want = binary.BigEndian.AppendUint64(want, p)
	}
	if vs.Hash() != crypto.Sum(want) {
		t.Fatal("validators hash is not SHA-256(u16 count || (key || u64 power)*)")
	}
	// Names are cosmetic; order and power are not.
	renamed := append([]Validator(nil), vs.Validators...)
	renamed[0].Name = "other"
	if vs2, _ := NewValidatorSet(renamed); vs2.Hash() != vs.Hash() {
		t.Fatal("hash depends on names")
	}
	swapped := []Validator{vs.Validators[1], vs.Validators[0], vs.Validators[2]}
	if vs3, _ := NewValidatorSet(swapped); vs3.Hash() == vs.Hash() {
		t.Fatal("hash ignores order")
	}
	for i, k := range keys {
		if vs.IndexOf(k.Public()) != i {
			t.Fatalf("IndexOf(validator %d) = %d", i, vs.IndexOf(k.Public()))
		}
	}
	if vs.IndexOf(testKey(9).Public()) != -1 || vs.Len() != 3 {
		t.Fatal("IndexOf of a stranger / Len")
	}
}

// Each validator proposes in proportion to its power, and a round change
// moves to the next step of the same sequence.
func TestProposer(t *testing.T) {
	powers := []uint64{3, 1, 2}
	_, vs := testValidators(3, powers...)
	total := vs.TotalPower()
	// Over any window of total consecutive heights each validator proposes
	// exactly power times.
	for start := uint64(0); start < 2*total; start++ {
		count := make([]uint64, len(powers))
		for h := start; h < start+total; h++ {
			count[vs.Proposer(h, 0)]++
		}
		for i, p := range powers {
			if count[i] != p {
				t.Fatalf("window from %d: validator %d proposed %d times, power %d", start, i, count[i], p)
			}
		}
	}
	// Rounds advance the slot, and every validator computes the same answer.
	_, again := testValidators(3, powers...)
	for h := uint64(1); h < 20; h++ {
		for r := uint32(0); r < 10; r++ {
			if vs.Proposer(h, r) != vs.Proposer(h+uint64(r), 0) || vs.Proposer(h, r) != again.Proposer(h, r) {
				t.Fatalf("Proposer(%d, %d) not deterministic", h, r)
			}
		}
	}
	// Within a height, total consecutive rounds visit every validator.
	seen := map[int]bool{}
	for r := uint32(0); r < uint32(total); r++ {
		seen[vs.Proposer(7, r)] = true
	}
	if len(seen) != len(powers) {
		t.Fatalf("rounds at one height visit %d validators, want %d", len(seen), len(powers))
	}
	// Extremes do not panic.
	_ = vs.Proposer(^uint64(0), ^uint32(0))
}

// proposerReference is the proposer-priority procedure written out plainly:
// priorities start at zero; each step adds every validator's power to its
// priority, picks the highest (the smaller address on a tie) and takes the
// total power from the one picked. It returns the picks of steps 1..steps.
func proposerReference(vs *ValidatorSet, steps int) []int {
	prio := make([]int64, vs.Len())
	addrs := make([]crypto.Address, vs.Len())
	for i, v := range vs.Validators {
		addrs[i] = v.PublicKey.Address()
	}
	out := make([]int, 0, steps)
	for s := 0; s < steps; s++ {
		best := -1
		for i, v := range vs.Validators {
			prio[i] += int64(v.Power)

			if best < 0 || prio[i] > prio[best] ||
				prio[i] == prio[best] && bytes.Compare(addrs[i][:], addrs[best][:]) < 0 {
				best = i
			}
		}
		prio[best] -= int64(vs.TotalPower())
		out = append(out, best)
	}
	return out
}

// Proposer(h, r) is the pick of step h+r of the proposer-priority
// procedure, for every height and round, past many whole cycles.
func TestProposerFollowsPriorityProcedure(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sets := [][]uint64{{1, 1, 1, 10}, {3, 1, 2}, {1}, {1, 1, 1, 1}, {5, 5, 5, 5}, {4, 6, 8}, {7, 3}, {100, 1, 1, 1, 1, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8}}
	for range 30 {
		n := 1 + rng.IntN(9)
		ps := make([]uint64, n)
		for i := range ps {
			ps[i] = 1 + rng.Uint64N(12)
		}
		sets = append(sets, ps)
	}
	for _, powers := range sets {
		_, vs := testValidators(len(powers), powers...)
		steps := int(3*vs.TotalPower()) + 5
		want := proposerReference(vs, steps)
		for s := 1; s <= steps; s++ {
			if got := vs.Proposer(uint64(s), 0); got != want[s-1] {
				t.Fatalf("powers %v: Proposer(%d, 0) = %d, want %d (step %d)", powers, s, got, want[s-1], s)
			}
			r := uint32(rng.IntN(s + 1))
			if got := vs.Proposer(uint64(s)-uint64(r), r); got != want[s-1] {
				t.Fatalf("powers %v: Proposer(%d, %d) = %d, want %d (step %d)", powers, uint64(s)-uint64(r), r, got, want[s-1], s)
			}
		}
	}
}

// A heavy validator does not propose a long run of consecutive rounds of
// one height (weighted round-robin gave it power consecutive rounds), yet
// proposes in proportion to its power over time.
func TestProposerSpreadsTurns(t *testing.T) {
	powers := []uint64{1, 1, 1, 10}
	_, vs := testValidators(4, powers...)
	total := vs.TotalPower()
	for _, h := range []uint64{1, 2, 7, 1000, 1 << 40} {
		run, longest := 0, 0
		count := make([]uint64, len(powers))
		for r := uint32(0); r < uint32(20*total); r++ {
			p := vs.Proposer(h, r)
			count[p]++
			if p == 3 {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
		// The cycle is H H H a H H b H H c H H H, so the longest run is the
		// six across the end of one cycle and the start of the next.
		if longest >= int(powers[3]) || longest > 6 {
			t.Fatalf("height %d: power-10 validator proposed %d consecutive rounds", h, longest)
		}
		for i, p := range powers {
			if count[i] != 20*p {
				t.Fatalf("height %d: validator %d proposed %d of %d rounds, power %d of %d", h, i, count[i], 20*total, p, total)
			}
		}
	}
	// Equal powers rotate: any n consecutive steps visit all n validators.
	_, eq := testValidators(5)
	for h := uint64(0); h < 20; h++ {
		seen := map[int]bool{}
		for r := uint32(0); r < 5; r++ {
			seen[eq.Proposer(h, r)] = true
		}
		if len(seen) != 5 {
			t.Fatalf("equal powers from height %d: %d distinct proposers in 5 rounds", h, len(seen))
		}
	}
}

// The proposer cycle is total power over the powers' greatest common
// divisor; a set whose cycle is too long to tabulate is refused, and
// scaling every power by one factor changes nothing.
func TestProposerCycleBound(t *testing.T) {
	k1, k2 := testKey(1).Public(), testKey(2).Public()
	if _, err := NewValidatorSet([]Validator{{PublicKey: k1, Power: MaxProposerCycle}, {PublicKey: k2, Power: 1}}); err == nil {
		t.Fatal("a set with a proposer cycle above MaxProposerCycle was accepted")
	}
	big, err := NewValidatorSet([]Validator{{PublicKey: k1, Power: 3 << 40}, {PublicKey: k2, Power: 5 << 40}})
	if err != nil {
		t.Fatalf("powers with a large common factor refused: %v", err)
	}
	small, _ := NewValidatorSet([]Validator{{PublicKey: k1, Power: 3}, {PublicKey: k2, Power: 5}})
	for h := uint64(0); h < 40; h++ {
		if big.Proposer(h, 1) != small.Proposer(h, 1) {
			t.Fatalf("height %d: scaled powers pick another proposer", h)
		}
	}
	if _, err := NewValidatorSet([]Validator{{PublicKey: k1, Power: MaxProposerCycle - 1}, {PublicKey: k2, Power: 1}}); err != nil {
		t.Fatalf("a cycle of exactly MaxProposerCycle refused: %v", err)
	}
}

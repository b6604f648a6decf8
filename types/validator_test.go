package types

import (
	"encoding/binary"
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

// Each validator proposes in proportion to its power, in runs of power
// consecutive heights, and a round change moves to the next slot.
func TestProposer(t *testing.T) {
	powers := []uint64{3, 1, 2}
	_, vs := testValidators(3, powers...)
	total := vs.TotalPower()
	// Heights 0..5 map to 0,0,0,1,2,2 and then repeat.
	want := []int{0, 0, 0, 1, 2, 2}
	for h := uint64(0); h < 4*total; h++ {
		if got := vs.Proposer(h, 0); got != want[h%total] {
			t.Fatalf("Proposer(%d, 0) = %d, want %d", h, got, want[h%total])
		}
	}
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

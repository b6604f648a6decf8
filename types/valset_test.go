package types

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

func vals(powers ...uint64) []Validator {
	out := make([]Validator, len(powers))
	for i, p := range powers {
		out[i] = Validator{Name: "v" + string(rune('a'+i)), PublicKey: testKey(byte(i + 1)).Public(), Power: p}
	}
	return out
}

// moved is the power a step moves: per key, the absolute change.
func moved(a, b []Validator) uint64 {
	pa := map[crypto.PublicKey]uint64{}
	for _, v := range a {
		pa[v.PublicKey] = v.Power
	}
	var m uint64
	seen := map[crypto.PublicKey]bool{}
	for _, v := range b {
		seen[v.PublicKey] = true
		old := pa[v.PublicKey]
		if v.Power > old {
			m += v.Power - old
		} else {
			m += old - v.Power
		}
	}
	for _, v := range a {
		if !seen[v.PublicKey] {
			m += v.Power
		}
	}
	return m
}

func total(vs []Validator) (t uint64) {
	for _, v := range vs {
		t += v.Power
	}
	return t
}

func TestStepTowardsExamples(t *testing.T) {
	four := vals(1, 1, 1, 1)
	five := vals(1, 1, 1, 1, 1)
	// A 5th validator of power 1 joins 4 of power 1 in one step (1 < 4/3),
	// appended at the end.
	if got := StepTowards(four, five); !SameValidators(got, five) {
		t.Fatalf("join: %v", got)
	}
	// Leaving: removed in place.
	without2 := []Validator{five[0], five[1], five[3], five[4]}
	if got := StepTowards(five, without2); !SameValidators(got, without2) {
		t.Fatalf("leave: %v", got)
	}
	// A joiner with as much power as the rest enters in parts.
	big := append(vals(10, 10, 10), Validator{Name: "big", PublicKey: testKey(9).Public(), Power: 31})
	s, steps := vals(10, 10, 10), 0
	for !SameMembers(s, big) {
		next := StepTowards(s, big)
		if m := moved(s, next); 3*m >= total(s) || m == 0 {
			t.Fatalf("step %d moved %d of %d", steps, m, total(s))
		}
		s, steps = next, steps+1
	}
	if steps < 2 {
		t.Fatalf("a join of half the power took %d step(s)", steps)
	}
	// Equal sets, other order: nothing to do.
	rev := []Validator{four[3], four[2], four[1], four[0]}
	if got := StepTowards(four, rev); !SameValidators(got, four) {
		t.Fatalf("reordered target changed the set: %v", got)
	}
	// An empty target leaves the set as it is.
	if got := StepTowards(four, nil); !SameValidators(got, four) {
		t.Fatalf("empty target: %v", got)
	}
	// A total power below 4 still moves (one unit).
	one := vals(1)
	if got := StepTowards(one, vals(1, 1)); !SameValidators(got, vals(1, 1)) {
		t.Fatalf("tiny set: %v", got)
	}
	// Replacing the whole set: power is added before it is removed, and
	// the set is never empty.
	s = vals(5, 5, 5)
	repl := []Validator{{Name: "x", PublicKey: testKey(20).Public(), Power: 5}, {Name: "y", PublicKey: testKey(21).Public(), Power: 5}}
	for i := 0; !SameMembers(s, repl); i++ {
		if i > 100 {
			t.Fatal("replacement does not converge")
		}
		next := StepTowards(s, repl)
		if len(next) == 0 {
			t.Fatal("empty set")
		}
		s = next
	}
}

// Random sets and targets: every step moves less than a third of the
// current total (or one common-divisor unit when nothing smaller fits),
// makes progress, keeps powers positive and keys distinct, and the target
// is reached.
func TestStepTowardsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() []Validator {
		n := 1 + r.IntN(8)
		var out []Validator
		used := map[int]bool{}
		for len(out) < n {
			k := r.IntN(12)
			if used[k] {
				continue
			}
			used[k] = true
			out = append(out, Validator{Name: "k", PublicKey: testKey(byte(k + 1)).Public(), Power: uint64(1 + r.IntN(20))})
		}
		return out
	}
	for i := 0; i < 2000; i++ {
		cur, target := pick(), pick()
		for n := 0; !SameMembers(cur, target); n++ {
			if n > 200 {
				t.Fatalf("case %d: no convergence", i)
			}
			next := StepTowards(cur, target)
			m := moved(cur, next)
			if m == 0 {
				t.Fatalf("case %d: no progress from %v to %v", i, cur, target)
			}
			var g uint64
			for _, v := range append(append([]Validator(nil), cur...), target...) {
				g = gcd(g, v.Power)
			}
			if 3*m >= total(cur) && m != g {
				t.Fatalf("case %d: moved %d of %d", i, m, total(cur))
			}
			if _, err := NewValidatorSet(next); err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			// Order: members keep cur's relative order.
			last := -1
			for _, v := range next {
				if j := indexOfKey(cur, v.PublicKey); j >= 0 {
					if j < last {
						t.Fatalf("case %d: order changed", i)
					}
					last = j
				}
			}
			cur = next
		}
		if _, err := CheckValidatorPath(vals(1, 1, 1, 1), target); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}

func TestCheckValidatorPath(t *testing.T) {
	if n, err := CheckValidatorPath(vals(1, 1, 1, 1), vals(1, 1, 1, 1, 1)); err != nil || n != 1 {
		t.Fatalf("join: %d %v", n, err)
	}
	if _, err := CheckValidatorPath(vals(1, 1), nil); err == nil {
		t.Fatal("an empty target passed")
	}
	if _, err := CheckValidatorPath(vals(1, 1), vals(1, 0)); err == nil {
		t.Fatal("a zero power passed")
	}
}

func TestValidatorsEncoding(t *testing.T) {
	vs := vals(1, 2, 300)
	b := EncodeValidators(vs)
	got, err := DecodeValidators(b)
	if err != nil || !SameValidators(got, vs) || got[2].Name != vs[2].Name {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if !bytes.Equal(EncodeValidators(got), b) {
		t.Fatal("re-encoding differs")
	}
	// Truncated and trailing bytes are refused.
	for i := 0; i < len(b); i++ {
		if _, err := DecodeValidators(b[:i]); !errors.Is(err, ErrNonCanonical) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if _, err := DecodeValidators(append(b, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
	long := vals(1)
	long[0].Name = string(bytes.Repeat([]byte("n"), MaxValidatorNameBytes+1))
	if _, err := DecodeValidators(EncodeValidators(long)); err == nil {
		t.Fatal("over-long name accepted")
	}
	info := ValidatorInfo{Name: "v5", Addr: "127.0.0.1:19700"}
	if got, err := DecodeValidatorInfo(info.Encode()); err != nil || got != info {
		t.Fatalf("info: %v %v", got, err)
	}
	if _, err := DecodeValidatorInfo(info.Encode()[:3]); err == nil {
		t.Fatal("truncated info accepted")
	}
	// Keys live under one prefix and do not collide.
	k := ValidatorInfoKey(vs[0].PublicKey)
	if NextValidatorsKey()[0] != 'v' || TargetValidatorsKey()[0] != 'v' || k[0] != 'v' ||
		bytes.Equal(NextValidatorsKey(), TargetValidatorsKey()) || bytes.HasPrefix(k, NextValidatorsKey()) || bytes.HasPrefix(k, TargetValidatorsKey()) {
		t.Fatal("validator keys collide")
	}
}

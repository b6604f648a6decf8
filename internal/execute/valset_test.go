package execute

import (
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/types"
)

func testVals(n int) []types.Validator {
	out := make([]types.Validator, n)
	for i := range out {
		out[i] = types.Validator{Name: "v", PublicKey: txfixtures.Key(10 + i).Public(), Power: 1}
	}
	return out
}

// Genesis writes the genesis set as next and target list, and each
// validator's info; a block with an unchanged target writes no set.
func TestGenesisValidatorsAndQuietStep(t *testing.T) {
	g := &types.Genesis{ChainID: txfixtures.ChainID, Validators: testVals(4), Params: types.DefaultParams()}
	state := mapReader{}
	for _, w := range Genesis(g) {
		state[string(w.Key)] = w.Value
	}
	for _, k := range [][]byte{types.NextValidatorsKey(), types.TargetValidatorsKey()} {
		vs, err := types.DecodeValidators(state[string(k)])
		if err != nil || !types.SameValidators(vs, g.Validators) {
			t.Fatalf("%q: %v %v", k, vs, err)
		}
	}
	for _, v := range g.Validators {
		if _, ok := state[string(types.ValidatorInfoKey(v.PublicKey))]; !ok {
			t.Fatalf("no info for %s", v.PublicKey)
		}
	}
	res, err := Block(state, txfixtures.ChainID, g.Params, Env{Height: 1, TimeMs: 1}, nil, Options{})
	if err != nil || len(res.Writes) != 0 {
		t.Fatalf("empty block wrote %d: %v", len(res.Writes), err)
	}
}

// A target that differs moves the next list one step per block, each
// moving less than a third of the power, until it is reached; the step
// is a function of the state alone.
func TestValidatorStepMovesTowardsTarget(t *testing.T) {
	g := &types.Genesis{ChainID: txfixtures.ChainID, Validators: testVals(4), Params: types.DefaultParams()}
	state := mapReader{}
	for _, w := range Genesis(g) {
		state[string(w.Key)] = w.Value
	}
	target := append(testVals(4), types.Validator{Name: "big", PublicKey: crypto.PublicKey{7}, Power: 4})
	state[string(types.TargetValidatorsKey())] = types.EncodeValidators(target)
	cur := g.Validators
	for h := uint64(1); h < 20; h++ {
		res, err := Block(state, txfixtures.ChainID, g.Params, Env{Height: h, TimeMs: int64(h)}, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if types.SameMembers(cur, target) {
			if len(res.Writes) != 0 {
				t.Fatalf("height %d: wrote after reaching the target", h)
			}
			if h < 3 {
				t.Fatalf("a join of half the power took %d blocks", h-1)
			}
			return
		}
		if len(res.Writes) != 1 || string(res.Writes[0].Key) != string(types.NextValidatorsKey()) {
			t.Fatalf("height %d: writes %v", h, res.Writes)
		}
		next, err := types.DecodeValidators(res.Writes[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		if want := types.StepTowards(cur, target); !types.SameValidators(next, want) {
			t.Fatalf("height %d: next %v, want %v", h, next, want)
		}
		state[string(types.NextValidatorsKey())] = res.Writes[0].Value
		cur = next
	}
	t.Fatal("target not reached")
}

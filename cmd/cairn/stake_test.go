package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// Staking from the CLI on a DPoS chain: register a candidate, delegate,
// vote, undelegate; read it all back with proofs; bad input refused with
// its code.
func TestStakingFromTheCLI(t *testing.T) {
	c := apitest.New(t, apitest.Options{Genesis: func(g *types.Genesis) {
		g.Params.ValidatorGovernance = types.GovernanceDPoS
		g.Params.StakingParams = types.StakingParams{EpochBlocks: 100_000}
		v := g.Validators[0].PublicKey
		g.Stakes = []types.GenesisStake{{Delegator: v.Address(), Validator: v, Amount: 1000}}
	}})
	op, nodeKey := keyFile(t, c.Users[0]), keyFile(t, apitest.Key('c', 0))
	cand := apitest.Key('c', 0).Public().String()
	node := "--node=" + c.URL
	ok := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(t, append(args, node)...)
		if code != 0 {
			t.Fatalf("cairn %v: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	ok("validator", "register", "--validator-key", nodeKey, "--name", "cand", "--p2p-addr", "127.0.0.1:19904", "--commission-bp", "300", "--key", op, "--wait")
	ok("stake", "delegate", cand, "600", "--key", op, "--wait")
	ok("stake", "vote", cand, "--key", op, "--wait")
	ok("stake", "undelegate", cand, "100", "--key", op, "--wait")

	var v client.StakingValidatorDetail
	if err := json.Unmarshal([]byte(ok("validator", "show", cand, "--prove")), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "cand" || v.CommissionBP != 300 || v.Stake != 500 || v.Votes != 500 || len(v.Unbonding) != 1 {
		t.Errorf("validator show: %+v", v)
	}
	var d client.StakingDelegator
	if err := json.Unmarshal([]byte(ok("stake", "show", c.Users[0].Public().Address().String(), "--prove")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Bonded != 500 || d.Unbonding != 100 || len(d.Votes) != 1 {
		t.Errorf("stake show: %+v", d)
	}
	ok("validator", "list", "--prove")
	ok("stake", "params", "--prove")

	code, _, stderr := run(t, "stake", "undelegate", cand, "501", "--key", op, "--wait", node)
	if code != 1 || !strings.Contains(stderr, "insufficient_stake") {
		t.Errorf("undelegating more than delegated: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "validator", "register", "--validator-key", nodeKey, "--name", "x", "--p2p-addr", "h:1", "--key", op, "--wait", node)
	if code != 1 || !strings.Contains(stderr, "key_in_use") {
		t.Errorf("registering a key in use: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "stake", "delegate", "abc", "1", "--key", op, node)
	if code != 2 || !strings.Contains(stderr, "public key") {
		t.Errorf("bad key: exit %d, %s", code, stderr)
	}
}

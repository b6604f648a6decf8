package main

import (
	"strings"
	"testing"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// Governance from the CLI on a closed chain: kv.put needs the writers
// role; a grant by one governor alone is refused (403 unauthorized), a
// grant approved by a second governor (--approve) commits, and the new
// writer's put then commits; a revoke takes the right away again.
func TestGovernanceFromTheCLI(t *testing.T) {
	c := apitest.New(t, apitest.Options{Genesis: func(g *types.Genesis) {
		g.Params.Permissions = types.Permissions{"transfer": {types.RoleAnyone}, "kv.put": {"writers"},
			"role.grant": {types.RoleGovernors}, "role.revoke": {types.RoleGovernors}}
		g.Params.GovernanceThreshold = 2
		g.Roles = []types.Role{{Name: types.RoleGovernors, Members: []crypto.Address{
			apitest.Key('u', 0).Public().Address(), apitest.Key('u', 1).Public().Address()}}}
	}})
	gov1, gov2, user := keyFile(t, c.Users[0]), keyFile(t, c.Users[1]), keyFile(t, c.Users[2])
	addr := c.Users[2].Public().Address().String()
	node := "--node=" + c.URL

	code, _, stderr := run(t, "tx", "put", "k", "v", "--key", user, node)
	if code != 1 || !strings.Contains(stderr, "403 unauthorized") {
		t.Fatalf("put before the grant: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "tx", "role.grant", "writers", addr, "--key", gov1, node)
	if code != 1 || !strings.Contains(stderr, "1 of the 2 governor approvals") {
		t.Fatalf("grant by one governor: exit %d, %s", code, stderr)
	}
	if code, _, stderr = run(t, "tx", "role.grant", "writers", addr, "--key", gov1, "--approve", gov2, "--wait", node); code != 0 {
		t.Fatalf("grant by two governors: exit %d, %s", code, stderr)
	}
	if code, _, stderr = run(t, "tx", "put", "k", "v", "--key", user, "--wait", node); code != 0 {
		t.Fatalf("put after the grant: exit %d, %s", code, stderr)
	}
	if code, _, stderr = run(t, "tx", "role.revoke", "writers", addr, "--key", gov2, "--approve", gov1, "--wait", node); code != 0 {
		t.Fatalf("revoke: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "tx", "put", "k", "w", "--key", user, node)
	if code != 1 || !strings.Contains(stderr, "403 unauthorized") {
		t.Fatalf("put after the revoke: exit %d, %s", code, stderr)
	}
	code, _, stderr = run(t, "tx", "put", "k", "w", "--key", user, "--approve", gov1, node)
	if code != 2 || !strings.Contains(stderr, "--approve applies to governance transactions only") {
		t.Fatalf("--approve on a put: exit %d, %s", code, stderr)
	}
}

package p2p

import (
	"testing"

	"github.com/cairn-db/cairn/crypto"
)

// A validator that joins at run time is admitted and dialled by the
// validators that learn of it (SetValidators), and one that leaves is
// dropped: its connection closes and it cannot connect again.
func TestSetValidatorsJoinAndLeave(t *testing.T) {
	trs := mesh(t, 2, nil)
	waitMesh(t, trs)
	a, b := trs[0], trs[1]
	// The joiner knows a and b from its own config; they know nothing of it.
	ln := listen(t)
	jk := testKey(5)
	cfg := testConfig(jk, ln)
	cfg.Peers = []Peer{{PublicKey: a.PublicKey(), Addr: a.Addr().String()}, {PublicKey: b.PublicKey(), Addr: b.Addr().String()}}
	j := start(t, cfg)
	if connectedTo(a, jk.Public()) {
		t.Fatal("a connected to a key it does not allow")
	}
	all := []crypto.PublicKey{a.PublicKey(), b.PublicKey(), jk.Public()}
	joiner := Peer{PublicKey: jk.Public(), Addr: ln.Addr().String()}
	for _, tr := range []*Transport{a, b} {
		tr.SetValidators([]Peer{joiner}, all)
	}
	waitMesh(t, []*Transport{a, b, j})
	got := collect(j)
	sendEventually(t, a, jk.Public(), 1, []byte("welcome"))
	waitFor(t, "message to the joiner", func() bool { return got.has("welcome") })
	if n := a.Broadcast(1, []byte("all")); n != 2 {
		t.Fatalf("broadcast reached %d peers, want 2 (b and the joiner)", n)
	}
	// The joiner leaves: a and b drop it.
	for _, tr := range []*Transport{a, b} {
		tr.SetValidators(nil, all[:2])
	}
	waitFor(t, "joiner dropped", func() bool { return !connectedTo(j, a.PublicKey()) && !connectedTo(j, b.PublicKey()) })
	for _, s := range a.Peers() {
		if s.PublicKey == jk.Public() {
			t.Fatal("a still lists the removed validator")
		}
	}
	if a.Send(jk.Public(), 1, []byte("x")) {
		t.Fatal("send to a removed validator accepted")
	}
	if !connectedTo(a, b.PublicKey()) {
		t.Fatal("a lost b")
	}
}

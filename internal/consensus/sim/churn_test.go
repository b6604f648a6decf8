package sim

import "testing"

// In a churn run without faults the joiner signs certificates exactly at
// the heights whose set includes it, every certificate verifies against
// its own height's set (the commit check), and the joiner, outside the set
// before and after, still commits every height (it follows).
func TestChurnJoinerVotesWhileInTheSet(t *testing.T) {
	s := newSim(Config{Validators: 4, Churn: true, Heights: 16}.Defaults())
	s.run()
	if len(s.res.Violations) > 0 {
		t.Fatalf("violations: %+v", s.res.Violations)
	}
	joiner := len(s.nodes) - 1
	ref := s.nodes[0]
	signed := 0
	for h := uint64(1); h <= ref.height(); h++ {
		in := h >= ChurnJoin && h < ChurnLeave
		cert := ref.certs[h-1]
		has := false
		for _, sig := range cert.Sigs {
			has = has || int(sig.Validator) == joiner
		}
		if has && !in {
			t.Fatalf("height %d: the joiner signed outside its heights", h)
		}
		if has {
			signed++
		}
		if got, want := cert.Sigs, s.setAt(h); len(got) == 0 || want.Len() < len(got) {
			t.Fatalf("height %d: %d signatures for a set of %d", h, len(got), want.Len())
		}
	}
	if signed == 0 {
		t.Fatal("the joiner never signed a certificate while in the set")
	}
	if s.nodes[joiner].height() < uint64(s.cfg.Heights) {
		t.Fatalf("the joiner stopped following at height %d", s.nodes[joiner].height())
	}
	t.Logf("joiner signed %d of the %d certificates of heights %d..%d", signed, ChurnLeave-ChurnJoin, ChurnJoin, ChurnLeave-1)
}

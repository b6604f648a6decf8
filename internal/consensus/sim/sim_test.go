package sim

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var long = flag.Bool("long", false, "run thousands of seeds per fault mix")

type mix struct {
	name  string
	cfg   Config
	seeds int
}

var (
	net      = Faults{Drop: true, Duplicate: true, Partition: true}
	allFault = Faults{Drop: true, Duplicate: true, Partition: true, Crash: true, Omission: true}
)

// mixes are the fault mixes the default test runs: more than 200 seeds in
// all, every one with at most f faulty validators, so every invariant,
// liveness included, must hold.
var mixes = []mix{
	{"net/n4", Config{Validators: 4, Faults: net}, 25},
	{"crash-recovery/n4", Config{Validators: 4, Crash: 1, Faults: Faults{Drop: true, Partition: true, Crash: true}}, 25},
	{"crash-stop/n4", Config{Validators: 4, Crash: 1, Faults: Faults{Drop: true, CrashStop: true}}, 15},
	{"equivocate/n4", Config{Validators: 4, Byzantine: 1, Behaviour: Equivocate, Faults: net}, 15},
	{"doublevote/n4", Config{Validators: 4, Byzantine: 1, Behaviour: DoubleVote, Faults: net}, 15},
	{"invalid/n4", Config{Validators: 4, Byzantine: 1, Behaviour: Invalid, Faults: net}, 15},
	{"silent/n4", Config{Validators: 4, Byzantine: 1, Behaviour: Silent, Faults: net}, 15},
	{"garbage/n4", Config{Validators: 4, Byzantine: 1, Behaviour: Garbage, Faults: net}, 15},
	{"everything/n4", Config{Validators: 4, Byzantine: 1, Crash: 1, Faults: allFault}, 20},
	{"mixed/n7", Config{Validators: 7, Byzantine: 2, Crash: 1, Faults: allFault}, 20},
	{"fork-at-f/n7", Config{Validators: 7, Byzantine: 2, Behaviour: Fork, Faults: net}, 15},
	{"mixed/n10", Config{Validators: 10, Byzantine: 3, Faults: net}, 10},
	{"crash-recovery/n10", Config{Validators: 10, Crash: 3, Faults: allFault}, 10},
	// Lies aimed at catch-up, with crashes and partitions so that honest
	// validators fall behind and must fetch blocks.
	{"falseheight/n4", Config{Validators: 4, Byzantine: 1, Crash: 1, Behaviour: FalseHeight, Faults: allFault}, 10},
	{"badblocks/n4", Config{Validators: 4, Byzantine: 1, Crash: 1, Behaviour: BadBlocks, Faults: allFault}, 10},
	{"futurevotes/n4", Config{Validators: 4, Byzantine: 1, Crash: 1, Behaviour: FutureVotes, Faults: allFault}, 10},
	// Unequal voting powers: f is a power, and the Byzantine validator is
	// drawn among those that keep the faulty power at most f.
	{"powers-1234/n4", Config{Powers: []uint64{1, 2, 3, 4}, Byzantine: 1, Crash: 1, Faults: allFault}, 10},
	{"powers-10111/n4", Config{Powers: []uint64{10, 1, 1, 1}, Byzantine: 1, Crash: 1, Faults: allFault}, 10},
	{"powers-liar/n7", Config{Powers: []uint64{5, 1, 1, 2, 3, 1, 2}, Byzantine: 2, Crash: 1, Behaviour: Liar, Faults: allFault}, 10},
	{"liar/n7", Config{Validators: 7, Byzantine: 2, Crash: 1, Behaviour: Liar, Faults: allFault}, 10},
	// The validator set changes during the run (a join, a power change,
	// a leave: churn.go), with faults around the changes.
	{"churn/n4", Config{Validators: 4, Churn: true, Faults: net}, 10},
	{"churn-crash/n4", Config{Validators: 4, Crash: 1, Churn: true, Faults: Faults{Drop: true, Partition: true, Crash: true}}, 10},
	{"churn-equivocate/n4", Config{Validators: 4, Byzantine: 1, Behaviour: Equivocate, Churn: true, Faults: net}, 10},
	{"churn-everything/n7", Config{Validators: 7, Byzantine: 2, Crash: 1, Churn: true, Faults: allFault}, 10},
}

func TestSeedsAcrossFaultMixes(t *testing.T) {
	w := NewWorkload(1024)
	total := 0
	for _, m := range mixes {
		seeds := m.seeds
		if *long {
			seeds *= 40
		}
		total += seeds
		m := m
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			c := m.cfg
			c.Workload = w
			s := RunMany(c, 1, seeds, 1)
			if s.ViolationCount > 0 {
				var b strings.Builder
				for _, v := range s.Violations {
					fmt.Fprintf(&b, "\n  seed %d %s at height %d (v%d, %d ms): %s", v.Seed, v.Kind, v.Height, v.Node, v.Time, v.Detail)
				}
				t.Fatalf("%d violations in %d seeds:%s", s.ViolationCount, seeds, b.String())
			}
			if s.MinHeight < uint64(c.Defaults().Heights) {
				t.Fatalf("a run ended at height %d", s.MinHeight)
			}
			t.Logf("%d seeds: %.1f msgs/block, %d rounds>0, %d catch-up blocks, %d evidence, %d crashes, %d partitions",
				seeds, s.MessagesPerBlock, s.Rounds, s.CatchUpBlocks, s.Evidence, s.Crashes, s.Partitions)
		})
	}
	if total < 200 {
		t.Fatalf("only %d seeds", total)
	}
}

// TestForkPastThreshold shows the checker can fail: with f+1 colluding
// Byzantine validators the fork attack succeeds and agreement breaks.
func TestForkPastThreshold(t *testing.T) {
	for _, n := range []int{4, 7} {
		f := (n - 1) / 3
		s := RunMany(Config{Validators: n, Byzantine: f + 1, Behaviour: Fork}, 1, 10, 0)
		forks := 0
		for _, v := range s.Violations {
			if v.Kind == "agreement" {
				forks++
			}
		}
		if forks == 0 {
			t.Fatalf("n=%d with %d colluding Byzantine validators: no fork found in 10 seeds (%+v)", n, f+1, s.Violations)
		}
		t.Logf("n=%d, %d Byzantine: forks in %d of 10 seeds, e.g. %s", n, f+1, len(s.FailedSeeds), s.Violations[0].Detail)
	}
}

// TestByzantinePowerAtMostF: with powers, the seeded roles keep the
// Byzantine power at most f whenever some choice does.
func TestByzantinePowerAtMostF(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		c := Config{Powers: []uint64{10, 1, 1, 1}, Byzantine: 1, Seed: seed}.Defaults()
		s := newSim(c)
		var p uint64
		for _, nd := range s.nodes {
			if nd.role == byzantine {
				p += s.vs.Validators[nd.id].Power
			}
		}
		if p > s.f || p == 0 {
			t.Fatalf("seed %d: Byzantine power %d, f %d", seed, p, s.f)
		}
	}
}

// TestPowerfulForkBreaksAgreement: two colluders of {3,3,3,1} hold at
// least 4 of 10, past f = 3 (no choice of two keeps within f), so the
// fork attack must succeed: the checker still fails when power, not
// count, crosses the threshold.
func TestPowerfulForkBreaksAgreement(t *testing.T) {
	s := RunMany(Config{Powers: []uint64{3, 3, 3, 1}, Byzantine: 2, Behaviour: Fork}, 1, 10, 0)
	forks := 0
	for _, v := range s.Violations {
		if v.Kind == "agreement" {
			forks++
		}
	}
	if forks == 0 {
		t.Fatalf("6 of 10 power colluding: no fork in 10 seeds (%+v)", s.Violations)
	}
}

func TestDoubleVotingYieldsEvidence(t *testing.T) {
	s := RunMany(Config{Validators: 4, Byzantine: 1, Behaviour: DoubleVote}, 1, 5, 0)
	if s.ViolationCount != 0 || s.Evidence == 0 {
		t.Fatalf("violations %d, evidence %d", s.ViolationCount, s.Evidence)
	}
}

// TestLedgerReplicasAgreeOnState runs the real ledger as every replica's
// application, under faults, liars and unequal powers: each commit must
// apply, and all replicas must derive the same state root, results root
// and receipts at every height (checked in ledgerCommit).
func TestLedgerReplicasAgreeOnState(t *testing.T) {
	seeds := 4
	if *long {
		seeds *= 40
	}
	for _, c := range []Config{
		{Validators: 4, Byzantine: 1, Crash: 1, Faults: allFault, Ledger: true},
		{Powers: []uint64{1, 2, 3, 4}, Byzantine: 1, Crash: 1, Behaviour: "liar,invalid", Faults: allFault, Ledger: true},
		{Powers: []uint64{10, 1, 1, 1}, Byzantine: 1, Crash: 1, Behaviour: Equivocate, Faults: allFault, Ledger: true},
	} {
		s := RunMany(c, 1, seeds, 0)
		if s.ViolationCount != 0 || s.MinHeight < 20 {
			t.Fatalf("%+v: %d violations, min height %d: %+v", c, s.ViolationCount, s.MinHeight, s.Violations)
		}
		if s.TxsOK == 0 || s.TxsFailed != 0 {
			t.Fatalf("%+v: %d transactions succeeded, %d failed", c, s.TxsOK, s.TxsFailed)
		}
	}
}

func TestLedgerRunIsDeterministic(t *testing.T) {
	c := Config{Validators: 4, Byzantine: 1, Crash: 1, Faults: allFault, Seed: 7, Ledger: true, Heights: 8}
	a, b := Run(c), Run(c)
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Fatalf("same seed, different runs:\n%+v\n%+v", a, b)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	c := Config{Validators: 4, Byzantine: 1, Crash: 1, Faults: allFault, Seed: 42}
	a, b := Run(c), Run(c)
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Fatalf("same seed, different runs:\n%+v\n%+v", a, b)
	}
}

func TestSaturatedRunCommitsEveryHeight(t *testing.T) {
	r := Run(Config{Validators: 4, Saturate: true, Heights: 5, LatencyMin: 10})
	if len(r.Violations) != 0 || r.Heights < 5 || r.Rounds != 0 {
		t.Fatalf("%+v", r)
	}
	// Three message delays per height at a fixed 10 ms.
	if r.VirtualMs > 5*3*10+10 {
		t.Fatalf("5 heights took %d virtual ms", r.VirtualMs)
	}
}

func TestRunManyIsRaceFree(t *testing.T) {
	s := RunMany(Config{Validators: 4, Byzantine: 1, Crash: 1, Faults: allFault, Heights: 5}, 1, 4, 4)
	if s.ViolationCount != 0 || s.Runs != 4 {
		t.Fatalf("%+v", s)
	}
}

func TestGarbageIsDroppedAndCounted(t *testing.T) {
	s := RunMany(Config{Validators: 4, Byzantine: 1, Behaviour: Garbage}, 1, 5, 0)
	d := s.Dropped
	if s.ViolationCount != 0 || d.Undecodable == 0 || d.BadSignature == 0 || d.WrongProposer == 0 {
		t.Fatalf("violations %d, dropped %+v", s.ViolationCount, d)
	}
}

func TestInvalidBlocksAreRefused(t *testing.T) {
	s := RunMany(Config{Validators: 4, Byzantine: 1, Behaviour: Invalid}, 1, 5, 0)
	if s.ViolationCount != 0 || s.Dropped.InvalidBlocks == 0 {
		t.Fatalf("violations %d, invalid blocks refused %d", s.ViolationCount, s.Dropped.InvalidBlocks)
	}
}

// TestCatchUpLiesAreRefused: a liar's bad blocks reach honest validators
// (refused as undecodable or as bad catch-up blocks), none is committed
// (the certificate and agreement checks would say so), nobody stalls, and
// the engines stay within their memory bounds.
func TestCatchUpLiesAreRefused(t *testing.T) {
	s := RunMany(Config{Validators: 4, Byzantine: 1, Crash: 1, Behaviour: Liar, Faults: allFault}, 1, 5, 0)
	if s.ViolationCount != 0 || s.Dropped.BadCatchUp == 0 || s.Dropped.Undecodable == 0 || s.CatchUpBlocks == 0 {
		t.Fatalf("violations %+v, dropped %+v, catch-up blocks %d", s.Violations, s.Dropped, s.CatchUpBlocks)
	}
	if s.MaxHeld.Future == 0 || s.MaxHeld.Rounds == 0 {
		t.Fatalf("held %+v: the bounds check saw nothing", s.MaxHeld)
	}
}

// BenchmarkScale reports messages per block and commits per virtual
// second for growing validator sets (10 ms per message; the cpu figure
// charges 50 µs per received message). `cairn sim --scale` prints the
// same table.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{4, 7, 10, 16, 31, 64} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var row ScaleRow
			for i := 0; i < b.N; i++ {
				row = Scale([]int{n}, 20, 10, 50)[0]
			}
			b.ReportMetric(row.MessagesPerBlock, "msgs/block")
			b.ReportMetric(row.KBPerBlock, "KB/block")
			b.ReportMetric(row.CommitsPerSecond, "commits/vs")
			b.ReportMetric(row.CommitsPerSecondCPU, "commits/vs-cpu")
		})
	}
}

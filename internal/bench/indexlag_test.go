package bench

import (
	"testing"
	"time"
)

func TestLagTrackerMeasuresEachHeightFromCommitToIndexed(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tr := newLagTracker("node0")
	for _, s := range []statusSample{
		{at: at(0), height: 10, indexed: 9, searchEnabled: true}, // before the run: not measured
		{at: at(200), height: 12, indexed: 10, searchEnabled: true},
		{at: at(400), height: 13, indexed: 10, searchEnabled: true},
		{at: at(600), height: 13, indexed: 12, searchEnabled: true},
		{at: at(800), height: 15, indexed: 13, searchEnabled: true},
	} {
		tr.observe(s)
	}
	if tr.caughtUp() {
		t.Fatal("caught up with heights 14 and 15 unindexed")
	}
	r := tr.result(at(1800))
	// 11, 12: 200 -> 600 (0.4 s); 13: 400 -> 800 (0.4 s); 14, 15: 800 -> end (1.0 s, unindexed).
	if r.Heights != 5 || r.Unindexed != 2 || r.MaxBehind != 3 {
		t.Fatalf("result %+v", r)
	}
	if r.LagS.Max != 1.0 || r.LagS.Min != 0.4 || r.LagS.P50 != 0.4 {
		t.Fatalf("lags %+v", r.LagS)
	}
	tr.observe(statusSample{at: at(1000), height: 15, indexed: 15, searchEnabled: true})
	if !tr.caughtUp() {
		t.Fatal("not caught up at 15/15")
	}
	// 14, 15: 800 -> 1000.
	if r := tr.result(at(5000)); r.Unindexed != 0 || r.LagS.Max != 0.4 || r.LagS.Min != 0.2 {
		t.Fatalf("after catching up: %+v", r)
	}
}

func TestLagTrackerWithoutSearch(t *testing.T) {
	tr := newLagTracker("node1")
	tr.observe(statusSample{at: time.Now(), height: 10})
	tr.observe(statusSample{at: time.Now(), height: 20})
	if !tr.caughtUp() {
		t.Fatal("a node without search holds up the wait")
	}
	m := &lagMonitor{trackers: []*lagTracker{tr}}
	if got := m.results(time.Now()); len(got) != 0 {
		t.Fatalf("node without search reported: %+v", got)
	}
}

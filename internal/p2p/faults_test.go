package p2p

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cairn-db/cairn/crypto"
)

// With DropOutbound 1 nothing gets out although Send reports success; after
// clearing, traffic flows again and none of the dropped messages appears.
func TestFaultsDropAll(t *testing.T) {
	trs := mesh(t, 2, nil)
	a, b := trs[0], trs[1]
	colB := collect(b)
	collect(a)
	waitMesh(t, trs)

	if err := a.SetFaults(Faults{DropOutbound: 1}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if !a.Send(b.PublicKey(), 0, fmt.Appendf(nil, "dropped %d", i)) {
			t.Fatal("an omission fault made Send report failure")
		}
	}
	if got := a.Stats().DroppedByFaults; got != 50 {
		t.Fatalf("DroppedByFaults = %d, want 50", got)
	}
	if err := a.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	sendEventually(t, a, b.PublicKey(), 0, []byte("marker"))
	waitFor(t, "the marker", func() bool { return colB.has("marker") })
	// Per-connection order: anything not dropped would have arrived first.
	if got := colB.from(a.PublicKey()); len(got) != 1 {
		t.Fatalf("b received %q, want only the marker", got)
	}
}

// A share of messages is dropped, the rest delivered in order; the draws
// come from the seeded PRNG, so the same seed drops the same messages.
func TestFaultsDropShareIsSeeded(t *testing.T) {
	run := func() []string {
		trs := mesh(t, 2, func(_ int, c *Config) { c.FaultSeed = 7 })
		a, b := trs[0], trs[1]
		colB := collect(b)
		collect(a)
		waitMesh(t, trs)
		if err := a.SetFaults(Faults{DropOutbound: 0.3}); err != nil {
			t.Fatal(err)
		}
		for i := range 500 {
			sendEventually(t, a, b.PublicKey(), 0, fmt.Appendf(nil, "%03d", i))
		}
		dropped := int(a.Stats().DroppedByFaults)
		if dropped < 100 || dropped > 200 {
			t.Fatalf("dropped %d of 500 at 30%%", dropped)
		}
		waitFor(t, "the survivors", func() bool { return colB.count() == 500-dropped })
		got := colB.from(a.PublicKey())
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("out of order: %s after %s", got[i], got[i-1])
			}
		}
		return got
	}
	first, second := run(), run()
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Fatal("the same seed dropped different messages")
	}
}

// A partition blocks both directions at the side that sets it, although the
// other side does not know; clearing it heals at once.
func TestFaultsPartitionAndHeal(t *testing.T) {
	trs := mesh(t, 3, nil)
	a, b, c := trs[0], trs[1], trs[2]
	colA, colB, colC := collect(a), collect(b), collect(c)
	waitMesh(t, trs)

	if err := a.SetFaults(Faults{Partitioned: map[crypto.PublicKey]bool{b.PublicKey(): true}}); err != nil {
		t.Fatal(err)
	}
	if a.Send(b.PublicKey(), 0, []byte("a to b, cut")) {
		t.Fatal("Send across a partition reported success")
	}
	for i := range 20 {
		sendEventually(t, b, a.PublicKey(), 0, fmt.Appendf(nil, "b to a, cut %d", i))
	}
	waitFor(t, "a to discard b's messages", func() bool { return a.Stats().DroppedByFaults == 1+20 })
	// The rest of the network is unaffected.
	sendEventually(t, a, c.PublicKey(), 0, []byte("a to c"))
	sendEventually(t, c, a.PublicKey(), 0, []byte("c to a"))
	waitFor(t, "a and c to talk", func() bool { return colC.has("a to c") && colA.has("c to a") })
	for _, p := range a.Peers() {
		if p.PublicKey == b.PublicKey() && (!p.Partitioned || !p.Connected) {
			t.Fatalf("status of the partitioned peer: %+v", p)
		}
	}

	if err := a.SetFaults(Faults{}); err != nil {
		t.Fatal(err)
	}
	sendEventually(t, a, b.PublicKey(), 0, []byte("a to b, healed"))
	sendEventually(t, b, a.PublicKey(), 0, []byte("b to a, healed"))
	waitFor(t, "the heal", func() bool { return colB.has("a to b, healed") && colA.has("b to a, healed") })
	if got := colA.from(b.PublicKey()); len(got) != 1 {
		t.Fatalf("a received from b %q, want only the post-heal message", got)
	}
	if got := colB.from(a.PublicKey()); len(got) != 1 {
		t.Fatalf("b received from a %q, want only the post-heal message", got)
	}
}

// Delayed messages still all arrive, in order (no timing is asserted here;
// the benchmark measures it).
func TestFaultsDelayKeepsOrder(t *testing.T) {
	trs := mesh(t, 2, nil)
	a, b := trs[0], trs[1]
	colB := collect(b)
	collect(a)
	waitMesh(t, trs)
	if err := a.SetFaults(Faults{Delay: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		sendEventually(t, a, b.PublicKey(), 0, fmt.Appendf(nil, "%02d", i))
	}
	waitFor(t, "delayed messages", func() bool { return colB.count() == 30 })
	for i, got := range colB.from(a.PublicKey()) {
		if got != fmt.Sprintf("%02d", i) {
			t.Fatalf("message %d is %q", i, got)
		}
	}
}

func TestSetFaultsValidation(t *testing.T) {
	trs := mesh(t, 2, nil)
	for _, f := range []Faults{{DropOutbound: -0.1}, {DropOutbound: 1.5}, {DropOutbound: math.NaN()}, {Delay: -time.Second}} {
		if err := trs[0].SetFaults(f); err == nil {
			t.Errorf("SetFaults(%+v) accepted", f)
		}
	}
	part := map[crypto.PublicKey]bool{trs[1].PublicKey(): true}
	if err := trs[0].SetFaults(Faults{Partitioned: part}); err != nil {
		t.Fatal(err)
	}
	delete(part, trs[1].PublicKey()) // the transport keeps its own copy
	if !trs[0].Faults().Partitioned[trs[1].PublicKey()] {
		t.Fatal("changing the caller's map changed the faults")
	}
}

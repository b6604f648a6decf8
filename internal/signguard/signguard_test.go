package signguard

import (
	"os"
	"testing"
)

func TestFloorFileOnlyRises(t *testing.T) {
	dir := t.TempDir()
	if f, err := Read(dir); err != nil || f.Height != 0 {
		t.Fatalf("no file: %+v %v", f, err)
	}
	if err := Raise(dir, Floor{Height: 10, Reason: "rollback"}); err != nil {
		t.Fatal(err)
	}
	if err := Raise(dir, Floor{Height: 4, UntilCaughtUp: true}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(dir)
	if err != nil || f.Height != 10 || !f.UntilCaughtUp {
		t.Fatalf("after raising to 10 then 4: %+v %v", f, err)
	}
	if err := os.WriteFile(Path(dir), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir); err == nil {
		t.Fatal("a corrupt floor file read as no floor")
	}
}

// A restored validator withholds its signatures up to one above the
// highest height a peer reported while it caught up, then signs again.
func TestGuardUntilCaughtUp(t *testing.T) {
	g := New(Floor{Height: 6, UntilCaughtUp: true}) // backup at height 5
	g.Committed(5)
	if g.MaySign(6) || g.MaySign(7) && g.Height() != 6 {
		t.Fatal("signs at the floor")
	}
	if !g.MaySign(7) {
		t.Fatal("before any peer report the floor is the file's")
	}
	g.PeerAt(20, 5) // the network is at 20
	for h := uint64(6); h <= 21; h++ {
		if g.MaySign(h) {
			t.Fatalf("may sign at %d while the network is at 20", h)
		}
	}
	g.Committed(19)
	g.PeerAt(21, 19)
	g.Committed(21) // caught up: the floor stays at 22
	g.PeerAt(30, 21)
	if g.Height() != 22 || g.MaySign(22) || !g.MaySign(23) {
		t.Fatalf("after catching up: floor %d", g.Height())
	}
}

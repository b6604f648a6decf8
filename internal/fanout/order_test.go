package fanout

import (
	"errors"
	"slices"
	"testing"
)

// TestOrder: mempool, then index, then hub, and a mempool error stops
// neither of the others.
func TestOrder(t *testing.T) {
	for _, fail := range []bool{false, true} {
		var got []string
		s := steps{
			update: func() error {
				got = append(got, "mempool")
				if fail {
					return errors.New("cannot read account")
				}
				return nil
			},
			notify:  func() { got = append(got, "index") },
			publish: func() { got = append(got, "hub") },
		}
		err := s.run()
		if want := []string{"mempool", "index", "hub"}; !slices.Equal(got, want) {
			t.Errorf("fail=%v: order %v, want %v", fail, got, want)
		}
		if (err != nil) != fail {
			t.Errorf("fail=%v: err %v", fail, err)
		}
	}
	if err := (steps{}).run(); err != nil {
		t.Errorf("no targets: %v", err)
	}
}

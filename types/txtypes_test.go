package types

import "testing"

// The registry is well-formed: numbers distinct, non-zero and ascending,
// names distinct, each constructor makes a payload of its own type, and the
// tables derived from it agree.
func TestTxTypeRegistry(t *testing.T) {
	names := map[string]bool{}
	var last TxType
	for _, info := range TxTypes() {
		if info.Type <= last {
			t.Errorf("%s: type %d out of order or zero", info.Name, info.Type)
		}
		last = info.Type
		if info.Name == "" || names[info.Name] {
			t.Errorf("type %d: empty or duplicate name %q", info.Type, info.Name)
		}
		names[info.Name] = true
		if p := info.New(); p == nil || p.TxType() != info.Type {
			t.Errorf("%s: New() makes %T", info.Name, p)
		}
		if info.Type.String() != info.Name {
			t.Errorf("%d.String() = %q, want %q", info.Type, info.Type.String(), info.Name)
		}
		if got, err := ParseTxType(info.Name); err != nil || got != info.Type {
			t.Errorf("ParseTxType(%q) = %v, %v", info.Name, got, err)
		}
	}
	if got := TxTypeNames(); len(got) != len(names) {
		t.Errorf("TxTypeNames() = %v", got)
	}
	// TxTypes hands out a copy.
	TxTypes()[0].Name = "changed"
	if TxTypes()[0].Name == "changed" {
		t.Error("TxTypes returns the registry itself")
	}
}

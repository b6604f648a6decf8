package canon

import (
	"errors"
	"testing"
)

var errTest = errors.New("test sentinel")

func TestRoundTripAndRejections(t *testing.T) {
	e := NewEncoder(0)
	e.U8(7)
	e.U16(0x0102)
	e.U32(0x03040506)
	e.U64(1 << 40)
	e.Bool(true)
	e.Fixed([]byte{9, 9})
	e.Bytes16([]byte("ab"))
	e.Bytes32([]byte("cde"))
	good := e.B

	d := NewDecoder(good, "thing", errTest)
	var fx [2]byte
	if d.U8("a") != 7 || d.U16("b") != 0x0102 || d.U32("c") != 0x03040506 || d.U64("d") != 1<<40 || !d.Bool("e") {
		t.Fatal("integers or bool did not round-trip")
	}
	d.Fixed(fx[:], "f")
	if fx != [2]byte{9, 9} || string(d.Bytes16("g", 10)) != "ab" || string(d.Bytes32("h", 10)) != "cde" {
		t.Fatal("byte fields did not round-trip")
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}

	read := func(b []byte, max int) error {
		d := NewDecoder(b, "thing", errTest)
		d.U8("a")
		d.U16("b")
		d.U32("c")
		d.U64("d")
		d.Bool("e")
		d.Fixed(fx[:], "f")
		d.Bytes16("g", max)
		d.Bytes32("h", max)
		return d.Finish()
	}
	for n := 0; n < len(good); n++ {
		if err := read(good[:n], 10); !errors.Is(err, errTest) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
	if err := read(append(append([]byte{}, good...), 0), 10); !errors.Is(err, errTest) {
		t.Fatalf("trailing byte accepted: %v", err)
	}
	bad := append([]byte{}, good...)
	bad[15] = 2 // the bool byte
	if err := read(bad, 10); !errors.Is(err, errTest) {
		t.Fatalf("bool 2 accepted: %v", err)
	}
	if err := read(good, 2); !errors.Is(err, errTest) {
		t.Fatalf("field over its limit accepted: %v", err)
	}
}

// Command clockcontract is a contract that imports a host function outside
// the Cairn host API (the host's real clock): deploy refuses its module.
package main

import (
	"encoding/binary"

	"github.com/cairn-db/cairn/contract"
)

//go:wasmimport env wall_clock
func wallClock() uint64

func init() {
	contract.Register("now", func([]byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, wallClock()), nil
	})
}

func main() {}

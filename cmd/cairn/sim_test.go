package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// `cairn sim` takes unequal powers, the catch-up liars and the real
// ledger, and refuses a malformed power list.
func TestSimPowersAndLiars(t *testing.T) {
	var out, errb bytes.Buffer
	code := runSim([]string{"--powers", "1,2,3,4", "--byzantine", "1", "--faults", "net,liar", "--heights", "5", "--seeds", "2", "--ledger"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	var s struct {
		Validators int      `json:"validators"`
		Powers     []uint64 `json:"powers"`
		Behaviour  string   `json:"byzantine_behaviour"`
		Violations []any    `json:"violations"`
		Ledger     bool     `json:"ledger"`
		TxsOK      uint64   `json:"txs_ok"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Validators != 4 || len(s.Powers) != 4 || s.Behaviour != "liar" || len(s.Violations) != 0 || !s.Ledger || s.TxsOK == 0 {
		t.Fatalf("%+v", s)
	}
	errb.Reset()
	if code := runSim([]string{"--powers", "1,0"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--powers") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

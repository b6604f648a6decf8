package main

import (
	"strings"
	"testing"
)

// The experiments moved to cmd/cairn-lab; asking cairn bench for one must
// say where they went rather than only that the flag is unknown.
func TestBenchScenarioPointsToCairnLab(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--scenario", "list"},
		{"bench", "-scenario=all", "--quick"},
		{"bench", "--duration", "1s", "--scenario", "byzantine"},
	} {
		var out, errb strings.Builder
		if code := dispatch(args, &out, &errb); code != 2 {
			t.Fatalf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errb.String(), "cmd/cairn-lab --scenario") {
			t.Fatalf("%q: stderr does not point to cairn-lab: %s", args, errb.String())
		}
	}
}

package robustness

import (
	"fmt"
	"testing"

	"github.com/anishathalye/porcupine"
)

// kvInput is one key-value operation as a client called it.
type kvInput struct {
	Op     string // "put", "cas" or "get"
	Key    string
	Value  string // put, cas
	Expect uint64 // cas: the expect_version
}

// kvOutput is what the client learned. Unknown marks an indeterminate write
// (its answer was lost and its hash was not found in a block in time).
type kvOutput struct {
	Unknown  bool
	Conflict bool   // cas failed with version_conflict
	Version  uint64 // put/cas: the version written; get: the version read (0: absent)
	Value    string // get
}

// kvState is one key's register: its version (0: absent) and value.
type kvState struct {
	Version uint64
	Value   string
}

// kvModel is the sequential specification of Cairn's versioned key-value
// store for put, compare-and-set put and read, partitioned by key (no
// operation touches two keys).
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			if out.Unknown {
				return true, s
			}
			return out.Version == s.Version && (s.Version == 0 || out.Value == s.Value), s
		case "put":
			next := kvState{Version: s.Version + 1, Value: in.Value}
			return out.Unknown || out.Version == next.Version, next
		case "cas":
			// Execution is deterministic: in a given state a compare-and-set
			// either must succeed or must conflict, so even an unknown
			// outcome has one next state.
			if s.Version == in.Expect {
				next := kvState{Version: s.Version + 1, Value: in.Value}
				return out.Unknown || (!out.Conflict && out.Version == next.Version), next
			}
			return out.Unknown || out.Conflict, s
		}
		return false, s
	},
	Equal: func(a, b any) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		res := fmt.Sprintf("v%d", out.Version)
		switch {
		case out.Unknown:
			res = "?"
		case out.Conflict:
			res = "conflict"
		case in.Op == "get" && out.Version > 0:
			res = fmt.Sprintf("v%d=%q", out.Version, out.Value)
		}
		switch in.Op {
		case "put":
			return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
		case "cas":
			return fmt.Sprintf("cas(%s, expect v%d, %q) -> %s", in.Key, in.Expect, in.Value, res)
		}
		return fmt.Sprintf("get(%s) -> %s", in.Key, res)
	},
	DescribeState: func(state any) string {
		s := state.(kvState)
		return fmt.Sprintf("v%d=%q", s.Version, s.Value)
	},
}

// TestModelJudgesHistories checks the model on small hand-made histories,
// so that a clean robustness run means something: it must reject a lost
// write, a stale read and a compare-and-set that succeeded from the wrong
// version, and accept concurrency and indeterminate writes.
func TestModelJudgesHistories(t *testing.T) {
	const never = int64(1) << 62
	op := func(c int, call, ret int64, in kvInput, out kvOutput) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Call: call, Return: ret, Input: in, Output: out}
	}
	put := func(v string) kvInput { return kvInput{Op: "put", Key: "k", Value: v} }
	cas := func(e uint64, v string) kvInput { return kvInput{Op: "cas", Key: "k", Value: v, Expect: e} }
	get := kvInput{Op: "get", Key: "k"}
	cases := []struct {
		name string
		ok   bool
		h    []porcupine.Operation
	}{
		{"sequential put then read", true, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 20, 30, get, kvOutput{Version: 1, Value: "a"}),
		}},
		{"read misses an acknowledged write", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 20, 30, get, kvOutput{}),
		}},
		{"concurrent read may miss a write", true, []porcupine.Operation{
			op(0, 0, 30, put("a"), kvOutput{Version: 1}),
			op(1, 10, 20, get, kvOutput{}),
		}},
		{"stale read after a newer read", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(0, 11, 20, put("b"), kvOutput{Version: 2}),
			op(1, 21, 30, get, kvOutput{Version: 2, Value: "b"}),
			op(2, 31, 40, get, kvOutput{Version: 1, Value: "a"}),
		}},
		{"two puts cannot write one version", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 0, 10, put("b"), kvOutput{Version: 1}),
		}},
		{"cas from the current version succeeds", true, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 20, 30, cas(1, "b"), kvOutput{Version: 2}),
			op(2, 40, 50, cas(1, "c"), kvOutput{Conflict: true}),
		}},
		{"cas succeeds from a stale version", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(0, 11, 20, put("b"), kvOutput{Version: 2}),
			op(1, 30, 40, cas(1, "c"), kvOutput{Version: 2}),
		}},
		{"cas conflicts although the version matched", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 20, 30, cas(1, "c"), kvOutput{Conflict: true}),
		}},
		{"indeterminate write may have happened", true, []porcupine.Operation{
			op(0, 0, never, put("a"), kvOutput{Unknown: true}),
			op(1, 20, 30, get, kvOutput{Version: 1, Value: "a"}),
			op(1, 40, 50, put("b"), kvOutput{Version: 2}),
		}},
		{"indeterminate write may have been lost", true, []porcupine.Operation{
			op(0, 0, never, put("a"), kvOutput{Unknown: true}),
			op(1, 20, 30, get, kvOutput{}),
		}},
		{"read of a value never written", false, []porcupine.Operation{
			op(0, 0, 10, put("a"), kvOutput{Version: 1}),
			op(1, 20, 30, get, kvOutput{Version: 1, Value: "x"}),
		}},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(kvModel, c.h); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

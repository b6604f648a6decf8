package api_test

import (
	"bytes"
	"testing"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// A transaction whose JSON repeats a member name, at the top, in the
// payload or inside a record document, alone or in a batch, is refused as
// malformed (400) and changes nothing: another language's parser could read
// a different transaction from the same bytes.
func TestDuplicateMemberNamesRefused(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice := c.Users[0]
	put := mustJSON(t, apitest.Tx(alice, 1, &types.KVPut{Key: "k", Value: "v"}))
	rec := mustJSON(t, apitest.Tx(alice, 1, &types.Record{Document: []byte(`{"a":{"b":1}}`)}))
	cases := map[string][]byte{
		"top level":   bytes.Replace(put, []byte(`{`), []byte(`{"nonce":2,`), 1),
		"payload":     bytes.Replace(put, []byte(`"payload":{`), []byte(`"payload":{"value":"w",`), 1),
		"in document": bytes.Replace(rec, []byte(`{"b":1}`), []byte(`{"b":1,"b":2}`), 1),
	}
	cases["in a batch"] = append(append([]byte(`[`), cases["payload"]...), ']')
	before := c.Ledger.Head()
	for name, body := range cases {
		st, b := do(t, "POST", c.URL+"/v1/txs", body)
		if st != 400 {
			t.Errorf("%s: status %d, want 400: %s", name, st, b)
			continue
		}
		if e := errBody(t, b); e.Code != string(types.CodeMalformed) || !bytes.Contains([]byte(e.Message), []byte("duplicate")) {
			t.Errorf("%s: error %+v, want malformed naming the duplicate", name, e)
		}
	}
	if n := c.Mempool.Stats().Txs; n != 0 || c.Ledger.Head() != before {
		t.Fatalf("refused input changed something: %d pending", n)
	}
}

package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/types"
)

// A sender over its budget of txs held behind a nonce gap is told to slow
// down (429 sender_limit), not that the node is full.
func TestSenderLimitIs429(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	alice := c.Users[0]
	held := mempool.DefaultConfig("", types.DefaultParams()).MaxHeldTxsPerSender
	for n := 2; n < 2+held; n++ {
		tx := apitest.Tx(alice, uint64(n), &types.KVPut{Key: fmt.Sprintf("held/%d", n), Value: "v"})
		if st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, tx)); st != http.StatusAccepted {
			t.Fatalf("held tx %d: %d %s", n, st, b)
		}
	}
	over := apitest.Tx(alice, uint64(2+held), &types.KVPut{Key: "held/over", Value: "v"})
	st, b := do(t, "POST", c.URL+"/v1/txs", mustJSON(t, over))
	if st != http.StatusTooManyRequests || !bytes.Contains(b, []byte(`"sender_limit"`)) {
		t.Fatalf("over the held budget: %d %s", st, b)
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// A node that keeps no account index (a validator, by default) still
// answers the account itself, and refuses its listing naming the nodes
// that keep one, or as unavailable when it knows none.
func TestAccountTxsWithoutTheIndex(t *testing.T) {
	ask := []string{"http://127.0.0.1:18084"}
	for _, tc := range []struct {
		name      string
		elsewhere []string
		status    int
		code      string
	}{
		{"names the indexing nodes", ask, 421, "wrong_node"},
		{"knows none", nil, 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := apitest.New(t, apitest.Options{AccountIndex: ledger.AccountIndexOff, API: api.Config{IndexElsewhere: tc.elsewhere}})
			alice, bob := c.Users[0], c.Users[1]
			c.CommitBlock(apitest.Tx(alice, 1, &types.Transfer{To: bob.Public().Address(), Amount: 7}))
			ctx := context.Background()
			cl := c.Client()
			acc, err := cl.Account(ctx, bob.Public().Address())
			if err != nil || acc.Balance != apitest.Balance+7 {
				t.Fatalf("bob = %+v, %v", acc, err)
			}
			st, b := do(t, "GET", c.URL+"/v1/accounts/"+bob.Public().Address().String()+"/txs", nil)
			var body struct {
				Error client.ErrorBody `json:"error"`
				Ask   []string         `json:"ask"`
			}
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if st != tc.status || body.Error.Code != tc.code || !slices.Equal(body.Ask, tc.elsewhere) {
				t.Fatalf("listing: %d %s, want %d %s asking %v", st, b, tc.status, tc.code, tc.elsewhere)
			}
			_, err = cl.AccountTxs(ctx, bob.Public().Address(), "", 0)
			if got := client.WrongNode(err); !slices.Equal(got, tc.elsewhere) || client.ErrorCode(err) != tc.code {
				t.Fatalf("client: %v (ask %v), want %s asking %v", err, got, tc.code, tc.elsewhere)
			}
			if st, err := cl.Status(ctx); err != nil || st.AccountsIndexed || st.AccountsIndexedFrom != 0 {
				t.Fatalf("status: accounts indexed %v from %d, %v", st.AccountsIndexed, st.AccountsIndexedFrom, err)
			}
		})
	}
}

// A node that keeps the index says so in its status, complete from the
// first block.
func TestStatusSaysAccountsAreIndexed(t *testing.T) {
	c := apitest.New(t, apitest.Options{})
	st, err := c.Client().Status(context.Background())
	if err != nil || !st.AccountsIndexed || st.AccountsIndexedFrom != 1 {
		t.Fatalf("status: accounts indexed %v from %d, %v", st.AccountsIndexed, st.AccountsIndexedFrom, err)
	}
}

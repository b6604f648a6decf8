package api_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

// A closed chain over the API: a kv.put by an account without the writers
// role is refused at admission with 403 unauthorized (JSON, with the code),
// the writer's is taken, anyone may transfer, and the balance pre-check
// counts the fee.
func TestAPIRefusesUnauthorizedWriter(t *testing.T) {
	c := apitest.New(t, apitest.Options{Genesis: func(g *types.Genesis) {
		g.Params.Permissions = types.Permissions{"transfer": {types.RoleAnyone}, "kv.put": {"writers"}}
		g.Params.Fees = &types.Fees{PerTx: 10, PerKiB: 1}
		g.Roles = []types.Role{{Name: "writers", Members: []crypto.Address{apitest.Key('u', 0).Public().Address()}}}
	}})
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err := cl.Submit(ctx, apitest.Tx(c.Users[1], 1, &types.KVPut{Key: "k", Value: "v"}))
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != string(types.CodeUnauthorized) {
		t.Fatalf("put by a non-writer: %v, want 403 unauthorized", err)
	}
	res, err := cl.SubmitWait(ctx, apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "k", Value: "v"}), 20*time.Second)
	if err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("put by the writer: %+v %v", res, err)
	}
	// A transfer of the whole balance leaves nothing for its fee.
	all := apitest.Tx(c.Users[1], 1, &types.Transfer{To: c.Users[2].Public().Address(), Amount: apitest.Balance})
	if _, err := cl.Submit(ctx, all); !errors.As(err, &ae) || ae.Status != 422 || ae.Code != string(types.CodeInsufficientBalance) {
		t.Fatalf("transfer without room for the fee: %v, want 422 insufficient_balance", err)
	}
	ok := apitest.Tx(c.Users[1], 1, &types.Transfer{To: c.Users[2].Public().Address(), Amount: apitest.Balance - 11})
	if res, err := cl.SubmitWait(ctx, ok, 20*time.Second); err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("transfer leaving exactly the fee: %+v %v", res, err)
	}
	a, err := cl.Account(ctx, c.Users[1].Public().Address())
	if err != nil || a.Balance != 0 {
		t.Fatalf("sender after paying amount and fee: %+v %v", a, err)
	}
}

package api_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/auth"
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

// Tokens with public reads: reads need no token, a submit needs a token
// with scope submit (401 without one, 401 for an unknown one, 403 for a
// read-only one); every refusal is JSON with a code; the probes stay open.
func TestAPITokensAndScopes(t *testing.T) {
	path := filepath.Join(t.TempDir(), auth.TokensFile)
	submit, _, err := auth.Create(path, "app", []auth.Scope{auth.ScopeSubmit})
	if err != nil {
		t.Fatal(err)
	}
	read, _, err := auth.Create(path, "ro", []auth.Scope{auth.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	store, err := auth.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	c := apitest.New(t, apitest.Options{API: api.Config{Access: api.Access{Tokens: store, PublicReads: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open, err := client.New(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open.Status(ctx); err != nil {
		t.Fatalf("public read: %v", err)
	}
	tx := apitest.Tx(c.Users[0], 1, &types.KVPut{Key: "k", Value: "v"})
	for _, cs := range []struct {
		token  string
		status int
		code   string
	}{
		{"", 401, "unauthenticated"},
		{"cairn_not-a-token", 401, "unauthenticated"},
		{read, 403, "forbidden"},
	} {
		cl, _ := client.New(c.URL, client.WithToken(cs.token))
		_, err := cl.Submit(ctx, tx)
		var ae *client.Error
		if !errors.As(err, &ae) || ae.Status != cs.status || ae.Code != cs.code || strings.Contains(ae.Message, "sha256") {
			t.Errorf("submit with token %q: %v, want %d %s", cs.token, err, cs.status, cs.code)
		}
	}
	cl, _ := client.New(c.URL, client.WithToken(submit))
	if res, err := cl.SubmitWait(ctx, tx, 20*time.Second); err != nil || res.Status != client.StatusCommitted {
		t.Fatalf("submit with the submit token: %+v %v", res, err)
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(c.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if p == "/metrics" {
			want = http.StatusUnauthorized // admin only
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s without a token: %d, want %d", p, resp.StatusCode, want)
		}
	}
}

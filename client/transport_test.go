package client_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/auth"
	"github.com/cairn-db/cairn/internal/grpcapi"
	"github.com/cairn-db/cairn/types"
)

// transportChain is a test chain behind both transports: its REST API and
// a gRPC server over the same handler on its own loopback port, with
// tokens on (reads public) and a search index.
type transportChain struct {
	chain  *apitest.Chain
	grpc   string // host:port
	submit string // a token with scope submit
	read   string // a token with scope read
}

func newTransportChain(t *testing.T) *transportChain {
	t.Helper()
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
	c := apitest.New(t, apitest.Options{Search: true, API: api.Config{Access: api.Access{Tokens: store, PublicReads: true}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpcapi.ServerOptions(nil, 64<<20)...)
	grpcapi.New(c.API).Register(g)
	go func() { _ = grpcapi.Serve(g, ln) }()
	t.Cleanup(g.Stop)
	return &transportChain{chain: c, grpc: ln.Addr().String(), submit: submit, read: read}
}

// client returns an SDK client over the named transport with token.
func (tc *transportChain) client(t *testing.T, transport, token string) *client.Client {
	t.Helper()
	opts := []client.Option{client.WithToken(token)}
	if transport == "grpc" {
		conn, err := client.DialGRPC(tc.grpc, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		opts = append(opts, client.WithGRPC(conn))
	}
	cl, err := client.New(tc.chain.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// contractCase is one behaviour both transports must show alike. It
// returns what it observed, which must be equal across transports.
type contractCase struct {
	name string
	run  func(t *testing.T, ctx context.Context, tc *transportChain, cl func(token string) *client.Client, user int) any
}

// errorOf reduces an error to what a caller relies on: the API code and
// HTTP status.
func errorOf(err error) any {
	var e *client.Error
	if errors.As(err, &e) {
		return [2]any{e.Status, e.Code}
	}
	if err != nil {
		return "non-API error: " + err.Error()
	}
	return nil
}

var contractCases = []contractCase{
	{"status", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, _ int) any {
		st, err := cl("").Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.ChainID
	}},
	{"submit, read back with a verified proof, history, account and its txs", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, user int) any {
		c := cl(tc.submit)
		k := tc.chain.Users[user]
		res, err := c.SubmitWait(ctx, apitest.Tx(k, 1, &types.KVPut{Key: "contract/k", Value: "v"}), 20*time.Second)
		if err != nil || res.Status != client.StatusCommitted {
			t.Fatalf("submit: %+v %v", res, err)
		}
		st, _ := c.Status(ctx)
		vals, err := st.ValidatorSet()
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.KVProof(ctx, "contract/k", 0)
		if err != nil || p.Verify(apitest.ChainID, vals) != nil || !p.Live() {
			t.Fatalf("kv proof: %v", err)
		}
		h, err := c.History(ctx, "contract/k", "", 10)
		if err != nil || len(h.Versions) == 0 {
			t.Fatalf("history: %+v %v", h, err)
		}
		ap, err := c.AccountProof(ctx, k.Public().Address(), 0)
		if err != nil || ap.Verify(apitest.ChainID, vals) != nil {
			t.Fatalf("account proof: %v", err)
		}
		txs, err := c.AccountTxs(ctx, k.Public().Address(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := c.TxProof(ctx, res.Hash)
		if err != nil || ts.Verify(apitest.ChainID, vals) != nil {
			t.Fatalf("tx proof: %v", err)
		}
		b, err := c.Block(ctx, res.Height)
		if err != nil || b.Verify(apitest.ChainID, vals) != nil {
			t.Fatalf("block: %v", err)
		}
		return []any{res.Receipt.OK, p.Entry.Value, ap.Nonce, len(txs.Txs), len(b.Txs)}
	}},
	{"batch submit", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, user int) any {
		k := tc.chain.Users[user]
		res, err := cl(tc.submit).SubmitBatchWait(ctx, []*types.Tx{
			apitest.Tx(k, 2, &types.KVPut{Key: "contract/b", Value: "1"}),
			apitest.Tx(k, 2, &types.KVPut{Key: "contract/b", Value: "2"}), // same nonce: refused
		}, 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		e := res.Errors[1]
		if e == nil {
			t.Fatal("the second tx of the batch was taken")
		}
		return []any{res.Accepted, e.Code}
	}},
	{"search finds the committed put", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, user int) any {
		tc.chain.WaitIndexed()
		from := tc.chain.Users[user].Public().Address().String()
		r, err := cl("").Search(ctx, client.SearchRequest{Query: "from:" + from + " AND key:contract/k"})
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Hits)
	}},
	{"refusals: unknown tx, bad signature, no token, read token, unknown token", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, user int) any {
		k := tc.chain.Users[user]
		var out []any
		_, err := cl("").Tx(ctx, [32]byte{1})
		out = append(out, errorOf(err))
		bad := apitest.Tx(k, 3, &types.KVPut{Key: "x", Value: "y"})
		bad.Signature[0] ^= 1
		_, err = cl(tc.submit).Submit(ctx, bad)
		out = append(out, errorOf(err))
		good := apitest.Tx(k, 3, &types.KVPut{Key: "x", Value: "y"})
		for _, tok := range []string{"", tc.read, "cairn_nope"} {
			_, err = cl(tok).Submit(ctx, good)
			out = append(out, errorOf(err))
		}
		_, err = cl("").KV(ctx, "no/such/key", 0)
		out = append(out, errorOf(err))
		return out
	}},
	{"event stream from height 1", func(t *testing.T, ctx context.Context, tc *transportChain, cl func(string) *client.Client, _ int) any {
		s, err := cl("").Events(ctx, client.EventOptions{From: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var heights []uint64
		for len(heights) < 2 {
			ev, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			heights = append(heights, ev.Height)
		}
		return []any{heights, s.LastID}
	}},
}

// The gRPC API passes the same contract tests as REST: every case gives
// the same observations over both transports (each on a user of its own,
// so the chain's state differs only by whom).
func TestTransportsAgree(t *testing.T) {
	tc := newTransportChain(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := map[string][]any{}
	for ti, transport := range []string{"rest", "grpc"} {
		for _, c := range contractCases {
			t.Run(transport+"/"+c.name, func(t *testing.T) {
				obs := c.run(t, ctx, tc, func(tok string) *client.Client { return tc.client(t, transport, tok) }, ti)
				got[c.name] = append(got[c.name], obs)
			})
		}
	}
	for _, c := range contractCases {
		t.Logf("%s: %v", c.name, got[c.name])
		if o := got[c.name]; len(o) != 2 || !reflect.DeepEqual(o[0], o[1]) {
			t.Errorf("%s: REST %v, gRPC %v", c.name, o[0], o[1:])
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/field"
	"github.com/cairn-db/cairn/types"
)

// Payment fields on a real network of four validator processes: three
// members (in-process field nodes talking over HTTP on 127.0.0.1) make
// 10,000 payments off chain and close cooperatively, and the balances the
// chain pays out equal the off-chain result on every validator; then a
// stale unilateral close loses to a challenge and pays the penalty; then a
// dispute with an inclusion proof corrects wrong balances.
func TestPaymentFields(t *testing.T) {
	tn := startNet(t, 4)
	keys := newKeys(t, 4) // three members and a key that sends filler txs
	const funds, deposit, period, penalty = 1_000_000, 100_000, 3, 700
	tn.fund(keys, funds)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := tn.clients[0]
	members := keys[:3]

	peers := map[crypto.PublicKey]string{}
	var srvs []*httptest.Server
	for _, k := range members {
		srv := httptest.NewUnstartedServer(nil)
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
		peers[k.Public()] = "http://" + srv.Listener.Addr().String()
	}
	nodes := make([]*field.Node, 3)
	for i, k := range members {
		nd, err := field.NewNode(field.Config{Key: k, Dir: t.TempDir(), Peers: peers, Accept: field.AcceptUpTo(k.Public(), map[crypto.PublicKey]bool{members[0].Public(): true}, deposit)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes[i] = nd
		srvs[i].Config.Handler = nd.Handler()
		srvs[i].Start()
	}
	// feesPaid sums the fees each key's successful transactions paid
	// (the devnet charges types.DefaultFees).
	feesPaid := map[crypto.PublicKey]uint64{}
	submit := func(k *crypto.PrivateKey, p types.Payload) *client.TxResult {
		t.Helper()
		r, err := field.Submit(ctx, cl, tn.net.ChainID, k, p, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", p.TxType(), err)
		}
		if r.Receipt != nil && r.Receipt.OK {
			st, err := cl.Tx(ctx, r.Hash)
			if err != nil || st.Tx == nil {
				t.Fatalf("%s: read back: %v", p.TxType(), err)
			}
			feesPaid[k.Public()] += types.FeeOf(types.DefaultFees(), st.Tx)
		}
		return r
	}
	fieldOn := func(i int, id crypto.Hash) *client.FieldState {
		t.Helper()
		fs, err := tn.clients[i].Field(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tn.clients[i].Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := types.NewValidatorSet(st.Validators)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.Verify(tn.net.ChainID, vals); err != nil {
			t.Fatalf("field proof from validator %d: %v", i, err)
		}
		return fs
	}
	filler := 0
	settle := func(id crypto.Hash) *types.Field {
		t.Helper()
		for i := 0; i < 4*period+4; i++ {
			if fs := fieldOn(0, id); fs.Field.Status == types.FieldSettledStatus {
				return fs.Field
			}
			filler++
			submit(keys[3], &types.KVPut{Key: fmt.Sprintf("filler/%d", filler), Value: "x"})
		}
		t.Fatalf("field %s not settled", id)
		return nil
	}
	balances := func(i int) []uint64 {
		var out []uint64
		for _, k := range members {
			a, err := tn.clients[i].Account(ctx, k.Public().Address())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, a.Balance)
		}
		return out
	}
	pay := func(from, to int, amounts ...uint64) {
		t.Helper()
		rs, err := nodes[from].NewRequests(uint16(to), amounts)
		if err != nil {
			t.Fatal(err)
		}
		res, err := nodes[from].Pay(ctx, rs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != "" {
				t.Fatalf("payment refused: %s", r.Err)
			}
		}
	}
	open := func(name string) types.FieldTerms {
		t.Helper()
		head, err := cl.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		terms := types.FieldTerms{FieldID: crypto.Sum([]byte("e2e field " + name)), Leader: members[0].Public(),
			ChallengePeriod: period, Expiry: head.Height + 10_000, Penalty: penalty}
		for _, k := range members {
			terms.Members = append(terms.Members, types.FieldMember{Key: k.Public(), Deposit: deposit})
		}
		p, err := nodes[0].Create(ctx, tn.net.ChainID, terms)
		if err != nil {
			t.Fatal(err)
		}
		submit(members[0], p)
		return terms
	}
	leave := func() {
		for _, nd := range nodes {
			if err := nd.Leave(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// 1. Cooperative close after 10,000 payments.
	before := balances(0)
	feesBefore := maps.Clone(feesPaid)
	a := open("cooperative")
	h0 := tn.height(0)
	start := time.Now()
	for k := 0; k < 10; k++ {
		for j := 0; j < 1000; j += 250 {
			from := (k + j/250) % 3
			amounts := make([]uint64, 250)
			for x := range amounts {
				amounts[x] = uint64(1 + (k*1000+j+x)%9)
			}
			pay(from, (from+1)%3, amounts...)
		}
		if _, err := nodes[0].Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	var off []uint64
	nodes[1].Book(func(b *field.Book) {
		if b.Len() != 10_000 {
			t.Fatalf("member 1 has %d payments", b.Len())
		}
		off = b.Balances()
	})
	t.Logf("10,000 off-chain payments with 10 checkpoints in %v (%.0f payments/s); chain height %d -> %d meanwhile (other traffic only)",
		el.Round(time.Millisecond), 10_000/el.Seconds(), h0, tn.height(0))
	c, err := nodes[0].CloseSigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	submit(members[2], c)
	f := settle(a.FieldID)
	if !slices.Equal(f.Final, off) {
		t.Fatalf("chain paid %v, off-chain balances %v", f.Final, off)
	}
	eventually(t, 30*time.Second, "every validator at the settlement", func() bool {
		for i := range tn.clients {
			if fieldOn(i, a.FieldID).Field.Status != types.FieldSettledStatus {
				return false
			}
		}
		return true
	})
	for i := range tn.clients {
		got := balances(i)
		for m, k := range members {
			fees := feesPaid[k.Public()] - feesBefore[k.Public()]
			if want := before[m] - deposit + off[m] - fees; got[m] != want {
				t.Fatalf("validator %d: member %d balance %d, want %d (fees %d)", i, m, got[m], want, fees)
			}
		}
	}
	leave()

	// 2. A stale unilateral close beaten by a challenge, with the penalty.
	b := open("challenge")
	pay(0, 1, 20_000)
	stale, err := nodes[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pay(1, 2, 15_000)
	if _, err := nodes[0].Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	submit(members[1], &types.FieldCloseUnilateral{FieldStateClaim: stale})
	var ch *types.FieldChallenge
	nodes[2].Book(func(bk *field.Book) { ch = bk.ChallengePayload() })
	submit(members[2], ch)
	f = settle(b.FieldID)
	want := slices.Clone(ch.Balances)
	want[1] -= penalty
	want[2] += penalty
	if !slices.Equal(f.Final, want) {
		t.Fatalf("after challenge: paid %v, want %v", f.Final, want)
	}
	leave()

	// 3. A dispute: member 1 closes with the right state but claims more than
	// it has; member 0 proves the state's last payment.
	d := open("dispute")
	pay(0, 1, 10, 20, 30)
	pay(1, 2, 5)
	latest, err := nodes[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lie := latest
	lie.Balances = slices.Clone(latest.Balances)
	lie.Balances[1] += 5000
	lie.Balances[0] -= 5000
	submit(members[1], &types.FieldCloseUnilateral{FieldStateClaim: lie})
	var disp *types.FieldDispute
	nodes[0].Book(func(bk *field.Book) { disp, err = bk.DisputePayload(latest.State) })
	if err != nil {
		t.Fatal(err)
	}
	submit(members[0], disp)
	f = settle(d.FieldID)
	want = slices.Clone(latest.Balances)
	want[1] -= penalty
	want[0] += penalty
	if !slices.Equal(f.Final, want) {
		t.Fatalf("after dispute: paid %v, want %v", f.Final, want)
	}
	h := tn.height(0)
	eventually(t, 30*time.Second, "all validators at the same height", func() bool {
		return tn.height(1) >= h && tn.height(2) >= h && tn.height(3) >= h
	})
	tn.sameChain([]int{0, 1, 2, 3}, h)
}

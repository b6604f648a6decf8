package field_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/field"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

const (
	deposit = 100_000
	period  = 3
	penalty = 500
	wait    = 10 * time.Second
)

// net is a field of three members on a real one-validator chain: each
// member a Node with its own store, served over HTTP on 127.0.0.1.
type net struct {
	t     testing.TB
	c     *apitest.Chain
	cl    *client.Client
	keys  []*crypto.PrivateKey
	nodes []*field.Node
	dirs  []string
	srvs  []*httptest.Server
	peers map[crypto.PublicKey]string
	terms types.FieldTerms
	other *crypto.PrivateKey // a funded key in no field
	swaps []*swap
}

func newNet(t testing.TB, name string) *net {
	t.Helper()
	c := apitest.New(t, apitest.Options{Users: 5, Search: true})
	n := &net{t: t, c: c, cl: c.Client(), keys: c.Users[:3], other: c.Users[4], peers: map[crypto.PublicKey]string{}}
	for range n.keys {
		n.dirs = append(n.dirs, t.TempDir())
	}
	// Addresses first (every node needs every other's), then the nodes.
	hs := make([]*swap, len(n.keys))
	n.swaps = hs
	for i, k := range n.keys {
		hs[i] = &swap{}
		srv := httptest.NewServer(hs[i])
		t.Cleanup(srv.Close)
		n.srvs = append(n.srvs, srv)
		n.peers[k.Public()] = srv.URL
	}
	for i := range n.keys {
		n.nodes = append(n.nodes, n.start(i))
		hs[i].set(n.nodes[i])
	}
	n.terms = types.FieldTerms{FieldID: crypto.Sum([]byte("field test " + name)), Leader: n.keys[0].Public(),
		ChallengePeriod: period, Expiry: 1000, Penalty: penalty}
	for _, k := range n.keys {
		n.terms.Members = append(n.terms.Members, types.FieldMember{Key: k.Public(), Deposit: deposit})
	}
	return n
}

func (n *net) start(i int) *field.Node {
	nd, err := field.NewNode(field.Config{Key: n.keys[i], Dir: n.dirs[i], Peers: n.peers, Accept: acceptAll})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { nd.Close() })
	return nd
}

func (n *net) open() {
	n.t.Helper()
	p, err := n.nodes[0].Create(context.Background(), apitest.ChainID, n.terms)
	if err != nil {
		n.t.Fatal(err)
	}
	n.submit(n.keys[0], p)
}

func (n *net) submit(k *crypto.PrivateKey, p types.Payload) *client.TxResult {
	n.t.Helper()
	r, err := field.Submit(context.Background(), n.cl, apitest.ChainID, k, p, wait)
	if err != nil {
		n.t.Fatalf("%s: %v", p.TxType(), err)
	}
	return r
}

// refused submits p and wants a failed receipt whose reason contains want.
func (n *net) refused(k *crypto.PrivateKey, p types.Payload, want string) {
	n.t.Helper()
	_, err := field.Submit(context.Background(), n.cl, apitest.ChainID, k, p, wait)
	if !errors.Is(err, field.ErrTxFailed) || !strings.Contains(err.Error(), want) {
		n.t.Fatalf("%s: got %v, want a failed receipt saying %q", p.TxType(), err, want)
	}
}

// pay makes count payments, member i paying member (i+1)%3 amounts 1..7 in
// turn, in batches through each member's own node (non-leaders forward).
func (n *net) pay(count, batch int) {
	n.t.Helper()
	ctx := context.Background()
	for done := 0; done < count; {
		i := (done / batch) % len(n.nodes)
		m := min(batch, count-done)
		amounts := make([]uint64, m)
		for j := range amounts {
			amounts[j] = uint64(1 + (done+j)%7)
		}
		rs, err := n.nodes[i].NewRequests(uint16((i+1)%len(n.nodes)), amounts)
		if err != nil {
			n.t.Fatal(err)
		}
		res, err := n.nodes[i].Pay(ctx, rs)
		if err != nil {
			n.t.Fatal(err)
		}
		for j, r := range res {
			if r.Err != "" || r.Seq == 0 {
				n.t.Fatalf("payment %d of member %d: %+v", done+j, i, r)
			}
		}
		done += m
	}
}

func (n *net) fieldState() *client.FieldState {
	n.t.Helper()
	fs, err := n.cl.Field(context.Background(), n.terms.FieldID, 0)
	if err != nil {
		n.t.Fatal(err)
	}
	if err := fs.Verify(apitest.ChainID, n.c.Ledger.Validators()); err != nil {
		n.t.Fatalf("field proof: %v", err)
	}
	// The answer's convenience copies must agree with the proven entry.
	for name, lie := range map[string]func(*client.FieldState){
		"total_deposits": func(f *client.FieldState) { f.TotalDeposits++ },
		"deadline":       func(f *client.FieldState) { f.Deadline++ },
	} {
		forged := *fs
		lie(&forged)
		if err := forged.Verify(apitest.ChainID, n.c.Ledger.Validators()); !errors.Is(err, client.ErrVerify) {
			n.t.Fatalf("field answer with a forged %s: Verify = %v, want a verification failure", name, err)
		}
	}
	return fs
}

func (n *net) balance(k *crypto.PrivateKey) uint64 {
	n.t.Helper()
	a, err := n.cl.Account(context.Background(), k.Public().Address())
	if err != nil {
		n.t.Fatal(err)
	}
	return a.Balance
}

// settle moves the chain past the pending close's deadline with filler
// transactions from a key in no field, and returns the settled field.
func (n *net) settle() *types.Field {
	n.t.Helper()
	for i := 0; i < 3*period+3; i++ {
		fs := n.fieldState()
		if fs.Field.Status == types.FieldSettledStatus {
			return fs.Field
		}
		n.submit(n.other, &types.KVPut{Key: fmt.Sprintf("filler/%d", i), Value: "x"})
	}
	n.t.Fatal("field not settled")
	return nil
}

func (n *net) books() (lens []uint64, bals [][]uint64) {
	for _, nd := range n.nodes {
		nd.Book(func(b *field.Book) {
			lens = append(lens, b.Len())
			bals = append(bals, b.Balances())
		})
	}
	return lens, bals
}

// Three members, 10,000 off-chain payments, checkpoints along the way, a
// cooperative close: every member's copy agrees, and what the chain pays
// out at settlement is exactly the off-chain balances.
func TestCooperativeClose(t *testing.T) {
	n := newNet(t, "cooperative")
	start := n.balance(n.keys[1])
	n.open()
	if got := n.balance(n.keys[1]); got != start-deposit {
		t.Fatalf("member 1 balance after open %d, want %d (deposit locked)", got, start-deposit)
	}
	fs := n.fieldState()
	if fs.Field.Status != types.FieldOpenStatus || fs.TotalDeposits != 3*deposit || fs.Deadline != n.terms.Expiry {
		t.Fatalf("after open: %+v", fs)
	}
	heightBefore := n.c.Ledger.Head().Height
	const payments = 10_000
	for k := 0; k < 5; k++ {
		n.pay(payments/5, 500)
		if _, err := n.nodes[0].Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if h := n.c.Ledger.Head().Height; h != heightBefore {
		t.Fatalf("off-chain payments touched the chain: height %d -> %d", heightBefore, h)
	}
	lens, bals := n.books()
	for i := range lens {
		if lens[i] != payments || fmt.Sprint(bals[i]) != fmt.Sprint(bals[0]) {
			t.Fatalf("member %d has %d payments, balances %v; member 0 %v", i, lens[i], bals[i], bals[0])
		}
	}
	var sum uint64
	for _, b := range bals[0] {
		sum += b
	}
	if sum != 3*deposit {
		t.Fatalf("balances %v sum to %d", bals[0], sum)
	}
	cl, err := n.nodes[0].CloseSigs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := n.submit(n.keys[2], cl) // anyone may submit a fully signed close
	fs = n.fieldState()
	if fs.Field.Status != types.FieldClosingStatus || fs.Field.Pending.Kind != types.CloseCooperative || fs.Deadline != r.Height+period {
		t.Fatalf("after close: %+v pending %+v", fs.Field, fs.Field.Pending)
	}
	f := n.settle()
	if fmt.Sprint(f.Final) != fmt.Sprint(bals[0]) {
		t.Fatalf("chain paid %v, off-chain balances %v", f.Final, bals[0])
	}
	for i, k := range n.keys {
		want := apitest.Balance - deposit + bals[0][i] // transactions cost nothing here
		if got := n.balance(k); got != want {
			t.Errorf("member %d balance %d, want %d", i, got, want)
		}
	}
	// On-chain bytes per settled payment: the open and the close.
	open, _ := n.nodes[0].Create(context.Background(), apitest.ChainID, n.terms) // the same invitation again
	bytes := txSize(open) + txSize(cl)
	t.Logf("on-chain bytes for %d payments: field.open %d + field.close %d = %d, %.4f bytes per settled payment",
		payments, txSize(open), txSize(cl), bytes, float64(bytes)/payments)
}

func txSize(p types.Payload) int {
	tx := &types.Tx{ChainID: apitest.ChainID, Nonce: 1, Timestamp: 1, Payload: p}
	tx.Sign(apitest.Key(9, 9))
	return tx.Size()
}

// A member closes with a stale state; another challenges with the latest
// state within the period: the latest state settles and the stale closer
// pays the penalty to the challenger.
func TestStaleCloseLosesToChallenge(t *testing.T) {
	n := newNet(t, "challenge")
	n.open()
	ctx := context.Background()
	// Member 1 receives early (member 0 pays it), then pays member 2.
	pay := func(from, to int, amounts ...uint64) {
		rs, err := n.nodes[from].NewRequests(uint16(to), amounts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.nodes[from].Pay(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	pay(0, 1, 5000, 5000)
	stale, err := n.nodes[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pay(1, 2, 7000, 1000)
	latest, err := n.nodes[0].Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stale.Balances[1] <= latest.Balances[1] {
		t.Fatalf("setup: member 1 should prefer the stale state: %v vs %v", stale.Balances, latest.Balances)
	}
	// Member 1 closes with the stale state (fully signed, so the chain
	// cannot tell it is stale yet).
	n.submit(n.keys[1], &types.FieldCloseUnilateral{FieldStateClaim: stale})
	fs := n.fieldState()
	if fs.Field.Pending.State != stale.State || fs.Field.Pending.Submitter != 1 {
		t.Fatalf("pending %+v", fs.Field.Pending)
	}
	// Member 2's node holds the latest state and challenges.
	var ch *types.FieldChallenge
	n.nodes[2].Book(func(b *field.Book) { ch = b.ChallengePayload() })
	if ch.State != latest.State {
		t.Fatalf("member 2's latest state %d, want %d", ch.State, latest.State)
	}
	n.submit(n.keys[2], ch)
	// Going back is refused: the stale state again, as a challenge.
	before := n.fieldState().ValueHex
	n.refused(n.keys[1], &types.FieldChallenge{FieldStateClaim: stale}, fmt.Sprintf("state %d is not after the pending state %d", stale.State, latest.State))
	if n.fieldState().ValueHex != before {
		t.Fatal("a refused challenge changed the field")
	}
	f := n.settle()
	want := append([]uint64(nil), latest.Balances...)
	want[1] -= penalty
	want[2] += penalty
	if fmt.Sprint(f.Final) != fmt.Sprint(want) || len(f.Penalties) != 1 || f.Penalties[0].Reason != "stale_state" {
		t.Fatalf("final %v penalties %+v, want %v (member 1 pays member 2 %d)", f.Final, f.Penalties, want, penalty)
	}
	for i, k := range n.keys {
		if got := n.balance(k); got != apitest.Balance-deposit+want[i] {
			t.Errorf("member %d balance %d, want %d", i, got, apitest.Balance-deposit+want[i])
		}
	}
}

// A member closes with the latest state but claims balances its payments do
// not give; another proves the state's last payment with an inclusion proof
// and the chain settles on the proven balances, with the penalty.
func TestDisputeWithInclusionProof(t *testing.T) {
	n := newNet(t, "dispute")
	n.open()
	n.pay(20, 7)
	latest, err := n.nodes[0].Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lie := latest
	lie.Balances = append([]uint64(nil), latest.Balances...)
	lie.Balances[1] += 1000 // member 1 claims 1000 more, taken from member 0
	lie.Balances[0] -= 1000
	n.submit(n.keys[1], &types.FieldCloseUnilateral{FieldStateClaim: lie})

	var d *types.FieldDispute
	n.nodes[0].Book(func(b *field.Book) {
		d, err = b.DisputePayload(latest.State)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A payment other than the state's last one is refused, changing nothing.
	var early *types.FieldDispute
	n.nodes[0].Book(func(b *field.Book) { early, _ = b.DisputePayload(latest.State - 1) })
	before := n.fieldState().ValueHex
	n.refused(n.keys[0], early, "only the last payment of the pending state decides its balances")
	// A proof that does not lead to the root is refused.
	bad := *d
	bad.Proof.Path = append([]crypto.Hash{{1}}, d.Proof.Path[1:]...)
	n.refused(n.keys[0], &bad, "is not in the pending root")
	if n.fieldState().ValueHex != before {
		t.Fatal("a refused dispute changed the field")
	}
	n.submit(n.keys[0], d)
	fs := n.fieldState()
	if fs.Field.Pending.Kind != types.CloseDispute || fmt.Sprint(fs.Field.Pending.Balances) != fmt.Sprint(latest.Balances) {
		t.Fatalf("after dispute: %+v", fs.Field.Pending)
	}
	f := n.settle()
	want := append([]uint64(nil), latest.Balances...)
	want[1] -= penalty
	want[0] += penalty
	if fmt.Sprint(f.Final) != fmt.Sprint(want) {
		t.Fatalf("final %v, want %v", f.Final, want)
	}
}

// Bad input, each refused with a clear error and changing nothing: on
// chain (the field entry and every member's balance stay as they were) and
// off chain (the book stays as it was).
func TestBadInput(t *testing.T) {
	n := newNet(t, "bad input")
	n.open()
	n.pay(30, 10)
	ctx := context.Background()
	good, err := n.nodes[0].CloseSigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fieldBefore := n.fieldState().ValueHex
	var balBefore []uint64
	for _, k := range n.keys {
		balBefore = append(balBefore, n.balance(k))
	}
	unchanged := func(what string) {
		t.Helper()
		if n.fieldState().ValueHex != fieldBefore {
			t.Fatalf("%s changed the field", what)
		}
		for i, k := range n.keys {
			if n.balance(k) != balBefore[i] {
				t.Fatalf("%s changed member %d's balance", what, i)
			}
		}
	}
	clone := func() *types.FieldClose {
		c := *good
		c.Balances = append([]uint64(nil), good.Balances...)
		c.Signatures = append([]types.FieldSig(nil), good.Signatures...)
		return &c
	}

	missing := clone()
	missing.Signatures[2] = types.FieldSig{}
	n.refused(n.keys[0], missing, "member 2 ("+n.keys[2].Public().String()+"): missing signature")
	unchanged("a close with a missing signature")

	wrongRoot := clone()
	wrongRoot.Root[0] ^= 1
	n.refused(n.keys[0], wrongRoot, "signature of member 0 ("+n.keys[0].Public().String()+") does not verify: it signed something else (another root")
	unchanged("a close whose root does not match the signed payments")

	uneven := clone()
	uneven.Balances[0]++
	n.refused(n.keys[0], uneven, fmt.Sprintf("balances sum to %d, deposits total %d", 3*deposit+1, 3*deposit))
	unchanged("a close whose balances do not sum to the deposits")

	// A double join: member 1 is in this field, so it cannot be in another.
	t2 := n.terms
	t2.FieldID = crypto.Sum([]byte("another field"))
	t2.Leader = n.other.Public()
	t2.Members = []types.FieldMember{{Key: n.other.Public(), Deposit: 10}, {Key: n.keys[1].Public(), Deposit: 10}}
	j0, _ := field.Join(n.other, apitest.ChainID, &t2)
	j1, _ := field.Join(n.keys[1], apitest.ChainID, &t2)
	n.refused(n.other, &types.FieldOpen{FieldTerms: t2, Joins: []types.FieldSig{j0, j1}},
		"member 1 ("+n.keys[1].Public().String()+") is already in open field "+n.terms.FieldID.String())
	unchanged("a double join")

	// Off chain: the member's node refuses the second invitation too.
	if _, err := n.nodes[1].Create(ctx, apitest.ChainID, t2); err == nil {
		t.Fatal("a non-leader created a field")
	}
	other, err := field.NewNode(field.Config{Key: n.other, Dir: t.TempDir(), Peers: n.peers, Accept: acceptAll})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Create(ctx, apitest.ChainID, t2); err == nil || !strings.Contains(err.Error(), "already a member of an open field") {
		t.Fatalf("double join off chain: %v", err)
	}

	// Off chain: a root that does not match the payments, a state number
	// going backwards, balances that are not the log's.
	n.nodes[1].Book(func(b *field.Book) {
		root, _ := b.RootAt(b.Len())
		root[0] ^= 1
		if _, err := b.SignState(n.keys[1], b.Len(), root); !errors.Is(err, field.ErrRootMismatch) {
			t.Errorf("sign a wrong root: %v", err)
		}
		if _, err := b.SignClose(n.keys[1], b.Len(), good.Root, uneven.Balances); !errors.Is(err, field.ErrBadPayment) {
			t.Errorf("sign a close with wrong balances: %v", err)
		}
	})
	if _, err := n.nodes[0].Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	n.pay(3, 3)
	if _, err := n.nodes[0].Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	n.nodes[1].Book(func(b *field.Book) {
		old := b.Latest()
		old.State = 30
		old.Root, _ = b.RootAt(30)
		lenBefore := b.Len()
		if err := b.Accept(old); !errors.Is(err, field.ErrStaleState) {
			t.Errorf("accept an older state: %v", err)
		}
		if b.Latest().State != 33 || b.Len() != lenBefore {
			t.Errorf("a refused state changed the book: latest %d", b.Latest().State)
		}
	})
	// A forged payment (bad payer signature) is refused by the leader.
	rs, _ := n.nodes[1].NewRequests(0, []uint64{1})
	rs[0].Sig[0] ^= 1
	res, err := n.nodes[1].Pay(ctx, rs)
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Err, "payer signature") {
		t.Fatalf("forged payment: %+v %v", res, err)
	}
}

// A member that restarts keeps every signed state it has seen: its store
// brings back the whole log and the latest co-signed state, and it goes on
// taking payments.
func TestRestartKeepsState(t *testing.T) {
	n := newNet(t, "restart")
	n.open()
	n.pay(300, 50)
	latest, err := n.nodes[0].Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.pay(7, 7)
	var lenBefore uint64
	n.nodes[2].Book(func(b *field.Book) { lenBefore = b.Len() })
	if err := n.nodes[2].Close(); err != nil {
		t.Fatal(err)
	}
	re, err := field.NewNode(field.Config{Key: n.keys[2], Dir: n.dirs[2], Peers: n.peers, Accept: acceptAll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { re.Close() })
	re.Book(func(b *field.Book) {
		if b.Len() != lenBefore || b.Latest().State != latest.State || b.Latest().Root != latest.Root {
			t.Fatalf("after restart: %d payments, latest state %d; want %d and %d", b.Len(), b.Latest().State, lenBefore, latest.State)
		}
	})
	n.swaps[2].set(re)
	n.nodes[2] = re
	n.pay(30, 10) // the restarted member takes part again
	lens, bals := n.books()
	if lens[2] != lens[0] || fmt.Sprint(bals[2]) != fmt.Sprint(bals[0]) {
		t.Fatalf("after restart and more payments: %v %v", lens, bals)
	}
}

// swap is an http.Handler whose node is set once the node exists (and
// again after a restart).
type swap struct {
	h atomic.Pointer[http.Handler]
}

func (s *swap) set(nd *field.Node) {
	h := nd.Handler()
	s.h.Store(&h)
}

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// A field nobody closes by its expiry: the chain treats it as closed at
// state 0 (the deposits) from expiry+1, a member challenges with its latest
// co-signed state within the period, and that state settles (no penalty:
// no member submitted the state the chain assumed).
func TestExpiryThenChallenge(t *testing.T) {
	n := newNet(t, "expiry")
	n.terms.Expiry = n.c.Ledger.Head().Height + 4
	n.open()
	n.pay(10, 5)
	latest, err := n.nodes[0].Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fs *client.FieldState
	for i := 0; i < 10; i++ {
		if fs = n.fieldState(); fs.Field.Status == types.FieldClosingStatus {
			break
		}
		n.submit(n.other, &types.KVPut{Key: fmt.Sprintf("wait/%d", i), Value: "x"})
	}
	p := fs.Field.Pending
	if p == nil || p.Kind != types.CloseExpiry || p.State != 0 || p.Deadline != n.terms.Expiry+period {
		t.Fatalf("after expiry: %+v", fs.Field)
	}
	// Too late for a close of either kind.
	var uni *types.FieldCloseUnilateral
	n.nodes[1].Book(func(b *field.Book) { uni = b.UnilateralPayload() })
	n.refused(n.keys[1], uni, "a close is already pending")
	var ch *types.FieldChallenge
	n.nodes[1].Book(func(b *field.Book) { ch = b.ChallengePayload() })
	n.submit(n.keys[1], ch)
	f := n.settle()
	if fmt.Sprint(f.Final) != fmt.Sprint(latest.Balances) || len(f.Penalties) != 0 {
		t.Fatalf("final %v penalties %v, want %v and none", f.Final, f.Penalties, latest.Balances)
	}
	// Search covers every field event: the open, the refused close and the
	// challenge (their transactions and receipts), the expiry and the
	// settlement (the blocks where the chain took those steps by itself).
	n.c.WaitIndexed()
	res, err := n.cl.Search(context.Background(), client.SearchRequest{Query: "field:" + n.terms.FieldID.String(), Sort: "height", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range res.Hits {
		got = append(got, h.Type)
		if h.Type == "block" && !strings.Contains(h.Snippet, "field ") {
			t.Errorf("block snippet %q does not name the field step", h.Snippet)
		}
	}
	if strings.Join(got, ",") != "field.open,block,field.close_unilateral,field.challenge,block" || res.Hits[2].Status != "failed" {
		t.Fatalf("field:ID finds %v, want the open, the expiry block, the refused close, the challenge, the settlement block", got)
	}
	for _, ev := range []string{"expired", "settled"} {
		res, err := n.cl.Search(context.Background(), client.SearchRequest{Query: "field_event:" + ev, Limit: 10})
		if err != nil || len(res.Hits) != 1 || res.Hits[0].Height != map[string]uint64{"expired": f.Expiry + 1, "settled": f.SettledAt}[ev] {
			t.Fatalf("field_event:%s: %+v %v", ev, res, err)
		}
	}
	// Settled: every member may join another field now.
	t2 := n.terms
	t2.FieldID = crypto.Sum([]byte("next field"))
	t2.Expiry = n.c.Ledger.Head().Height + 100
	for i := range n.nodes {
		if err := n.nodes[i].Leave(); err != nil {
			t.Fatal(err)
		}
	}
	p2, err := n.nodes[0].Create(context.Background(), apitest.ChainID, t2)
	if err != nil {
		t.Fatal(err)
	}
	n.submit(n.keys[0], p2)
}

// A torn record at the end of a store (a crash mid-write) is cut off on
// open; the records before it are all there.
func TestStoreTornTail(t *testing.T) {
	n := newNet(t, "torn")
	if _, err := n.nodes[0].Create(context.Background(), apitest.ChainID, n.terms); err != nil {
		t.Fatal(err)
	}
	n.pay(40, 20)
	n.nodes[1].Close()
	path := filepath.Join(n.dirs[1], "field.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 9, 9, 9, 9, 2, 1, 2, 3}) // a header promising 256 bytes, and 3 of them
	f.Close()
	s, b, err := field.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b.Len() != 40 {
		t.Fatalf("after a torn tail: %d payments, want 40", b.Len())
	}
}

func acceptAll(string, *types.FieldTerms) error { return nil }

// A member joins only what its policy accepts: a join lets field.open lock
// its deposit, so an invitation from an unknown leader, or asking more than
// the member allows, is refused (and a node without a policy joins nothing).
func TestInvitationPolicy(t *testing.T) {
	n := newNet(t, "policy")
	leaderKey, memberKey := n.c.Users[3], n.other
	peers := map[crypto.PublicKey]string{}
	start := func(k *crypto.PrivateKey, accept func(string, *types.FieldTerms) error) *field.Node {
		nd, err := field.NewNode(field.Config{Key: k, Dir: t.TempDir(), Peers: peers, Accept: accept})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		srv := httptest.NewServer(nd.Handler())
		t.Cleanup(srv.Close)
		peers[k.Public()] = srv.URL
		return nd
	}
	leader := start(leaderKey, nil)
	member := start(memberKey, field.AcceptUpTo(memberKey.Public(), map[crypto.PublicKey]bool{leaderKey.Public(): true}, 10))
	terms := func(id string, dep uint64) types.FieldTerms {
		return types.FieldTerms{FieldID: crypto.Sum([]byte(id)), Leader: leaderKey.Public(), ChallengePeriod: 2, Expiry: 100,
			Members: []types.FieldMember{{Key: leaderKey.Public(), Deposit: 5}, {Key: memberKey.Public(), Deposit: dep}}}
	}
	ctx := context.Background()
	if _, err := leader.Create(ctx, apitest.ChainID, terms("too much", 20)); err == nil || !strings.Contains(err.Error(), "more than this member accepts") {
		t.Fatalf("deposit above the policy: %v", err)
	}
	member.Book(func(b *field.Book) {
		if b != nil {
			t.Fatal("a refused invitation left a book")
		}
	})
	// A node without a policy joins nothing; the would-be leader forgets
	// the field it could not open and may create another.
	t2 := terms("reverse", 0)
	t2.Leader = memberKey.Public()
	if _, err := member.Create(ctx, apitest.ChainID, t2); err == nil || !strings.Contains(err.Error(), "accepts no invitations") {
		t.Fatalf("a node without a policy: %v", err)
	}
	member.Book(func(b *field.Book) {
		if b != nil {
			t.Fatal("a field that never opened is still this member's")
		}
	})
	if _, err := leader.Create(ctx, apitest.ChainID, terms("within the policy", 10)); err != nil {
		t.Fatalf("deposit within the policy: %v", err)
	}
}

// A member that is down while payments are made misses them; the leader's
// Pay fails until every member has them, and once the member is back (from
// its store) the next payment brings it up to date.
func TestMemberCatchesUp(t *testing.T) {
	n := newNet(t, "catch up")
	n.open()
	n.pay(30, 10)
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	n.swaps[2].h.Store(&h)
	rs, _ := n.nodes[0].NewRequests(1, []uint64{1, 2, 3})
	if _, err := n.nodes[0].Pay(context.Background(), rs); err == nil {
		t.Fatal("Pay succeeded with a member down")
	}
	// Member 2 restarts from its store and comes back.
	n.nodes[2].Close()
	re := n.start(2)
	n.nodes[2] = re
	n.swaps[2].set(re)
	n.pay(12, 6)
	lens, bals := n.books()
	if lens[2] != 45 || lens[0] != 45 || fmt.Sprint(bals[2]) != fmt.Sprint(bals[0]) {
		t.Fatalf("after catching up: %v %v", lens, bals)
	}
	if _, err := n.nodes[0].Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
}

package snapshot

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/types"
)

// buildChain commits a chain with kv keys, transfers, a failed transfer
// and a few hundred keys spread over several blocks; it returns the
// failed tx and one successful tx, both committed.
func buildChain(t *testing.T, c *chain) (failed, ok *types.Tx) {
	t.Helper()
	var txs []*types.Tx
	for i, u := range c.users {
		txs = append(txs, c.tx(u, &types.KVPut{Key: fmt.Sprintf("user/%d", i), Value: "first"}))
	}
	c.commit(t, false, txs...)
	ok = txs[3]
	// users[0] tries to overdraw: a failed receipt, its nonce unchanged,
	// so the very same tx would execute again were it not for the
	// replay rule. It never sends anything else.
	failed = c.tx(c.users[0], &types.Transfer{To: c.users[1].Public().Address(), Amount: 5_000_000})
	rs := c.commit(t, false, failed, c.tx(c.users[2], &types.Transfer{To: c.users[3].Public().Address(), Amount: 7}))
	if rs[0].OK || !rs[1].OK {
		t.Fatalf("receipts %+v %+v", rs[0], rs[1])
	}
	for b := 0; b < 6; b++ {
		txs = txs[:0]
		for i, u := range c.users[1:] {
			txs = append(txs, c.tx(u, &types.KVPut{Key: fmt.Sprintf("block%d/key%d", b, i), Value: strings.Repeat("v", 40+b)}))
		}
		c.commit(t, false, txs...)
	}
	c.commit(t, false) // an empty block
	return failed, ok
}

// TestStateSyncJoinsAndContinues takes a snapshot of a real chain, serves
// it through the real API, state-syncs a new ledger from it, and then
// commits the chain's next certified blocks on the new ledger as catch-up
// does, including a block that replays a failed and a successful tx from
// before the snapshot: the new ledger must agree with the chain on every
// receipt and root. Reads before the snapshot answer height_pruned.
func TestStateSyncJoinsAndContinues(t *testing.T) {
	c := newChain(t, tempDir(t, "provider"), 30)
	failed, okTx := buildChain(t, c)
	store, err := Open(tempDir(t, "snaps"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.l.Pin()
	st, err := store.Take(t.Context(), pin, c.g.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	H := st.Height
	if st.Chunks < 4 {
		t.Fatalf("only %d chunks; the test wants several", st.Chunks)
	}
	srv := serveAPI(t, c.l, store)

	// The chain goes on after the snapshot: the replays get failed
	// "replay" receipts, valid in a block.
	rs := c.commit(t, false, failed, okTx, c.tx(c.users[5], &types.KVPut{Key: "after", Value: "x"}))
	if rs[0].Code != types.CodeReplay || rs[1].Code != types.CodeReplay || !rs[2].OK {
		t.Fatalf("provider receipts: %v %v %v", rs[0].Code, rs[1].Code, rs[2].OK)
	}
	c.commit(t, false, c.tx(c.users[6], &types.Transfer{To: c.users[0].Public().Address(), Amount: 1}))

	var logs logBuffer
	dir := tempDir(t, "joined")
	res, err := syncInto(t, c.g, dir, logs.logger(), srv.URL)
	if err != nil {
		t.Fatalf("state sync: %v\n%s", err, logs.String())
	}
	if res.Height != H || res.Keys != st.Keys || res.Txs != st.Txs || res.Provider != srv.URL {
		t.Fatalf("result %+v, snapshot %+v", res, st)
	}
	j := openLedger(t, c.g, dir)
	defer j.Close()
	if base, ok := j.SyncBase(); !ok || base != H {
		t.Fatalf("sync base %d %v, want %d", base, ok, H)
	}
	want, err := c.l.Store().Header(H)
	if err != nil {
		t.Fatal(err)
	}
	if hd := j.Head(); hd.Height != H || hd.Hash != want.Hash() || hd.StateRoot != want.StateRoot {
		t.Fatalf("joined head %+v, want height %d hash %s", hd, H, want.Hash())
	}
	if err := j.State().CheckTree(H); err != nil {
		t.Fatal(err)
	}
	// Catch-up: the certified blocks after the snapshot, executed here.
	for i := int(H); i < len(c.blocks); i++ {
		if err := j.Commit(c.blocks[i], c.certs[i], nil); err != nil {
			t.Fatalf("joined ledger refuses certified block %d: %v", i+1, err)
		}
	}
	if j.Head() != c.l.Head() {
		t.Fatalf("joined head %+v, chain head %+v", j.Head(), c.l.Head())
	}
	_, _, jr, err := j.Block(H + 1)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := j.Tx(okTx.Hash()); err != nil || info.Height != H+1 {
		t.Fatalf("a replayed tx from before the snapshot: %+v %v", info, err)
	}
	if jr[0].Code != types.CodeReplay || jr[1].Code != types.CodeReplay {
		t.Fatalf("joined receipts %v %v, want replay", jr[0].Code, jr[1].Code)
	}

	// The search index of a joined node starts after the snapshot.
	ix, err := search.Open(t.TempDir(), j, search.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.CatchUp(t.Context(), nil); err != nil {
		t.Fatalf("search catch-up on a joined ledger: %v", err)
	}
	if ix.IndexedHeight() != j.Head().Height {
		t.Fatalf("search indexed %d, head %d", ix.IndexedHeight(), j.Head().Height)
	}
	ix.Close()

	// cairn verify's audit covers what the joined ledger holds; a replay
	// from genesis is refused with the reason.
	rep, err := j.Audit(t.Context(), ledger.AuditOptions{})
	if err != nil || !rep.OK || rep.Height != j.Head().Height {
		t.Fatalf("audit of the joined ledger: %+v %v", rep, err)
	}
	if _, err := j.Audit(t.Context(), ledger.AuditOptions{Replay: true}); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("replay audit of a joined ledger: %v", err)
	}

	// Reads: state from H on, blocks from H+1 on.
	e, err := j.KVAt("user/7", H)
	if err != nil || e.Value != "first" {
		t.Fatalf("KVAt(H) = %+v, %v", e, err)
	}
	var ue *ledger.UnavailableError
	if _, err := j.KVAt("user/7", H-1); !errors.As(err, &ue) || ue.Oldest != H {
		t.Fatalf("KVAt(H-1): %v", err)
	}
	if vs, err := j.KVHistoryFrom("user/7", H, 0, 10); err != nil || len(vs) != 1 || vs[0].Height != H || vs[0].Entry.Height != 1 {
		t.Fatalf("history from the snapshot height: %+v %v", vs, err)
	}
	if _, err := j.KVHistoryFrom("user/7", 0, 0, 10); err == nil {
		t.Fatal("history from height 0 answered on a joined ledger")
	} else if oldest, ok := ledger.HeightPruned(err); !ok || oldest != H {
		t.Fatalf("history from height 0: %v", err)
	}
	if _, _, _, err := j.Block(H); !errors.As(err, &ue) || ue.Oldest != H+1 {
		t.Fatalf("Block(H): %v", err)
	}
	if _, err := j.Tx(c.blocks[0].Txs[4].Hash()); err == nil {
		t.Fatal("Tx(before snapshot) answered")
	} else if oldest, ok := ledger.HeightPruned(err); !ok || oldest != H+1 {
		t.Fatalf("Tx(before snapshot): %v", err)
	}
	sp, err := j.Prove(types.KVKey("block3/key4"), H)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyStateProof(c.g.ChainID, j.Validators(), sp); err != nil || !sp.Found {
		t.Fatalf("proof at the snapshot height: found %v, %v", sp.Found, err)
	}

	// Through the API: 410 height_pruned naming the oldest height.
	jsrv := serveAPI(t, j, nil)
	resp, err := http.Get(fmt.Sprintf("%s/v1/blocks/%d", jsrv.URL, H-2))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error  client.ErrorBody `json:"error"`
		Oldest uint64           `json:"oldest_height"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusGone || body.Error.Code != "height_pruned" || body.Oldest != H+1 {
		t.Fatalf("GET block before the snapshot: %d %+v (%v)", resp.StatusCode, body, err)
	}

	// The joined node serves snapshots of its own that check out: its
	// history below H is headers and tx hashes, enough for another node.
	js, err := Open(tempDir(t, "joined-snaps"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	jpin := j.Pin()
	if _, err := js.Take(t.Context(), jpin, c.g.ChainID); err != nil {
		t.Fatal(err)
	}
	jpin.Close()
	j2srv := serveAPI(t, j, js)
	dir2 := tempDir(t, "second")
	if _, err := syncInto(t, c.g, dir2, logs.logger(), j2srv.URL); err != nil {
		t.Fatalf("sync from a joined node: %v", err)
	}
	j2 := openLedger(t, c.g, dir2)
	defer j2.Close()
	if j2.Head() != c.l.Head() {
		t.Fatalf("second joined head %+v, chain %+v", j2.Head(), c.l.Head())
	}
	if ok, err := j2.TxCommitted(failed.Hash()); err != nil || !ok {
		t.Fatalf("second joined node lost the replay index: %v %v", ok, err)
	}
}

// TestManifestEncoding: decode(encode(m)) = m, and the decoder refuses
// trailing or truncated bytes.
func TestManifestEncoding(t *testing.T) {
	full := &Manifest{ChainID: "c", Height: 9, Header: []byte{1, 2}, Certificate: []byte{3}, Txs: 4, Keys: 5}
	full.ChainChunks = append(full.ChainChunks, [32]byte{1})
	full.StateChunks = append(full.StateChunks, [32]byte{2}, [32]byte{3})
	b := full.Encode()
	got, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got.Encode()) != hex.EncodeToString(b) || got.Chunks() != 3 {
		t.Fatalf("round trip: %+v", got)
	}
	if h, k := got.ChunkHash(1); k != KindState || h[0] != 2 {
		t.Fatalf("chunk 1: %x kind %d", h, k)
	}
	for _, bad := range [][]byte{append(b, 0), b[:len(b)-1], append([]byte{2}, b[1:]...)} {
		if _, err := DecodeManifest(bad); !errors.Is(err, ErrFormat) {
			t.Fatalf("decoded %x: %v", bad, err)
		}
	}
}

// TestStateSyncInterrupted: a ledger a state sync began filling and did
// not finish is refused at open (its records are partial), and state sync
// into it starts over and succeeds.
func TestStateSyncInterrupted(t *testing.T) {
	c := newChain(t, tempDir(t, "provider"), 8)
	c.commit(t, false, c.tx(c.users[0], &types.KVPut{Key: "a", Value: "1"}))
	c.commit(t, false, c.tx(c.users[1], &types.KVPut{Key: "b", Value: "2"}))
	store, err := Open(tempDir(t, "snaps"), 0)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.l.Pin()
	_, err = store.Take(t.Context(), pin, c.g.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := serveAPI(t, c.l, store)

	dir := tempDir(t, "joined")
	l := openLedger(t, c.g, dir)
	hdr, err := c.l.Store().Header(2)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.l.Store().Certificate(2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Restore(hdr, cert)
	if err != nil {
		t.Fatal(err)
	}
	r.Abort() // the process dies here
	l.Close()
	if _, err := ledger.Open(ledger.Options{Dir: dir}, c.g); !errors.Is(err, ledger.ErrRestoreUnfinished) {
		t.Fatalf("open after an unfinished restore: %v", err)
	}
	if _, err := syncInto(t, c.g, dir, nil, srv.URL); err != nil {
		t.Fatal(err)
	}
	j := openLedger(t, c.g, dir)
	defer j.Close()
	if j.Head() != c.l.Head() {
		t.Fatalf("head %+v, want %+v", j.Head(), c.l.Head())
	}
}

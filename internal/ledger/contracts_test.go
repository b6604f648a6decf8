package ledger

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairn-db/cairn/internal/execute"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/internal/vm"
	"github.com/cairn-db/cairn/types"
)

// Contracts through the ledger: a block a proposer built with its own
// engine validates on another ledger; reads and queries at a height see
// that height's state; a reopened ledger (its code compiled again when it
// opens) replays the chain to the same roots.
func TestContractsThroughTheLedger(t *testing.T) {
	n := newNet(1, 1000)
	fs := vfs.NewMem()
	a, b := n.open(t, fs, "a"), n.open(t, fs, "b")
	alice := n.users[0]
	blocks := [][]*types.Tx{
		{n.tx(alice, &types.ContractDeploy{Code: txfixtures.ContractModule})},
		{n.tx(alice, &types.ContractInstantiate{Name: "fix", CodeHash: txfixtures.ContractCodeHash(), Owner: alice.Public().Address(), GasLimit: 100_000})},
		{n.tx(alice, &types.ContractInvoke{Name: "fix", Function: "f", GasLimit: 100_000, Funds: 7})},
	}
	for i, txs := range blocks {
		blk, rcs := n.commit(t, a, txs...)
		if !rcs[0].OK {
			t.Fatalf("block %d: %+v", i+1, rcs[0])
		}
		p, err := b.Validate(blk, execute.Options{})
		if err != nil {
			t.Fatalf("block %d on the second ledger: %v", i+1, err)
		}
		if err := b.Commit(blk, n.certify(blk, 3), p); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := a.ContractInfos("", 10)
	if err != nil || len(infos) != 1 || infos[0].Name != "fix" || infos[0].Created != 2 {
		t.Fatalf("infos: %+v %v", infos, err)
	}
	for h, want := range map[uint64]uint64{2: 0, 3: 7} {
		cs, err := a.ContractsAt(h)
		if err != nil {
			t.Fatal(err)
		}
		if bal, err := cs.Balance(types.ContractAddress("fix")); err != nil || bal != want {
			t.Fatalf("contract balance at %d: %d %v, want %d", h, bal, err, want)
		}
	}
	if _, err := a.ContractsAt(4); err == nil {
		t.Fatal("contracts above the head")
	}
	// The module writes on every call: a query fails with read_only, and
	// at height 1 there is no instance yet.
	q, err := a.Query(context.Background(), "fix", "f", nil, 100_000, 3, [20]byte{})
	if err != nil || q.Outcome.Err == nil || q.Outcome.GasUsed == 0 {
		t.Fatalf("query: %+v %v", q, err)
	}
	if q, err := a.Query(context.Background(), "fix", "f", nil, 100_000, 1, [20]byte{}); err != nil || q.Outcome.Err == nil {
		t.Fatalf("query before the instance: %+v %v", q, err)
	} else if te, ok := q.Outcome.Err.(*types.TxError); !ok || te.Code != vm.CodeNoSuchContract {
		t.Fatalf("query before the instance: %v", q.Outcome.Err)
	}
	head := a.Head()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a = n.open(t, fs, "a")
	defer a.Close()
	defer b.Close()
	if a.Head() != head {
		t.Fatalf("reopened at %+v, want %+v", a.Head(), head)
	}
	rep, err := a.Audit(context.Background(), AuditOptions{Replay: true, ScratchDir: t.TempDir()})
	if err != nil || !rep.OK {
		t.Fatalf("replay: %+v %v", rep, err)
	}
}

package explorer_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/txfixtures"
	"github.com/cairn-db/cairn/merkle"
	"github.com/cairn-db/cairn/types"
)

// fixtureFieldChain is a one-validator chain holding one block per field
// transaction type: the signed samples of internal/txfixtures (the first
// four, transfer to record, make block 1; then field.open at height 2,
// field.close_unilateral at 3, field.challenge at 4, field.dispute at 5,
// field.close at 6). Every one succeeds. It returns the chain, the field
// transactions in that order and the field's id.
func fixtureFieldChain(t *testing.T) (*apitest.Chain, []*types.Tx, string) {
	c := apitest.New(t, apitest.Options{})
	c.Pause()
	txs := txfixtures.Txs(t, apitest.ChainID, c.Users[0], 1)
	c.CommitBlock(txs[:4]...)
	var fields []*types.Tx
	for _, tx := range txs[4:9] {
		c.CommitBlock(tx)
		fields = append(fields, tx)
	}
	allOK(t, c)
	return c, fields, fields[0].Payload.(*types.FieldOpen).FieldID.String()
}

// allOK fails the test unless every committed transaction succeeded.
func allOK(t *testing.T, c *apitest.Chain) {
	t.Helper()
	for h := uint64(1); h <= c.Ledger.Head().Height; h++ {
		b, err := c.Client().Block(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range b.Receipts {
			if !r.OK {
				t.Fatalf("block %d tx %d failed: %s %s", h, i, r.Code, r.Reason)
			}
		}
	}
}

// Penalty of the contested field.
const contestedPenalty = 50

// contestedFieldChain is a chain on which a field of two funded users lives
// to settlement through a contest: users 0 (the leader, deposit 600) and 1
// (deposit 400) open it at height 1 and make two payments off chain (0 pays
// 1 100, then 1 pays 0 30); at height 2 user 1 closes unilaterally with the
// stale state 1 (500, 500); at height 3 user 0 challenges with state 2
// (530, 470), so user 1 owes the penalty; empty blocks follow until the
// chain settles the field (580, 420 paid out). It returns the chain, the
// field id and the height at which it settled.
func contestedFieldChain(t *testing.T) (*apitest.Chain, string, uint64) {
	c := apitest.New(t, apitest.Options{})
	c.Pause()
	keys := []*crypto.PrivateKey{c.Users[0], c.Users[1]}
	terms := types.FieldTerms{FieldID: crypto.Sum([]byte("explorer contested field")), Leader: keys[0].Public(),
		Members:         []types.FieldMember{{Key: keys[0].Public(), Deposit: 600}, {Key: keys[1].Public(), Deposit: 400}},
		ChallengePeriod: 4, Expiry: 500, Penalty: contestedPenalty}
	open := &types.FieldOpen{FieldTerms: terms}
	for _, k := range keys {
		open.Joins = append(open.Joins, k.Sign(crypto.DomainFieldJoin, types.JoinSignBytes(apitest.ChainID, &terms)))
	}
	pay := func(seq uint64, from, to uint16, amount uint64, bal []uint64) types.FieldPayment {
		return types.FieldPayment{Seq: seq, From: from, To: to, Amount: amount, PayerSeq: 1, Balances: bal,
			PayerSig: keys[from].Sign(crypto.DomainFieldPayment, types.PaymentSignBytes(apitest.ChainID, terms.FieldID, from, to, amount, 1))}
	}
	p1, p2 := pay(1, 0, 1, 100, []uint64{500, 500}), pay(2, 1, 0, 30, []uint64{530, 470})
	leaves := []crypto.Hash{p1.LeafHash(), p2.LeafHash()}
	state := func(n uint64, bal []uint64) types.FieldStateClaim {
		root := merkle.RootOfHashes(leaves[:n])
		cm := types.Commitment(apitest.ChainID, terms.FieldID, n, root, terms.MembersHash())
		cl := types.FieldStateClaim{FieldID: terms.FieldID, State: n, Root: root, Balances: bal}
		for _, k := range keys {
			cl.Signatures = append(cl.Signatures, k.Sign(crypto.DomainFieldState, types.StateSignBytes(cm)))
		}
		return cl
	}
	c.CommitBlock(apitest.Tx(keys[0], 1, open))
	c.CommitBlock(apitest.Tx(keys[1], 1, &types.FieldCloseUnilateral{FieldStateClaim: state(1, []uint64{500, 500})}))
	c.CommitBlock(apitest.Tx(keys[0], 2, &types.FieldChallenge{FieldStateClaim: state(2, []uint64{530, 470})}))
	allOK(t, c)
	for i := 0; i < 20; i++ {
		fs, err := c.Client().Field(t.Context(), terms.FieldID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fs.Field.Status == types.FieldSettledStatus {
			return c, terms.FieldID.String(), fs.Height
		}
		c.CommitBlock()
	}
	t.Fatalf("the field did not settle within 20 blocks")
	return nil, "", 0
}

// TestExplorerFieldTxs: a block holding each field transaction type shows
// it readably and verifies (the browser decodes each transaction from its
// bytes and compares it with what the page shows), each field transaction's
// page verifies its outcome, and the field id links to the field's page.
func TestExplorerFieldTxs(t *testing.T) {
	b := newBrowser(t)
	c, fields, id := fixtureFieldChain(t)
	want := map[int][]string{
		2: {"field.open", "open field", "2 members, deposits 100 + 0", "challenge period 10 blocks", "expiry at height 1000", "penalty 5"},
		3: {"field.close_unilateral", "unilaterally at state 1: balances 70, 30", "2 member signatures"},
		4: {"field.challenge", "challenge the close of field", "at state 2: balances 100, 0"},
		5: {"field.dispute", "payment 2 (member 1 pays member 0 10) leaves balances 80, 20; proof of leaf 1 of 2"},
		6: {"field.close", "cooperatively at state 2: balances 80, 20"},
	}
	for h := 2; h <= 6; h++ {
		b.open(fmt.Sprintf("%s/blocks/%d", c.URL, h))
		s := b.text("main")
		for _, w := range want[h] {
			if !strings.Contains(s, w) {
				t.Errorf("block %d lacks %q", h, w)
			}
		}
		verdict, report := b.verify()
		if verdict != "pass" || !strings.Contains(report, "passed: every transaction's bytes decode (encoding.md 3.1, 9) — 1 "+fields[h-2].Payload.TxType().String()) ||
			!strings.Contains(report, "passed: transactions shown = transactions in their bytes") ||
			!strings.Contains(report, "passed: every transaction is signed by its sender, for this chain") {
			t.Fatalf("verify block %d: %s\n%s", h, verdict, report)
		}
		if h == 5 {
			b.shot("block-field-verified.png")
		}
		b.open(c.URL + "/txs/" + fields[h-2].Hash().String())
		if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: transaction shown = transaction in its bytes") ||
			!strings.Contains(report, "passed: proves: committed and ok") {
			t.Fatalf("verify tx %s: %s\n%s", fields[h-2].Payload.TxType(), verdict, report)
		}
	}
	b.open(c.URL + "/blocks/2")
	b.follow(fmt.Sprintf(`a[href="/fields/%s"]`, id))
	if p := b.path(); p != "/fields/"+id {
		t.Fatalf("field link went to %s", p)
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves the field is closing (pending cooperative close at state 2)") {
		t.Fatalf("verify field: %s\n%s", verdict, report)
	}
	// A field id typed into the search box offers the field's page.
	b.open(c.URL + "/search?q=" + id)
	b.follow(fmt.Sprintf(`main a[href="/fields/%s"]`, id))
	if s := b.text("main"); !strings.Contains(s, "Payment field") || !strings.Contains(s, id) {
		t.Errorf("field page from search: %q", s)
	}
}

// TestExplorerFieldPage: the field page shows a contested field's terms,
// members and deposits, status, pending close, deadline, penalties and
// payout, at its latest height and at the heights of its life, and each
// verifies its entry's state proof against the certified header.
func TestExplorerFieldPage(t *testing.T) {
	b := newBrowser(t)
	c, id, settled := contestedFieldChain(t)

	b.open(c.URL + "/fields/" + id)
	s := b.text("main")
	for _, w := range []string{"settled: the deposits were paid out", "Total deposits\n1000", "Challenge period\n4 blocks", "Penalty\n50",
		"Deadline\nnone: settled", fmt.Sprintf("Settled at\nheight %d", settled), "Paid out", "challenge (a later co-signed state replaced a stale close)",
		"closed with a stale state", "member 1", "The close it settled by"} {
		if !strings.Contains(s, w) {
			t.Errorf("settled field page lacks %q:\n%s", w, s)
		}
	}
	payouts := get(b, "payouts", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.payout')].map(e => e.textContent)`))
	if strings.Join(payouts, ",") != "580,420" {
		t.Errorf("payouts shown: %q, want 580 (530 + the penalty) and 420", payouts)
	}
	verdict, report := b.verify()
	if verdict != "pass" || !strings.Contains(report, "passed: state proof") || !strings.Contains(report, "passed: field shown = the entry in the proven bytes") ||
		!strings.Contains(report, "passed: proves the field is settled (by challenge close at state 2), paid out 580, 420") {
		t.Fatalf("verify settled field: %s\n%s", verdict, report)
	}
	b.shot("field-verified.png")

	// Back through its life: closing after the stale close (member 1
	// answerable), then open.
	b.open(fmt.Sprintf("%s/fields/%s?height=3", c.URL, id))
	b.follow(`a[rel="prev"]`)
	if p := b.path(); p != fmt.Sprintf("/fields/%s?height=2", id) {
		t.Fatalf("prev went to %s", p)
	}
	s = b.text("main")
	for _, w := range []string{"closing: a close is pending", "unilateral (one member's claim about a co-signed state)", "Balance claimed at state 1",
		"Answerable\nmember 1", "Deadline\nheight 6 (the last height for challenges and disputes)"} {
		if !strings.Contains(s, w) {
			t.Errorf("field at height 2 lacks %q:\n%s", w, s)
		}
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: certified height = the height asked for — 2") ||
		!strings.Contains(report, "proves the field is closing (pending unilateral close at state 1)") {
		t.Fatalf("verify field at height 2: %s\n%s", verdict, report)
	}
	b.follow(`a[rel="prev"]`)
	if s := b.text("main"); !strings.Contains(s, "open: members pay each other off chain") || !strings.Contains(s, "None: no close has been submitted.") ||
		!strings.Contains(s, "Deadline\nheight 500 (the expiry)") {
		t.Errorf("field at height 1: %s", s)
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "proves the field is open") {
		t.Fatalf("verify field at height 1: %s\n%s", verdict, report)
	}
	// A field that does not exist, and one asked for before it existed.
	b.open(c.URL + "/fields/" + strings.Repeat("ab", 32))
	if s := b.text("main"); !strings.Contains(s, "No field") {
		t.Errorf("unknown field: %q", s)
	}
}

// forgeField moves 100 from member 0 to member 1 in the payout (or, before
// settlement, in the pending balances; with neither, it raises member 1's
// deposit): the JSON
// (field, total_deposits) and the entry bytes (value_hex) agree, so only
// the state proof can tell.
func forgeField(m map[string]any) error {
	raw, err := hex.DecodeString(m["value_hex"].(string))
	if err != nil {
		return err
	}
	f, err := types.DecodeField(raw)
	if err != nil {
		return err
	}
	switch {
	case len(f.Final) == 2 && f.Final[0] >= 100:
		f.Final[0], f.Final[1] = f.Final[0]-100, f.Final[1]+100
	case f.Pending != nil && f.Pending.Balances[0] >= 100:
		f.Pending.Balances[0], f.Pending.Balances[1] = f.Pending.Balances[0]-100, f.Pending.Balances[1]+100
	default:
		f.Members[1].Deposit += 1000
	}
	m["value_hex"] = hex.EncodeToString(f.Encode())
	m["total_deposits"] = f.Total()
	fj, err := json.Marshal(f)
	if err != nil {
		return err
	}
	var fm map[string]any
	if err := json.Unmarshal(fj, &fm); err != nil {
		return err
	}
	m["field"] = fm
	return nil
}

// TestExplorerCatchesForgedField: behind the forging proxy, a field entry
// forged consistently (JSON and bytes) fails at its state proof and only
// there; a challenge shown with other balances than its bytes hold fails
// the block's shown-vs-bytes check; the honest node's same pages verify.
func TestExplorerCatchesForgedField(t *testing.T) {
	b := newBrowser(t)
	c, id, _ := contestedFieldChain(t)
	lie := newForger(t, c.URL)

	b.open(lie + "/blocks/3") // the challenge, its payload's balances forged
	if s := b.text("main"); !strings.Contains(s, "at state 2: balances 1, 470") {
		t.Fatalf("the forged balances are not what the block page shows: %q", s)
	}
	verdict, report := b.verify()
	if verdict != "fail" || !failedCheck(report, "transactions shown = transactions in their bytes — differ at 0") ||
		failedCheck(report, "every transaction's bytes decode") || failedCheck(report, "every transaction is signed") {
		t.Fatalf("a block showing forged field balances verified: %s\n%s", verdict, report)
	}

	for _, q := range []string{"", "?height=2", "?height=1"} {
		b.open(lie + "/fields/" + id + q)
		verdict, report := b.verify()
		if verdict != "fail" || !failedCheck(report, "state proof") || strings.Count(report, "\nFAILED: ") != 1 || strings.Contains(report, "proves the field") {
			t.Fatalf("forged field%s verified: %s\n%s", q, verdict, report)
		}
		if q == "" {
			if payouts := get(b, "payouts", chromedp.Evaluate[[]string](`[...document.querySelectorAll('.payout')].map(e => e.textContent)`)); strings.Join(payouts, ",") != "480,520" {
				t.Fatalf("the forged payout is not what the page shows")
			}
			b.shot("field-forged.png")
		}
		b.open(c.URL + "/fields/" + id + q)
		if verdict, report := b.verify(); verdict != "pass" {
			t.Errorf("honest field%s: %s\n%s", q, verdict, report)
		}
	}
}

package explorer_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-db/cairn/internal/api"
	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/types"
)

// On a node that keeps no account index (a validator), the account page
// still shows and proves the balance, and links its transaction list to
// the same page on the nodes the API names.
func TestAccountPageOnANodeWithoutTheIndex(t *testing.T) {
	b := newBrowser(t)
	const follower = "http://127.0.0.1:18084"
	c := apitest.New(t, apitest.Options{AccountIndex: ledger.AccountIndexOff, API: api.Config{IndexElsewhere: []string{follower}}})
	u := c.Users
	c.CommitBlock(apitest.Tx(u[1], 1, &types.Transfer{To: u[2].Public().Address(), Amount: 250}))
	addr := u[2].Public().Address().String()
	b.open(c.URL + "/accounts/" + addr)
	href := get(b, "link to the indexing node", chromedp.Poll[string](`(() => { const a = document.querySelector('#ask a'); return a ? a.getAttribute('href') : ''; })()`))
	if want := fmt.Sprintf("%s/accounts/%s", follower, addr); href != want {
		t.Fatalf("transactions link to %q, want %q", href, want)
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves balance 1000250 and nonce 0") {
		t.Fatalf("verify account: %s\n%s", verdict, report)
	}
}

package explorer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cairn-db/cairn/internal/api/apitest"
	"github.com/cairn-db/cairn/types"
)

var shotsFlag = flag.String("explorer.shots", "", "directory for the browser tests' screenshots (default: $CAIRN_EXPLORER_SHOTS, else a temporary directory)")

// shotsDir is where screenshots go: the flag, the environment, or a
// temporary directory of the test.
func shotsDir(t *testing.T) string {
	dir := *shotsFlag
	if dir == "" {
		dir = os.Getenv("CAIRN_EXPLORER_SHOTS")
	}
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium finds the browser, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: the explorer's browser tests must run (.ci/run installs it with apt-get)")
	}
	t.Skip("SKIPPED: chromium is not installed, so the explorer's browser tests did not run (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium with a fresh profile, collecting the
// page's uncaught JavaScript exceptions and console errors.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"))
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	b := &browser{t: t, ctx: ctx, shots: shotsDir(t)}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	done := make(chan struct{})
	msgs := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == "") {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelB()
		<-done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errs {
			t.Errorf("browser: %s", e)
		}
	})
	t.Logf("screenshots in %s", b.shots)
	return b
}

// do runs actions with a deadline.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value, with a deadline.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// open loads a page and waits until it has drawn itself.
func (b *browser) open(u string) {
	b.t.Helper()
	b.do("open "+u, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)))
	b.checkAccessible()
}

// follow clicks a link and waits for the next page to draw itself.
func (b *browser) follow(sel string) {
	b.t.Helper()
	b.do("follow "+sel, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.ready`),
		chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible), chromedp.WaitReady(chromedp.CSS(`body[data-ready="true"]`)))
	b.checkAccessible()
}

// accessibleJS lists what a drawn page lacks for keyboard and screen reader
// users: a language, one h1, a label for every control, a name for every
// button, link and image, a caption for every table, unique ids.
const accessibleJS = `(() => {
	const p = [];
	if (!document.documentElement.lang) p.push('no lang on <html>');
	const h1 = document.querySelectorAll('h1').length;
	if (h1 !== 1) p.push(h1 + ' h1 elements');
	for (const el of document.querySelectorAll('input, select, textarea')) {
		if (el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')) p.push('unlabelled control #' + el.id);
	}
	for (const el of document.querySelectorAll('button, a[href], summary')) {
		if (!el.textContent.trim() && !el.getAttribute('aria-label')) p.push('nameless ' + el.tagName);
	}
	for (const el of document.querySelectorAll('svg, img')) {
		if (!el.getAttribute('aria-label') && !el.getAttribute('alt')) p.push('unnamed image');
	}
	for (const el of document.querySelectorAll('table')) if (!el.querySelector('caption')) p.push('table without caption');
	const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
	for (const id of new Set(ids)) if (ids.filter((x) => x === id).length > 1) p.push('duplicate id ' + id);
	if (!document.querySelector('main') || !document.querySelector('nav') || !document.querySelector('[role=search]')) p.push('missing landmarks');
	if (document.body.textContent.includes('[object ')) p.push('an element drawn as "[object …]" text');
	return p;
})()`

func (b *browser) checkAccessible() {
	b.t.Helper()
	if p := get(b, "accessibility", chromedp.Evaluate[[]string](accessibleJS)); len(p) > 0 {
		b.t.Errorf("%s: %s", b.path(), strings.Join(p, "; "))
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *browser) path() string {
	b.t.Helper()
	return get(b, "location", chromedp.Evaluate[string](`location.pathname + location.search`))
}

// verify clicks the page's Verify button and returns the verdict and the
// report: one line per check, failed ones starting with "FAILED: ".
func (b *browser) verify() (string, string) {
	b.t.Helper()
	b.do("verify", chromedp.Click(chromedp.CSS("#verify"), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS(`#report[data-verdict]`)))
	verdict := get(b, "verdict", chromedp.AttributeValue(chromedp.CSS(`#report`), "data-verdict"))
	lines := get(b, "report", chromedp.Evaluate[[]string](`[document.querySelector('#report h3').textContent, document.querySelector('#report > p').textContent,
		...[...document.querySelectorAll('#report li')].map(li => li.textContent.slice(1))]`))
	if get(b, "stray text", chromedp.Evaluate[bool](`document.body.textContent.includes('[object ')`)) {
		b.t.Errorf("%s: an element drawn as \"[object …]\" text after Verify", b.path())
	}
	return verdict.Value, strings.Join(lines, "\n")
}

func (b *browser) shot(name string) {
	b.t.Helper()
	raw := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	small, err := fewColours(raw)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name), small, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// fewColours re-encodes a screenshot with a palette of its 256 most
// frequent colours: pages are mostly flat colour, so text stays sharp and
// the file is about a third of the size.
func fewColours(raw []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	count := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			c.A = 255
			count[c]++
		}
	}
	cols := make([]color.RGBA, 0, len(count))
	for c := range count {
		cols = append(cols, c)
	}
	key := func(c color.RGBA) uint32 { return uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B) }
	sort.Slice(cols, func(i, j int) bool {
		if count[cols[i]] != count[cols[j]] {
			return count[cols[i]] > count[cols[j]]
		}
		return key(cols[i]) < key(cols[j])
	})
	pal := color.Palette{}
	for _, c := range cols[:min(len(cols), 256)] {
		pal = append(pal, c)
	}
	p := image.NewPaletted(r, pal)
	draw.Draw(p, r, img, r.Min, draw.Src)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// sampleChain is a one-validator chain with a few blocks of every kind of
// transaction, a failed one included.
func sampleChain(t *testing.T) (*apitest.Chain, []*types.Tx) {
	c := apitest.New(t, apitest.Options{Search: true})
	c.Pause()
	u := c.Users
	v7 := uint64(7)
	txs := []*types.Tx{
		apitest.Tx(u[0], 1, &types.KVPut{Key: "greeting", Value: "hello"}),
		apitest.Tx(u[1], 1, &types.Transfer{To: u[2].Public().Address(), Amount: 250}),
		apitest.Tx(u[0], 2, &types.KVPut{Key: "greeting", Value: "hello, <b>world</b>"}),
		apitest.Tx(u[2], 1, &types.KVPut{Key: "greeting", Value: "stale", ExpectVersion: &v7}),
		apitest.Tx(u[3], 1, &types.Record{Document: json.RawMessage(`{"invoice":{"customer":"acme corp","amount":5000}}`)}),
		apitest.Tx(u[1], 2, &types.KVPut{Key: "config/a b", Value: "x"}),
	}
	c.CommitBlock(txs[0])
	c.CommitBlock(txs[1:5]...)
	c.CommitBlock(txs[5])
	c.WaitIndexed()
	return c, txs
}

// TestExplorerInBrowser drives real Chromium through every page of a real
// chain: overview (live), block, transaction, account, key, search,
// evidence, API reference, following links, and verifies a block, a
// transaction and a key (present and absent) in the page.
func TestExplorerInBrowser(t *testing.T) {
	b := newBrowser(t)
	c, txs := sampleChain(t)

	b.open(c.URL + "/")
	if s := b.text("main"); !strings.Contains(s, "Chain overview") || !strings.Contains(s, "cairn-apitest") || !strings.Contains(s, "test0") {
		t.Fatalf("overview: %q", s)
	}
	b.do("recent blocks listed", chromedp.WaitVisible(chromedp.CSS(`main a[href="/blocks/3"]`)))
	if s := b.text("main"); !strings.Contains(s, "indexed to height 3 (lag 0)") {
		t.Errorf("overview: the search index line is not the index's height: %q", s)
	}
	// Live: a block committed now appears without reloading.
	c.CommitBlock(apitest.Tx(c.Users[2], 2, &types.Transfer{To: c.Users[0].Public().Address(), Amount: 1}))
	b.do("live block 4", chromedp.WaitVisible(chromedp.CSS(`tbody a[href="/blocks/4"]`)))
	if s := b.text(".live"); !strings.Contains(s, "block 4") {
		t.Errorf("live line: %q", s)
	}
	b.shot("overview.png")
	// The mempool line follows the node: a transaction waiting (the chain
	// commits only when told here) shows within a status refresh.
	pending := apitest.Tx(c.Users[3], 2, &types.KVPut{Key: "later", Value: "not yet"})
	if _, err := c.Client().Submit(context.Background(), pending); err != nil {
		t.Fatal(err)
	}
	get(b, "mempool shows 1", chromedp.Poll[bool](`document.getElementById('mempool').textContent.startsWith('1 transaction pending')`, chromedp.WithPollingTimeout(10*time.Second)))
	b.open(c.URL + "/txs/" + pending.Hash().String())
	if s := b.text("main"); !strings.Contains(s, "Status: pending") || !strings.Contains(s, "no proof yet") || !strings.Contains(s, "not yet") {
		t.Errorf("pending tx page: %q", s)
	}

	// Block 2: four transactions, one failed receipt, the certificate.
	b.open(c.URL + "/blocks/3")
	b.follow(`a[rel="prev"]`)
	if p := b.path(); p != "/blocks/2" {
		t.Fatalf("prev link went to %s", p)
	}
	s := b.text("main")
	for _, want := range []string{"Block 2", "version_conflict", "Commit certificate", "test0", "acme corp", "hello, <b>world</b>"} {
		if !strings.Contains(s, want) {
			t.Errorf("block page lacks %q", want)
		}
	}
	verdict, report := b.verify()
	if verdict != "pass" {
		t.Fatalf("verify block 2: %s\n%s", verdict, report)
	}
	for _, want := range []string{"Ed25519 signature of test0", "RFC 6962 root of the transaction hashes = tx_root", "results_root", "validators_hash", "passed: parent_hash = SHA-256(header of block 1): the chain links"} {
		if !strings.Contains(report, want) {
			t.Errorf("block report lacks %q:\n%s", want, report)
		}
	}
	b.shot("block-verified.png")

	// Transaction 2 of block 2 (a failed compare-and-set), from the block page.
	failed := txs[3].Hash().String()
	b.follow(fmt.Sprintf(`a[href="/txs/%s"]`, failed))
	if s := b.text("main"); !strings.Contains(s, "Status: failed") || !strings.Contains(s, "version_conflict") || !strings.Contains(s, "Inclusion proof") {
		t.Errorf("tx page: %q", s)
	}
	// Verify proves "committed and failed" from the receipt's bytes and its
	// inclusion proof under results_root (?prove=true), without the block.
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "inclusion proof leads to the certified tx_root") ||
		!strings.Contains(report, "passed: RFC 6962 receipt proof (result hash: the receipt without its reason) leads to the certified results_root") ||
		!strings.Contains(report, "passed: proves: committed and failed with version_conflict") {
		t.Fatalf("verify failed tx: %s\n%s", verdict, report)
	}
	b.shot("tx-verified.png")

	// The sender's account, from the transaction page.
	sender := c.Users[2].Public().Address().String()
	b.follow(fmt.Sprintf(`a[href="/accounts/%s"]`, sender))
	if s := b.text("main"); !strings.Contains(s, "1000250") || !strings.Contains(s, failed[:10]) {
		t.Errorf("account page: %q", s)
	}
	// Verify proves the balance and nonce shown, present in the certified state.
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves balance 1000250 and nonce 0") ||
		!strings.Contains(report, "passed: state proof") {
		t.Fatalf("verify account: %s\n%s", verdict, report)
	}
	b.shot("account-verified.png")
	// An address never seen: proven absent (balance 0, nonce 0).
	b.open(c.URL + "/accounts/" + strings.Repeat("5a", 20))
	if s := b.text("main"); !strings.Contains(s, "never seen") {
		t.Errorf("never-seen account page: %q", s)
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves the address holds nothing: never seen, balance 0 and nonce 0") {
		t.Fatalf("verify never-seen account: %s\n%s", verdict, report)
	}
	// A transaction that succeeded: "committed and ok", proven.
	b.open(c.URL + "/txs/" + txs[1].Hash().String())
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: proves: committed and ok") {
		t.Fatalf("verify ok tx: %s\n%s", verdict, report)
	}

	// The key, from a block's payload link; its history and its proof.
	b.open(c.URL + "/blocks/1")
	b.follow(`a[href="/keys/greeting"]`)
	s = b.text("main")
	for _, want := range []string{"hello, <b>world</b>", "Every version", "stale"} {
		if want == "stale" {
			if strings.Contains(s, want) {
				t.Errorf("key history shows the failed write %q", want)
			}
			continue
		}
		if !strings.Contains(s, want) {
			t.Errorf("key page lacks %q", want)
		}
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "state proof") || !strings.Contains(report, "proves the entry shown") {
		t.Fatalf("verify key: %s\n%s", verdict, report)
	}
	b.shot("key-verified.png")
	// A key with a slash and a space, and a key never written (a proof of absence).
	b.open(c.URL + "/keys/config%2Fa%20b")
	if verdict, report := b.verify(); verdict != "pass" {
		t.Fatalf("verify key config/a b: %s\n%s", verdict, report)
	}
	b.open(c.URL + "/keys/never-written")
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "proves the key is absent") {
		t.Fatalf("verify absent key: %s\n%s", verdict, report)
	}

	// Search from the box on any page: highlighted hits, links to results.
	b.do("search", chromedp.SendKeys(chromedp.CSS("#q"), `"acme corp"`+kb.Enter), chromedp.WaitVisible(chromedp.CSS(`#results mark`)))
	if p := b.path(); !strings.HasPrefix(p, "/search?q=") {
		t.Errorf("search went to %s", p)
	}
	if s := b.text("#results"); !strings.Contains(s, "1 match") {
		t.Errorf("search results: %q", s)
	}
	marks := get(b, "marks", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#results mark')].map(m => m.textContent)`))
	if len(marks) == 0 || !strings.EqualFold(marks[0], "acme") {
		t.Errorf("highlights: %q", marks)
	}
	if s := b.text("#search-limits"); !strings.Contains(s, "completeness") || !strings.Contains(s, "total") || !strings.Contains(s, "order") || !strings.Contains(s, "snippets") {
		t.Errorf("the search page does not say what its proofs cannot show: %q", s)
	}
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "passed: hit 1: transaction") || !strings.Contains(report, "committed and ok") {
		t.Fatalf("verify search hits: %s\n%s", verdict, report)
	}
	b.shot("search.png")
	b.follow(fmt.Sprintf(`#results a[href="/txs/%s"]`, txs[4].Hash()))
	if s := b.text("main"); !strings.Contains(s, "record") || !strings.Contains(s, "acme corp") {
		t.Errorf("record tx page: %q", s)
	}
	// A bad query shows the node's message, with its position.
	b.open(c.URL + "/search?q=" + url.QueryEscape("amount:abc"))
	if s := b.text("#results"); !strings.Contains(s, "bad_query") || !strings.Contains(s, "position") {
		t.Errorf("bad query: %q", s)
	}
	// A snippet cannot inject markup: the value "<b>world</b>" is text.
	b.open(c.URL + "/search?q=world")
	b.do("search world", chromedp.WaitVisible(chromedp.CSS(`#results mark`)))
	bolds := get(b, "no injected markup", chromedp.Evaluate[int](`document.querySelectorAll('#results b').length`))
	if bolds != 0 {
		t.Errorf("a snippet injected %d <b> elements", bolds)
	}
	// Every hit of a page of blocks and transactions, a failed one among them, verifies.
	b.open(c.URL + "/search?q=" + url.QueryEscape("status:failed OR type:block"))
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "committed and failed with version_conflict") ||
		!strings.Contains(report, "a certified block") || strings.Count(report, "passed: certified header of height") != 4 {
		t.Fatalf("verify blocks and a failed hit: %s\n%s", verdict, report)
	}

	b.open(c.URL + "/evidence")
	if s := b.text("main"); !strings.Contains(s, "No evidence") {
		t.Errorf("evidence page: %q", s)
	}
	b.open(c.URL + "/api")
	if s := b.text("main"); !strings.Contains(s, "GET /v1/blocks/{height}") || !strings.Contains(s, "POST /v1/txs") || !strings.Contains(s, "Schemas") {
		t.Errorf("API page: %q", s[:min(len(s), 400)])
	}
	// A response's schema link opens that schema.
	b.do("schema link", chromedp.Click(chromedp.CSS(`#op-get--v1-status a[href="#schema-Status"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`details#schema-Status[open] pre`)))
	b.shot("api.png")
	// Without JavaScript the page still names the data's JSON, and the
	// link serves it.
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	b.do("without JavaScript", chromedp.Navigate(c.URL+"/blocks/2"),
		chromedp.WaitVisible(chromedp.CSS(`main a[href="/v1/blocks/2?decode=true"]`)))
	if s := b.text("main"); !strings.Contains(s, "read the same data as JSON") {
		t.Errorf("without JavaScript: %q", s)
	}
	b.shot("no-javascript.png")
	b.do("raw JSON", chromedp.Click(chromedp.CSS(`main a[href="/v1/blocks/2?decode=true"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(chromedp.CSS(`body`)))
	if s := b.text("body"); !strings.Contains(s, `"header_hex"`) {
		t.Errorf("the raw link does not show the block's JSON: %.200s", s)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}

	// Keyboard: the skip link is the first stop and leads to the content.
	b.open(c.URL + "/api")
	b.do("keyboard", chromedp.KeyEvent(kb.Tab))
	focused := get(b, "focus", chromedp.Evaluate[string](`document.activeElement.textContent`))
	if focused != "Skip to content" {
		t.Errorf("first Tab stop: %q", focused)
	}
}

// forger is an HTTP proxy in front of a node that rewrites its answers the
// way a lying node would: each forgery keeps the page self-consistent (the
// JSON agrees with the bytes), so only the cryptographic checks can catch
// it.
type forger struct {
	target *url.URL
	rp     *httputil.ReverseProxy
}

func newForger(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(res *http.Response) error {
		p := res.Request.URL
		var forge func(map[string]any) error
		switch {
		case strings.HasPrefix(p.Path, "/v1/blocks/2"):
			forge = forgeBlock
		case strings.HasPrefix(p.Path, "/v1/blocks/3"):
			forge = forgeShownPayload
		case strings.HasPrefix(p.Path, "/v1/kv/greeting") && p.Query().Get("prove") == "true":
			forge = forgeKV
		case strings.HasPrefix(p.Path, "/v1/txs/"):
			forge = forgeTx
		case strings.HasPrefix(p.Path, "/v1/accounts/") && p.Query().Get("prove") == "true":
			forge = forgeAccount
		case p.Path == "/v1/search":
			forge = forgeSearch
		case strings.HasPrefix(p.Path, "/v1/fields/"):
			forge = forgeField
		default:
			return nil
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]any
		if res.StatusCode == 200 && json.Unmarshal(body, &m) == nil {
			if err := forge(m); err != nil {
				return err
			}
			body, _ = json.Marshal(m)
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", fmt.Sprint(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// forgeBlock claims another state root: the header bytes and fields agree,
// the block hash is recomputed and the certificate names the new hash, so
// only the validators' signatures can tell.
func forgeBlock(m map[string]any) error {
	hd := m["header"].(map[string]any)
	oldRoot := hd["state_root"].(string)
	newRoot := strings.Repeat("ee", 32)
	hh := strings.Replace(m["header_hex"].(string), oldRoot, newRoot, 1)
	raw, err := hex.DecodeString(hh)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	oldHash, newHash := m["hash"].(string), hex.EncodeToString(sum[:])
	b, _ := json.Marshal(m)
	s := strings.ReplaceAll(strings.ReplaceAll(string(b), oldRoot, newRoot), oldHash, newHash)
	for k := range m {
		delete(m, k)
	}
	return json.Unmarshal([]byte(s), &m)
}

// forgeShownPayload changes only the decoded form of a transaction
// (?decode=true), which the block page shows; its bytes stay honest. A kv
// value becomes "forged"; a payment field claim's first balance becomes 1.
func forgeShownPayload(m map[string]any) error {
	txs, _ := m["txs"].([]any)
	for _, x := range txs {
		if tx, ok := x.(map[string]any)["tx"].(map[string]any); ok {
			p := tx["payload"].(map[string]any)
			if bal, ok := p["balances"].([]any); ok && len(bal) > 0 {
				bal[0] = 1
				continue
			}
			p["value"] = "forged"
		}
	}
	return nil
}

// forgeKV serves another value for the key: the entry bytes and fields
// agree, only the state proof can tell.
func forgeKV(m map[string]any) error {
	e := m["entry"].(map[string]any)
	old := e["value"].(string)
	forged := strings.ToUpper(old) // same length, so the entry bytes stay well-formed
	e["value"] = forged
	m["value_hex"] = strings.Replace(m["value_hex"].(string), hex.EncodeToString([]byte(old)), hex.EncodeToString([]byte(forged)), 1)
	return nil
}

// forgeTx serves another amount for a transfer (its JSON and its bytes),
// and success for a failed transaction.
func forgeTx(m map[string]any) error {
	if m["status"] == "failed" {
		m["status"] = "committed"
		forgeReceiptOK(m["receipt"].(map[string]any), m)
		return nil
	}
	tx := m["tx"].(map[string]any)
	if tx["type"] != "transfer" {
		return nil
	}
	p := tx["payload"].(map[string]any)
	p["amount"] = 9_999
	bs := m["tx_bytes_hex"].(string)
	m["tx_bytes_hex"] = strings.Replace(bs, fmt.Sprintf("%016x", 250), fmt.Sprintf("%016x", 9_999), 1)
	return nil
}

// forgeReceiptOK turns a failed receipt into a successful one: the JSON
// (receipt and the holder's receipt_bytes_hex) and the bytes agree — tx
// hash, ok byte 01, no code, no reason, the version — so only the receipt
// proof under the certified results_root can tell.
func forgeReceiptOK(receipt, holder map[string]any) {
	if receipt != nil {
		receipt["ok"] = true
		delete(receipt, "code")
		delete(receipt, "reason")
	}
	rb := holder["receipt_bytes_hex"].(string)
	holder["receipt_bytes_hex"] = rb[:64] + "01" + "0000" + "0000" + rb[len(rb)-16:]
}

// forgeAccount serves a richer account: balance in the JSON and in the
// proven bytes (value_hex) agree, only the state proof can tell.
func forgeAccount(m map[string]any) error {
	if m["found"] != true {
		return nil
	}
	m["balance"] = json.Number("7777777")
	vh := m["value_hex"].(string)
	m["value_hex"] = fmt.Sprintf("%016x", 7777777) + vh[16:]
	return nil
}

// forgeSearch reports every failed hit as ok, its receipt bytes to match.
func forgeSearch(m map[string]any) error {
	hits, _ := m["hits"].([]any)
	for _, x := range hits {
		hit := x.(map[string]any)
		if hit["status"] != "failed" {
			continue
		}
		hit["status"] = "ok"
		delete(hit, "code")
		forgeReceiptOK(nil, hit["proof"].(map[string]any))
	}
	return nil
}

// TestExplorerCatchesForgedData: behind a proxy that forges a block, a key's
// value and a transaction consistently, every "verify" fails and says which
// check did.
func TestExplorerCatchesForgedData(t *testing.T) {
	b := newBrowser(t)
	c, txs := sampleChain(t)
	lie := newForger(t, c.URL)

	b.open(lie + "/blocks/2")
	if s := b.text("main"); !strings.Contains(s, strings.Repeat("ee", 32)) {
		t.Fatalf("the forged block is not what the page shows")
	}
	verdict, report := b.verify()
	if verdict != "fail" || !strings.Contains(report, "FAILED") {
		t.Fatalf("forged block verified: %s\n%s", verdict, report)
	}
	if !failedCheck(report, "Ed25519 signature of test0") {
		t.Errorf("the failing check is not the signature:\n%s", report)
	}
	b.shot("block-forged.png")

	b.open(lie + "/blocks/3")
	if s := b.text("main"); !strings.Contains(s, "forged") {
		t.Fatalf("the forged payload is not shown")
	}
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "transactions shown = transactions in their bytes") ||
		!failedCheck(report, "parent_hash = SHA-256(header of block 2)") { // block 2 is the forged one
		t.Fatalf("block with a forged payload verified: %s\n%s", verdict, report)
	}

	b.open(lie + "/keys/greeting")
	if s := b.text("main"); !strings.Contains(s, "HELLO, <B>WORLD</B>") {
		t.Fatalf("the forged value is not what the key page shows: %q", s)
	}
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "state proof") {
		t.Fatalf("forged key verified: %s\n%s", verdict, report)
	}
	b.shot("key-forged.png")

	b.open(lie + "/txs/" + txs[1].Hash().String())
	if s := b.text("main"); !strings.Contains(s, "9999") {
		t.Fatalf("the forged amount is not shown")
	}
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "transaction hash = SHA-256(its bytes)") || !failedCheck(report, "Ed25519 signature of the sender") {
		t.Fatalf("forged tx verified: %s\n%s", verdict, report)
	}

	// A failed transaction served as ok, receipt bytes and all: the
	// receipt proof under the certified results_root fails, and only it.
	b.open(lie + "/txs/" + txs[3].Hash().String())
	if s := b.text("main"); !strings.Contains(s, "Status: committed") {
		t.Fatalf("the forged outcome is not what the page shows: %q", s)
	}
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "RFC 6962 receipt proof (result hash: the receipt without its reason) leads to the certified results_root") ||
		strings.Count(report, "\nFAILED: ") != 1 || strings.Contains(report, "proves:") {
		t.Fatalf("forged receipt verified: %s\n%s", verdict, report)
	}
	b.shot("tx-receipt-forged.png")

	// A forged balance: the state proof fails.
	acct := c.Users[2].Public().Address().String()
	b.open(lie + "/accounts/" + acct)
	if s := b.text("#balance"); s != "7777777" {
		t.Fatalf("the forged balance is not what the page shows: %q", s)
	}
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "state proof") || strings.Count(report, "\nFAILED: ") != 1 {
		t.Fatalf("forged balance verified: %s\n%s", verdict, report)
	}
	b.shot("account-forged.png")

	// A failed search hit served as ok: that hit fails at its receipt proof.
	b.open(lie + "/search?q=" + url.QueryEscape("status:failed"))
	verdict, report = b.verify()
	if verdict != "fail" || !failedCheck(report, "hit 1: transaction "+txs[3].Hash().String()[:12]) ||
		!strings.Contains(report, "— RFC 6962 receipt proof (result hash: the receipt without its reason) leads to the certified results_root") {
		t.Fatalf("forged search hit verified: %s\n%s", verdict, report)
	}

	// The same pages straight from the honest node verify.
	for _, p := range []string{"/blocks/2", "/keys/greeting", "/txs/" + txs[1].Hash().String(), "/txs/" + txs[3].Hash().String(),
		"/accounts/" + acct, "/search?q=status%3Afailed"} {
		b.open(c.URL + p)
		if verdict, report := b.verify(); verdict != "pass" {
			t.Errorf("honest %s: %s\n%s", p, verdict, report)
		}
	}
}

// TestExplorerTrustsGenesis: with a genesis file given on the page, blocks
// verify against its validators, and a genesis naming other validators
// makes the same honest block fail.
func TestExplorerTrustsGenesis(t *testing.T) {
	b := newBrowser(t)
	c, _ := sampleChain(t)
	dir := t.TempDir()
	write := func(name string, g *types.Genesis) string {
		raw, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	real := write("genesis.json", c.Genesis)
	other := *c.Genesis
	other.Validators = []types.Validator{{Name: "impostor", PublicKey: apitest.Key('x', 1).Public(), Power: 1}}
	wrong := write("other-genesis.json", &other)

	use := func(file, want string) {
		b.t.Helper()
		b.open(c.URL + "/blocks/2")
		b.do("genesis "+file, chromedp.SetUploadFiles(chromedp.CSS("#genesis-file"), []string{file}, chromedp.NodeReady))
		js, _ := json.Marshal(want)
		get(b, "trust from "+file, chromedp.Poll[bool](`document.getElementById('trust').textContent.includes(`+string(js)+`)`))
	}
	use(wrong, "genesis file other-genesis.json")
	if s := b.text("#trust"); !strings.Contains(s, "Warning: this node reports a validator set other than the trusted one") {
		t.Errorf("no warning when the node's set is not the trusted one: %q", s)
	}
	verdict, report := b.verify()
	if verdict != "fail" || !failedCheck(report, "validators_hash = SHA-256(trusted validator set)") || !failedCheck(report, "signer index 0") && !failedCheck(report, "Ed25519 signature of impostor") {
		t.Fatalf("a block verified against another validator set: %s\n%s", verdict, report)
	}
	// The choice is remembered: the next page verifies against it too.
	b.open(c.URL + "/blocks/1")
	if verdict, _ := b.verify(); verdict != "fail" {
		t.Fatalf("the genesis choice was not kept")
	}
	use(real, "genesis file genesis.json")
	if verdict, report := b.verify(); verdict != "pass" || !strings.Contains(report, "genesis file genesis.json") {
		t.Fatalf("with the real genesis: %s\n%s", verdict, report)
	}
	b.shot("genesis-trusted.png")
}

// TestExplorerSaysWhenItCannotVerify: served under a name that is not
// loopback over plain HTTP, the page has no WebCrypto; Verify says nothing
// was verified and why, and does not call the node a liar.
func TestExplorerSaysWhenItCannotVerify(t *testing.T) {
	c, _ := sampleChain(t)
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP cairn-explorer.test 127.0.0.1"))
	b.open("http://cairn-explorer.test:" + u.Port() + "/blocks/2")
	if s := b.text("main"); !strings.Contains(s, "Block 2") || !strings.Contains(s, "Commit certificate") {
		t.Fatalf("block page without WebCrypto: %.300s", s)
	}
	verdict, report := b.verify()
	if verdict != "fail" || !strings.Contains(report, "Not verified") || !strings.Contains(report, "secure pages") || strings.Contains(report, "did not sign") {
		t.Fatalf("verify without WebCrypto: %s\n%s", verdict, report)
	}
}

// failedCheck says whether the report lists a failed check that starts
// with what.
func failedCheck(report, what string) bool {
	for _, line := range strings.Split(report, "\n") {
		if strings.HasPrefix(line, "FAILED: "+what) {
			return true
		}
	}
	return false
}

package explorer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cairn-db/cairn/internal/api/apitest"
)

// kitCase is one case of the conformance kit's manifest
// (client/testdata/conformance/README.md).
type kitCase struct {
	Name            string `json:"name"`
	Kind            string `json:"kind"`
	File            string `json:"file"`
	Verdict         string `json:"verdict"`
	Tamper          string `json:"tamper"`
	ConvenienceOnly bool   `json:"convenience_only"`
	Height          uint64 `json:"height"`
	Hash            string `json:"hash"`
	Key             string `json:"key"`
	Address         string `json:"address"`
	Version         uint64 `json:"version"`
	Balance         uint64 `json:"balance"`
	Nonce           uint64 `json:"nonce"`
	Code            string `json:"code"`
	Hits            int    `json:"hits"`
	// Answer is the recorded answer's text, handed to the browser as is
	// (it parses 64-bit integers exactly).
	Answer string `json:"answer"`
}

// kitResult is what the browser's verifier concluded about one case; the
// values are read from the proven bytes (empty where the verdict does not
// name them).
type kitResult struct {
	Verdict  string `json:"verdict"`
	Failures string `json:"failures"`
	Height   string `json:"height"`
	Code     string `json:"code"`
	Version  string `json:"version"`
	Balance  string `json:"balance"`
	Nonce    string `json:"nonce"`
	Hits     int    `json:"hits"`
}

// kitJS runs the explorer's verifiers (web/verify.js, the code behind the
// pages' Verify buttons) over every case and reports each verdict. The
// trusted set is the manifest's chain id and validators, nothing else.
const kitJS = `(async () => {
	const v = await import('/ui/verify.js');
	const c = await import('/ui/codec.js');
	const kit = JSON.parse(__KIT__);
	const trust = await v.trustFrom(kit.chain_id, kit.validators, 'conformance kit manifest');
	const out = [];
	for (const k of kit.cases) {
		const res = { verdict: 'reject', failures: '', height: '', code: '', version: '', balance: '', nonce: '', hits: 0 };
		try {
			const a = c.parseJSON(k.answer);
			let r, verdict = '';
			switch (k.kind) {
			case 'block':
				r = await v.verifyBlock(a, trust);
				verdict = 'certified';
				break;
			case 'tx':
				r = await v.verifyTxProof(a, k.hash, trust);
				if (r.outcome) {
					verdict = r.outcome.ok ? 'committed' : 'failed';
					res.code = r.outcome.code;
					res.version = String(r.outcome.version);
				}
				break;
			case 'kv': {
				r = await v.verifyKey(a, k.key, trust);
				if (a.found) {
					const e = c.decodeKVEntry(c.unhex(a.value_hex));
					verdict = e.deleted ? 'deleted' : 'present';
					res.version = String(e.version);
				} else {
					verdict = 'absent';
				}
				break;
			}
			case 'account':
				r = await v.verifyAccount(a, k.address, trust, k.height || undefined);
				if (r.account) {
					verdict = r.account.found ? 'present' : 'absent';
					res.balance = String(r.account.balance);
					res.nonce = String(r.account.nonce);
				}
				break;
			case 'search':
				r = await v.verifySearch(a, trust);
				verdict = 'hits';
				res.hits = (a.hits || []).length;
				break;
			default:
				throw new Error('unknown kind ' + k.kind);
			}
			if (r.header) res.height = String(r.header.height);
			res.failures = r.failures.map((f) => f.what + (f.detail ? ' (' + f.detail + ')' : '')).join('; ');
			if (r.ok && verdict) res.verdict = verdict;
		} catch (e) {
			res.failures = 'threw: ' + e.message;
		}
		out.push(res);
	}
	return out;
})()`

// TestVerifierOnConformanceKit runs the explorer's in-browser verifier in
// Chromium over both recordings of the conformance kit
// (client/testdata/conformance): every valid case reaches the kit's
// verdict with the kit's values (height, outcome and code, version,
// balance and nonce, number of hits), read from the proven bytes; every
// tampered variant, including lies in the JSON convenience copies alone, is
// rejected (-v logs the checks that failed); where only a JSON copy lies,
// the values read from the bytes are still the kit's.
func TestVerifierOnConformanceKit(t *testing.T) {
	b := newBrowser(t)
	c := apitest.New(t, apitest.Options{})
	b.open(c.URL + "/api")
	for _, dir := range []string{"testchain", "devnet"} {
		t.Run(dir, func(t *testing.T) {
			root := filepath.Join("..", "..", "client", "testdata", "conformance", dir)
			raw, err := os.ReadFile(filepath.Join(root, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var kit struct {
				ChainID    string            `json:"chain_id"`
				Validators []json.RawMessage `json:"validators"`
				Cases      []kitCase         `json:"cases"`
			}
			if err := json.Unmarshal(raw, &kit); err != nil {
				t.Fatal(err)
			}
			for i := range kit.Cases {
				a, err := os.ReadFile(filepath.Join(root, kit.Cases[i].File))
				if err != nil {
					t.Fatal(err)
				}
				kit.Cases[i].Answer = string(a)
			}
			js, err := json.Marshal(kit)
			if err != nil {
				t.Fatal(err)
			}
			res := get(b, "kit "+dir, chromedp.Evaluate[[]kitResult](
				strings.Replace(kitJS, "__KIT__", string(mustJSONString(t, string(js))), 1), chromedp.EvalAwaitPromise))
			if len(res) != len(kit.Cases) {
				t.Fatalf("browser judged %d cases of %d", len(res), len(kit.Cases))
			}
			kinds := map[string][2]int{}
			for i, k := range kit.Cases {
				r := res[i]
				n := kinds[k.Kind]
				if k.Verdict == "reject" {
					n[1]++
					if r.Verdict != "reject" {
						t.Errorf("%s: tampered answer (%s) accepted as %q", k.Name, k.Tamper, r.Verdict)
					} else {
						t.Logf("%s rejected: %s", k.Name, r.Failures)
					}
					if k.ConvenienceOnly {
						// The proven bytes are intact: what the verifier read
						// from them is the truth, never the lying copy.
						checkKitValues(t, k, r)
					}
				} else {
					n[0]++
					if r.Verdict != k.Verdict {
						t.Errorf("%s: browser says %q, kit says %q; failed checks: %s", k.Name, r.Verdict, k.Verdict, r.Failures)
						kinds[k.Kind] = n
						continue
					}
					checkKitValues(t, k, r)
				}
				kinds[k.Kind] = n
			}
			for _, kind := range []string{"block", "tx", "kv", "account", "search"} {
				if n := kinds[kind]; n[0] == 0 || n[1] == 0 {
					t.Errorf("kind %s: %d valid and %d tampered cases; the kit must have both", kind, n[0], n[1])
				}
			}
			t.Logf("%d cases (%v valid/tampered by kind) decided as the kit says", len(kit.Cases), kinds)
		})
	}
}

// checkKitValues compares the values the browser read from the proven
// bytes with the ones the kit states.
func checkKitValues(t *testing.T, k kitCase, r kitResult) {
	t.Helper()
	u := func(x uint64) string { return strconv.FormatUint(x, 10) }
	if k.Height != 0 && r.Height != u(k.Height) {
		t.Errorf("%s: proven height %s, kit says %d", k.Name, r.Height, k.Height)
	}
	switch k.Kind {
	case "tx":
		if r.Code != k.Code {
			t.Errorf("%s: proven code %q, kit says %q", k.Name, r.Code, k.Code)
		}
	case "kv":
		if k.Verdict != "absent" && r.Version != u(k.Version) {
			t.Errorf("%s: proven version %s, kit says %d", k.Name, r.Version, k.Version)
		}
	case "account":
		if r.Balance != u(k.Balance) || r.Nonce != u(k.Nonce) {
			t.Errorf("%s: proven balance %s nonce %s, kit says %d and %d", k.Name, r.Balance, r.Nonce, k.Balance, k.Nonce)
		}
	case "search":
		if r.Hits != k.Hits {
			t.Errorf("%s: %d hits verified, kit says %d", k.Name, r.Hits, k.Hits)
		}
	}
}

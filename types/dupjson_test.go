package types

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two parsers may read different values from an object that names a member
// twice (Go keeps the last, others the first or refuse), so Cairn refuses
// duplicate member names wherever a JSON text is signed or consensus-relevant:
// record documents, the transaction JSON form, genesis.

var duplicateDocs = []string{
	`{"a":1,"a":2}`,
	`{"a":1,"b":2,"a":1}`,                    // same value still refused
	`{"a":1,"\u0061":2}`,                     // the same name spelled two ways
	`{"\u00e9":1,"é":2}`,                     // escaped and raw non-ASCII
	`[1,{"x":{"y":[{"k":true,"k":false}]}}]`, // deep inside arrays and objects
	`{"a":{"b":1},"c":[],"a":null}`,          // after a nested object closed
	`{"":1,"":2}`,                            // the empty name
}

var distinctNameDocs = []string{
	`{"a":1,"b":2}`,
	`[{"a":1},{"a":2}]`,
	`{"a":{"a":{"a":1}}}`,
	`{"a":1,"A":2,"a ":3}`,
	`{"a":"\"a\":1,\"a\":2"}`, // a name inside a string value is no name
	`{"\\":1,"\"":2,"\\\\":3}`,
	`{"a\"b":1,"a\\b":2}`,
	`{"a\\":1,"a":2}`,
	`"{\"a\":1,\"a\":2}"`,
}

func TestCanonicalJSONRefusesDuplicateNames(t *testing.T) {
	for _, d := range duplicateDocs {
		if c, err := CanonicalJSON([]byte(d)); err == nil {
			t.Errorf("CanonicalJSON(%s) = %s, want a duplicate-name error", d, c)
		} else if !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("CanonicalJSON(%s): error %q does not say duplicate", d, err)
		}
	}
	for _, d := range distinctNameDocs {
		if _, err := CanonicalJSON([]byte(d)); err != nil {
			t.Errorf("CanonicalJSON(%s): %v", d, err)
		}
	}
}

// A binary record transaction whose document repeats a name is not the
// encoding of a well-formed transaction: DecodeTx refuses it, in blocks too.
func TestDecodeTxRefusesDuplicateNamesInRecord(t *testing.T) {
	for _, d := range duplicateDocs {
		b := signedBytes(func(tx *Tx) { tx.Payload = &Record{Document: json.RawMessage(d)} })
		_, err := DecodeTx(b)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrNonCanonical) {
			t.Errorf("DecodeTx(record %s): err = %v, want malformed wrapping ErrNonCanonical", d, err)
		}
	}
}

func TestTxJSONRefusesDuplicateNames(t *testing.T) {
	txs := sampleTxs()
	xfer, put, rec := txs[0].tx, txs[2].tx, txs[7].tx
	j := func(tx *Tx) string { return string(jsonWith(t, tx, nil, nil)) }
	// insert adds text right after the first occurrence of anchor.
	insert := func(s, anchor, text string) []byte {
		i := strings.Index(s, anchor)
		if i < 0 {
			t.Fatalf("no %q in %s", anchor, s)
		}
		i += len(anchor)
		return []byte(s[:i] + text + s[i:])
	}
	cases := map[string][]byte{
		"top level":              insert(j(xfer), `{`, `"nonce":2,`),
		"top level escaped name": insert(j(xfer), `{`, `"\u006eonce":2,`),
		"payload twice":          insert(j(xfer), `{`, `"payload":{"to":"00","amount":1},`),
		"payload member":         insert(j(xfer), `"payload":{`, `"amount":1000000,`),
		"kv.put value":           insert(j(put), `"payload":{`, `"value":"other",`),
		"record document":        insert(j(rec), `"payload":{`, `"document":{},`),
		"inside the document":    insert(j(rec), `"document":{`, `"text":"other",`),
	}
	for _, d := range duplicateDocs {
		cases["document "+d] = jsonWith(t, rec, func(m map[string]json.RawMessage) {
			m["payload"] = json.RawMessage(`{"document":` + d + `}`)
		}, nil)
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if !json.Valid(b) {
				t.Fatalf("test input is not JSON: %s", b)
			}
			var tx Tx
			err := tx.UnmarshalJSON(b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want malformed\n%s", err, b)
			}
			if !strings.Contains(err.Error(), "duplicate") {
				t.Fatalf("error %q does not say duplicate", err)
			}
		})
	}
}

func TestLoadGenesisRefusesDuplicateNames(t *testing.T) {
	_, vs := testValidators(1)
	g := &Genesis{ChainID: testChain, Validators: vs.Validators, Params: DefaultParams()}
	dir := t.TempDir()
	path := filepath.Join(dir, "genesis.json")
	if err := g.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][]byte{
		"chain_id":     bytes.Replace(b, []byte(`{`), []byte(`{"chain_id":"other",`), 1),
		"max_tx_bytes": bytes.Replace(b, []byte(`"params": {`), []byte(`"params": {"max_tx_bytes":1,`), 1),
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, edit, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadGenesis(p); err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("%s twice: err = %v, want a duplicate-name error", name, err)
		}
	}
	if _, err := LoadGenesis(path); err != nil {
		t.Fatal(err)
	}
}

// uniqueNamesByTokens is a slow, obviously correct reference for
// checkUniqueNames built on encoding/json's tokenizer: it reports whether
// the valid JSON text b names no member twice in any one object.
func uniqueNamesByTokens(b []byte) (bool, error) {
	type frame struct {
		obj      bool
		wantName bool
		names    map[string]bool
	}
	var st []*frame
	valueDone := func() {
		if n := len(st); n > 0 && st[n-1].obj {
			st[n-1].wantName = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()        // numbers beyond float64 are valid JSON
	for range len(b) + 1 { // at most one token per byte
		tok, err := dec.Token()
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if n := len(st); n > 0 && st[n-1].wantName {
			if tok == json.Delim('}') {
				st = st[:n-1]
				valueDone()
				continue
			}
			name := tok.(string)
			if st[n-1].names[name] {
				return false, nil
			}
			st[n-1].names[name] = true
			st[n-1].wantName = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, &frame{obj: true, wantName: true, names: map[string]bool{}})
		case json.Delim('['):
			st = append(st, &frame{})
		case json.Delim(']'):
			st = st[:len(st)-1]
			valueDone()
		default:
			valueDone()
		}
	}
	return false, errors.New("too many tokens")
}

// FuzzUniqueNames checks the fast scanner against the tokenizer reference
// on every valid JSON text.
func FuzzUniqueNames(f *testing.F) {
	for _, d := range append(append([]string{}, duplicateDocs...), distinctNameDocs...) {
		f.Add([]byte(d))
	}
	many := `{"k0":0`
	for i := 1; i < 40; i++ {
		many += fmt.Sprintf(`,"k%d":%d`, i, i)
	}
	f.Add([]byte(many + `}`))
	f.Add([]byte(many + `,"k39":1}`))
	f.Add([]byte(many + `,"k3":{"k3":[]},"k40":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		want, err := uniqueNamesByTokens(b)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		got := checkUniqueNames(b)
		if (got == nil) != want {
			t.Fatalf("checkUniqueNames(%q) = %v, reference says unique = %v", b, got, want)
		}
	})
}

package types

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// The docs that list the transaction types by hand name every registered
// type: a reader of docs/api.md, docs/search.md or docs/encoding.md must not
// learn of a smaller set than the node accepts.
func TestDocsNameEveryTxType(t *testing.T) {
	places := []struct {
		file   string
		marker string                       // picks the one line that lists the types
		want   func(info TxTypeInfo) string // how that line names a type
	}{
		{"../docs/api.md", "| `unknown_type` | `type` is not", func(i TxTypeInfo) string { return "`" + i.Name + "`" }},
		{"../docs/search.md", "| `type` | exact |", func(i TxTypeInfo) string { return "`" + i.Name + "`" }},
		{"../docs/encoding.md", "| type        | `u8`", func(i TxTypeInfo) string { return fmt.Sprintf("%d %s", i.Type, i.Name) }},
		{"../docs/encoding.md", "| `type`      | string", func(i TxTypeInfo) string { return `"` + i.Name + `"` }},
	}
	for _, p := range places {
		b, err := os.ReadFile(p.file)
		if err != nil {
			t.Fatalf("read %s: %v", p.file, err)
		}
		var line string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, p.marker) {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("%s: no line containing %q lists the transaction types", p.file, p.marker)
			continue
		}
		for _, info := range TxTypes() {
			if w := p.want(info); !strings.Contains(line, w) {
				t.Errorf("%s: the line %q does not name type %s as %s", p.file, line, info.Name, w)
			}
		}
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"html"
	"io"
	"os"
	"strings"

	"github.com/cairn-db/cairn/client"
)

func init() {
	register("search", "search blocks and transactions (full text and fields; see docs/search.md)", runSearch)
}

func runSearch(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	node := nodeFlag(fs)
	sortBy := fs.String("sort", "-height", "order: -height (newest first), height, -time, time, -amount, amount, _score")
	limit := fs.Int("limit", 20, "at most this many hits (pages of up to 1,000 are fetched and joined)")
	cursor := fs.String("cursor", "", "continue from a previous answer's next_cursor (same query and sort)")
	fs.Usage = usageFunc(fs, stderr, `cairn search QUERY [--sort S] [--limit N] [--cursor C] [--node URL]`,
		`Prints the matching blocks and transactions as JSON: total, hits, next_cursor.
Examples:
  cairn search 'type:transfer from:ADDRESS amount:>100'
  cairn search '"insufficient balance" OR code:version_conflict' --limit 100
  cairn search 'doc.voucher.to:alice time:>2026-01-01' --sort time`)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) == 0 || *limit <= 0 {
		fs.Usage()
		return 2
	}
	q := strings.Join(pos, " ")
	c, ok := newClient(*node, stderr, "search")
	if !ok {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out := client.SearchResult{Hits: []client.SearchHit{}}
	next := *cursor
	for first := true; first || (next != "" && len(out.Hits) < *limit); first = false {
		page, err := c.Search(ctx, client.SearchRequest{Query: q, Sort: *sortBy, Limit: min(1000, *limit-len(out.Hits)), Cursor: next})
		if ask := client.WrongNode(err); first && len(ask) > 0 {
			// The node does not index (a validator); ask the node it names
			// (a follower), once, and say so.
			fmt.Fprintf(stderr, "cairn search: %s does not index; asking %s\n", nodeURL(*node), ask[0])
			if c, ok = newClient(ask[0], stderr, "search"); !ok {
				return 2
			}
			page, err = c.Search(ctx, client.SearchRequest{Query: q, Sort: *sortBy, Limit: min(1000, *limit-len(out.Hits)), Cursor: next})
		}
		if err != nil {
			return fail(stderr, "search", err)
		}
		out.Total, out.IndexedHeight = page.Total, page.IndexedHeight
		out.TookMs += page.TookMs
		out.Hits = append(out.Hits, page.Hits...)
		next = page.NextCursor
		if len(page.Hits) == 0 {
			break
		}
	}
	out.NextCursor = next
	if isTerminal(stdout) && !outputJSON(stderr) && os.Getenv("TERM") != "dumb" {
		return printEmphasised(stdout, out)
	}
	return printJSON(stdout, out)
}

// Highlights in a terminal: the API marks matches in snippets and fragments
// as HTML (<mark>...</mark>, text HTML-escaped). Piped or with --output
// json, the command prints them as they come; on a terminal it shows the
// marks as bold underlined text and the text unescaped. The marks travel
// through the JSON encoder as private-use characters, so that only they
// become escape sequences: an escape character in the indexed data stays
// \u001b.
const (
	markOpen, markClose = "\ue000", "\ue001"
	ansiEmphasis        = "\x1b[1;4m"
	ansiReset           = "\x1b[0m"
)

func printEmphasised(w io.Writer, r client.SearchResult) int {
	toTerm := func(s string) string {
		s = strings.ReplaceAll(s, "<mark>", markOpen)
		s = strings.ReplaceAll(s, "</mark>", markClose)
		return html.UnescapeString(s)
	}
	hits := make([]client.SearchHit, len(r.Hits))
	for i, h := range r.Hits {
		h.Snippet = toTerm(h.Snippet)
		if h.Fragments != nil {
			fr := make(map[string][]string, len(h.Fragments))
			for k, v := range h.Fragments {
				for _, f := range v {
					fr[k] = append(fr[k], toTerm(f))
				}
			}
			h.Fragments = fr
		}
		hits[i] = h
	}
	r.Hits = hits
	var b strings.Builder
	if code := printJSON(&b, r); code != 0 {
		return code
	}
	_, err := io.WriteString(w, strings.NewReplacer(markOpen, ansiEmphasis, markClose, ansiReset).Replace(b.String()))
	if err != nil {
		return 1
	}
	return 0
}

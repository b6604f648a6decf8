package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cairn-db/cairn/internal/search"
)

func init() {
	register("search", "search blocks and transactions (full text and fields; see docs/search.md)", runSearch)
}

// maxSearchResponse bounds one page read from the node (1,000 hits with
// snippets fit comfortably).
const maxSearchResponse = 64 << 20

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
	base, err := url.Parse(strings.TrimRight(*node, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		fmt.Fprintf(stderr, "cairn search: bad --node URL %q\n", *node)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out := search.Result{Hits: []search.Hit{}}
	next := *cursor
	for first := true; first || (next != "" && len(out.Hits) < *limit); first = false {
		page, err := fetchSearch(ctx, base, q, *sortBy, min(1000, *limit-len(out.Hits)), next)
		if err != nil {
			fmt.Fprintf(stderr, "cairn search: %v\n", err)
			return 1
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
	return printJSON(stdout, out)
}

func fetchSearch(ctx context.Context, base *url.URL, q, sortBy string, limit int, cursor string) (*search.Result, error) {
	u := *base
	u.Path += "/v1/search"
	v := url.Values{"q": {q}, "sort": {sortBy}, "limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSearchResponse))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("the node refused: %s (%d %s)", e.Error.Message, resp.StatusCode, e.Error.Code)
		}
		return nil, fmt.Errorf("the node answered %s", resp.Status)
	}
	var r search.Result
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	return &r, nil
}

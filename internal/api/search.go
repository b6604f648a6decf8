package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/cairn-db/cairn/client"
)

// Searcher answers GET /v1/search; *search.Index is one. Its errors are
// mapped like every other (asAPIError): a *search.QueryError is a 400
// bad_query; search.ErrBusy, ErrTimeout and ErrClosed are 503s (busy,
// timeout, unavailable); anything else is the node's fault, a 500.
type Searcher interface {
	Search(ctx context.Context, r client.SearchRequest) (*client.SearchResult, error)
}

// search serves GET /v1/search?q=QUERY[&sort=S][&limit=N][&cursor=C]
// [&prove=true]: the parameters are checked here, the query, sort, limit
// range and cursor by the Searcher; with prove, every hit gets its proof
// material from the ledger (proveSearch).
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Search == nil && len(s.cfg.IndexElsewhere) > 0 {
		return &WrongNodeError{What: "search is not indexed on this node (validators leave it to followers)", Ask: s.cfg.IndexElsewhere}
	}
	if s.cfg.Search == nil {
		return errf(http.StatusServiceUnavailable, "unavailable", "search is not enabled on this node")
	}
	v := r.URL.Query()
	if _, ok := v["q"]; !ok {
		return errf(http.StatusBadRequest, "bad_query", "missing parameter q (the query)")
	}
	req := client.SearchRequest{Query: v.Get("q"), Sort: v.Get("sort"), Cursor: v.Get("cursor")}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			return errf(http.StatusBadRequest, "bad_query", "limit must be a positive integer, got %q", l)
		}
		req.Limit = n
	}
	prove, err := boolParam(r, "prove")
	if err != nil {
		return err
	}
	res, err := s.cfg.Search.Search(r.Context(), req)
	if err != nil {
		return err
	}
	if prove {
		if err := s.proveSearch(res); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, res)
}

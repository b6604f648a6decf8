package search

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// errorBody is the API's error shape: {"error": {"code", "message"}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Handler serves GET /v1/search?q=QUERY[&sort=S][&limit=N][&cursor=C]
// with a Result as JSON. A bad query, sort, limit or cursor is a 400
// naming the problem; a busy, timed-out or closed index is a 503.
func Handler(ix *Index) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		v := r.URL.Query()
		req := Request{Query: v.Get("q"), Sort: v.Get("sort"), Cursor: v.Get("cursor")}
		if _, ok := v["q"]; !ok {
			writeError(w, http.StatusBadRequest, "bad_query", "missing parameter q (the query)")
			return
		}
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				writeError(w, http.StatusBadRequest, "bad_query", "limit must be a positive integer, got "+strconv.Quote(s))
				return
			}
			req.Limit = n
		}
		res, err := ix.Search(r.Context(), req)
		if err != nil {
			status, code := classify(err)
			writeError(w, status, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// classify maps a Search error to an HTTP status and API error code.
func classify(err error) (int, string) {
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		return http.StatusBadRequest, "bad_query"
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, "busy"
	case errors.Is(err, ErrTimeout):
		return http.StatusServiceUnavailable, "timeout"
	case errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encode response"}}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

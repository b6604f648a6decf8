package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/ledger"
	"github.com/cairn-db/cairn/internal/mempool"
	"github.com/cairn-db/cairn/internal/search"
	"github.com/cairn-db/cairn/types"
)

// apiError is an error answer: HTTP status, API code and message. extra
// fields, when set, are added to the body next to "error". id is set on
// 500s only (see internal).
type apiError struct {
	status int
	code   string
	msg    string
	id     string
	extra  map[string]any
}

// internalMessage is the whole message of every 500: the detail may name
// files, keys or internal state, so it goes to the log, under the answer's
// id, and never to the client.
const internalMessage = "internal error"

// internal logs err as the node's own failure and returns the answer the
// client gets: a fixed message and a fresh id that finds the log line.
func (s *Server) internal(r *http.Request, err error, attrs ...any) *apiError {
	id := newErrorID()
	s.log.Error("api: internal error", append([]any{"error_id", id, "method", r.Method, "path", r.URL.Path, "err", err}, attrs...)...)
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: internalMessage, id: id}
}

// newErrorID returns 16 random hex digits: unique enough to find one log
// line, and saying nothing about the node.
func newErrorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.msg) }

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errf(http.StatusBadRequest, "bad_request", format, args...)
}

func notFound(format string, args ...any) *apiError {
	return errf(http.StatusNotFound, "not_found", format, args...)
}

// txCodeStatus maps transaction error codes to HTTP statuses (docs/api.md
// has the same table).
var txCodeStatus = map[types.Code]int{
	types.CodeMalformed:           http.StatusBadRequest,
	types.CodeUnknownType:         http.StatusBadRequest,
	types.CodeBadSignature:        http.StatusUnauthorized,
	types.CodeUnauthorized:        http.StatusForbidden,
	types.CodeOversized:           http.StatusRequestEntityTooLarge,
	types.CodeBadNonce:            http.StatusConflict,
	types.CodeReplay:              http.StatusConflict,
	types.CodeVersionConflict:     http.StatusConflict,
	types.CodeWrongChain:          http.StatusUnprocessableEntity,
	types.CodeInsufficientBalance: http.StatusUnprocessableEntity,
	types.CodeInvalid:             http.StatusUnprocessableEntity,
	types.CodeNotFound:            http.StatusUnprocessableEntity,
}

// asAPIError classifies any error from a handler, from transaction
// admission or from the search index; it is the API's one error mapping.
// Unknown errors are the node's fault: 500 (the caller logs them with
// Server.internal, which gives the answer its id).
func asAPIError(ctx context.Context, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var te *types.TxError
	if errors.As(err, &te) {
		st, ok := txCodeStatus[te.Code]
		if !ok {
			st = http.StatusUnprocessableEntity
		}
		msg := te.Msg
		if msg == "" {
			msg = te.Error()
		}
		return &apiError{status: st, code: string(te.Code), msg: msg}
	}
	if ae := blobError(err); ae != nil {
		return ae
	}
	var mbe *http.MaxBytesError
	var qe *search.QueryError
	var ue *ledger.UnavailableError
	var wn *WrongNodeError
	switch {
	case errors.As(err, &wn):
		return &apiError{status: http.StatusMisdirectedRequest, code: "wrong_node", msg: wn.Error(), extra: map[string]any{"ask": append([]string{}, wn.Ask...)}}
	case errors.As(err, &ue):
		return prunedError(ue)
	case errors.Is(err, ErrSnapshotNotFound):
		return notFound("%v", err)
	case errors.As(err, &qe):
		return errf(http.StatusBadRequest, "bad_query", "%v", err)
	case errors.Is(err, search.ErrBusy):
		return errf(http.StatusServiceUnavailable, "busy", "%v", err)
	case errors.Is(err, search.ErrTimeout):
		return errf(http.StatusServiceUnavailable, "timeout", "%v", err)
	case errors.Is(err, search.ErrClosed):
		return errf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	case errors.As(err, &mbe):
		return errf(http.StatusRequestEntityTooLarge, "too_large", "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, mempool.ErrFull):
		return errf(http.StatusServiceUnavailable, "mempool_full", "%v: try again later", err)
	case errors.Is(err, mempool.ErrSenderLimit):
		return errf(http.StatusTooManyRequests, "sender_limit", "%v: try again once some of them commit", err)
	case errors.Is(err, mempool.ErrCommitted):
		return errf(http.StatusConflict, string(types.CodeReplay), "%v", err)
	case errors.Is(err, mempool.ErrDuplicate):
		return errf(http.StatusConflict, "duplicate", "%v", err)
	case errors.Is(err, ErrUnavailable):
		return errf(http.StatusServiceUnavailable, "unavailable", "%v", err)
	case isPruned(err):
		return errf(http.StatusGone, "height_pruned", "%v", err)
	case errors.Is(err, ledger.ErrNotFound):
		return notFound("%v", err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return errf(http.StatusServiceUnavailable, "timeout", "the request took too long: %v", err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away; nobody reads this answer.
		return errf(499, "canceled", "request canceled")
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: internalMessage}
}

// answer classifies err for request r and logs it: a 500 at error level
// under a fresh id, a refusal at debug level.
func (s *Server) answer(r *http.Request, err error) *apiError {
	ae := asAPIError(r.Context(), err)
	if ae.status == http.StatusInternalServerError {
		return s.internal(r, err)
	}
	s.log.Debug("api: request refused", "method", r.Method, "path", r.URL.Path, "status", ae.status, "err", err)
	return ae
}

func (e *apiError) body() client.ErrorBody {
	return client.ErrorBody{Code: e.code, Message: e.msg, ID: e.id}
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"error": e.body()}
	for k, v := range e.extra {
		body[k] = v
	}
	_ = writeJSON(w, e.status, body)
}

// writeJSON encodes v fully before writing, so an encoding failure (a bug)
// becomes a 500 instead of a truncated 200.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// A write error means the client left; there is nobody to tell.
	_, _ = w.Write(b)
	return nil
}

// isPruned reports a read below what this node keeps (pruning, or a node
// started from a state-sync snapshot): the message names the oldest height
// that has it.
func isPruned(err error) bool {
	_, ok := ledger.HeightPruned(err)
	return ok
}

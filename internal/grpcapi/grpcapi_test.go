package grpcapi

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
)

// Every status the REST API answers maps to a gRPC code, and back to the
// same status where the code is not shared (413 and 429 share
// ResourceExhausted; the trailer carries the exact status).
func TestStatusCodesMap(t *testing.T) {
	for _, st := range []int{400, 401, 403, 404, 409, 413, 415, 422, 429, 499, 500, 503} {
		c := Code(st)
		if c == codes.OK || c == codes.Unknown {
			t.Errorf("%d maps to %s", st, c)
		}
		back := HTTPStatus(c)
		switch st {
		case 413, 415:
			// shared with 429 and 400
		default:
			if back != st {
				t.Errorf("%d -> %s -> %d", st, c, back)
			}
		}
	}
	if Code(http.StatusTeapot) != codes.Internal {
		t.Error("an unexpected status is not Internal")
	}
}

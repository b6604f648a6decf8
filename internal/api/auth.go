package api

import (
	"net/http"
	"strings"

	"github.com/cairn-db/cairn/internal/auth"
)

// Access says who may call the API (docs/security.md). The zero value is
// an API without authentication: every route open to whoever can connect.
type Access struct {
	// Tokens, when set, turns authentication on: a request presents a
	// bearer token ("Authorization: Bearer cairn_...") whose scopes cover
	// the route (read for GETs, submit for POST /v1/txs, admin for
	// /metrics). /healthz and /readyz stay open, for probes.
	Tokens *auth.Store
	// PublicReads lets requests without credentials read (GET routes other
	// than /metrics); writes still need a token.
	PublicReads bool
	// ClientCertScopes are the scopes a verified TLS client certificate
	// grants (with client certificates asked for; empty: none, the
	// certificate only gets the connection through).
	ClientCertScopes []auth.Scope
}

func (a Access) enabled() bool { return a.Tokens != nil }

// routeScope is the scope a route needs: "" for the probes.
func routeScope(rt route) auth.Scope {
	switch {
	case rt.pattern == "/healthz" || rt.pattern == "/readyz":
		return ""
	case rt.pattern == "/metrics":
		return auth.ScopeAdmin
	case rt.method == http.MethodPost:
		return auth.ScopeSubmit
	}
	return auth.ScopeRead
}

// authorize checks r's credentials against the scope its route needs. It
// runs before the body is read. Refusals: 401 unauthenticated (no or an
// unknown token; WWW-Authenticate says Bearer) and 403 forbidden (a
// known token without the scope). Neither says which tokens exist.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, need auth.Scope) error {
	a := s.cfg.Access
	if !a.enabled() || need == "" {
		return nil
	}
	var scopes []auth.Scope
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		scopes = append(scopes, a.ClientCertScopes...)
	}
	h := r.Header.Get("Authorization")
	if h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
			return errf(http.StatusUnauthorized, "unauthenticated", "the Authorization header must be \"Bearer TOKEN\"")
		}
		t, found := a.Tokens.Lookup(strings.TrimSpace(tok))
		if !found {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cairn", error="invalid_token"`)
			return errf(http.StatusUnauthorized, "unauthenticated", "the token is not valid (unknown or revoked)")
		}
		scopes = append(scopes, t.Scopes...)
	}
	if auth.Allows(scopes, need) || (need == auth.ScopeRead && a.PublicReads) {
		return nil
	}
	if h == "" && len(scopes) == 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cairn"`)
		return errf(http.StatusUnauthorized, "unauthenticated", "this endpoint needs a token with scope %q (Authorization: Bearer TOKEN)", need)
	}
	return errf(http.StatusForbidden, "forbidden", "the credentials presented lack scope %q", need)
}

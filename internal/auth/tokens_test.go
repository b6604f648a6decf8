package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Create stores only the hash; Lookup finds the token and its scopes;
// Revoke removes it; a file that stops parsing keeps the last good set.
func TestTokensLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokensFile)
	tok, rec, err := Create(path, "ci", []Scope{ScopeSubmit, ScopeRead, ScopeSubmit})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), tok) || strings.Contains(string(b), strings.TrimPrefix(tok, tokenPrefix)) {
		t.Fatal("the tokens file holds the secret")
	}
	if len(rec.Scopes) != 2 {
		t.Errorf("scopes %v, want read and submit once each", rec.Scopes)
	}
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Lookup(tok)
	if !ok || got.ID != rec.ID || !Allows(got.Scopes, ScopeRead) || Allows(got.Scopes, ScopeAdmin) {
		t.Fatalf("lookup: %+v %v", got, ok)
	}
	if _, ok := s.Lookup(tok + "x"); ok {
		t.Fatal("a different token matched")
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	if _, ok := s.Lookup(tok); !ok || s.Err() == nil {
		t.Fatal("a broken file dropped the last good tokens")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	tok2, rec2, err := Create(path, "ops", []Scope{ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(tok); ok {
		t.Fatal("a token from the replaced file still works")
	}
	if _, err := Revoke(path, rec2.ID[:6]); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(tok2); ok {
		t.Fatal("a revoked token still works")
	}
	if _, err := Revoke(path, "nope"); err == nil {
		t.Fatal("revoking an unknown token succeeded")
	}
}

func TestScopes(t *testing.T) {
	for _, c := range []struct {
		have []Scope
		need Scope
		want bool
	}{
		{[]Scope{ScopeRead}, ScopeRead, true},
		{[]Scope{ScopeRead}, ScopeSubmit, false},
		{[]Scope{ScopeSubmit}, ScopeRead, true},
		{[]Scope{ScopeSubmit}, ScopeAdmin, false},
		{[]Scope{ScopeAdmin}, ScopeSubmit, true},
		{nil, ScopeRead, false},
	} {
		if got := Allows(c.have, c.need); got != c.want {
			t.Errorf("Allows(%v, %s) = %v", c.have, c.need, got)
		}
	}
	if _, err := ParseScope("root"); err == nil {
		t.Error("ParseScope accepted root")
	}
}

// Package auth holds who may call a node's API: bearer tokens with scopes,
// stored hashed in the node's home, and the API's TLS certificates,
// reloaded without a restart (docs/security.md).
//
// Invariants:
//   - a token's secret is never stored: the tokens file keeps SHA-256 of
//     each token, and a presented token is hashed and compared in constant
//     time, so a copy of the file lets nobody in;
//   - the tokens file is written whole under a temporary name and renamed
//     (mode 0600), so a reader never sees half a file; a node rereads it
//     when it changes, so create and revoke take effect without a restart;
//   - a file that cannot be read or parsed keeps the last good set (and is
//     reported), never an empty or open one.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Scope is what a token may do.
type Scope string

// The scopes. Admin includes submit and read; submit includes read.
const (
	ScopeRead   Scope = "read"
	ScopeSubmit Scope = "submit"
	ScopeAdmin  Scope = "admin"
)

// ParseScope maps a name to its Scope.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeRead, ScopeSubmit, ScopeAdmin:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q (want read, submit or admin)", s)
}

// Allows reports whether holding scopes grants need.
func Allows(scopes []Scope, need Scope) bool {
	for _, s := range scopes {
		if s == need || s == ScopeAdmin || (s == ScopeSubmit && need == ScopeRead) {
			return true
		}
	}
	return false
}

// TokensFile is the tokens file's name in a node's home.
const TokensFile = "tokens.json"

// tokenPrefix starts every token, so that a leaked one is recognisable
// (secret scanners, logs).
const tokenPrefix = "cairn_"

// Token is one stored token: never the secret, only its hash.
type Token struct {
	// ID is the first 12 hex digits of the hash: what list shows and
	// revoke takes.
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Hash    string    `json:"sha256"` // hex SHA-256 of the whole token string
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
}

type tokensFile struct {
	Tokens []Token `json:"tokens"`
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Load reads a tokens file; a missing file is an empty set.
func Load(path string) ([]Token, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	var f tokensFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tokens %s: %w", path, err)
	}
	for _, t := range f.Tokens {
		if len(t.Hash) != 64 || t.ID == "" || !strings.HasPrefix(t.Hash, t.ID) {
			return nil, fmt.Errorf("tokens %s: token %q has a malformed hash or id", path, t.Name)
		}
		for _, s := range t.Scopes {
			if _, err := ParseScope(string(s)); err != nil {
				return nil, fmt.Errorf("tokens %s: token %s: %w", path, t.ID, err)
			}
		}
	}
	return f.Tokens, nil
}

func save(path string, ts []Token) error {
	b, err := json.MarshalIndent(tokensFile{Tokens: ts}, "", "  ")
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	return nil
}

// Create makes a new token with the given scopes, stores its hash in the
// tokens file at path and returns the token (shown once; it cannot be
// recovered) and its stored record.
func Create(path, name string, scopes []Scope) (string, Token, error) {
	if len(scopes) == 0 {
		return "", Token{}, errors.New("tokens: a token needs at least one scope")
	}
	ts, err := Load(path)
	if err != nil {
		return "", Token{}, err
	}
	var secret [32]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	h := hashToken(tok)
	sc := slices.Clone(scopes)
	sort.Slice(sc, func(i, j int) bool { return sc[i] < sc[j] })
	sc = slices.Compact(sc)
	t := Token{ID: h[:12], Name: name, Hash: h, Scopes: sc, Created: time.Now().UTC().Truncate(time.Second)}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", Token{}, fmt.Errorf("tokens: %w", err)
	}
	if err := save(path, append(ts, t)); err != nil {
		return "", Token{}, err
	}
	return tok, t, nil
}

// Revoke removes the token whose id (or a unique prefix of it, or name)
// is given.
func Revoke(path, id string) (Token, error) {
	ts, err := Load(path)
	if err != nil {
		return Token{}, err
	}
	match := -1
	for i, t := range ts {
		if id != "" && (strings.HasPrefix(t.ID, id) || t.Name == id) {
			if match >= 0 {
				return Token{}, fmt.Errorf("tokens: %q matches more than one token; give more of the id", id)
			}
			match = i
		}
	}
	if match < 0 {
		return Token{}, fmt.Errorf("tokens: no token %q", id)
	}
	t := ts[match]
	if err := save(path, slices.Delete(ts, match, match+1)); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Store is a node's view of its tokens file, reread when the file changes
// (checked at most once per second) or on Reload.
type Store struct {
	path string

	mu      sync.Mutex
	byHash  map[string]Token
	mtime   time.Time
	size    int64
	checked time.Time
	lastErr error
}

// OpenStore reads the tokens file at path (missing: no tokens yet).
func OpenStore(path string) (*Store, error) {
	s := &Store{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload rereads the file now. On error the last good set stays.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(time.Now())
}

func (s *Store) reloadLocked(now time.Time) error {
	s.checked = now
	var mtime time.Time
	var size int64
	if fi, err := os.Stat(s.path); err == nil {
		mtime, size = fi.ModTime(), fi.Size()
	}
	ts, err := Load(s.path)
	if err != nil {
		s.lastErr = err
		return err
	}
	m := make(map[string]Token, len(ts))
	for _, t := range ts {
		m[t.Hash] = t
	}
	s.byHash, s.mtime, s.size, s.lastErr = m, mtime, size, nil
	return nil
}

// Len is the number of tokens known.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// Lookup returns the stored token tok is, if any. The hash is compared in
// constant time with the one found under it, so the lookup's timing tells
// nothing about how much of a guessed token was right.
func (s *Store) Lookup(tok string) (Token, bool) {
	h := hashToken(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.checked) >= time.Second {
		s.checked = now
		if fi, err := os.Stat(s.path); err == nil && (!fi.ModTime().Equal(s.mtime) || fi.Size() != s.size) {
			_ = s.reloadLocked(now) // on error the last good set stays; Err reports it
		} else if errors.Is(err, os.ErrNotExist) && len(s.byHash) > 0 {
			_ = s.reloadLocked(now) // the file was removed: no tokens
		}
	}
	t, ok := s.byHash[h]
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return Token{}, false
	}
	return t, true
}

// Err is the last reload's failure, if the file is currently unreadable.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

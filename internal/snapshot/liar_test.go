package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// liar is a snapshot provider over real HTTP that serves an honest
// provider's snapshot with one lie in it: it rewrites the manifest and
// chunk i as its functions say (nil: unchanged).
type liar struct {
	honest   string
	manifest func(m *Manifest)                         // rewrites the manifest
	chunk    func(i int, b []byte, m *Manifest) []byte // rewrites chunk i, may update m's hashes
}

func (l *liar) serve(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.handle(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// lie returns the forged manifest and every forged chunk for height h.
func (l *liar) lie(h string) (*Manifest, [][]byte, error) {
	b, err := fetch(l.honest + "/v1/snapshots/" + h)
	if err != nil {
		return nil, nil, err
	}
	var w client.SnapshotManifest
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, nil, err
	}
	mb, _ := hex.DecodeString(w.ManifestHex)
	m, err := DecodeManifest(mb)
	if err != nil {
		return nil, nil, err
	}
	var chunks [][]byte
	for i := 0; i < m.Chunks(); i++ {
		c, err := fetch(fmt.Sprintf("%s/v1/snapshots/%s/chunks/%d", l.honest, h, i))
		if err != nil {
			return nil, nil, err
		}
		if l.chunk != nil {
			c = l.chunk(i, c, m)
		}
		chunks = append(chunks, c)
	}
	if l.manifest != nil {
		l.manifest(m)
	}
	return m, chunks, nil
}

func (l *liar) handle(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.URL.Path, "/v1/validators") {
		// The liar forges snapshots; the validator sets it passes on
		// (state sync walks them) are the honest node's.
		resp, err := http.Get(l.honest + r.URL.RequestURI())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(w, resp.Body)
		return err
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/snapshots"), "/")
	// The list: the honest one, with the forged manifests' heights.
	if len(parts) == 1 {
		b, err := fetch(l.honest + "/v1/snapshots")
		if err != nil {
			return err
		}
		var list client.SnapshotList
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		for i, s := range list.Snapshots {
			m, _, err := l.lie(strconv.FormatUint(s.Height, 10))
			if err != nil {
				return err
			}
			list.Snapshots[i] = m.Info()
		}
		return json.NewEncoder(w).Encode(list)
	}
	// Every liar forges from the honest provider's one snapshot, whatever
	// height it claims.
	b, err := fetch(l.honest + "/v1/snapshots")
	if err != nil {
		return err
	}
	var list client.SnapshotList
	if err := json.Unmarshal(b, &list); err != nil || len(list.Snapshots) != 1 {
		return fmt.Errorf("honest list: %v (%d)", err, len(list.Snapshots))
	}
	m, chunks, err := l.lie(strconv.FormatUint(list.Snapshots[0].Height, 10))
	if err != nil {
		return err
	}
	if len(parts) == 2 {
		return json.NewEncoder(w).Encode(m.Wire())
	}
	i, _ := strconv.Atoi(parts[3])
	_, err = w.Write(chunks[i])
	return err
}

// recode rewrites a chunk's items and updates its hash in m.
func recode(t *testing.T, i int, b []byte, m *Manifest, chain func(*Chain), pair func(*Pair)) []byte {
	_, kind := m.ChunkHash(i)
	w := &chunkWriter{}
	w.reset(kind)
	err := DecodeChunk(b, kind,
		func(c Chain) error {
			chain(&c)
			w.addChain(c.Height, c.Header, c.Txs)
			return nil
		},
		func(p Pair) error {
			pair(&p)
			w.addPair(p.Key, p.Value)
			return nil
		})
	if err != nil {
		t.Errorf("recode chunk %d: %v", i, err)
	}
	out := w.bytes()
	h := sha256.Sum256(out)
	if i < len(m.ChainChunks) {
		m.ChainChunks[i] = h
	} else {
		m.StateChunks[i-len(m.ChainChunks)] = h
	}
	return out
}

// TestStateSyncSkipsLyingProviders offers the joining node four lying
// providers before the honest one, each a real HTTP server: one flips a
// byte in a chunk, one changes a state value and lists the changed
// chunk's hash (so only the state root gives it away), one changes a tx
// hash of an old block (the tx root gives it away), and one offers a newer
// snapshot whose header no quorum certified. Each is detected, logged
// with its URL and skipped; the node joins from the honest one. With only
// liars, state sync fails and names them.
func TestStateSyncSkipsLyingProviders(t *testing.T) {
	c := newChain(t, tempDir(t, "provider"), 30)
	buildChain(t, c)
	store, err := Open(tempDir(t, "snaps"), 2048)
	if err != nil {
		t.Fatal(err)
	}
	pin := c.l.Pin()
	st, err := store.Take(t.Context(), pin, c.g.ChainID)
	pin.Close()
	if err != nil {
		t.Fatal(err)
	}
	honest := serveAPI(t, c.l, store)
	lastState := func(m *Manifest) int { return m.Chunks() - 1 }

	flip := (&liar{honest: honest.URL, chunk: func(i int, b []byte, m *Manifest) []byte {
		if i == lastState(m) {
			b = bytes.Clone(b)
			b[len(b)-1] ^= 1
		}
		return b
	}}).serve(t)
	value := (&liar{honest: honest.URL, chunk: func(i int, b []byte, m *Manifest) []byte {
		if i != lastState(m) {
			return b
		}
		return recode(t, i, b, m, nil, func(p *Pair) {
			if bytes.HasPrefix(p.Key, []byte("k")) {
				p.Value = append(bytes.Clone(p.Value[:len(p.Value)-1]), p.Value[len(p.Value)-1]^1)
			}
		})
	}}).serve(t)
	history := (&liar{honest: honest.URL, chunk: func(i int, b []byte, m *Manifest) []byte {
		if i != 0 {
			return b
		}
		return recode(t, i, b, m, func(ch *Chain) {
			if ch.Height == 2 {
				ch.Txs[0][0] ^= 1
			}
		}, nil)
	}}).serve(t)
	forged := (&liar{honest: honest.URL, manifest: func(m *Manifest) {
		hdr, _, err := m.Certified()
		if err != nil {
			t.Error(err)
			return
		}
		hdr.Height += 5
		hdr.StateRoot = crypto.Hash{1}
		m.Height, m.Header = hdr.Height, hdr.Encode()
		var votes []types.Vote
		for i := 0; i < 3; i++ {
			k := seedKey('x', i) // not validators
			votes = append(votes, types.SignVote(k, m.ChainID, types.Precommit, hdr.Height, 0, hdr.Hash(), uint16(i)))
		}
		m.Certificate = types.NewCertificate(hdr.Height, 0, hdr.Hash(), votes).Encode()
	}}).serve(t)

	liars := []string{flip.URL, value.URL, history.URL, forged.URL}
	var logs logBuffer
	res, err := syncInto(t, c.g, tempDir(t, "joined"), logs.logger(), append(liars, honest.URL)...)
	if err != nil {
		t.Fatalf("state sync: %v\n%s", err, logs.String())
	}
	if res.Provider != honest.URL || res.Height != st.Height {
		t.Fatalf("joined from %s at %d, want the honest %s at %d", res.Provider, res.Height, honest.URL, st.Height)
	}
	out := logs.String()
	for _, want := range []string{
		flip.URL + ".*chunk \\d+: hash",
		value.URL + ".*state root",
		history.URL + ".*tx root",
		forged.URL + ".*does not match a certified header",
	} {
		if !matchLine(out, want) {
			t.Errorf("no log line matching %q in:\n%s", want, out)
		}
	}

	_, err = syncInto(t, c.g, tempDir(t, "only-liars"), logs.logger(), liars...)
	if err == nil {
		t.Fatal("state sync from liars only succeeded")
	}
	for _, u := range liars {
		if !strings.Contains(err.Error(), u) {
			t.Errorf("error does not name %s: %v", u, err)
		}
	}
}

func matchLine(out, pattern string) bool {
	re := regexp.MustCompile(regexp.QuoteMeta("provider=") + pattern)
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line) {
			return true
		}
	}
	return false
}

package snapshot

import (
	"errors"
	"fmt"

	"github.com/cairn-db/cairn/canon"
	"github.com/cairn-db/cairn/crypto"
	"github.com/cairn-db/cairn/types"
)

// ErrFormat is wrapped by every decoding error of a manifest or chunk.
var ErrFormat = errors.New("malformed snapshot data")

// Format version of manifests and chunks.
const Version = 1

// Chunk kinds.
const (
	KindChain byte = 1 // heights 1..H: header and tx hashes of each
	KindState byte = 2 // state pairs in ascending key order
)

// Limits a reader applies before trusting anything.
const (
	MaxChunkBytes   = 64 << 20 // one chunk
	maxHeaderBytes  = 64 << 10
	maxCertBytes    = 1 << 20
	maxStateKey     = 1 << 20
	maxStateValue   = 16 << 20
	maxBlockTxs     = 1 << 20
	maxManifestSize = 64 << 20
)

// Manifest describes one snapshot: the state after Height and the chain
// history continuing from it needs, cut into chunks. The header at Height
// and its certificate are inside, so a manifest is checked against the
// genesis validator set alone; the chunk hashes then bind every byte.
type Manifest struct {
	ChainID     string
	Height      uint64
	Header      []byte // canonical header bytes at Height
	Certificate []byte // canonical certificate of that header
	Txs         uint64 // tx hashes in the chain chunks
	Keys        uint64 // state pairs in the state chunks
	ChainChunks []crypto.Hash
	StateChunks []crypto.Hash
}

// Encode returns the manifest's canonical bytes (docs/operations.md,
// "Snapshot format").
func (m *Manifest) Encode() []byte {
	e := canon.NewEncoder(256 + len(m.Header) + len(m.Certificate) + 32*(len(m.ChainChunks)+len(m.StateChunks)))
	e.U8(Version)
	e.Bytes16([]byte(m.ChainID))
	e.U64(m.Height)
	e.Bytes32(m.Header)
	e.Bytes32(m.Certificate)
	e.U64(m.Txs)
	e.U64(m.Keys)
	for _, list := range [][]crypto.Hash{m.ChainChunks, m.StateChunks} {
		e.U32(uint32(len(list)))
		for _, h := range list {
			e.Fixed(h[:])
		}
	}
	return e.B
}

// Hash identifies a manifest: SHA-256 of its canonical bytes.
func (m *Manifest) Hash() crypto.Hash { return crypto.Sum(m.Encode()) }

// Chunks is the number of chunks: chain chunks first, then state chunks.
func (m *Manifest) Chunks() int { return len(m.ChainChunks) + len(m.StateChunks) }

// ChunkHash returns the hash of chunk i and its kind.
func (m *Manifest) ChunkHash(i int) (crypto.Hash, byte) {
	if i < len(m.ChainChunks) {
		return m.ChainChunks[i], KindChain
	}
	return m.StateChunks[i-len(m.ChainChunks)], KindState
}

// DecodeManifest decodes canonical manifest bytes, refusing anything else.
func DecodeManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("snapshot manifest: %w: %d bytes", ErrFormat, len(b))
	}
	d := canon.NewDecoder(b, "snapshot manifest", ErrFormat)
	if v := d.U8("version"); d.Err() == nil && v != Version {
		d.Fail("version %d, want %d", v, Version)
	}
	m := &Manifest{ChainID: string(d.Bytes16("chain_id", 64)), Height: d.U64("height")}
	m.Header = d.Bytes32("header", maxHeaderBytes)
	m.Certificate = d.Bytes32("certificate", maxCertBytes)
	m.Txs, m.Keys = d.U64("txs"), d.U64("keys")
	for _, list := range []*[]crypto.Hash{&m.ChainChunks, &m.StateChunks} {
		n := d.U32("chunk count")
		if d.Err() != nil {
			break
		}
		if uint64(n)*32 > uint64(d.Remaining()) {
			d.Fail("%d chunk hashes, %d bytes left", n, d.Remaining())
			break
		}
		*list = make([]crypto.Hash, n)
		for i := range *list {
			d.Fixed((*list)[i][:], "chunk hash")
		}
	}
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// Certified decodes the manifest's header and certificate (it does not
// verify them: that needs the validator set; see ledger.CheckCertified).
func (m *Manifest) Certified() (*types.Header, *types.Certificate, error) {
	hdr, err := types.DecodeHeader(m.Header)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot manifest: header: %w", err)
	}
	cert, err := types.DecodeCertificate(m.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot manifest: certificate: %w", err)
	}
	if hdr.Height != m.Height || hdr.ChainID != m.ChainID {
		return nil, nil, fmt.Errorf("snapshot manifest: header is height %d of %q, manifest says %d of %q", hdr.Height, hdr.ChainID, m.Height, m.ChainID)
	}
	return hdr, cert, nil
}

// Chain is one height's record in a chain chunk.
type Chain struct {
	Height uint64
	Header []byte
	Txs    []crypto.Hash
}

// Pair is one state pair in a state chunk.
type Pair struct{ Key, Value []byte }

// chunkWriter accumulates one chunk's items.
type chunkWriter struct {
	kind  byte
	count uint32
	body  []byte
}

func (w *chunkWriter) reset(kind byte) { w.kind, w.count, w.body = kind, 0, w.body[:0] }

func (w *chunkWriter) addChain(height uint64, header []byte, txs []crypto.Hash) {
	e := canon.Encoder{B: w.body}
	e.U64(height)
	e.Bytes32(header)
	e.U32(uint32(len(txs)))
	for _, h := range txs {
		e.Fixed(h[:])
	}
	w.body, w.count = e.B, w.count+1
}

func (w *chunkWriter) addPair(key, value []byte) {
	e := canon.Encoder{B: w.body}
	e.Bytes32(key)
	e.Bytes32(value)
	w.body, w.count = e.B, w.count+1
}

// bytes returns the chunk's encoding: kind, count, items.
func (w *chunkWriter) bytes() []byte {
	e := canon.NewEncoder(5 + len(w.body))
	e.U8(w.kind)
	e.U32(w.count)
	e.Fixed(w.body)
	return e.B
}

// DecodeChunk decodes a chunk of the expected kind, calling chain or pair
// for each item in order. The slices passed are sub-slices of b.
func DecodeChunk(b []byte, kind byte, chain func(Chain) error, pair func(Pair) error) error {
	d := canon.NewDecoder(b, "snapshot chunk", ErrFormat)
	if k := d.U8("kind"); d.Err() == nil && k != kind {
		d.Fail("kind %d, want %d", k, kind)
	}
	n := d.U32("count")
	for i := uint32(0); i < n && d.Err() == nil; i++ {
		var err error
		switch kind {
		case KindChain:
			c := Chain{Height: d.U64("height"), Header: d.Bytes32Ref("header", maxHeaderBytes)}
			nt := d.U32("tx count")
			if d.Err() == nil && (nt > maxBlockTxs || uint64(nt)*32 > uint64(d.Remaining())) {
				d.Fail("%d tx hashes, %d bytes left", nt, d.Remaining())
			}
			if d.Err() != nil {
				break
			}
			c.Txs = make([]crypto.Hash, nt)
			for j := range c.Txs {
				d.Fixed(c.Txs[j][:], "tx hash")
			}
			if d.Err() == nil {
				err = chain(c)
			}
		case KindState:
			p := Pair{Key: d.Bytes32Ref("key", maxStateKey), Value: d.Bytes32Ref("value", maxStateValue)}
			if d.Err() == nil {
				if p.Value == nil {
					p.Value = []byte{}
				}
				err = pair(p)
			}
		default:
			d.Fail("unknown kind %d", kind)
		}
		if err != nil {
			return err
		}
	}
	return d.Finish()
}

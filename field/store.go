package field

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/cairn-db/cairn/types"
)

// Store is a Book's durable form: an append-only file of CRC-framed
// records (the terms, batches of payments, co-signed states). Append returns
// only after the record is fsynced, so whatever a member acknowledged
// survives a crash; a torn record at the end (a crash mid-write) is cut off
// when the file is opened again, and anything else that does not check out
// is an error.
type Store struct {
	f    *os.File
	path string
}

const (
	recTerms    = 1
	recPayments = 2
	recState    = 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type termsRecord struct {
	ChainID string           `json:"chain_id"`
	Terms   types.FieldTerms `json:"terms"`
}

// Create makes a new store at path for a book (which must be at state 0).
func Create(path string, b *Book) (*Store, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("field store: %w", err)
	}
	s := &Store{f: f, path: path}
	body, err := json.Marshal(termsRecord{ChainID: b.ChainID, Terms: b.Terms})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("field store: %w", err)
	}
	if err := s.append(recTerms, body); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Open reads the store at path back into a Book: every payment and the
// latest co-signed state, each checked again as when it was first received.
func Open(path string) (*Store, *Book, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("field store: %w", err)
	}
	s := &Store{f: f, path: path}
	b, good, err := s.replay()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("field store %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("field store %s: cut torn tail: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("field store %s: %w", path, err)
	}
	return s, b, nil
}

func (s *Store) replay() (*Book, int64, error) {
	r := bufio.NewReaderSize(s.f, 1<<20)
	var b *Book
	var off int64
	var hdr [9]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break // clean end, or a torn header
			}
			return nil, 0, err
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		sum := binary.BigEndian.Uint32(hdr[4:8])
		kind := hdr[8]
		if n > 256<<20 {
			return nil, 0, fmt.Errorf("record at %d: length %d", off, n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			break // torn body
		}
		if crc32.Update(crc32.Checksum([]byte{kind}, crcTable), crcTable, body) != sum {
			// A bad checksum on the last record is a torn write; anywhere
			// else it is corruption.
			if _, err := r.Peek(1); err == io.EOF {
				break
			}
			return nil, 0, fmt.Errorf("record at %d: checksum mismatch", off)
		}
		if err := applyRecord(&b, kind, body); err != nil {
			return nil, 0, fmt.Errorf("record at %d: %w", off, err)
		}
		off += int64(len(hdr)) + int64(n)
	}
	if b == nil {
		return nil, 0, errors.New("no terms record")
	}
	return b, off, nil
}

func applyRecord(b **Book, kind byte, body []byte) error {
	switch kind {
	case recTerms:
		if *b != nil {
			return errors.New("second terms record")
		}
		var t termsRecord
		if err := json.Unmarshal(body, &t); err != nil {
			return err
		}
		nb, err := NewBook(t.ChainID, t.Terms)
		*b = nb
		return err
	case recPayments:
		if *b == nil {
			return errors.New("payments before terms")
		}
		ps, err := decodePayments(body)
		if err != nil {
			return err
		}
		return (*b).Apply(ps)
	case recState:
		if *b == nil {
			return errors.New("state before terms")
		}
		var c types.FieldStateClaim
		if err := json.Unmarshal(body, &c); err != nil {
			return err
		}
		return (*b).Accept(c)
	}
	return fmt.Errorf("unknown record kind %d", kind)
}

func encodePayments(ps []types.FieldPayment) []byte {
	out := make([]byte, 0, len(ps)*120)
	for i := range ps {
		e := ps[i].Encode()
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out
}

func decodePayments(b []byte) ([]types.FieldPayment, error) {
	var ps []types.FieldPayment
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("truncated payment")
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, errors.New("truncated payment")
		}
		p, err := types.DecodeFieldPayment(b[2 : 2+n])
		if err != nil {
			return nil, err
		}
		ps = append(ps, *p)
		b = b[2+n:]
	}
	return ps, nil
}

func (s *Store) append(kind byte, body []byte) error {
	rec := make([]byte, 9, 9+len(body))
	binary.BigEndian.PutUint32(rec[0:4], uint32(len(body)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Update(crc32.Checksum([]byte{kind}, crcTable), crcTable, body))
	rec[8] = kind
	rec = append(rec, body...)
	if _, err := s.f.Write(rec); err != nil {
		return fmt.Errorf("field store %s: write: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("field store %s: fsync: %w", s.path, err)
	}
	return nil
}

// AppendPayments durably records payments already applied to the book.
func (s *Store) AppendPayments(ps []types.FieldPayment) error {
	if len(ps) == 0 {
		return nil
	}
	return s.append(recPayments, encodePayments(ps))
}

// AppendState durably records a co-signed state already accepted.
func (s *Store) AppendState(c types.FieldStateClaim) error {
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("field store: %w", err)
	}
	return s.append(recState, body)
}

// Close closes the file.
func (s *Store) Close() error { return s.f.Close() }

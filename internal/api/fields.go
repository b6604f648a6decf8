package api

import (
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/types"
)

// getField is GET /v1/fields/{id}: a payment field's state entry with a
// state proof against the certified header at the read height.
func (s *Server) getField(w http.ResponseWriter, r *http.Request) error {
	id, err := parseHashParam(r.PathValue("id"))
	if err != nil {
		return badRequest("field id must be 64 hex characters")
	}
	l := s.cfg.Backend.Ledger()
	h, _, err := readHeight(r, l)
	if err != nil {
		return err
	}
	if h == 0 {
		return notFound("no block has been committed yet, so no field exists")
	}
	sp, err := l.Prove(types.FieldKey(id), h)
	if err != nil {
		return err
	}
	if !sp.Found {
		return notFound("no field %s at height %d", id, h)
	}
	if sp.Header == nil || sp.Certificate == nil || sp.Proof == nil {
		return fmt.Errorf("prove field %s at %d: ledger returned an incomplete proof", id, h)
	}
	f, err := types.DecodeField(sp.Value)
	if err != nil {
		return fmt.Errorf("field %s at %d: %w", id, h, err)
	}
	out := client.FieldState{ID: id, Height: h, Field: f, TotalDeposits: f.Total(), Deadline: f.Deadline(),
		StateKeyHex: hex.EncodeToString(sp.Key), ValueHex: hex.EncodeToString(sp.Value),
		Proof: sp.Proof, ProofHex: hex.EncodeToString(sp.Proof.Encode()),
		HeaderHex: hex.EncodeToString(sp.HeaderBytes), Header: sp.Header,
		Certificate: certificateJSON(sp.Certificate, l.Genesis().ChainID, valsAt(l, sp.Certificate.Height))}
	out.Deadline = f.Deadline()
	return writeJSON(w, http.StatusOK, out)
}

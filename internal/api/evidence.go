package api

import (
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/types"
)

// maxEvidence bounds one evidence listing.
const maxEvidence = 1000

// evidence is GET /v1/evidence: double-sign evidence recorded by this node,
// oldest first, each vote with the bytes its signature covers so anyone can
// check it with the validator's public key.
func (s *Server) evidence(w http.ResponseWriter, r *http.Request) error {
	l := s.cfg.Backend.Ledger()
	raw, err := l.Store().Evidence(maxEvidence)
	if err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	vals := l.Validators()
	chainID := l.Genesis().ChainID
	out := client.EvidenceList{Evidence: []client.Evidence{}}
	for _, b := range raw {
		a, c, err := types.DecodeDuplicateVote(b)
		if err != nil || int(a.Validator) >= vals.Len() {
			continue // not ours to serve; the audit reports store corruption
		}
		v := vals.Validators[a.Validator]
		ev := client.Evidence{Validator: v.Name, PublicKey: v.PublicKey, Type: a.Type.String(), Height: a.Height, Round: a.Round}
		for _, vote := range []types.Vote{a, c} {
			ev.Votes = append(ev.Votes, client.EvidenceVote{
				BlockHash: vote.BlockHash, Signature: hex.EncodeToString(vote.Signature[:]),
				SignBytesHex: hex.EncodeToString(types.VoteSignBytes(chainID, vote.Type, vote.Height, vote.Round, vote.BlockHash)),
			})
		}
		out.Evidence = append(out.Evidence, ev)
	}
	return writeJSON(w, http.StatusOK, out)
}

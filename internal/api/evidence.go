package api

import (
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/cairn-db/cairn/client"
	"github.com/cairn-db/cairn/internal/consensus"
	"github.com/cairn-db/cairn/types"
)

// maxEvidence bounds one evidence listing.
const maxEvidence = 1000

// evidence is GET /v1/evidence: equivocation evidence this node holds
// (observed itself or received from peers, verified), oldest height first,
// each conflicting vote or proposal with the bytes its signature covers so
// anyone can check it with the validator's public key.
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
		ev, err := consensus.DecodeEvidence(b)
		if err != nil {
			continue // not ours to serve; the audit reports store corruption
		}
		k := ev.Key()
		if int(k.Validator) >= vals.Len() {
			continue
		}
		v := vals.Validators[k.Validator]
		item := client.Evidence{Validator: v.Name, PublicKey: v.PublicKey, Type: k.Kind.String(), Height: k.Height, Round: k.Round}
		switch ev := ev.(type) {
		case *consensus.DuplicateVote:
			for _, vote := range []types.Vote{ev.A, ev.B} {
				item.Votes = append(item.Votes, client.EvidenceVote{
					BlockHash: vote.BlockHash, Signature: hex.EncodeToString(vote.Signature[:]),
					SignBytesHex: hex.EncodeToString(types.VoteSignBytes(chainID, vote.Type, vote.Height, vote.Round, vote.BlockHash)),
				})
			}
		case *consensus.ConflictingProposal:
			for _, p := range []consensus.SignedProposal{ev.A, ev.B} {
				item.Votes = append(item.Votes, client.EvidenceVote{
					BlockHash: p.BlockHash, Signature: hex.EncodeToString(p.Signature[:]),
					SignBytesHex: hex.EncodeToString(p.SignBytes(chainID)),
				})
			}
		}
		out.Evidence = append(out.Evidence, item)
	}
	return writeJSON(w, http.StatusOK, out)
}

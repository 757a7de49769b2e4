package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/pades"
)

// MaxDocument bounds one PDF SignDocuments signs.
const MaxDocument = 64 << 20

// SignDocumentsRequest asks kyso to sign whole PDFs as PAdES (CSC
// signatures/signDoc). The SAD must have been authorised for the SHA-256
// digests of the documents exactly as sent, in order: the owner approves
// those documents, and kyso signs nothing else.
type SignDocumentsRequest struct {
	CredentialID string
	SAD          string
	Documents    [][]byte
	// Level is the PAdES baseline level: B-B, B-T, B-LT or B-LTA.
	Level pades.Level
	// Certify, when 1, 2 or 3, makes certification signatures (DocMDP).
	Certify int
	Reason  string
	Actor   string
}

// SignDocuments signs each PDF with the credential's key through unlock,
// the one path to a key, and returns the signed PDFs.
func (s *Service) SignDocuments(ctx context.Context, req *SignDocumentsRequest) ([][]byte, error) {
	switch req.Level {
	case "", pades.LevelBB:
	case pades.LevelBT:
		if s.cfg.Timestamp == nil {
			return nil, fail(CodeInvalidRequest, "this service has no time-stamping authority for %s", req.Level)
		}
	case pades.LevelBLT, pades.LevelBLTA:
		if s.cfg.Timestamp == nil || s.cfg.LTV == nil {
			return nil, fail(CodeInvalidRequest, "this service cannot add long-term validation data (%s)", req.Level)
		}
	default:
		return nil, fail(CodeInvalidRequest, "conformance level %q is not B-B, B-T, B-LT or B-LTA", req.Level)
	}
	if len(req.Documents) == 0 || len(req.Documents) > 100 {
		return nil, fail(CodeInvalidRequest, "between 1 and 100 documents")
	}
	digests := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		if len(d) == 0 || len(d) > MaxDocument {
			return nil, fail(CodeInvalidRequest, "document %d has %d bytes; 1 to %d are accepted", i+1, len(d), MaxDocument)
		}
		sum := sha256.Sum256(d)
		digests[i] = sum[:]
		// Refuse what cannot be signed before the SAD is spent.
		if _, err := pades.Prepare(bytes.NewReader(d), int64(len(d)), &pades.Options{Certify: req.Certify}); err != nil {
			return nil, &Error{Code: CodeInvalidRequest, Description: fmt.Sprintf("document %d cannot be signed: %v", i+1, err), Err: err}
		}
	}
	u, _, err := s.unlock(ctx, &SignHashRequest{CredentialID: req.CredentialID, SAD: req.SAD, Hashes: digests,
		HashAlgorithm: crypto.SHA256, Actor: req.Actor})
	if err != nil {
		return nil, err
	}
	cert, chain, err := s.Certificate(ctx, u.cred)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		opts := &pades.SignOptions{Options: pades.Options{Certify: req.Certify, Reason: req.Reason}, Level: pades.LevelBB}
		if req.Level != "" && req.Level != pades.LevelBB {
			opts.Level, opts.TSA = pades.LevelBT, s.cfg.Timestamp
		}
		var buf bytes.Buffer
		if err := pades.Sign(ctx, bytes.NewReader(d), int64(len(d)), &buf, u, cert, chain, opts); err != nil {
			return nil, &Error{Code: CodeInvalidRequest, Description: fmt.Sprintf("document %d: %v", i+1, err), Err: err}
		}
		if req.Level == pades.LevelBLT || req.Level == pades.LevelBLTA {
			signed := buf.Bytes()
			var ext bytes.Buffer
			if err := pades.Extend(ctx, bytes.NewReader(signed), int64(len(signed)), &ext, req.Level,
				&pades.ExtendOptions{LTVOptions: *s.cfg.LTV, TSA: s.cfg.Timestamp}); err != nil {
				return nil, fmt.Errorf("signing: document %d: adding validation data: %w", i+1, err)
			}
			buf = ext
		}
		out[i] = buf.Bytes()
	}
	return out, nil
}

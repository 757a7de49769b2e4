package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"

	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/pkg/pades"
)

// MaxDocument bounds one PDF SignDocuments signs.
const MaxDocument = 64 << 20

// SignDocumentsRequest asks kyso to sign whole PDFs as PAdES (CSC
// signatures/signDoc). The SAD must have been authorised for the SHA-256
// digests of the documents exactly as sent, in order: the owner approves
// those documents, and kyso signs nothing else.
type SignDocumentsRequest struct {
	// ClientID is the relying party that asks, as SignHashRequest's.
	ClientID     string
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
	if err := s.levelUsable(req.Level); err != nil {
		return nil, err
	}
	if len(req.Documents) == 0 || len(req.Documents) > 100 {
		return nil, fail(KindInvalid, "between 1 and 100 documents")
	}
	digests := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		if len(d) == 0 || len(d) > MaxDocument {
			return nil, fail(KindInvalid, "document %d has %d bytes; 1 to %d are accepted", i+1, len(d), MaxDocument)
		}
		sum := sha256.Sum256(d)
		digests[i] = sum[:]
		// Refuse what cannot be signed before the SAD is spent.
		if _, err := pades.Prepare(bytes.NewReader(d), int64(len(d)), &pades.Options{Certify: req.Certify}); err != nil {
			return nil, &Error{Kind: KindInvalid, Description: fmt.Sprintf("document %d cannot be signed: %v", i+1, err), Err: err}
		}
	}
	u, _, err := s.unlock(ctx, &SignHashRequest{ClientID: req.ClientID, CredentialID: req.CredentialID, SAD: req.SAD, Hashes: digests,
		HashAlgorithm: crypto.SHA256, Actor: req.Actor}, auditEach)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		if out[i], err = s.padesSign(ctx, u, d, req.Level, req.Certify, req.Reason, nil); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
	}
	return out, nil
}

// levelUsable refuses a level the service cannot reach; empty is
// Config.DefaultLevel.
func (s *Service) levelUsable(l pades.Level) error {
	if l == "" {
		l = s.cfg.DefaultLevel
	}
	switch l {
	case "", pades.LevelBB:
	case pades.LevelBT:
		if s.cfg.Timestamp == nil {
			return fail(KindInvalid, "this service has no time-stamping authority for %s", l)
		}
	case pades.LevelBLT, pades.LevelBLTA:
		if s.cfg.Timestamp == nil || s.cfg.LTV == nil {
			return fail(KindInvalid, "this service cannot add long-term validation data (%s)", l)
		}
	default:
		return fail(KindInvalid, "level %q is not B-B, B-T, B-LT or B-LTA", l)
	}
	return nil
}

// checkPDF refuses, at submission, a PDF document kyso cannot sign.
func (s *Service) checkPDF(d Document, h crypto.Hash) error {
	if h != crypto.SHA256 {
		return fail(KindInvalid, "document %q: a PDF is approved by its SHA-256; the transaction's hashes must be SHA-256", d.DocID)
	}
	if len(d.PDF) == 0 || len(d.PDF) > MaxDocument {
		return fail(KindInvalid, "document %q: a PDF of 1 to %d bytes", d.DocID, MaxDocument)
	}
	if err := s.levelUsable(d.Level); err != nil {
		return err
	}
	// With its stamp, if any (the name is the signer's at signing).
	var o pades.Options
	if d.Stamp != nil {
		o.Visible = &pades.Visible{Page: d.Stamp.Page, Rect: d.Stamp.Rect, Signer: "X"}
	}
	if _, err := pades.Prepare(bytes.NewReader(d.PDF), int64(len(d.PDF)), &o); err != nil {
		return &Error{Kind: KindInvalid, Description: fmt.Sprintf("document %q cannot be signed: %v", d.DocID, err), Err: err}
	}
	return nil
}

// padesSign signs one PDF with an unlocked key at level (empty:
// Config.DefaultLevel), visibly where st says when not nil, adding the time-stamp and validation data the
// level needs. The pre-signing check unlock made is the one Sign relies
// on, and its OCSP responses and CRLs are the ones the DSS keeps.
func (s *Service) padesSign(ctx context.Context, u *unlocked, doc []byte, level pades.Level, certify int, reason string, st *Stamp) ([]byte, error) {
	if level == "" {
		level = s.cfg.DefaultLevel
	}
	opts := &pades.SignOptions{Options: pades.Options{Certify: certify, Reason: reason}, Level: pades.LevelBB, Checked: u.check}
	if st != nil {
		opts.Visible = &pades.Visible{Page: st.Page, Rect: st.Rect, Signer: u.cert.Subject.CommonName}
	}
	if u.check == nil {
		opts.SkipSignerCheck = true // the service was configured without the check
	}
	if level != pades.LevelBB {
		opts.Level, opts.TSA, opts.LTV = level, s.cfg.Timestamp, s.cfg.LTV
	}
	var buf bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &buf, u, u.cert, u.chain, opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// signDocuments signs an approved transaction's documents with the SAD
// its approval made: hashes with the transaction's algorithm, PDFs as
// PAdES. The intents (one per document) are written with the spending of
// the SAD; the caller writes the outcomes with the transaction's result.
func (s *Service) signDocuments(ctx context.Context, x *Transaction, sad, actor string) ([]Signature, error) {
	hashes := make([][]byte, len(x.Documents))
	for i, d := range x.Documents {
		hashes[i] = d.Hash
	}
	u, opts, err := s.unlock(ctx, &SignHashRequest{ClientID: x.ClientID, CredentialID: x.CredentialID, SAD: sad, Hashes: hashes,
		HashAlgorithm: x.HashAlgorithm, SignAlgo: x.SignAlgo, Actor: actor}, auditOutcome)
	if err != nil {
		return nil, err
	}
	// The key unlock holds is the one to judge by: a renewal after the
	// approval's own check (staleHashes) is caught here.
	if refusal := staleHashes(x, u.cred); refusal != nil {
		return nil, refusal
	}
	res := make([]Signature, len(x.Documents))
	for i, d := range x.Documents {
		if i == len(x.Documents)/2 {
			crashpoint.Reach(crashpoint.MidBatch)
		}
		res[i].DocID = d.DocID
		if d.PDF == nil {
			if res[i].Signature, err = u.Sign(s.cfg.Rand, d.Hash, opts); err != nil {
				return nil, err
			}
			continue
		}
		if res[i].SignedPDF, err = s.padesSign(ctx, u, d.PDF, d.Level, 0, "", d.Stamp); err != nil {
			return nil, fmt.Errorf("signing: document %q: %w", d.DocID, err)
		}
	}
	return res, nil
}

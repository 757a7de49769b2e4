package signing

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Bounds on what a relying party submits.
const (
	MaxDescription = 500 // CSC: description ≤ 500 characters
	MaxDocID       = 128
	MaxClientRef   = 128
)

// Document is one hash a relying party wants signed, or a whole PDF to
// sign as PAdES, with the ID the owner sees it by.
type Document struct {
	DocID string `json:"doc_id"`
	// Hash is what is signed, or for a PDF its SHA-256 (Submit computes
	// it): what the owner approves.
	Hash []byte `json:"hash"`
	// PDF, when set, is signed as PAdES at Level (empty: the service's
	// Config.DefaultLevel); the result
	// is the signed PDF.
	PDF   []byte      `json:"pdf,omitempty"`
	Level pades.Level `json:"level,omitempty"`
	// Stamp, for a PDF, makes its signature visible there (the app's own
	// documents: SubmitOwn); nil signs it invisibly.
	Stamp *Stamp `json:"stamp,omitempty"`
}

// storedDocument is one element of a transaction's Documents column: the
// document with the transaction's algorithms, so the column is a plain
// JSON array.
type storedDocument struct {
	Document
	HashAlgorithm string `json:"hash_algorithm"`
	SignAlgo      string `json:"sign_algo,omitempty"`
	// CertSerial is the serial of the credential's certificate when the
	// transaction was submitted (hex): a portal computes a hash to sign
	// over signed attributes naming that certificate, so after a renewal
	// the hash is no longer the credential's to sign (staleHashes).
	// Empty in transactions stored before it was recorded.
	CertSerial string `json:"cert_serial,omitempty"`
}

// SubmitRequest asks an owner to approve signing documents with one of
// their credentials (implicit authorisation: SmartCA's model).
type SubmitRequest struct {
	ClientID string
	// ClientRef is the relying party's own transaction ID: submitting it
	// again returns the same transaction.
	ClientRef string
	// CredentialID names the credential; when empty, NationalID
	// ("CCCD:…") picks the owner's newest active credential.
	CredentialID string
	NationalID   string
	Description  string
	// HashAlgorithm is the documents' hash algorithm; zero means SHA-256.
	HashAlgorithm crypto.Hash
	// SignAlgo is the signature algorithm OID; empty means the key's
	// default (RSASSA-PSS or ECDSA).
	SignAlgo  string
	Documents []Document
}

// Signature is one signed document of a transaction's result: the
// signature over its hash, or the signed PDF.
type Signature struct {
	DocID     string `json:"doc_id"`
	Signature []byte `json:"signature,omitempty"`
	SignedPDF []byte `json:"signed_pdf,omitempty"`
}

// Transaction is a signing transaction as front ends show it.
type Transaction struct {
	*store.Transaction
	HashAlgorithm crypto.Hash
	SignAlgo      string
	// CertSerial is the serial of the credential's certificate when the
	// transaction was submitted (hex; empty for one stored before it was
	// recorded).
	CertSerial string
	Documents  []Document
	Signatures []Signature
	// ReceiptID names the consent receipt of the owner's approval; set by
	// Approve.
	ReceiptID string
}

// ownerDecoded is ownerTransaction with the transaction decoded.
func (s *Service) ownerDecoded(ctx context.Context, ownerID, txID string) (*store.Transaction, *Transaction, *store.Owner, error) {
	t, o, err := s.ownerTransaction(ctx, ownerID, txID)
	if err != nil {
		return nil, nil, nil, err
	}
	x, err := s.decode(t)
	if err != nil {
		return nil, nil, nil, err
	}
	return t, x, o, nil
}

// hashes are the transaction's documents' hashes, in order.
func (t *Transaction) hashes() [][]byte {
	out := make([][]byte, len(t.Documents))
	for i, d := range t.Documents {
		out[i] = d.Hash
	}
	return out
}

func (s *Service) decode(t *store.Transaction) (*Transaction, error) {
	var docs []storedDocument
	if err := json.Unmarshal(t.Documents, &docs); err != nil || len(docs) == 0 {
		return nil, fmt.Errorf("signing: transaction %s: unreadable documents: %v", t.ID, err)
	}
	h, _ := hashByOID(docs[0].HashAlgorithm)
	out := &Transaction{Transaction: t, HashAlgorithm: h, SignAlgo: docs[0].SignAlgo, CertSerial: docs[0].CertSerial}
	for _, d := range docs {
		out.Documents = append(out.Documents, d.Document)
	}
	if len(t.Result) > 0 {
		if err := json.Unmarshal(t.Result, &out.Signatures); err != nil {
			return nil, fmt.Errorf("signing: transaction %s result: %w", t.ID, err)
		}
	}
	return out, nil
}

// Submit records a transaction pending the owner's approval; the same
// ClientRef again returns the first one (created false).
func (s *Service) Submit(ctx context.Context, req *SubmitRequest) (*Transaction, bool, error) {
	return s.submit(ctx, req, "client:"+req.ClientID)
}

// submit is Submit audited as actor.
func (s *Service) submit(ctx context.Context, req *SubmitRequest, actor string) (*Transaction, bool, error) {
	switch {
	case req.ClientRef == "" || len(req.ClientRef) > MaxClientRef:
		return nil, false, fail(KindInvalid, "a transaction ID of 1 to %d bytes is required", MaxClientRef)
	case utf8.RuneCountInString(req.Description) > MaxDescription || !utf8.ValidString(req.Description):
		return nil, false, fail(KindInvalid, "the description must be valid UTF-8 of at most %d characters", MaxDescription)
	case len(req.Documents) == 0 || len(req.Documents) > MaxHashes:
		return nil, false, fail(KindInvalid, "between 1 and %d documents", MaxHashes)
	}
	if err := shown("description", req.Description); err != nil {
		return nil, false, err
	}
	h := req.HashAlgorithm
	if h == 0 {
		h = crypto.SHA256
	}
	if hashOID(h) == "" {
		return nil, false, fail(KindInvalid, "hash algorithm %v is not accepted", h)
	}
	seen := map[string]bool{}
	for i, d := range req.Documents {
		if d.DocID == "" || len(d.DocID) > MaxDocID || !utf8.ValidString(d.DocID) {
			return nil, false, fail(KindInvalid, "document %d needs a doc_id of 1 to %d bytes", i+1, MaxDocID)
		}
		if err := shown(fmt.Sprintf("document %d: doc_id", i+1), d.DocID); err != nil {
			return nil, false, err
		}
		if seen[d.DocID] {
			return nil, false, fail(KindInvalid, "doc_id %q appears twice", d.DocID)
		}
		seen[d.DocID] = true
		if d.Stamp != nil && d.PDF == nil {
			return nil, false, fail(KindInvalid, "document %q: a stamp is for a PDF", d.DocID)
		}
		if d.PDF != nil {
			if err := s.checkPDF(d, h); err != nil {
				return nil, false, err
			}
			sum := sha256.Sum256(d.PDF)
			req.Documents[i].Hash = sum[:]
			continue
		}
		if len(d.Hash) != h.Size() {
			return nil, false, fail(KindInvalid, "document %q: the hash has %d bytes; %v needs %d", d.DocID, len(d.Hash), h, h.Size())
		}
	}
	cred, err := s.findCredential(ctx, req.CredentialID, req.NationalID)
	if err != nil {
		return nil, false, err
	}
	if req.SignAlgo != "" {
		cert, _, err := s.Certificate(ctx, cred)
		if err != nil {
			return nil, false, err
		}
		if _, err := signerOpts(req.SignAlgo, h, cert.PublicKey); err != nil {
			return nil, false, err
		}
	}
	stored := make([]storedDocument, len(req.Documents))
	for i, d := range req.Documents {
		stored[i] = storedDocument{Document: d, HashAlgorithm: hashOID(h), SignAlgo: req.SignAlgo, CertSerial: hex.EncodeToString(cred.CertSerial)}
	}
	docs, err := json.Marshal(stored)
	if err != nil {
		return nil, false, err
	}
	id, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, false, err
	}
	now := s.now()
	t := &store.Transaction{ID: id, ClientID: req.ClientID, ClientRef: req.ClientRef, CredentialID: cred.ID, OwnerID: cred.OwnerID,
		Description: req.Description, Documents: docs, Status: store.TxPending, CreatedAt: now, UpdatedAt: now,
		ExpiresAt: now.Add(s.cfg.TransactionLifetime)}
	got, created, err := s.st.CreateTransaction(ctx, t)
	if err != nil {
		return nil, false, fmt.Errorf("signing: recording the transaction: %w", err)
	}
	if created {
		if err := s.audit(ctx, actor, "transaction.submit", got.ID, "ok", map[string]any{
			"credential": cred.ID, "owner": cred.OwnerID, "documents": len(req.Documents), "client_ref": req.ClientRef,
		}); err != nil {
			return nil, false, err
		}
	} else if got.CredentialID != cred.ID || !sameDocuments(got.Documents, stored) {
		return nil, false, fail(KindConflict, "transaction ID %q was already used for another request", req.ClientRef)
	}
	out, err := s.decode(got)
	return out, created, err
}

// sameDocuments reports whether a transaction's stored documents are
// docs, whatever certificate each named at its submission: a submission
// retried across a renewal is the same request (and its hashes are then
// refused as stale at approval, staleHashes).
func sameDocuments(stored []byte, docs []storedDocument) bool {
	var was []storedDocument
	if json.Unmarshal(stored, &was) != nil || len(was) != len(docs) {
		return false
	}
	again := slices.Clone(docs)
	for i := range again {
		again[i].CertSerial = was[i].CertSerial
	}
	b, err := json.Marshal(again)
	return err == nil && string(b) == string(stored)
}

// staleHashes refuses a transaction with hashes to sign (not whole PDFs,
// which are signed with the credential's certificate of the moment) once
// the credential's certificate is no longer the one it was submitted
// under: the credential was renewed meanwhile, and a portal computes such
// a hash over signed attributes naming the old certificate, so a
// signature with the new key would not verify under the certificate the
// document names. Transactions stored before CertSerial was recorded
// are not judged.
func staleHashes(x *Transaction, cred *store.Credential) *Error {
	if x.CertSerial == "" || x.CertSerial == hex.EncodeToString(cred.CertSerial) {
		return nil
	}
	for _, d := range x.Documents {
		if d.PDF == nil {
			return fail(KindConflict, "the credential's certificate was renewed after this request was made: its hashes were computed for the old certificate, and the portal must send the request again")
		}
	}
	return nil
}

// failStale fails the pending transaction t when its hashes are stale
// (staleHashes), telling its portal by webhook; it returns the refusal,
// or nil when t is not stale.
func (s *Service) failStale(ctx context.Context, t *store.Transaction, x *Transaction, cred *store.Credential, actor string) error {
	refusal := staleHashes(x, cred)
	if refusal == nil {
		return nil
	}
	u := *t
	u.Status, u.UpdatedAt, u.Error = store.TxFailed, s.now(), "the credential was renewed; send the request again"
	e, err := s.auditEvent(actor, "transaction.fail", t.ID, "error", map[string]any{"credential": cred.ID, "reason": "renewed",
		"submitted_serial": x.CertSerial, "serial": hex.EncodeToString(cred.CertSerial)})
	if err != nil {
		return err
	}
	if err := s.transition(ctx, &u, store.TxPending, e); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return refusal
}

// shown refuses text the owner is shown that would look other than what
// it holds (display.Text): every front end checks its own fields first,
// under their wire names; this holds for any other caller of the library.
func shown(field, s string) error {
	if err := display.Text(field, s); err != nil {
		return &Error{Kind: KindInvalid, Description: err.Error(), Err: err}
	}
	return nil
}

// findCredential finds a credential by ID, or the newest active one of the
// owner with a national ID.
func (s *Service) findCredential(ctx context.Context, credID, nationalID string) (*store.Credential, error) {
	if credID != "" {
		if !validID(credID) {
			return nil, fail(KindNotFound, "unknown credential")
		}
		c, err := s.st.GetCredential(ctx, credID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fail(KindNotFound, "unknown credential")
		}
		if err != nil {
			return nil, err
		}
		if c.Status != "active" {
			return nil, fail(KindInvalid, "the credential is %s", c.Status)
		}
		return c, nil
	}
	if nationalID == "" {
		return nil, fail(KindInvalid, "a credential ID or a national ID is required")
	}
	if !strings.Contains(nationalID, ":") {
		nationalID = "CCCD:" + nationalID
	}
	if !validID(nationalID) {
		return nil, fail(KindNotFound, "no owner with that national ID")
	}
	o, err := s.st.GetOwnerByNationalID(ctx, nationalID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no owner with that national ID")
	}
	if err != nil {
		return nil, err
	}
	creds, err := s.st.ListCredentials(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	for i := len(creds) - 1; i >= 0; i-- {
		if creds[i].Status == "active" {
			return creds[i], nil
		}
	}
	return nil, fail(KindNotFound, "the owner has no active credential")
}

// ClientTransaction returns a client's transaction by kyso's ID or the
// client's own reference; another client's is not found.
func (s *Service) ClientTransaction(ctx context.Context, clientID, id string) (*Transaction, error) {
	if !validID(id) {
		return nil, fail(KindNotFound, "no such transaction")
	}
	t, err := s.st.GetTransaction(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.ClientID != clientID) {
		t, err = s.st.GetTransactionByRef(ctx, clientID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no such transaction")
	}
	if err != nil {
		return nil, err
	}
	return s.expireIfDue(ctx, t)
}

// expireIfDue marks a pending transaction past its expiry as expired.
func (s *Service) expireIfDue(ctx context.Context, t *store.Transaction) (*Transaction, error) {
	if t.Status == store.TxPending && !s.now().Before(t.ExpiresAt) {
		u := *t
		u.Status, u.UpdatedAt, u.Error = store.TxExpired, s.now(), "the owner did not approve in time"
		e, err := s.auditEvent("kysod", "transaction.expire", t.ID, "ok", nil)
		if err != nil {
			return nil, err
		}
		switch err := s.transition(ctx, &u, store.TxPending, e); {
		case err == nil:
			t = &u
		case errors.Is(err, store.ErrConflict):
			if t, err = s.st.GetTransaction(ctx, t.ID); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	return s.decode(t)
}

// OwnerTransactions lists an owner's transactions, pending ones when
// pendingOnly.
func (s *Service) OwnerTransactions(ctx context.Context, ownerID string, pendingOnly bool) ([]*Transaction, error) {
	f := &store.TransactionFilter{OwnerID: ownerID}
	if pendingOnly {
		f.Status = store.TxPending
	}
	list, err := s.st.ListTransactions(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []*Transaction
	for _, t := range list {
		x, err := s.expireIfDue(ctx, t)
		if err != nil {
			return nil, err
		}
		if pendingOnly && x.Status != store.TxPending {
			continue
		}
		out = append(out, x)
	}
	return out, nil
}

// ownerTransaction returns the owner's pending transaction; another owner's
// is not found.
func (s *Service) ownerTransaction(ctx context.Context, ownerID, txID string) (*store.Transaction, *store.Owner, error) {
	if !validID(txID) {
		return nil, nil, fail(KindNotFound, "no such transaction")
	}
	t, err := s.st.GetTransaction(ctx, txID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.OwnerID != ownerID) {
		return nil, nil, fail(KindNotFound, "no such transaction")
	}
	if err != nil {
		return nil, nil, err
	}
	x, err := s.expireIfDue(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	if x.Status != store.TxPending {
		return nil, nil, fail(KindConflict, "the transaction is %s, not pending", x.Status)
	}
	o, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return nil, nil, err
	}
	return t, o, nil
}

// Approve is the owner's approval with PIN and one-time code: it makes
// activation data bound to the transaction's hashes, signs them through the
// one signing path, and records the result for the relying party.
//
// The transaction's life (DESIGN.md, "Transactions"): the approval moves it
// to approved and leases it to this replica for Config.ApprovalLease, in
// one write with its audit event; the signing spends the activation data
// with one audit intent per document; the result (signed, or failed) is
// written with its webhook and the outcome events in one write, only if
// the transaction is still approved. A replica that dies between leaves it
// approved until its lease ends; then Recover fails it. So nothing stays
// approved past the lease and a sweep, and no signature is recorded as
// made ("ok") unless its transaction is signed and its webhook queued.
func (s *Service) Approve(ctx context.Context, ownerID, txID, pin, otp string) (*Transaction, error) {
	return s.ApproveWith(ctx, ownerID, txID, PINAndCode(pin, otp))
}

// ApproveWith is Approve with the owner's factors: PIN and one-time code,
// or a passkey's answer to a TransactionPasskeyOptions challenge for this
// very transaction (its ID, hash algorithm and hashes), both checked by
// checkFactors.
func (s *Service) ApproveWith(ctx context.Context, ownerID, txID string, f *Factors) (*Transaction, error) {
	t, x, o, err := s.ownerDecoded(ctx, ownerID, txID)
	if err != nil {
		return nil, err
	}
	cred, err := s.st.GetCredential(ctx, t.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("signing: credential %s: %w", t.CredentialID, err)
	}
	// Before the factors are asked: a request the credential can no
	// longer sign spends none of the owner's attempts.
	if err := s.failStale(ctx, t, x, cred, "kysod"); err != nil {
		return nil, err
	}
	hashes := x.hashes()
	factors, err := s.checkFactors(ctx, o, f, ptr(txUse(ownerID, t.ID, x.HashAlgorithm, hashes)))
	if err != nil {
		return nil, err
	}
	receiptID, err := randomID(s.cfg.Rand, 12)
	if err != nil {
		return nil, err
	}
	// The SAD is the transaction's client's: signDocuments spends it in
	// that client's name. Made before the approval is recorded, it is
	// never handed out if the approval loses a race, and expires unused.
	sad, activation, err := s.newActivation(ctx, t.ClientID, t.CredentialID, t.ID, receiptID, "", x.HashAlgorithm, hashes)
	if err != nil {
		return nil, err
	}
	now := s.now()
	// The consent receipt: what the owner was shown and approved, signed
	// by the service, recorded with the approval in one write.
	receipt, err := s.makeReceipt(ctx, &receiptFor{id: receiptID, kind: ReceiptTransaction, client: t.ClientID, owner: o, cred: cred,
		description: t.Description, docs: receiptDocuments(x, approvalOrigin(ctx).PagesShown), txID: t.ID,
		activationID: activation, factors: factors, at: now})
	if err != nil {
		return nil, err
	}
	actor := "owner:" + ownerID
	e, err := s.auditEvent(actor, "transaction.approve", t.ID, "ok", map[string]any{"credential": t.CredentialID, "activation": activation, "receipt": receiptID, "factors": factors})
	if err != nil {
		return nil, err
	}
	approved := *t
	approved.Status, approved.UpdatedAt = store.TxApproved, now
	approved.LeaseOwner, approved.LeaseUntil = s.instance, now.Add(s.cfg.ApprovalLease)
	if err := s.st.ApproveTransaction(ctx, &approved, store.TxPending, receipt, e); errors.Is(err, store.ErrConflict) {
		return nil, fail(KindConflict, "the transaction changed meanwhile")
	} else if err != nil {
		return nil, err
	}
	crashpoint.Reach(crashpoint.Approved)
	res, signErr := s.signDocuments(ctx, x, sad, actor)
	done := approved
	done.UpdatedAt, done.LeaseOwner, done.LeaseUntil = s.now(), "", time.Time{}
	var events []*store.AuditEvent
	if signErr != nil {
		done.Status, done.Error = store.TxFailed, "signing failed"
		e, err := s.auditEvent("kysod", "transaction.fail", t.ID, "error", map[string]any{"activation": activation, "reason": "signing failed"})
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	} else {
		if done.Result, err = json.Marshal(res); err != nil {
			return nil, err
		}
		done.Status = store.TxSigned
		// The outcome of each signature, written with the state that
		// delivers them: the log says a signature was made only when
		// the relying party can have it.
		if events, err = s.outcomeEvents(ctx, actor, x, activation, receiptID); err != nil {
			return nil, err
		}
	}
	crashpoint.Reach(crashpoint.Signed)
	switch err := s.transition(ctx, &done, store.TxApproved, events...); {
	case errors.Is(err, store.ErrConflict):
		// Recover failed it: this replica outlived its lease. What it
		// signed is dropped, never delivered and never claimed.
		return nil, errors.Join(signErr, fail(KindConflict, "the transaction was failed while it was being signed (its lease ended)"))
	case err != nil:
		return nil, errors.Join(signErr, err)
	}
	if signErr != nil {
		return nil, signErr
	}
	out, err := s.decode(&done)
	if err != nil {
		return nil, err
	}
	out.ReceiptID = receiptID
	return out, nil
}

// outcomeEvents are the signature.create ok events of a signed
// transaction's documents: one per document, naming its approved hash, as
// its intent did, each counted (usage.go).
func (s *Service) outcomeEvents(ctx context.Context, actor string, x *Transaction, activation, receipt string) ([]*store.AuditEvent, error) {
	cred, err := s.st.GetCredential(ctx, x.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("signing: credential %s: %w", x.CredentialID, err)
	}
	use, err := s.usage(ctx, x.ClientID, cred, s.now())
	if err != nil {
		return nil, err
	}
	events := make([]*store.AuditEvent, len(x.Documents))
	for i, d := range x.Documents {
		if events[i], err = s.signatureEvent(actor, cred, x.ID, activation, receipt, d.Hash, x.HashAlgorithm, "ok", use); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// RecoveredError is the error a transaction failed by Recover carries.
const RecoveredError = "interrupted: the signing service stopped while signing; nothing was delivered; submit again under a new transaction ID"

// Recover fails the approved transactions whose lease has ended: the
// replica signing them died, or outlived its lease. It claims them (a new
// lease, so replicas sweeping at once each take their own), moves each to
// failed with RecoveredError, its webhook and a transaction.fail audit
// event in one write, and returns how many it failed. It does not sign
// again: the activation data was spent and is not kept, and signing
// without it would be a second path to the key. The relying party learns
// "failed" by webhook and status, and submits again.
func (s *Service) Recover(ctx context.Context) (int, error) {
	n := 0
	for {
		list, err := s.st.ClaimApproved(ctx, s.now(), s.instance, s.cfg.ApprovalLease, recoverBatch)
		if err != nil {
			return n, fmt.Errorf("signing: claiming abandoned transactions: %w", err)
		}
		for _, t := range list {
			u := *t
			u.Status, u.Error, u.UpdatedAt, u.LeaseOwner, u.LeaseUntil = store.TxFailed, RecoveredError, s.now(), "", time.Time{}
			e, err := s.auditEvent("kysod", "transaction.fail", t.ID, "error", map[string]any{"reason": "interrupted", "recovered_by": s.instance})
			if err != nil {
				return n, err
			}
			switch err := s.transition(ctx, &u, store.TxApproved, e); {
			case err == nil:
				n++
				s.log.WarnContext(ctx, "signing: failed a transaction abandoned while being signed", "transaction", t.ID, "client", t.ClientID)
			case errors.Is(err, store.ErrConflict):
				// Its holder finished it after all.
			default:
				return n, err
			}
		}
		if len(list) < recoverBatch {
			return n, nil
		}
	}
}

// recoverBatch is how many abandoned transactions Recover claims at once.
const recoverBatch = 100

// Reject is the owner's refusal; no factor is needed to say no.
func (s *Service) Reject(ctx context.Context, ownerID, txID string) error {
	t, _, err := s.ownerTransaction(ctx, ownerID, txID)
	if err != nil {
		return err
	}
	u := *t
	u.Status, u.UpdatedAt, u.Error = store.TxRejected, s.now(), "the owner rejected it"
	e, err := s.auditEvent("owner:"+ownerID, "transaction.reject", t.ID, "ok", nil)
	if err != nil {
		return err
	}
	return s.transition(ctx, &u, store.TxPending, e)
}

// validID reports whether s can name a record: 1 to 128 bytes of valid
// UTF-8 without NUL (PostgreSQL refuses the rest with an error, not a
// miss).
func validID(s string) bool {
	return s != "" && len(s) <= 128 && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

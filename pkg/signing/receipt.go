package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Consent receipts (issue 15): every approval by an owner — a
// transaction's (Approve) or an oauth2code consent's (ApproveOAuth) —
// leaves a receipt, the service's signed statement of what the owner was
// shown and approved, when, with which factors, from which device. It is
// JSON (Receipt, version ReceiptVersion) carried inside a CMS SignedData
// (RFC 5652; DER, attached, a .p7m) signed by the service's receipt key,
// certified by kyso's own CA (ca.ProfileReceipt): anyone checks it with
// the CA's root and outside software —
//
//	openssl cms -verify -inform DER -in receipt.p7m -CAfile root.pem
//
// verifies the signature and the certificate path and prints the JSON.
// The receipt is recorded in the same database write as the approval
// (store.ApproveTransaction, store.PutAuthCode), so no approval exists
// without it, and its ID travels with the activation data the approval
// yields into every signature.create audit event made under it: the
// history (KeyHistory) names each signature's receipt.

// ReceiptVersion is the version of Receipt's JSON this code writes. A
// change that removes or redefines a field takes the next number; one
// that adds a field does not.
const ReceiptVersion = 1

// ReceiptType is the JSON's "type": what the document is.
const ReceiptType = "kyso.consent-receipt"

// Receipt kinds: what the owner approved.
const (
	ReceiptTransaction = "transaction" // a SmartCA-dialect transaction (Approve)
	ReceiptOAuth2Code  = "oauth2code"  // a CSC oauth2code consent (ApproveOAuth)
)

// What a document's owner was shown (ReceiptDocument.Shown).
const (
	// ShownPages: the pages of the PDF, rendered from the bytes whose
	// digest the approval covers.
	ShownPages = "pages"
	// ShownHash: the name and hash only; the portal did not send the
	// document, or the front end did not show it.
	ShownHash = "hash"
)

// Bounds on what a receipt keeps of the device.
const (
	MaxReceiptUserAgent = 256
	MaxReceiptAddress   = 64
)

// Receipt is a consent receipt's content, the JSON the SignedData
// carries. Field names are stable (docs/DESIGN.md, "The citizen's app").
// Every text a portal or a browser wrote (description, document names,
// user agent) is data here, JSON-escaped, and nothing else.
type Receipt struct {
	Version int    `json:"version"`
	Type    string `json:"type"`
	ID      string `json:"id"`
	// Service is the provider's name, as its CA certificates say it.
	Service string `json:"service"`
	// Kind is ReceiptTransaction or ReceiptOAuth2Code.
	Kind       string            `json:"kind"`
	Portal     ReceiptPortal     `json:"portal"`
	Owner      ReceiptOwner      `json:"owner"`
	Credential ReceiptCredential `json:"credential"`
	// Description is the portal's description of the request, as shown.
	Description string            `json:"description"`
	Documents   []ReceiptDocument `json:"documents"`
	// ApprovedAt is when the service accepted the owner's factors (UTC,
	// RFC 3339).
	ApprovedAt time.Time `json:"approved_at"`
	// Factors are the factors the approval checked, in the order checked:
	// "pin", "totp" (a later version may add "passkey").
	Factors []string      `json:"factors"`
	Device  ReceiptDevice `json:"device"`
	// TransactionID is the transaction approved (kind transaction).
	TransactionID string `json:"transaction_id,omitempty"`
	// Scope is the oauth2code scope approved: "credential" or "service".
	Scope string `json:"scope,omitempty"`
	// ActivationID names the activation data the approval authorised:
	// the signatures made under it carry it in the audit log (for
	// oauth2code, made when the portal exchanges the code; empty for
	// scope service, which authorises no signature).
	ActivationID string `json:"activation_id"`
}

// ReceiptPortal is the relying party that asked.
type ReceiptPortal struct {
	ClientID string `json:"client_id"`
	// Name is the name it registered, what the owner was shown.
	Name string `json:"name"`
}

// ReceiptOwner is the owner who approved.
type ReceiptOwner struct {
	ID         string `json:"id"`
	NationalID string `json:"national_id"`
}

// ReceiptCredential is the credential whose key the approval unlocks.
type ReceiptCredential struct {
	ID string `json:"id"`
	// CertificateSerial is its certificate's serial, in hexadecimal as
	// openssl prints it.
	CertificateSerial string `json:"certificate_serial"`
}

// ReceiptDocument is one document, or one hash, the owner approved.
type ReceiptDocument struct {
	// Name is the portal's name for it (SmartCA doc_id); empty when the
	// portal named none (CSC hashes).
	Name string `json:"name"`
	// HashAlgorithm names the hash: "SHA-256", "SHA-384", "SHA-512".
	HashAlgorithm string `json:"hash_algorithm"`
	// Hash is the approved hash, lowercase hexadecimal.
	Hash string `json:"hash"`
	// Shown is ShownPages or ShownHash.
	Shown string `json:"shown"`
}

// ReceiptDevice is where the approval came from, as kysod saw it.
type ReceiptDevice struct {
	// UserAgent is the request's User-Agent, at most
	// MaxReceiptUserAgent bytes.
	UserAgent string `json:"user_agent"`
	// Address is the source address of the request as kysod saw it
	// (behind a proxy, the proxy's).
	Address string `json:"address"`
}

// ApprovalOrigin is what a front end tells the service about an approval
// it relays: the device, and whether it showed the owner the rendered
// pages of the PDFs. WithApprovalOrigin puts it in the context Approve and
// ApproveOAuth are called with; without it a receipt records no device
// and every document as ShownHash.
type ApprovalOrigin struct {
	UserAgent string
	Address   string
	// PagesShown says the owner was shown the rendered pages of every PDF
	// the service holds for the request (the app's request page).
	PagesShown bool
}

type originKey struct{}

// WithApprovalOrigin returns ctx carrying o, for Approve and ApproveOAuth.
func WithApprovalOrigin(ctx context.Context, o ApprovalOrigin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// approvalOrigin returns the origin in ctx, bounded.
func approvalOrigin(ctx context.Context) ApprovalOrigin {
	o, _ := ctx.Value(originKey{}).(ApprovalOrigin)
	o.UserAgent = bounded(o.UserAgent, MaxReceiptUserAgent)
	o.Address = bounded(o.Address, MaxReceiptAddress)
	return o
}

// bounded returns s as valid UTF-8 of at most max bytes, cut at a
// character's boundary.
func bounded(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// receiptFactors lists the factors checkFactors passed (its kind:
// "pin+otp", "passkey") as a receipt names them: PIN and TOTP code, or a
// passkey whose authenticator verified the user (the only kind a passkey
// is accepted as).
func receiptFactors(kind string) []string {
	if kind == "passkey" {
		return []string{"passkey-uv"}
	}
	return []string{"pin", "totp"}
}

// receiptSigner caches the receipt key and certificate between approvals.
type receiptSigner struct {
	mu     sync.Mutex
	cert   *x509.Certificate
	chain  []*x509.Certificate
	signer crypto.Signer
}

// receiptKey returns the current receipt certificate, its chain and its
// key, making them (ca.RenewReceipt) when there are none or the cached
// certificate has passed half its life.
func (s *Service) receiptKey(ctx context.Context) (*x509.Certificate, []*x509.Certificate, crypto.Signer, error) {
	r := &s.receipts
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.cert; c != nil && s.now().Before(c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore)/2)) {
		return r.cert, r.chain, r.signer, nil
	}
	if _, _, err := s.ca.RenewReceipt(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("signing: the receipt certificate: %w", err)
	}
	cert, signer, err := s.ca.ReceiptSigner(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing: the receipt key: %w", err)
	}
	chain, err := s.ca.Chain(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	r.cert, r.chain, r.signer = cert, chain, signer
	return cert, chain, signer, nil
}

// receiptFor is what a receipt is made from.
type receiptFor struct {
	id, kind     string
	client       string
	owner        *store.Owner
	cred         *store.Credential
	description  string
	docs         []ReceiptDocument
	txID, scope  string
	activationID string
	// factors is checkFactors' kind of the approval.
	factors string
	at      time.Time
}

// makeReceipt writes and signs the receipt, and returns the record to
// store with the approval.
func (s *Service) makeReceipt(ctx context.Context, f *receiptFor) (*store.Receipt, error) {
	cert, chain, signer, err := s.receiptKey(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.st.GetClient(ctx, f.client)
	if err != nil {
		return nil, fmt.Errorf("signing: the client of receipt %s: %w", f.id, err)
	}
	o := approvalOrigin(ctx)
	docs := f.docs
	if docs == nil {
		docs = []ReceiptDocument{}
	}
	service := cert.Subject.CommonName
	if len(cert.Subject.Organization) > 0 {
		service = cert.Subject.Organization[0]
	}
	r := &Receipt{Version: ReceiptVersion, Type: ReceiptType, ID: f.id, Service: service, Kind: f.kind,
		Portal:      ReceiptPortal{ClientID: c.ID, Name: c.Name},
		Owner:       ReceiptOwner{ID: f.owner.ID, NationalID: f.owner.NationalID},
		Description: f.description, Documents: docs, ApprovedAt: f.at.UTC(), Factors: receiptFactors(f.factors),
		Device:        ReceiptDevice{UserAgent: o.UserAgent, Address: o.Address},
		TransactionID: f.txID, Scope: f.scope, ActivationID: f.activationID}
	if f.cred != nil {
		r.Credential = ReceiptCredential{ID: f.cred.ID, CertificateSerial: ca.FormatSerial(f.cred.CertSerial)}
	}
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	der, err := cms.SignAttached(ctx, &cms.SignerInfoRequest{Certificate: cert, Chain: chain, SigningTime: f.at}, append(body, '\n'), signer)
	if err != nil {
		return nil, fmt.Errorf("signing: signing receipt %s: %w", f.id, err)
	}
	return &store.Receipt{ID: f.id, OwnerID: f.owner.ID, ClientID: c.ID, TransactionID: f.txID, ActivationID: f.activationID,
		CMS: der, CreatedAt: f.at}, nil
}

// receiptDocuments lists a transaction's documents as its receipt names
// them.
func receiptDocuments(x *Transaction, pagesShown bool) []ReceiptDocument {
	out := make([]ReceiptDocument, len(x.Documents))
	for i, d := range x.Documents {
		shown := ShownHash
		if d.PDF != nil && pagesShown {
			shown = ShownPages
		}
		out[i] = ReceiptDocument{Name: d.DocID, HashAlgorithm: x.HashAlgorithm.String(), Hash: hex.EncodeToString(d.Hash), Shown: shown}
	}
	return out
}

// ReceiptFile is a receipt as downloaded: the DER SignedData and a file
// name for it.
type ReceiptFile struct {
	ID  string
	DER []byte
}

// FileName is the name a download offers: "kyso-receipt-<ID>.p7m".
func (f *ReceiptFile) FileName() string { return "kyso-receipt-" + f.ID + ".p7m" }

// ReceiptContentType is the media type of a receipt download (RFC 8551
// section 3.2.1: signed-data, carrying its content).
const ReceiptContentType = "application/pkcs7-mime; smime-type=signed-data"

// OwnerReceipt returns one of the owner's receipts; another owner's, or
// none, is not found.
func (s *Service) OwnerReceipt(ctx context.Context, ownerID, id string) (*ReceiptFile, error) {
	return s.receiptFile(ctx, id, func(r *store.Receipt) bool { return r.OwnerID == ownerID })
}

// ClientReceipt returns a receipt of a consent given to the client (an
// oauth2code consent's, or a transaction's); another client's is not
// found.
func (s *Service) ClientReceipt(ctx context.Context, clientID, id string) (*ReceiptFile, error) {
	return s.receiptFile(ctx, id, func(r *store.Receipt) bool { return r.ClientID == clientID })
}

// ClientTransactionReceipt returns the receipt of the approval of one of
// the client's transactions (by kyso's ID or the client's reference, as
// ClientTransaction finds it); not found for another client's transaction
// and for one not approved.
func (s *Service) ClientTransactionReceipt(ctx context.Context, clientID, txID string) (*ReceiptFile, error) {
	t, err := s.ClientTransaction(ctx, clientID, txID)
	if err != nil {
		return nil, err
	}
	r, err := s.st.GetTransactionReceipt(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "the transaction has no receipt: the owner has not approved it")
	}
	if err != nil {
		return nil, err
	}
	return &ReceiptFile{ID: r.ID, DER: r.CMS}, nil
}

// receiptFile reads a receipt by ID for a caller it belongs to (mine);
// an ID that cannot name one, and another's, are not found.
func (s *Service) receiptFile(ctx context.Context, id string, mine func(*store.Receipt) bool) (*ReceiptFile, error) {
	if !validID(id) {
		return nil, fail(KindNotFound, "no such receipt")
	}
	r, err := s.st.GetReceipt(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !mine(r)) {
		return nil, fail(KindNotFound, "no such receipt")
	}
	if err != nil {
		return nil, err
	}
	return &ReceiptFile{ID: r.ID, DER: r.CMS}, nil
}

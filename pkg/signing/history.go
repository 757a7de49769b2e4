package signing

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// OwnerTransaction returns one of the owner's pending transactions with
// its documents (a PDF's bytes included), for the owner to look at before
// deciding. Another owner's transaction is not found, as in Approve.
func (s *Service) OwnerTransaction(ctx context.Context, ownerID, txID string) (*Transaction, error) {
	t, _, err := s.ownerTransaction(ctx, ownerID, txID)
	if err != nil {
		return nil, err
	}
	return s.decode(t)
}

// Use is one signature an owner's key made, as the audit log recorded it
// (signature.create): who asked, when, for which document, over which
// digest.
type Use struct {
	// EventID is the audit event's ID: what a dispute names.
	EventID int64
	Time    time.Time
	// ClientID is the relying party that asked; empty if unknown.
	ClientID string
	// CredentialID is the credential that signed.
	CredentialID string
	// TransactionID is the transaction the signature belongs to (SmartCA
	// dialect, the owners' approval); empty for CSC signHash.
	TransactionID string
	// DocID is the document's name when a transaction named it.
	DocID string
	// Digest is what the key signed; for a PDF, the digest of its signed
	// attributes. HashAlgorithm names its hash ("SHA-256").
	Digest        []byte
	HashAlgorithm string
	// ReceiptID names the consent receipt of the owner's approval that
	// allowed the signature (OwnerReceipt gives it); empty for a CSC
	// explicit authorisation, whose factors the portal collected, and
	// for signatures from before receipts.
	ReceiptID string
}

// historyPage is how many audit events KeyHistory reads at a time.
const historyPage = 1000

// KeyHistory lists every signature the owner's keys made, newest first,
// from the audit log: the events signature.create with outcome intent (a
// hash signed under activation data, recorded before the key signs) or
// ok (a PDF's signature, recorded after it). An intent whose signature
// then failed is listed too: the record errs towards showing the owner
// more. It reads the owner's signature events only, through an index
// (store.ListOwnerSignatures), so it costs what the owner's history does,
// however long the log.
func (s *Service) KeyHistory(ctx context.Context, ownerID string) ([]Use, error) {
	var out []Use
	type txDocs struct {
		client string
		docs   []Document
		seen   int
	}
	txs := map[string]*txDocs{}
	intents, oks := map[string]int{}, map[string]int{}
	for after := int64(0); ; {
		events, err := s.st.ListOwnerSignatures(ctx, ownerID, after, historyPage)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			after = e.ID
			if e.Action != "signature.create" || (e.Outcome != "intent" && e.Outcome != "ok") {
				continue
			}
			var d struct {
				Owner, Transaction, Activation, Digest, Hash, Receipt string
			}
			if json.Unmarshal(e.Details, &d) != nil || d.Owner != ownerID {
				continue
			}
			// One signature may have two events: the intent written with
			// the spending of its SAD, and the ok written when it was
			// delivered (a transaction's). It is one use: listed once,
			// however many of the two kinds its activation and digest have.
			k := d.Activation + "/" + d.Digest
			mine, other := intents, oks
			if e.Outcome == "ok" {
				mine, other = oks, intents
			}
			if mine[k]++; mine[k] <= other[k] {
				continue // the other event of a use already listed
			}
			u := Use{EventID: e.ID, Time: e.Time, CredentialID: e.Subject, TransactionID: d.Transaction, HashAlgorithm: d.Hash, ReceiptID: d.Receipt}
			u.Digest, _ = base64.StdEncoding.DecodeString(d.Digest)
			if c, ok := strings.CutPrefix(e.Actor, "client:"); ok {
				u.ClientID = c
			}
			if d.Transaction != "" {
				x := txs[d.Transaction]
				if x == nil {
					x = &txDocs{}
					if t, err := s.st.GetTransaction(ctx, d.Transaction); err == nil {
						if dt, err := s.decode(t); err == nil {
							x.client, x.docs = t.ClientID, dt.Documents
						}
					} else if !errors.Is(err, store.ErrNotFound) {
						return nil, err
					}
					txs[d.Transaction] = x
				}
				if u.ClientID == "" {
					u.ClientID = x.client
				}
				// A transaction's signatures are audited in the order of
				// its documents; a hash's digest names its own.
				for _, doc := range x.docs {
					if string(doc.Hash) == string(u.Digest) {
						u.DocID = doc.DocID
					}
				}
				if u.DocID == "" && x.seen < len(x.docs) {
					u.DocID = x.docs[x.seen].DocID
				}
				x.seen++
			}
			out = append(out, u)
		}
		if len(events) < historyPage {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// SuspendOwn is the owner's "I did not do this" (Tôi không thực hiện giao
// dịch này): it suspends the certificate of the owner's credential at
// once (RFC 5280 certificateHold, as `kyso cert suspend` does; Decree
// 23/2025 lets the subscriber ask), so that the next signature is refused
// by the pre-signing check, and audits the owner's statement
// (owner.disown, naming the audit event disputed, if any). It tells the
// provider's operators, who call the owner: a Dispute by webhook to
// Config.OperatorClient, queued in the outbox (at least once, keyed
// "owner.disown:<intent event ID>"), and a warning in the log. Another
// owner's credential is not found. A certificate already suspended or
// revoked is no error: the key signs nothing either way.
func (s *Service) SuspendOwn(ctx context.Context, ownerID, credentialID string, disputed int64) error {
	if !validID(credentialID) {
		return fail(KindNotFound, "no such credential")
	}
	cred, err := s.st.GetCredential(ctx, credentialID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cred.OwnerID != ownerID) {
		return fail(KindNotFound, "no such credential")
	}
	if err != nil {
		return err
	}
	actor := "owner:" + ownerID
	details := map[string]any{"credential": cred.ID, "serial": ca.FormatSerial(cred.CertSerial), "disputed_event": disputed}
	intent, err := s.auditEvent(actor, "owner.disown", cred.ID, "intent", details)
	if err != nil {
		return err
	}
	if err := s.st.AppendAudit(ctx, intent); err != nil {
		return fmt.Errorf("signing: auditing owner.disown: %w", err)
	}
	err = s.ca.Suspend(ctx, cred.CertSerial, time.Time{})
	if err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
		_ = s.audit(ctx, actor, "owner.disown", cred.ID, "error", map[string]any{"credential": cred.ID, "error": err.Error()})
		return fmt.Errorf("signing: suspending the certificate of credential %s: %w", cred.ID, err)
	}
	s.log.WarnContext(ctx, "an owner says they did not make a signature: the certificate is suspended; call them", "owner", ownerID, "credential", cred.ID, "disputed_event", disputed)
	// The suspension stands whether or not the operators could be told:
	// the owner is answered, and the audit event says which.
	details["operators_told"] = s.tellOperators(ctx, cred, disputed, intent)
	return s.audit(ctx, actor, "owner.disown", cred.ID, "ok", details)
}

// Dispute is the body of the webhook that tells the provider's operators
// (Config.OperatorClient) that an owner disputes a signature: the
// certificate is suspended; call the owner, and release it (`kyso cert
// release`) or revoke it.
type Dispute struct {
	// Event is "owner.disown".
	Event        string `json:"event"`
	OwnerID      string `json:"owner_id"`
	NationalID   string `json:"national_id"`
	CredentialID string `json:"credential_id"`
	// Serial is the suspended certificate's serial number, hex.
	Serial string `json:"certificate_serial"`
	// DisputedEvent is the audit event of the signature the owner says
	// they did not make; zero when they named none.
	DisputedEvent int64 `json:"disputed_event,omitempty"`
	// AuditEvent is the owner.disown intent event.
	AuditEvent int64     `json:"audit_event"`
	Time       time.Time `json:"time"`
}

// tellOperators queues the Dispute for Config.OperatorClient's webhook
// and reports whether it did.
func (s *Service) tellOperators(ctx context.Context, cred *store.Credential, disputed int64, intent *store.AuditEvent) bool {
	if s.cfg.OperatorClient == "" {
		return false
	}
	c, err := s.st.GetClient(ctx, s.cfg.OperatorClient)
	if err == nil && (c.WebhookURL == "" || c.Disabled) {
		err = errors.New("the client has no webhook URL, or is disabled")
	}
	var o *store.Owner
	if err == nil {
		o, err = s.st.GetOwner(ctx, cred.OwnerID)
	}
	var body []byte
	if err == nil {
		body, err = json.Marshal(&Dispute{Event: "owner.disown", OwnerID: cred.OwnerID, NationalID: o.NationalID, CredentialID: cred.ID,
			Serial: ca.FormatSerial(cred.CertSerial), DisputedEvent: disputed, AuditEvent: intent.ID, Time: intent.Time})
	}
	if err == nil {
		err = s.st.EnqueueWebhook(ctx, s.newWebhook(ctx, c, body, fmt.Sprintf("owner.disown:%d", intent.ID)))
	}
	if err != nil {
		s.log.ErrorContext(ctx, "signing: the operators were not told of an owner's dispute (Config.OperatorClient): read the log and the audit trail",
			"operator_client", s.cfg.OperatorClient, "credential", cred.ID, "err", err)
		return false
	}
	return true
}

// OwnerCredentials lists the owner's credentials, oldest first.
func (s *Service) OwnerCredentials(ctx context.Context, ownerID string) ([]*store.Credential, error) {
	if !validID(ownerID) {
		return nil, fail(KindNotFound, "no such owner")
	}
	return s.st.ListCredentials(ctx, ownerID)
}

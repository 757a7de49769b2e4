package signing

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Renewal policies (Config.RenewalPolicy): whether the provider charges
// for a renewal. Either way the renewal is recorded and counted
// (CountRenewals, `kyso usage`).
const (
	RenewalFree    = "free"
	RenewalMetered = "metered"
)

// RenewalClaim is how long an owner's approved renewal holds the
// certificate's renewal while the key and certificate are made (well
// under a second, or a few on a loaded HSM); a renewal whose replica
// died is open again after it. It only saves work: were a slow renewal
// to outlive its claim and another start, the credential still moves
// once (store.FinishRenewal moves it only from the serial it names), and
// the loser's certificate is revoked at once.
const RenewalClaim = 30 * time.Second

// noticeDays are the days before a certificate's end when the portals
// holding its credential are told (NotifyExpiring), nearest first; the
// owner's app shows a banner from the last of them.
var noticeDays = []int{7, 30}

// RenewalState is what the owner's app shows of a credential's
// certificate and its renewal.
type RenewalState struct {
	CredentialID string
	Serial       string
	NotAfter     time.Time
	// DaysLeft is the whole days to NotAfter (0 on the last day).
	DaysLeft int
	// Status is the certificate's: good, hold, revoked, or expired.
	Status string
	// Requested names the operator who asked the owner to renew it;
	// empty when nobody asked.
	Requested string
	// Renewable: good and unexpired, no renewal done or under way.
	Renewable bool
	// Metered: the provider charges for the renewal (RenewalMetered).
	Metered bool
}

// Expiring reports whether the owner should be told: within 30 days.
func (r *RenewalState) Expiring() bool { return r.Status == store.StatusGood && r.DaysLeft < 30 }

// RenewalStates lists the renewal state of each of the owner's active
// credentials, oldest first.
func (s *Service) RenewalStates(ctx context.Context, ownerID string) ([]*RenewalState, error) {
	creds, err := s.OwnerCredentials(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	var out []*RenewalState
	for _, c := range creds {
		if c.Status != "active" {
			continue
		}
		st, err := s.renewalState(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// RenewalState returns the renewal state of the owner's credential;
// another owner's is not found.
func (s *Service) RenewalState(ctx context.Context, ownerID, credentialID string) (*RenewalState, error) {
	cred, err := s.ownCredential(ctx, ownerID, credentialID)
	if err != nil {
		return nil, err
	}
	return s.renewalState(ctx, cred)
}

func (s *Service) renewalState(ctx context.Context, cred *store.Credential) (*RenewalState, error) {
	rec, err := s.st.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
	if err != nil {
		return nil, fmt.Errorf("signing: the certificate of credential %s: %w", cred.ID, err)
	}
	now := s.now()
	st := &RenewalState{CredentialID: cred.ID, Serial: ca.FormatSerial(rec.Serial), NotAfter: rec.NotAfter, Status: rec.Status,
		Metered: s.cfg.RenewalPolicy == RenewalMetered}
	if !now.Before(rec.NotAfter) {
		st.Status = "expired"
	} else {
		st.DaysLeft = int(rec.NotAfter.Sub(now) / (24 * time.Hour))
	}
	r, err := s.st.GetRenewal(ctx, cred.ID, cred.CertSerial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st.Renewable = st.Status == store.StatusGood
	case err != nil:
		return nil, err
	default:
		if r.Status == store.RenewalRequested {
			st.Requested = r.RequestedBy
		}
		st.Renewable = st.Status == store.StatusGood && (r.Status == store.RenewalRequested ||
			(r.Status == store.RenewalIssuing && r.ClaimedUntil.Before(now)))
	}
	return st, nil
}

// ownCredential returns the owner's credential; another owner's, or an
// unknown one, is not found.
func (s *Service) ownCredential(ctx context.Context, ownerID, credentialID string) (*store.Credential, error) {
	if !validID(credentialID) || !validID(ownerID) {
		return nil, fail(KindNotFound, "no such credential")
	}
	cred, err := s.st.GetCredential(ctx, credentialID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cred.OwnerID != ownerID) {
		return nil, fail(KindNotFound, "no such credential")
	}
	return cred, err
}

// renewable refuses a credential whose certificate cannot be renewed: a
// disabled credential, a revoked, suspended or expired certificate. A
// revoked or expired one ends the credential: the citizen enrols again,
// with their identity checked anew; a suspended one waits for the
// provider to release it.
func (s *Service) renewable(ctx context.Context, cred *store.Credential) (*store.Certificate, error) {
	if cred.Status != "active" {
		return nil, fail(KindConflict, "credential %s is disabled and cannot be renewed", cred.ID)
	}
	rec, err := s.st.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
	if err != nil {
		return nil, fmt.Errorf("signing: the certificate of credential %s: %w", cred.ID, err)
	}
	switch {
	case rec.Status == store.StatusRevoked:
		return nil, fail(KindConflict, "the certificate of credential %s is revoked and cannot be renewed: enrol again", cred.ID)
	case rec.Status == store.StatusHold:
		return nil, fail(KindConflict, "the certificate of credential %s is suspended and cannot be renewed until the provider releases it", cred.ID)
	case !s.now().Before(rec.NotAfter):
		return nil, fail(KindConflict, "the certificate of credential %s has expired and cannot be renewed: enrol again", cred.ID)
	}
	return rec, nil
}

// RequestRenewal records an operator's request (`kyso cert renew`, the
// officers' API) that the owner renew the credential's certificate: the
// owner approves it in the app with their factors, and nothing is made
// before. A second request for the same certificate is a conflict.
func (s *Service) RequestRenewal(ctx context.Context, credentialID, actor string) (*RenewalState, error) {
	if !validID(credentialID) {
		return nil, fail(KindNotFound, "no such credential")
	}
	cred, err := s.st.GetCredential(ctx, credentialID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no such credential")
	}
	if err != nil {
		return nil, err
	}
	rec, err := s.renewable(ctx, cred)
	if err != nil {
		_ = s.audit(ctx, actor, "credential.renew.request", cred.ID, "refused", map[string]any{"credential": cred.ID, "reason": err.Error()})
		return nil, err
	}
	e, err := s.auditEvent(actor, "credential.renew.request", cred.ID, "ok", map[string]any{
		"credential": cred.ID, "owner": cred.OwnerID, "serial": ca.FormatSerial(rec.Serial), "not_after": rec.NotAfter})
	if err != nil {
		return nil, err
	}
	err = s.st.RequestRenewal(ctx, &store.Renewal{CredentialID: cred.ID, FromSerial: cred.CertSerial, OwnerID: cred.OwnerID,
		RequestedBy: actor, RequestedAt: s.now()}, e)
	if errors.Is(err, store.ErrExists) {
		return nil, fail(KindConflict, "the renewal of credential %s's certificate was asked for, or made, already", cred.ID)
	}
	if err != nil {
		return nil, err
	}
	return s.renewalState(ctx, cred)
}

// RenewRequest is an owner's renewal of one of their credentials.
type RenewRequest struct {
	OwnerID, CredentialID string
	// Factors are the owner's approval: PIN and code, or a passkey
	// answering RenewalPasskeyOptions.
	Factors *Factors
	// RevokeOld revokes the old certificate (superseded) once the new one
	// is recorded; otherwise it is left to expire, and signatures made
	// with it stay valid either way.
	RevokeOld bool
}

// Renewed is a renewal made.
type Renewed struct {
	CredentialID string
	Old, New     *x509.Certificate
	Metered      bool
}

// Renew renews the owner's credential: a new key in the key store, a new
// citizen certificate for it (same subject, same credential ID), the
// credential moved to them in one write, the old certificate left to
// expire or, when asked, revoked as superseded. The owner's factors are
// checked first, under the attempt counter every approval shares; then
// the certificate's renewal is claimed in the database, so two approvals
// at once make one certificate, and the other is a conflict.
func (s *Service) Renew(ctx context.Context, req *RenewRequest) (*Renewed, error) {
	cred, err := s.ownCredential(ctx, req.OwnerID, req.CredentialID)
	if err != nil {
		return nil, err
	}
	actor := "owner:" + cred.OwnerID
	rec, err := s.renewable(ctx, cred)
	if err != nil {
		_ = s.audit(ctx, actor, "credential.renew", cred.ID, "refused", map[string]any{"credential": cred.ID, "reason": err.Error()})
		return nil, err
	}
	o, err := s.st.GetOwner(ctx, cred.OwnerID)
	if err != nil {
		return nil, err
	}
	use := renewUse(o.ID, cred, req.RevokeOld)
	factors, err := s.checkFactors(ctx, o, req.Factors, &use)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx) // what is decided runs to its end
	now := s.now()
	claim := &store.Renewal{CredentialID: cred.ID, FromSerial: cred.CertSerial, OwnerID: o.ID, RequestedBy: actor,
		RequestedAt: now, ClaimedUntil: now.Add(RenewalClaim)}
	if err := s.st.ClaimRenewal(ctx, claim, now); errors.Is(err, store.ErrConflict) {
		_ = s.audit(ctx, actor, "credential.renew", cred.ID, "refused", map[string]any{"credential": cred.ID, "reason": "under way or done"})
		return nil, fail(KindConflict, "credential %s's certificate is being renewed (if that renewal stopped, try again in %v), or was renewed already", cred.ID, RenewalClaim)
	} else if err != nil {
		return nil, err
	}
	old, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, fmt.Errorf("signing: credential %s's certificate: %w", cred.ID, err)
	}
	metered := s.cfg.RenewalPolicy == RenewalMetered
	details := map[string]any{"credential": cred.ID, "old_serial": ca.FormatSerial(rec.Serial), "factors": factors,
		"metered": metered, "revoke_old": req.RevokeOld}
	if err := s.audit(ctx, actor, "credential.renew", cred.ID, "intent", details); err != nil {
		return nil, err
	}
	failed := func(err error) (*Renewed, error) {
		d := map[string]any{"credential": cred.ID, "old_serial": details["old_serial"], "error": err.Error()}
		_ = s.audit(ctx, actor, "credential.renew", cred.ID, "error", d)
		return nil, err
	}
	suffix, err := randomID(s.cfg.Rand, 5)
	if err != nil {
		return failed(err)
	}
	alg := hsm.Algorithm(cred.Algorithm)
	label, src, blob, err := s.newKey(ctx, cred.ID+keyRenewalSep+suffix, alg)
	if err != nil {
		return failed(err)
	}
	cr := &ca.CitizenRequest{Name: old.Subject.CommonName, CCCD: strings.TrimPrefix(o.NationalID, "CCCD:"), Key: src,
		Actor: actor, Renews: rec.Serial, Email: o.Email}
	if len(old.Subject.Province) > 0 {
		cr.Province = old.Subject.Province[0]
	}
	if len(old.Subject.Locality) > 0 {
		cr.Locality = old.Subject.Locality[0]
	}
	if len(old.EmailAddresses) > 0 {
		cr.Email = old.EmailAddresses[0]
	}
	cert, err := s.ca.IssueCitizen(ctx, cr)
	if err != nil {
		s.dropKey(ctx, src.KeyLabel, "a refused renewal")
	}
	if errors.Is(err, ca.ErrCampaignHolder) {
		// Renewed already: the certificate the last renewal replaced is
		// still in force, and a campaign signature has at most those two.
		return failed(&Error{Kind: KindConflict, Err: err, Description: "credential " + cred.ID +
			" was renewed recently and the certificate it replaced is still in force: renew again once it has expired or been revoked"})
	}
	if err != nil {
		return failed(&Error{Kind: KindInternal, Description: "issuing the renewed certificate", Err: err})
	}
	next := *cred
	next.KeyURI, next.WrappedKey, next.CertIssuer, next.CertSerial = label, blob, ca.IssuingName, cert.SerialNumber.Bytes()
	claim.NewSerial, claim.Metered, claim.DoneAt = next.CertSerial, metered, s.now()
	details["new_serial"] = ca.FormatSerialInt(cert.SerialNumber)
	details["not_after"] = cert.NotAfter
	done, err := s.auditEvent(actor, "credential.renew", cred.ID, "ok", details)
	if err != nil {
		return failed(err)
	}
	if err := s.st.FinishRenewal(ctx, claim, &next, done); err != nil {
		// The new certificate names a key no credential holds: retire it.
		if rerr := s.ca.Revoke(ctx, next.CertSerial, store.ReasonSuperseded, time.Time{}); rerr != nil {
			s.log.ErrorContext(ctx, "signing: revoking the certificate of an unfinished renewal", "credential", cred.ID, "serial", details["new_serial"], "err", rerr)
		} else {
			s.dropKey(ctx, src.KeyLabel, "an unfinished renewal")
		}
		return failed(fmt.Errorf("signing: recording the renewal of credential %s: %w", cred.ID, err))
	}
	s.failStaleAfterRenewal(ctx, &next)
	if req.RevokeOld {
		err := s.ca.Revoke(ctx, rec.Serial, store.ReasonSuperseded, time.Time{})
		if err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
			_ = s.audit(ctx, actor, "credential.renew.revoke_old", cred.ID, "error", map[string]any{"serial": details["old_serial"], "error": err.Error()})
			return nil, fmt.Errorf("signing: the certificate was renewed, but revoking the old one failed: %w", err)
		}
		if err := s.audit(ctx, actor, "credential.renew.revoke_old", cred.ID, "ok", map[string]any{"serial": details["old_serial"], "reason": "superseded"}); err != nil {
			return nil, err
		}
	}
	return &Renewed{CredentialID: cred.ID, Old: old, New: cert, Metered: metered}, nil
}

// failStaleAfterRenewal fails the credential's pending transactions whose
// hashes were computed for the certificate just replaced (staleHashes),
// so their portals hear of it now, by webhook, rather than when the
// owner tries to approve. The approval checks again; a failure here is
// logged, not the renewal's.
func (s *Service) failStaleAfterRenewal(ctx context.Context, cred *store.Credential) {
	pending, err := s.st.ListTransactions(ctx, &store.TransactionFilter{OwnerID: cred.OwnerID, Status: store.TxPending, Limit: 1000})
	if err != nil {
		s.log.ErrorContext(ctx, "signing: listing the transactions a renewal made stale", "credential", cred.ID, "err", err)
		return
	}
	for _, t := range pending {
		if t.CredentialID != cred.ID {
			continue
		}
		x, err := s.decode(t)
		if err == nil {
			err = s.failStale(ctx, t, x, cred, "kysod")
		}
		if refusal := (*Error)(nil); err != nil && !errors.As(err, &refusal) {
			s.log.ErrorContext(ctx, "signing: failing a transaction a renewal made stale", "transaction", t.ID, "err", err)
		}
	}
}

// keyRenewalSep separates a credential's ID from the suffix of a renewed
// key's name ("cred-<ID>.<suffix>"): a credential ID never holds it.
const keyRenewalSep = "."

// credentialOfKey is the credential ID a key's name (after
// CredentialKeyPrefix or "wrapped:") belongs to.
func credentialOfKey(name string) string {
	id, _, _ := strings.Cut(name, keyRenewalSep)
	return id
}

// renewUse binds a passkey's answer to the renewal of the credential's
// present certificate, and to what becomes of it (revokeOld): an answer
// made to let the old certificate expire cannot revoke it.
func renewUse(ownerID string, cred *store.Credential, revokeOld bool) passkeyUse {
	old := []byte("keep-old")
	if revokeOld {
		old = []byte("revoke-old")
	}
	return passkeyUse{purposeApprove, ownerID, binding(purposeApprove, []byte("renewal"), []byte(cred.ID), cred.CertSerial, old)}
}

// RenewalPasskeyOptions issues a passkey challenge bound to the renewal
// of the owner's credential's present certificate, revoking it or
// letting it expire as revokeOld says (RenewRequest.RevokeOld).
func (s *Service) RenewalPasskeyOptions(ctx context.Context, ownerID, credentialID string, revokeOld bool) ([]byte, error) {
	if s.rp == nil {
		return nil, s.passkeysOff()
	}
	cred, err := s.ownCredential(ctx, ownerID, credentialID)
	if err != nil {
		return nil, err
	}
	o, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	return s.ownerPasskeyOptions(ctx, o, renewUse(ownerID, cred, revokeOld))
}

// Expiring is the body of the credential.expiring webhook: the
// certificate of a credential the portal holds ends in DaysLeft days
// (30, then 7); the owner renews it in the app.
type Expiring struct {
	// Event is "credential.expiring".
	Event        string    `json:"event"`
	CredentialID string    `json:"credential_id"`
	Serial       string    `json:"certificate_serial"`
	NotAfter     time.Time `json:"not_after"`
	DaysLeft     int       `json:"days_left"`
}

// NotifyExpiring sends the notices of certificates ending within 30 and
// 7 days: a credential.expiring webhook to each portal holding the
// credential (a client with a transaction or activation data of it, a
// webhook URL, not disabled), and an audit event. Each notice is
// recorded with its webhooks in one write whose key (credential,
// certificate, days) makes it once across restarts and replicas. A
// certificate first seen within 7 days gets only the 7-day notice. It
// returns how many notices it sent; the dispatcher runs it each round.
func (s *Service) NotifyExpiring(ctx context.Context) (int, error) {
	now := s.now()
	sent := 0
	from := now
	for _, days := range noticeDays {
		to := now.Add(time.Duration(days) * 24 * time.Hour)
		list, err := s.st.ListExpiring(ctx, from, to, days, 1000)
		if err != nil {
			return sent, err
		}
		for _, e := range list {
			ok, err := s.notifyExpiring(ctx, e, days)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		from = to
	}
	return sent, nil
}

func (s *Service) notifyExpiring(ctx context.Context, e *store.Expiring, days int) (bool, error) {
	serial := ca.FormatSerial(e.Serial)
	body, err := json.Marshal(&Expiring{Event: "credential.expiring", CredentialID: e.CredentialID, Serial: serial, NotAfter: e.NotAfter, DaysLeft: days})
	if err != nil {
		return false, err
	}
	ids, err := s.st.CredentialClients(ctx, e.CredentialID)
	if err != nil {
		return false, err
	}
	var hooks []*store.Webhook
	var portals []string
	for _, id := range ids {
		c, err := s.st.GetClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if c.WebhookURL == "" || c.Disabled {
			continue
		}
		portals = append(portals, c.ID)
		hooks = append(hooks, s.newWebhook(ctx, c, body, fmt.Sprintf("credential.expiring:%s:%s:%d", e.CredentialID, hex.EncodeToString(e.Serial), days)))
	}
	ev, err := s.auditEvent("kyso", "credential.expiring", e.CredentialID, "ok", map[string]any{
		"credential": e.CredentialID, "owner": e.OwnerID, "serial": serial, "not_after": e.NotAfter, "days": days, "portals": portals})
	if err != nil {
		return false, err
	}
	err = s.st.PutExpiryNotice(ctx, &store.ExpiryNotice{CredentialID: e.CredentialID, Serial: e.Serial, Days: days, SentAt: s.now()}, hooks, ev)
	if errors.Is(err, store.ErrExists) {
		return false, nil // another replica sent it
	}
	return err == nil, err
}

// RenewalCount is one citizen's renewals in a usage period.
type RenewalCount struct {
	OwnerID    string `json:"owner_id"`
	NationalID string `json:"national_id"`
	UsageCount
}

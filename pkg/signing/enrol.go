package signing

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/campaignreg"
	"github.com/kyso-pki/kyso/pkg/store"
)

// EnrolRequest enrols a citizen: a key made in the key store, a citizen
// certificate, a PIN and a TOTP second factor.
type EnrolRequest struct {
	// CCCD, Name and Province are the certificate's subject (pkg/ca
	// validates them); Phone and Email reach the owner.
	CCCD, Name, Province string
	Phone, Email         string
	// PIN is the owner's initial PIN: 6 to 12 digits.
	PIN string
	// Algorithm is the key's; empty means ECDSA P-256.
	Algorithm hsm.Algorithm
	// Actor is the registration officer or admin, for the audit trail.
	Actor string
	// Channel is how the citizen is enrolled (store.ChannelDesk …); empty
	// means store.ChannelOperator, the provider's operator. StaffID names
	// the staff member enrolling (empty online and for the operator); Ward
	// is where. EvidenceKind and EvidenceRef say how the identity was
	// checked — EvidenceCCCDChip, EvidenceVNeID, EvidenceCCCDCard,
	// EvidencePassport, with the document's or transaction's reference —
	// never the document's image. ConsentAt is when the citizen consented;
	// zero means now (whoever enrols states the consent by enrolling).
	Channel, StaffID, Ward    string
	EvidenceKind, EvidenceRef string
	ConsentAt                 time.Time
	// Switch, when set, is the citizen's consent to move their campaign
	// signature from the provider holding it to this one: the registry
	// releases the old holding (whose provider then revokes its
	// certificate, superseded) and the free period here is
	// Config.FreeMonths less the whole months used there.
	Switch *campaignreg.Consent

	// pinHash, set by an approved self-registration (register.go), is the
	// PIN the citizen chose, hashed when they chose it; PIN is then empty.
	pinHash string
	// registrationID, set by the same approval, names the registration
	// in the enrolment's record (in its one write), so an approval that
	// stopped after enrolling finds the enrolment.
	registrationID string
}

// EnrolmentRecord returns how the credential was enrolled; KindNotFound
// for an unknown credential or one enrolled before records were kept.
func (s *Service) EnrolmentRecord(ctx context.Context, credentialID string) (*store.EnrolmentRecord, error) {
	if !validID(credentialID) {
		return nil, fail(KindNotFound, "no such credential")
	}
	r, err := s.st.GetEnrolmentRecord(ctx, credentialID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindNotFound, "no enrolment record of credential %s", credentialID)
	}
	return r, err
}

// MaxReportPeriod bounds the period a campaign report covers.
const MaxReportPeriod = 5 * 366 * 24 * time.Hour

// CountEnrolments counts the enrolments of a period by province, ward and
// channel, with their certificates' state now: the campaign's report to
// the authorities (issue 18). The period must start before it ends and
// span at most MaxReportPeriod.
func (s *Service) CountEnrolments(ctx context.Context, f *store.EnrolmentFilter) ([]*store.EnrolmentCount, error) {
	if err := checkReportFilter(f); err != nil {
		return nil, err
	}
	g := *f
	if g.At.IsZero() {
		g.At = s.now()
	}
	return s.st.CountEnrolments(ctx, &g)
}

// checkReportFilter checks a report's period and area.
func checkReportFilter(f *store.EnrolmentFilter) error {
	if f == nil || f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return fail(KindInvalid, "a report's period needs a start before its end")
	}
	if f.To.Sub(f.From) > MaxReportPeriod {
		return fail(KindInvalid, "a report's period spans at most five years")
	}
	for _, v := range []struct{ name, s string }{{"province", f.Province}, {"ward", f.Ward}} {
		if len(v.s) > 128 {
			return fail(KindInvalid, "the %s is longer than 128 bytes", v.name)
		}
		if err := shown(v.name, v.s); err != nil {
			return err
		}
	}
	return nil
}

// Kinds of identity evidence an enrolment names.
const (
	EvidenceCCCDChip = "cccd-chip"    // the CCCD's chip, read by NFC
	EvidenceVNeID    = "vneid-level2" // a level-2 electronic identity (VNeID)
	EvidenceCCCDCard = "cccd-card"    // the CCCD card, checked by eye
	EvidencePassport = "passport"
)

// enrolmentRecord checks how an enrolment says it came about and makes
// its record for credential credID.
func (s *Service) enrolmentRecord(req *EnrolRequest, credID, province string) (*store.EnrolmentRecord, error) {
	r := &store.EnrolmentRecord{CredentialID: credID, Channel: req.Channel, StaffID: strings.TrimSpace(req.StaffID),
		Province: province, Ward: strings.TrimSpace(req.Ward), EvidenceKind: req.EvidenceKind, EvidenceRef: strings.TrimSpace(req.EvidenceRef),
		ConsentAt: req.ConsentAt.UTC(), CreatedAt: s.now(), RegistrationID: req.registrationID}
	if r.Channel == "" {
		r.Channel = store.ChannelOperator
	}
	switch r.Channel {
	case store.ChannelDesk, store.ChannelEvent, store.ChannelHousehold:
	case store.ChannelOnline, store.ChannelOperator:
		if r.StaffID != "" {
			return nil, fail(KindInvalid, "an enrolment through channel %s names no staff member", r.Channel)
		}
	default:
		return nil, fail(KindInvalid, "enrolment channel %q is not desk, event, household, online or operator", r.Channel)
	}
	switch r.EvidenceKind {
	case "", EvidenceCCCDChip, EvidenceVNeID, EvidenceCCCDCard, EvidencePassport:
	default:
		return nil, fail(KindInvalid, "identity evidence %q is not %s, %s, %s or %s", r.EvidenceKind, EvidenceCCCDChip, EvidenceVNeID, EvidenceCCCDCard, EvidencePassport)
	}
	if r.EvidenceKind == "" && r.EvidenceRef != "" {
		return nil, fail(KindInvalid, "an identity evidence reference needs its kind")
	}
	for _, f := range []struct{ name, v string }{{"staff ID", r.StaffID}, {"ward", r.Ward}, {"evidence reference", r.EvidenceRef}} {
		if len(f.v) > 128 {
			return nil, fail(KindInvalid, "the %s is longer than 128 bytes (a reference, never a document's image)", f.name)
		}
		if err := shown(f.name, f.v); err != nil {
			return nil, err
		}
	}
	now := s.now()
	switch {
	case r.ConsentAt.IsZero():
		r.ConsentAt = now
	case r.ConsentAt.After(now.Add(time.Minute)):
		return nil, fail(KindInvalid, "the citizen's consent is dated in the future")
	}
	return r, nil
}

// Enrolment is what an enrolment hands back.
type Enrolment struct {
	OwnerID      string
	CredentialID string
	// NationalID is the owner's identifier with its prefix ("CCCD:…").
	NationalID  string
	Certificate *x509.Certificate
	// TOTPURI is the otpauth:// URI for the owner's authenticator app;
	// show it once (as a QR code) and never log it.
	TOTPURI string
	// KeyLabel is the key's label in the key store (CredentialKeyPrefix
	// and the credential ID) and KeyURI its URI there, for the operator's
	// inventory; both are empty for a key wrapped under a PKCS#11 master
	// key, which lives in the database, never on the token. The key signs
	// only through Sign, with its owner's approval.
	KeyLabel, KeyURI string
	// SwitchedFrom names the provider the citizen's campaign signature
	// moved from (EnrolRequest.Switch), with the whole months used there
	// and the free months left here; empty without a switch.
	SwitchedFrom           string
	MonthsUsed, FreeMonths int
}

// ErrNoMasterKey: Enrol found no master wrapping key in a key store that
// wraps citizens' keys (PKCS#11). The operator makes it once per token,
// with `kyso key create-master`.
var ErrNoMasterKey = errors.New("signing: the key store holds no master wrapping key for citizens' keys yet (`kyso key create-master` makes it, once per token)")

// CredentialKeyPrefix starts the label of every key Enrol makes in a key
// store that keeps keys by label (softkey, Vault). Such a key signs only
// through Sign, with its owner's approval: tools that sign with a key by
// label refuse these (IsCredentialKey).
const CredentialKeyPrefix = "cred-"

// IsCredentialKey reports whether label names an enrolled credential's key
// (CredentialKeyPrefix), which only the approval path may sign with.
func IsCredentialKey(label string) bool { return strings.HasPrefix(label, CredentialKeyPrefix) }

// Enrol enrols a citizen. A citizen enrolled before whose every
// certificate here has ended (revoked or expired — back from another
// provider, whose switch superseded the certificate here) is enrolled
// again under the same owner: a new credential, key and certificate, and
// new factors (the request's PIN, a new TOTP secret), with their old
// sessions ended. One still holding a certificate is refused
// (KindConflict): they renew it instead.
func (s *Service) Enrol(ctx context.Context, req *EnrolRequest) (*Enrolment, error) {
	cccd, err := ca.ValidateCCCD(req.CCCD)
	if err != nil {
		return nil, &Error{Kind: KindInvalid, Description: err.Error(), Err: err}
	}
	if req.pinHash == "" {
		if err := checkPIN(req.PIN, cccd); err != nil {
			return nil, err
		}
	}
	if err := checkPhone(req.Phone); err != nil {
		return nil, err
	}
	// How the enrolment came about, checked before anything is made.
	if _, err := s.enrolmentRecord(req, "check", req.Province); err != nil {
		return nil, err
	}
	alg := req.Algorithm
	if alg == "" {
		alg = hsm.ECDSAP256
	}
	nationalID := "CCCD:" + cccd
	returning, err := s.returningOwner(ctx, nationalID)
	if err != nil {
		return nil, err
	}
	if err := s.retireOrphans(ctx, nationalID, req.Actor); err != nil {
		return nil, err
	}
	// The campaign registry first: a citizen held at another provider is
	// refused before a key is made. What the CA would refuse of the
	// subject is refused before the registry is asked.
	for _, check := range []func() error{
		func() error { _, err := ca.ValidateProvince(req.Province); return err },
		func() error { _, err := ca.NormalizeName("name", req.Name, ca.MaxNameLength); return err },
	} {
		if err := check(); err != nil {
			return nil, &Error{Kind: KindInvalid, Description: strings.TrimPrefix(err.Error(), "ca: "), Err: err}
		}
	}
	hold, err := s.holdCampaign(ctx, nationalID, req.Switch, req.Actor)
	if err != nil {
		return nil, err
	}
	en, err := s.enrol(ctx, req, cccd, nationalID, alg, hold, returning)
	if err != nil {
		hold.abandon(ctx)
		return nil, err
	}
	return en, nil
}

// returningOwner returns the owner enrolled before under nationalID whose
// every certificate has ended (revoked or expired: a citizen back from
// another provider, whose certificate here was superseded), or nil when
// nationalID was never enrolled. An owner holding a certificate that has
// not ended is refused (KindConflict): they renew it, or it is revoked
// first; enrolling again would otherwise hand their credentials to new
// factors.
func (s *Service) returningOwner(ctx context.Context, nationalID string) (*store.Owner, error) {
	o, err := s.st.GetOwnerByNationalID(ctx, nationalID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	creds, err := s.st.ListCredentials(ctx, o.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, cred := range creds {
		rec, err := s.st.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.Status != store.StatusRevoked && rec.NotAfter.After(now) {
			what := "holds"
			if rec.Status == store.StatusHold {
				what = "holds the suspended"
			}
			return nil, fail(KindConflict, "%s is already enrolled: credential %s %s certificate %s, valid until %s; renew it, or revoke it before enrolling again",
				nationalID, cred.ID, what, ca.FormatSerial(rec.Serial), rec.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	return o, nil
}

// enrol makes the key and certificate and records the enrolment, once the
// campaign registry holds the citizen here (hold, nil without a registry).
// A returning owner (returningOwner) keeps their owner ID and gets new
// factors, as at a first enrolment: the officer has checked their
// identity again, and their old factors may be long gone.
func (s *Service) enrol(ctx context.Context, req *EnrolRequest, cccd, nationalID string, alg hsm.Algorithm, hold *campaignHold, returning *store.Owner) (*Enrolment, error) {
	ownerID, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, err
	}
	if returning != nil {
		ownerID = returning.ID
	}
	credID, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, err
	}
	pinHash := req.pinHash
	if pinHash == "" {
		if pinHash, err = s.hashPassword(ctx, req.PIN); err != nil {
			return nil, err
		}
	}
	secret := make([]byte, 20) // RFC 4226 section 4: 160 bits
	if _, err := io.ReadFull(s.cfg.Rand, secret); err != nil {
		return nil, err
	}
	sealed, err := s.sealer.seal(secret, ownerID, s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	label, src, blob, err := s.newKey(ctx, credID, alg)
	if err != nil {
		return nil, err
	}
	cert, err := s.ca.IssueCitizen(ctx, &ca.CitizenRequest{
		Name: req.Name, CCCD: cccd, Province: req.Province, Email: req.Email, Key: src, Actor: req.Actor,
	})
	if err != nil {
		s.dropKey(ctx, src.KeyLabel, "a refused enrolment")
		return nil, &Error{Kind: KindInvalid, Description: "issuing the certificate: " + strings.TrimPrefix(err.Error(), "ca: "), Err: err}
	}
	crashpoint.Reach(crashpoint.Issued)
	hold.issued(ctx, ca.FormatSerialInt(cert.SerialNumber))
	if err := hold.terms(ctx, credID); err != nil {
		return nil, err
	}
	province := req.Province
	if len(cert.Subject.Province) > 0 {
		province = cert.Subject.Province[0] // as the CA wrote it
	}
	rec, err := s.enrolmentRecord(req, credID, province)
	if err != nil {
		return nil, err
	}
	now := s.now()
	owner := &store.Owner{ID: ownerID, NationalID: nationalID, Name: cert.Subject.CommonName, Province: req.Province,
		Phone: req.Phone, Email: req.Email, PINHash: pinHash, TOTPSecret: sealed, CreatedAt: now}
	cred := &store.Credential{ID: credID, OwnerID: ownerID, KeyURI: label, WrappedKey: blob, Algorithm: string(alg),
		CertIssuer: ca.IssuingName, CertSerial: cert.SerialNumber.Bytes(), Status: "active", CreatedAt: now}
	details := map[string]any{
		"owner": ownerID, "credential": credID, "serial": ca.FormatSerialInt(cert.SerialNumber), "algorithm": alg,
		"channel": rec.Channel, "staff": rec.StaffID, "ward": rec.Ward, "evidence": rec.EvidenceKind,
	}
	put := s.st.PutEnrolment
	if returning != nil {
		details["returning"] = true
		put = s.st.PutReEnrolment
	}
	e, err := s.auditEvent(req.Actor, "owner.enrol", nationalID, "ok", details)
	if err != nil {
		return nil, err
	}
	// The owner, the credential and the event in one write: a crash
	// leaves the enrolment whole or absent (and its certificate, issued
	// before, an orphan the next attempt retires).
	if err := put(ctx, owner, cred, rec, e); err != nil {
		if returning != nil && errors.Is(err, store.ErrNotFound) {
			return nil, fail(KindConflict, "%s's owner record changed during the enrolment; try again", nationalID)
		}
		return nil, fmt.Errorf("signing: recording the enrolment: %w", err)
	}
	en := &Enrolment{OwnerID: ownerID, CredentialID: credID, NationalID: nationalID, Certificate: cert,
		TOTPURI: otpauthURI(s.cfg.TOTPIssuer, nationalID, secret)}
	if hold != nil && hold.switched != nil {
		en.SwitchedFrom, en.MonthsUsed = hold.switched.ProviderName, hold.switched.MonthsUsed
		en.FreeMonths = FreeMonthsAfter(s.cfg.FreeMonths, en.MonthsUsed)
	}
	if blob == nil {
		en.KeyLabel, en.KeyURI = label, label
		if rec, err := s.ca.Certificate(ctx, cert.SerialNumber.Bytes()); err == nil && rec.KeyURI != "" {
			en.KeyURI = rec.KeyURI
		}
	}
	return en, nil
}

// Certificate returns a credential's certificate and the CA certificates
// above it, issuing CA first.
func (s *Service) Certificate(ctx context.Context, cred *store.Credential) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := s.certs.get(ctx, s.st, cred)
	if err != nil {
		return nil, nil, err
	}
	chain, err := s.ca.Chain(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cert, chain, nil
}

// newKey makes a credential's key. A key store that wraps keys
// (hsm.WrappedKeyStore: PKCS#11, where a token holds few objects but a
// provider has millions of citizens) generates it inside the device and
// hands it back wrapped under the master key, for the database to keep;
// the certificate request proving possession is signed inside the device
// too. Other key stores (Vault Transit, softkey) keep the key under a
// label.
func (s *Service) newKey(ctx context.Context, credID string, alg hsm.Algorithm) (string, ca.KeySource, []byte, error) {
	wks, ok := s.keys.(hsm.WrappedKeyStore)
	if !ok {
		label := CredentialKeyPrefix + credID
		return label, ca.KeySource{KeyLabel: label, KeyAlgorithm: alg}, nil, nil
	}
	kctx, span := tracing.Child(ctx, "keystore.create_key", attribute.String("kyso.keystore.backend", backendName(s.keys)),
		attribute.String("kyso.key.algorithm", string(alg)), attribute.Bool("kyso.key.wrapped", true))
	wk, err := wks.CreateWrappedKey(kctx, &hsm.CreateWrappedKeyRequest{Algorithm: alg})
	tracing.End(span, err)
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return "", ca.KeySource{}, nil, fmt.Errorf("%w: %w", ErrNoMasterKey, err)
	}
	if err != nil {
		return "", ca.KeySource{}, nil, fmt.Errorf("signing: creating a wrapped key: %w", err)
	}
	signer, err := wks.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: wk.Blob})
	if err != nil {
		return "", ca.KeySource{}, nil, err
	}
	csr, err := x509.CreateCertificateRequest(s.cfg.Rand, &x509.CertificateRequest{Subject: pkix.Name{CommonName: credID}}, signer)
	if err != nil {
		return "", ca.KeySource{}, nil, fmt.Errorf("signing: proving possession of the wrapped key: %w", err)
	}
	return "wrapped:" + credID, ca.KeySource{CSR: csr, Ref: "wrapped:" + credID}, wk.Blob, nil
}

// dropKey deletes the labelled key (label "" is none, as for a wrapped
// key, which lives only in the database) that newKey named for a
// certificate that did not come to be or was retired: a fresh label no
// credential holds. A key store that cannot delete keeps it; a failure is
// logged, not returned, as the request's own error matters more.
func (s *Service) dropKey(ctx context.Context, label, why string) {
	d, ok := s.keys.(hsm.KeyDeleter)
	if !ok || label == "" || !IsCredentialKey(label) {
		return
	}
	if err := d.DeleteKey(context.WithoutCancel(ctx), &hsm.DeleteKeyRequest{Label: label}); err != nil && !errors.Is(err, hsm.ErrKeyNotFound) {
		s.log.WarnContext(ctx, "signing: deleting the key of "+why, "label", label, "err", err)
	}
}

// retireOrphans revokes (superseded) the certificates an interrupted
// enrolment of nationalID left behind: issued, then the process stopped
// before the credential was recorded (PutEnrolment, PutReEnrolment).
// Such a certificate names the key of a credential that does not exist —
// "cred-<ID>" in the key store, or "wrapped:<ID>" — and nothing can sign
// with it; left good, the one-campaign-certificate rule would refuse the
// citizen's every later enrolment. Enrol calls it once it knows the
// national ID holds no certificate in force through a credential; it
// retires only certificates whose credential does not exist, audits each
// (owner.enrol.retire) and deletes a labelled key it can.
func (s *Service) retireOrphans(ctx context.Context, nationalID, actor string) error {
	recs, err := s.ca.List(ctx, &store.CertificateFilter{NationalID: nationalID, Status: store.StatusGood})
	if err != nil {
		return fmt.Errorf("signing: listing %s's certificates: %w", nationalID, err)
	}
	for _, rec := range recs {
		credID, ok := strings.CutPrefix(rec.KeyURI, "wrapped:")
		label := ""
		if !ok {
			if label = ca.KeyLabel(rec.KeyURI); !IsCredentialKey(label) {
				continue // an operator's certificate (kyso cert issue), not an enrolment's
			}
			credID = strings.TrimPrefix(label, CredentialKeyPrefix)
		}
		credID = credentialOfKey(credID) // a renewal's key: "<ID>.<suffix>"
		if _, err := s.st.GetCredential(ctx, credID); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		serial := ca.FormatSerial(rec.Serial)
		if err := s.ca.Revoke(ctx, rec.Serial, store.ReasonSuperseded, time.Time{}); err != nil && !errors.Is(err, ca.ErrAlreadyRevoked) {
			return fmt.Errorf("signing: retiring the certificate %s of an interrupted enrolment: %w", serial, err)
		}
		s.dropKey(ctx, label, "an interrupted enrolment")
		s.log.WarnContext(ctx, "signing: retired the certificate of an interrupted enrolment", "national_id", nationalID, "serial", serial)
		if err := s.audit(ctx, actor, "owner.enrol.retire", nationalID, "ok", map[string]any{
			"serial": serial, "credential": credID, "reason": "an earlier enrolment stopped after issuing, before recording the owner",
		}); err != nil {
			return err
		}
	}
	return nil
}

// certCache keeps credentials' certificates parsed: a certificate never
// changes (its status lives elsewhere), and every signature needs it.
type certCache struct {
	mu sync.Mutex
	m  map[string]*x509.Certificate // by issuer and serial
}

// maxCerts bounds a certCache; it starts afresh when full.
const maxCerts = 100_000

func (c *certCache) get(ctx context.Context, st Store, cred *store.Credential) (*x509.Certificate, error) {
	key := cred.CertIssuer + "\x00" + string(cred.CertSerial)
	c.mu.Lock()
	cert := c.m[key]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	rec, err := st.GetCertificate(ctx, cred.CertIssuer, cred.CertSerial)
	if err != nil {
		return nil, fmt.Errorf("signing: credential %s's certificate: %w", cred.ID, err)
	}
	if cert, err = x509.ParseCertificate(rec.DER); err != nil {
		return nil, fmt.Errorf("signing: credential %s's certificate: %w", cred.ID, err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCerts {
		c.m = map[string]*x509.Certificate{}
	}
	c.m[key] = cert
	c.mu.Unlock()
	return cert, nil
}

package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/crashpoint"
	"github.com/kyso-pki/kyso/internal/tracing"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Errors of issuance that callers tell apart with errors.Is.
var (
	// ErrKeyAlreadyCertified: the public key is already in a certificate
	// (Decree 23/2025/ND-CP: every key pair is certified once).
	ErrKeyAlreadyCertified = errors.New("public key already certified")
	// ErrCampaignHolder: the national ID already holds an active campaign
	// certificate; a second is refused until the first is revoked or
	// expired.
	ErrCampaignHolder = errors.New("national ID already holds an active campaign certificate")
	// ErrProofOfPossession: the CSR's signature does not verify with its
	// public key, so the applicant has not shown they hold the private key
	// (Decree 23/2025/ND-CP).
	ErrProofOfPossession = errors.New("CSR signature does not verify")
)

// errKeyCertified is the error for a public key already in a certificate,
// whether found before signing or, after a race, by PutCertificate.
func errKeyCertified() error {
	return fmt.Errorf("ca: %w: another certificate already carries this public key (Decree 23/2025: each key is certified once); make a new key pair", ErrKeyAlreadyCertified)
}

// maxSerialAttempts bounds the retries after a serial collision, which with
// 128 random bits means a broken random source, not bad luck.
const maxSerialAttempts = 5

// KeySource says where a subscriber's public key comes from: a PKCS#10 CSR
// whose signature proves the applicant holds the private key, or a key
// kyso holds in its key store (made there, so possession is not in doubt).
// Exactly one of CSR and KeyLabel is set.
type KeySource struct {
	// CSR is a DER PKCS#10 certificate request (RFC 2986). Only its public
	// key and signature are used; the subject comes from the request.
	CSR []byte
	// KeyLabel names a key in the Authority's key store.
	KeyLabel string
	// KeyAlgorithm, when set with KeyLabel, makes kyso create the key
	// under KeyLabel first; empty means the key already exists.
	KeyAlgorithm hsm.Algorithm
	// Ref, with a CSR, names the key in the certificate's record
	// (store.Certificate.KeyURI) when kyso holds it outside the key store:
	// a wrapped key, "wrapped:<credential ID>".
	Ref string
}

// CitizenRequest asks for a citizen's personal signing certificate.
type CitizenRequest struct {
	// Name is the full name with diacritics ("Nguyễn Văn Đức"); it is NFC
	// normalised, spaces collapsed, at most MaxNameLength characters.
	Name string
	// CCCD is the 12-digit citizen identity number.
	CCCD string
	// Province is one of the 34 provinces in force (ValidateProvince).
	Province string
	// Locality is the optional L attribute (ward, commune, district).
	Locality string
	// Email, when set, is written as an rfc822Name SAN.
	Email string
	// Validity is the certificate's life; zero means Options.LeafValidity.
	// At most three calendar years from its notBefore (MaxValidity).
	Validity time.Duration
	// Key is where the public key comes from.
	Key KeySource
	// Actor is recorded in the audit trail; empty means Options.Actor.
	Actor string
	// Renews is the serial of the issuing CA's certificate this one
	// renews for the same credential (signing.Service.Renew): it must be
	// the same national ID's, good and unexpired. Under the campaign rule
	// the new certificate takes its place as the holder instead of being
	// refused as a second one, and keeps its free period's start
	// (store.Certificate.CampaignFrom).
	Renews []byte
}

// OrganisationRequest asks for an organisation's e-seal certificate.
type OrganisationRequest struct {
	// Name is the organisation's name, NFC, at most MaxNameLength
	// characters; it is written as both O and CN.
	Name string
	// TaxCode is the MST: 10 digits, or 10 digits '-' 3 digits.
	TaxCode string
	// Province is one of the 34 provinces in force.
	Province string
	// Locality is the optional L attribute.
	Locality string
	// Email, when set, is written as an rfc822Name SAN.
	Email string
	// Validity as in CitizenRequest.
	Validity time.Duration
	// Key is where the public key comes from.
	Key KeySource
	// Actor is recorded in the audit trail.
	Actor string
}

// IssueCitizen issues a citizen's signing certificate from the issuing CA,
// subject C=VN, ST=<province>, [L=], CN=<name>, UID=CCCD:<number> (RFC 5280
// section 4.1.2.6, all DirectoryStrings as UTF8String). Under the campaign
// rule the certificate is a campaign certificate and a national ID holding
// an active one gets an error wrapping ErrCampaignHolder.
func (a *Authority) IssueCitizen(ctx context.Context, req *CitizenRequest) (*x509.Certificate, error) {
	name, err := normalizePersonName(req.Name)
	if err != nil {
		return nil, err
	}
	cccd, err := ValidateCCCD(req.CCCD)
	if err != nil {
		return nil, err
	}
	province, locality, email, validity, err := a.commonFields(req.Province, req.Locality, req.Email, req.Validity)
	if err != nil {
		return nil, err
	}
	nationalID := "CCCD:" + cccd
	subject, err := marshalName([]nameAttr{
		{oidCountry, "VN"}, {oidProvince, province}, {oidLocality, locality},
		{oidCommonName, name}, {OIDUID, nationalID},
	})
	if err != nil {
		return nil, err
	}
	campaign := !a.opts.DisableCampaign
	var pred *store.Certificate
	if len(req.Renews) > 0 {
		if pred, err = a.renewable(ctx, nationalID, req.Renews); err != nil {
			return nil, err
		}
	}
	if campaign {
		if err := a.checkCampaign(ctx, nationalID, req.Renews); err != nil {
			return nil, err
		}
	}
	return a.issueSubscriber(ctx, ProfileCitizen, subject, nationalID, email, validity, &req.Key, campaign, req.Actor, pred)
}

// renewable returns the certificate serial that a renewal for nationalID
// renews, when it may: the issuing CA's, that national ID's citizen
// certificate, good and unexpired.
func (a *Authority) renewable(ctx context.Context, nationalID string, serial []byte) (*store.Certificate, error) {
	c, err := a.st.GetCertificate(ctx, IssuingName, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("the certificate %s to renew is not the issuing CA's", FormatSerial(serial))
	}
	if err != nil {
		return nil, fmt.Errorf("ca: reading the certificate to renew: %w", err)
	}
	switch {
	case c.NationalID != nationalID || c.Profile != ProfileCitizen:
		return nil, invalid("the certificate %s to renew is not %s's citizen certificate", FormatSerial(serial), nationalID)
	case c.Status != store.StatusGood:
		return nil, invalid("the certificate %s to renew is %s", FormatSerial(serial), c.Status)
	case !a.now().Before(c.NotAfter):
		return nil, invalid("the certificate %s to renew has expired", FormatSerial(serial))
	}
	return c, nil
}

// IssueOrganisation issues an organisation's e-seal certificate, subject
// C=VN, ST=<province>, [L=], O=<name>, CN=<name>, UID=MST:<tax code>, with
// the same usages as a citizen's.
func (a *Authority) IssueOrganisation(ctx context.Context, req *OrganisationRequest) (*x509.Certificate, error) {
	name, err := NormalizeName("organisation name", req.Name, MaxNameLength)
	if err != nil {
		return nil, err
	}
	mst, err := ValidateTaxCode(req.TaxCode)
	if err != nil {
		return nil, err
	}
	province, locality, email, validity, err := a.commonFields(req.Province, req.Locality, req.Email, req.Validity)
	if err != nil {
		return nil, err
	}
	nationalID := "MST:" + mst
	subject, err := marshalName([]nameAttr{
		{oidCountry, "VN"}, {oidProvince, province}, {oidLocality, locality},
		{oidOrganization, name}, {oidCommonName, name}, {OIDUID, nationalID},
	})
	if err != nil {
		return nil, err
	}
	return a.issueSubscriber(ctx, ProfileOrganisation, subject, nationalID, email, validity, &req.Key, false, req.Actor, nil)
}

func (a *Authority) commonFields(province, locality, email string, validity time.Duration) (string, string, string, time.Duration, error) {
	p, err := ValidateProvince(province)
	if err != nil {
		return "", "", "", 0, err
	}
	if locality != "" {
		if locality, err = NormalizeName("locality", locality, maxPlaceLength); err != nil {
			return "", "", "", 0, err
		}
	}
	if email != "" {
		if email, err = ValidateEmail(email); err != nil {
			return "", "", "", 0, err
		}
	}
	if validity == 0 {
		validity = a.opts.LeafValidity
	}
	if validity < time.Hour {
		return "", "", "", 0, invalid("validity %v is shorter than one hour", validity)
	}
	if err := a.checkRequestedValidity("subscriber certificate", ProfileCitizen, validity); err != nil {
		return "", "", "", 0, err
	}
	return p, locality, email, validity, nil
}

// checkCampaign refuses early, before a serial is spent, when nationalID
// already holds an active campaign certificate. The store enforces the rule
// again, atomically, when the certificate is recorded.
func (a *Authority) checkCampaign(ctx context.Context, nationalID string, renews []byte) error {
	certs, err := a.st.ListCertificates(ctx, &store.CertificateFilter{NationalID: nationalID, Profile: ProfileCitizen})
	if err != nil {
		return fmt.Errorf("ca: looking up %s's certificates: %w", nationalID, err)
	}
	now := a.now()
	for _, c := range certs {
		if c.Campaign && c.Status != store.StatusRevoked && now.Before(c.NotAfter) &&
			!(len(renews) > 0 && c.Issuer == IssuingName && bytes.Equal(c.Serial, renews)) {
			return fmt.Errorf("ca: %w: %s holds campaign certificate %s (valid until %s); revoke it first",
				ErrCampaignHolder, nationalID, FormatSerial(c.Serial), c.NotAfter.Format(time.DateOnly))
		}
	}
	return nil
}

// subscriberKey resolves a KeySource to a public key and, for keys kyso
// holds, the key's URI.
func (a *Authority) subscriberKey(ctx context.Context, src *KeySource) (crypto.PublicKey, string, error) {
	switch {
	case len(src.CSR) > 0 && src.KeyLabel != "":
		return nil, "", invalid("give either a CSR or a key label, not both")
	case len(src.CSR) > 0:
		csr, err := x509.ParseCertificateRequest(src.CSR)
		if err != nil {
			return nil, "", invalid("CSR does not parse: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, "", fmt.Errorf("ca: %w: %w (%v)", ErrInvalidRequest, ErrProofOfPossession, err)
		}
		return csr.PublicKey, src.Ref, nil
	case src.KeyLabel != "":
		if src.KeyAlgorithm != "" {
			kctx, span := tracing.Child(ctx, "keystore.create_key", attribute.String("kyso.key.algorithm", string(src.KeyAlgorithm)))
			info, err := a.ks.CreateKey(kctx, &hsm.CreateKeyRequest{Label: src.KeyLabel, Algorithm: src.KeyAlgorithm})
			tracing.End(span, err)
			if err != nil {
				return nil, "", fmt.Errorf("ca: creating subscriber key %q: %w", src.KeyLabel, err)
			}
			return info.PublicKey, info.URI, nil
		}
		pub, err := a.ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: src.KeyLabel})
		if err != nil {
			return nil, "", fmt.Errorf("ca: reading subscriber key %q: %w", src.KeyLabel, err)
		}
		return pub, a.keyURI(ctx, src.KeyLabel), nil
	}
	return nil, "", invalid("no public key: give a CSR or a key label")
}

// keyURI returns the URI the key store gives the key labelled label, or
// the bare label when the store does not list it.
func (a *Authority) keyURI(ctx context.Context, label string) string {
	keys, err := a.ks.ListKeys(ctx, &hsm.ListKeysRequest{})
	if err == nil {
		for _, k := range keys {
			if k.Label == label && k.URI != "" {
				return k.URI
			}
		}
	}
	return label
}

func (a *Authority) issueSubscriber(ctx context.Context, profile string, subject []byte, nationalID, email string, validity time.Duration, src *KeySource, campaign bool, actor string, renews *store.Certificate) (*x509.Certificate, error) {
	is, err := a.loadIssuer(ctx, IssuingName)
	if err != nil {
		return nil, err
	}
	pub, keyURI, err := a.subscriberKey(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := checkSubscriberKey(pub); err != nil {
		return nil, err
	}
	nb, na := a.validity(validity)
	tmpl, err := a.signingTemplate(subject, nb, na, is.name, email)
	if err != nil {
		return nil, err
	}
	return a.issue(ctx, &issueParams{
		issuer: is, profile: profile, tmpl: tmpl, pub: pub, nationalID: nationalID,
		keyURI: keyURI, campaign: campaign, actor: actor, renews: renews,
	})
}

// issueParams is one certificate to issue.
type issueParams struct {
	// issuer signs; nil means self-signed by self.
	issuer     *issuer
	self       crypto.Signer
	selfName   string
	profile    string
	tmpl       *x509.Certificate
	pub        crypto.PublicKey
	nationalID string
	keyURI     string
	campaign   bool
	allowReuse bool
	actor      string
	// renews is the certificate a renewal replaces, or nil.
	renews *store.Certificate
}

// issue runs STYLE.md rule 13 for one certificate: refuse a public key
// already certified (unless allowReuse), draw the serial, sign a copy
// with the issuer's throwaway lint key and zlint it, reserve the serial
// with the audit intent (one commit: both durable before the key signs),
// sign for real over the same TBSCertificate, check the result, record it
// with the outcome's audit event (one transaction). A lint refusal and
// every failure after the reservation are audited.
func (a *Authority) issue(ctx context.Context, p *issueParams) (cert *x509.Certificate, err error) {
	issuerName, parent, signer, lintParent, lintKey := p.selfName, p.tmpl, p.self, p.tmpl, crypto.Signer(nil)
	if p.issuer != nil {
		issuerName, parent, signer = p.issuer.name, p.issuer.cert, p.issuer.signer
		lintParent, lintKey = p.issuer.lint.issuer, p.issuer.lint.key
	} else {
		if lintKey, err = newLintKey(p.pub); err != nil {
			return nil, err
		}
	}
	if err := checkValidity(p.profile, p.tmpl.NotBefore, p.tmpl.NotAfter); err != nil {
		return nil, err
	}
	if p.tmpl.IsCA || p.profile == ProfileOCSP || p.profile == ProfileTSA || p.profile == ProfileReceipt {
		if err := checkCAKey(p.pub); err != nil {
			return nil, err
		}
	}
	if p.issuer != nil && p.tmpl.NotAfter.After(parent.NotAfter) {
		return nil, invalid("the certificate would outlive its issuer %q (until %s)", issuerName, parent.NotAfter.Format(time.DateOnly))
	}
	ski, spki, err := subjectKeyID(p.pub)
	if err != nil {
		return nil, err
	}
	p.tmpl.SubjectKeyId = ski
	if p.issuer == nil {
		// RFC 5280 section 4.2.1.1 lets a self-signed certificate omit the
		// authority key identifier; kyso writes it, so the lint copy (signed by
		// another key, hence not self-signed to zlint) and path builders that
		// match AKI to SKI both find it.
		p.tmpl.AuthorityKeyId = ski
	}
	keyHash := sha256.Sum256(spki)
	subjectText, err := display.DN(p.tmpl.RawSubject)
	if err != nil {
		return nil, fmt.Errorf("ca: subject: %w", err)
	}
	// Decree 23/2025: refuse a certified key before a serial is reserved or
	// anything signed. Two issuances of one key can both pass this; the
	// store's unique key in PutCertificate then refuses the second.
	if !p.allowReuse {
		certified, err := a.st.PublicKeyCertified(ctx, keyHash[:])
		if err != nil {
			return nil, fmt.Errorf("ca: looking up the public key: %w", err)
		}
		if certified {
			return nil, errKeyCertified()
		}
	}

	// Draw a serial, lint a copy signed by the throwaway key, then reserve
	// the serial with the audit intent in one commit, before the issuer's
	// key signs. A lint refusal reserves nothing; a serial taken at the
	// commit is drawn again, and its copy signed and linted again (the
	// serial is in the TBSCertificate).
	p.tmpl.SignatureAlgorithm = a.signatureAlgorithm(signer.Public())
	crlDPs := p.tmpl.CRLDistributionPoints
	var (
		serial, lintTBS []byte
		details         map[string]any
		auditSubject    string
		crlShard        int
	)
	// reservation is the serial's, once committed: a failure after it
	// closes it with its error event (settleFailed), so the settlement
	// never adds an abandoned outcome to an issuance that audited its own.
	var reservation *store.SerialReservation
	fail := func(stage string, e error) error {
		d := make(map[string]any, len(details)+2)
		for k, v := range details {
			d[k] = v
		}
		d["stage"], d["error"] = stage, e.Error()
		ev, aerr := a.auditEvent(p.actor, ActionIssue, auditSubject, "error", d)
		if aerr == nil {
			if reservation != nil {
				aerr = a.settleFailed(ctx, reservation, ev)
			} else {
				aerr = a.st.AppendAudit(ctx, ev)
			}
		}
		if aerr != nil {
			return errors.Join(e, fmt.Errorf("ca: writing audit event %s/error: %w", ActionIssue, aerr))
		}
		return e
	}
	for attempt := 1; ; attempt++ {
		if serial, err = newSerial(a.rand); err != nil {
			return nil, err
		}
		p.tmpl.SerialNumber = newInt(serial)
		p.tmpl.CRLDistributionPoints = crlDPs
		crlShard = a.crlShard(issuerName, p.tmpl, serial)
		auditSubject = issuerName + "/" + FormatSerial(serial)
		details = map[string]any{
			"profile": p.profile, "issuer": issuerName, "serial": FormatSerial(serial), "subject": subjectText,
			"national_id": p.nationalID, "public_key_sha256": fmt.Sprintf("%x", keyHash), "not_before": p.tmpl.NotBefore, "not_after": p.tmpl.NotAfter,
		}
		if p.keyURI != "" {
			details["key_uri"] = p.keyURI
		}
		if p.renews != nil {
			details["renews"] = FormatSerial(p.renews.Serial)
		}
		if crlShard > 0 {
			details["crl_shard"] = crlShard
		}
		lintDER, err := x509.CreateCertificate(a.rand, p.tmpl, lintParent, p.pub, lintKey)
		if err != nil {
			return nil, fail("lint", fmt.Errorf("ca: signing the lint copy: %w", err))
		}
		if lintTBS, err = lintCertificate(a.reg, lintDER); err != nil {
			return nil, fail("lint", fmt.Errorf("ca: refusing to issue %s: %w", p.profile, err))
		}
		intent, err := a.auditEvent(p.actor, ActionIssue, auditSubject, "intent", details)
		if err != nil {
			return nil, err
		}
		r := &store.SerialReservation{Issuer: issuerName, Serial: serial, Reserved: a.now().UTC()}
		err = a.st.ReserveSerial(ctx, r, intent)
		if err == nil {
			reservation = r
			break
		}
		if !errors.Is(err, store.ErrDuplicateSerial) || attempt == maxSerialAttempts {
			return nil, fmt.Errorf("ca: reserving a serial number under %q with the audit intent: %w", issuerName, err)
		}
		a.log.WarnContext(ctx, "ca: serial number collision; drawing another", "issuer", issuerName, "serial", FormatSerial(serial))
	}
	crashpoint.Reach(crashpoint.Reserved)

	der, err := x509.CreateCertificate(a.rand, p.tmpl, parent, p.pub, signer)
	if err != nil {
		return nil, fail("sign", fmt.Errorf("ca: signing the certificate: %w", err))
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, fail("check", fmt.Errorf("ca: the signed certificate does not parse: %w", err))
	}
	if !bytes.Equal(cert.RawTBSCertificate, lintTBS) {
		return nil, fail("check", errors.New("ca: the signed TBSCertificate differs from the linted one"))
	}
	// CreateCertificate refuses a signer whose public key is not the
	// parent certificate's, and checks the signature the signer returned
	// against that key before it returns (crypto/x509's signTBS; a P-384
	// check costs 0.6 ms of CPU, a quarter of an issuance's), so a
	// certificate with an issuer is not checked a second time
	// (TestFaultySignerRefused holds Go to it). A self-signed one is:
	// its parent is the template, which has no key to compare.
	if p.issuer == nil {
		if err := cert.CheckSignatureFrom(cert); err != nil {
			return nil, fail("check", fmt.Errorf("ca: the signed certificate does not verify against %q: %w", issuerName, err))
		}
	}

	rec := &store.Certificate{
		Issuer: issuerName, Serial: serial, DER: der, Profile: p.profile, Subject: subjectText,
		NationalID: p.nationalID, PublicKeySHA256: keyHash[:], KeyURI: p.keyURI,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Status: store.StatusGood,
		Campaign: p.campaign, AllowKeyReuse: p.allowReuse, Created: a.now().UTC(), CRLShard: crlShard,
	}
	if p.renews != nil {
		rec.Renews = p.renews.Serial
		if p.campaign && p.renews.Campaign {
			rec.CampaignFrom = p.renews.PeriodStart()
		}
	}
	// The outcome is audited in the transaction that stores the
	// certificate: one commit, and no stored certificate without it.
	ok, err := a.auditEvent(p.actor, ActionIssue, auditSubject, "ok", details)
	if err != nil {
		return nil, fail("record", err)
	}
	if err := a.st.PutCertificate(ctx, rec, ok); err != nil {
		switch {
		case errors.Is(err, store.ErrDuplicatePublicKey):
			err = errKeyCertified()
		case errors.Is(err, store.ErrCampaignHolder):
			err = fmt.Errorf("ca: %w: %s; revoke the existing campaign certificate first", ErrCampaignHolder, p.nationalID)
		case errors.Is(err, store.ErrSerialSettled):
			// Slower than the settlement's bound: the reservation was
			// settled as abandoned meanwhile, and the certificate is
			// not recorded, so it is delivered to no one.
			err = fmt.Errorf("ca: recording certificate %s: the issuance outlasted the settlement of its reservation; nothing was issued: %w", FormatSerial(serial), err)
		default:
			err = fmt.Errorf("ca: recording certificate %s: %w", FormatSerial(serial), err)
		}
		return nil, fail("record", err)
	}
	a.log.DebugContext(ctx, "ca: issued", "profile", p.profile, "issuer", issuerName, "serial", FormatSerial(serial))
	return cert, nil
}

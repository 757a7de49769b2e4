package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Key labels Init uses in the key store.
const (
	RootKeyLabel    = "kyso-root"
	IssuingKeyLabel = "kyso-issuing"
	TSAKeyLabel     = "kyso-tsa"
	// OCSPKeyLabelPrefix is followed by a number: "kyso-ocsp-1", "kyso-ocsp-2", …
	OCSPKeyLabelPrefix = "kyso-ocsp-"
	// ReceiptKeyLabelPrefix is followed by a number, as OCSP's: the keys
	// that sign consent receipts.
	ReceiptKeyLabelPrefix = "kyso-receipt-"
)

// InitRequest says how to create a hierarchy. The zero value is usable.
type InitRequest struct {
	// Name is the provider's name, written as O and in every CN; empty
	// means the installed issuing CA's organisation, or "Kyso Development"
	// when there is none.
	Name string
	// CAAlgorithm is the key type of the root and issuing CAs; empty means
	// ecdsa-p384.
	CAAlgorithm hsm.Algorithm
	// Algorithm is the key type of the OCSP and TSA keys; empty means
	// ecdsa-p256.
	Algorithm hsm.Algorithm
	// RootValidity, IssuingValidity and TSAValidity are the certificates'
	// lives; zero means 25, 10 and 5 years, which are also the maxima
	// (Decree 23/2025/ND-CP).
	RootValidity, IssuingValidity, TSAValidity time.Duration
	// Actor is recorded in the audit trail.
	Actor string
}

// Hierarchy is the provider's CA hierarchy. Root is nil when the issuing CA
// was imported; RootChain then holds what is above it.
type Hierarchy struct {
	Root, Issuing, OCSP, TSA *x509.Certificate
	// Chain is the issuing CA's chain above it, nearest first.
	Chain []*x509.Certificate
}

// Init creates the hierarchy: a root CA, an issuing CA (path length 0), a
// delegated OCSP responder certificate and a TSA certificate, every key made
// in the key store. It is idempotent: what exists is kept and returned, so
// running it twice, or on two replicas at once, yields one hierarchy. When
// ImportSubordinate has already installed the issuing CA, Init adds only the
// OCSP and TSA certificates.
func (a *Authority) Init(ctx context.Context, req *InitRequest) (*Hierarchy, error) {
	if req == nil {
		req = &InitRequest{}
	}
	r := *req
	if r.Name == "" {
		r.Name = "Kyso Development"
		// An installed issuing CA (made earlier or imported) names the
		// provider.
		if is, err := a.loadIssuer(ctx, IssuingName); err == nil {
			r.Name = a.providerName(is)
		}
	}
	name, err := NormalizeName("provider name", r.Name, MaxNameLength-len(" Issuing CA"))
	if err != nil {
		return nil, err
	}
	if r.CAAlgorithm == "" {
		r.CAAlgorithm = hsm.ECDSAP384
	}
	if r.Algorithm == "" {
		r.Algorithm = hsm.ECDSAP256
	}
	if r.RootValidity == 0 {
		r.RootValidity = DefaultRootValidity
	}
	if r.IssuingValidity == 0 {
		r.IssuingValidity = DefaultIssuingValidity
	}
	if r.TSAValidity == 0 {
		r.TSAValidity = DefaultTSAValidity
	}
	if err := checkAlgorithm("CA", r.CAAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm("OCSP and TSA", r.Algorithm); err != nil {
		return nil, err
	}
	for _, v := range []struct {
		what, profile string
		d             time.Duration
	}{{"root CA", ProfileRoot, r.RootValidity}, {"issuing CA", ProfileIssuing, r.IssuingValidity}, {"TSA", ProfileTSA, r.TSAValidity}} {
		if err := a.checkRequestedValidity(v.what, v.profile, v.d); err != nil {
			return nil, err
		}
	}

	if _, err := a.st.GetCA(ctx, IssuingName); errors.Is(err, store.ErrNotFound) {
		if err := a.initCA(ctx, &r, name, RootName, "root", RootKeyLabel, ProfileRoot); err != nil {
			return nil, err
		}
		if err := a.initCA(ctx, &r, name, IssuingName, "issuing", IssuingKeyLabel, ProfileIssuing); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("ca: looking up the issuing CA: %w", err)
	}
	if _, err := a.currentCert(ctx, ProfileOCSP); errors.Is(err, store.ErrNotFound) {
		if _, err := a.newOCSP(ctx, name, r.Algorithm, r.Actor); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if _, err := a.currentCert(ctx, ProfileTSA); errors.Is(err, store.ErrNotFound) {
		if err := a.newTSA(ctx, name, r.Algorithm, r.TSAValidity, r.Actor); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return a.Hierarchy(ctx)
}

// initCA creates one CA unless the store already has it.
func (a *Authority) initCA(ctx context.Context, r *InitRequest, provider, caName, kind, label, profile string) error {
	if _, err := a.st.GetCA(ctx, caName); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ca: looking up CA %q: %w", caName, err)
	}
	info, signer, err := a.createOrReuseKey(ctx, label, r.CAAlgorithm)
	if err != nil {
		return err
	}
	var cn string
	var validity time.Duration
	if profile == ProfileRoot {
		cn, validity = provider+" Root CA", r.RootValidity
	} else {
		cn, validity = provider+" Issuing CA", r.IssuingValidity
	}
	subject, err := marshalName([]nameAttr{{oidCountry, "VN"}, {oidOrganization, provider}, {oidCommonName, cn}})
	if err != nil {
		return err
	}
	nb, na := a.validity(validity)
	p := &issueParams{profile: profile, pub: info.PublicKey, keyURI: info.URI, actor: r.Actor}
	var chain [][]byte
	if profile == ProfileRoot {
		p.tmpl, p.self, p.selfName = rootTemplate(subject, nb, na), signer, caName
	} else {
		root, err := a.loadIssuer(ctx, RootName)
		if err != nil {
			return err
		}
		if p.tmpl, err = a.issuingTemplate(subject, nb, na, RootName); err != nil {
			return err
		}
		p.issuer = root
		chain = [][]byte{root.cert.Raw}
	}
	cert, err := a.issue(ctx, p)
	if err != nil {
		return err
	}
	rec := &store.CA{Name: caName, Kind: kind, KeyURI: info.URI, CertDER: cert.Raw, ChainDER: chain, Created: a.now().UTC()}
	if err := a.st.PutCA(ctx, rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			// Another replica won the race; its CA stands, ours is unused.
			a.log.Warn("ca: another process created the CA first; keeping theirs", "ca", caName)
			return nil
		}
		return fmt.Errorf("ca: recording CA %q: %w", caName, err)
	}
	return a.audit(ctx, r.Actor, "ca.init", caName, "ok", map[string]any{"kind": kind, "serial": FormatSerial(cert.SerialNumber.Bytes()), "key_uri": info.URI})
}

// createOrReuseKey creates a key, or reuses one of that label left by a run
// that stopped before certifying it.
func (a *Authority) createOrReuseKey(ctx context.Context, label string, alg hsm.Algorithm) (*hsm.KeyInfo, crypto.Signer, error) {
	info, err := a.ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg})
	if errors.Is(err, hsm.ErrKeyExists) {
		pub, perr := a.ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: label})
		if perr != nil {
			return nil, nil, fmt.Errorf("ca: reading existing key %q: %w", label, perr)
		}
		info, err = &hsm.KeyInfo{Label: label, URI: a.keyURI(ctx, label), PublicKey: pub}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ca: creating key %q: %w", label, err)
	}
	signer, err := a.ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		return nil, nil, fmt.Errorf("ca: opening key %q: %w", label, err)
	}
	return info, signer, nil
}

// providerName reads the provider's name (O) from the issuing CA.
func (a *Authority) providerName(is *issuer) string {
	if len(is.cert.Subject.Organization) > 0 {
		return is.cert.Subject.Organization[0]
	}
	return strings.TrimSuffix(is.cert.Subject.CommonName, " Issuing CA")
}

// serviceCert is a certificate kyso's own services sign with under a
// key of their own, made afresh (a new key under the next numbered label)
// when the current one has passed half its life: the OCSP responder's
// and the consent receipts'. One code path makes and renews both.
type serviceCert struct {
	profile, labelPrefix, cnSuffix string
	validity                       func(*Authority) time.Duration
	template                       func(a *Authority, subject []byte, nb, na time.Time, parent string) (*x509.Certificate, error)
}

var (
	ocspCert = &serviceCert{profile: ProfileOCSP, labelPrefix: OCSPKeyLabelPrefix, cnSuffix: " OCSP Responder",
		validity: func(a *Authority) time.Duration { return a.opts.OCSPValidity }, template: (*Authority).ocspTemplate}
	receiptCert = &serviceCert{profile: ProfileReceipt, labelPrefix: ReceiptKeyLabelPrefix, cnSuffix: " Consent Receipts",
		validity: func(*Authority) time.Duration { return DefaultReceiptValidity }, template: (*Authority).receiptTemplate}
)

// newOCSP makes a fresh OCSP responder key and certificate.
func (a *Authority) newOCSP(ctx context.Context, provider string, alg hsm.Algorithm, actor string) (*x509.Certificate, error) {
	return a.newServiceCert(ctx, ocspCert, provider, alg, actor)
}

// newServiceCert makes a fresh key under the next free numbered label of
// sc and certifies it from the issuing CA.
func (a *Authority) newServiceCert(ctx context.Context, sc *serviceCert, provider string, alg hsm.Algorithm, actor string) (*x509.Certificate, error) {
	is, err := a.loadIssuer(ctx, IssuingName)
	if err != nil {
		return nil, err
	}
	if provider == "" {
		provider = a.providerName(is)
	}
	if alg == "" {
		alg = hsm.ECDSAP256
	}
	existing, err := a.st.ListCertificates(ctx, &store.CertificateFilter{Issuer: IssuingName, Profile: sc.profile})
	if err != nil {
		return nil, fmt.Errorf("ca: listing %s certificates: %w", sc.profile, err)
	}
	var info *hsm.KeyInfo
	for n := len(existing) + 1; ; n++ {
		label := fmt.Sprintf("%s%d", sc.labelPrefix, n)
		info, err = a.ks.CreateKey(ctx, &hsm.CreateKeyRequest{Label: label, Algorithm: alg})
		if errors.Is(err, hsm.ErrKeyExists) && n < len(existing)+100 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ca: creating %s key %q: %w", sc.profile, label, err)
		}
		break
	}
	subject, err := marshalName([]nameAttr{{oidCountry, "VN"}, {oidOrganization, provider}, {oidCommonName, provider + sc.cnSuffix}})
	if err != nil {
		return nil, err
	}
	nb, na := a.validity(sc.validity(a))
	if na.After(is.cert.NotAfter) {
		na = is.cert.NotAfter
	}
	tmpl, err := sc.template(a, subject, nb, na, is.name)
	if err != nil {
		return nil, err
	}
	return a.issue(ctx, &issueParams{issuer: is, profile: sc.profile, tmpl: tmpl, pub: info.PublicKey, keyURI: info.URI, actor: actor})
}

// newTSA makes the TSA key and certificate.
func (a *Authority) newTSA(ctx context.Context, provider string, alg hsm.Algorithm, validity time.Duration, actor string) error {
	is, err := a.loadIssuer(ctx, IssuingName)
	if err != nil {
		return err
	}
	info, _, err := a.createOrReuseKey(ctx, TSAKeyLabel, alg)
	if err != nil {
		return err
	}
	subject, err := marshalName([]nameAttr{{oidCountry, "VN"}, {oidOrganization, provider}, {oidCommonName, provider + " Time-Stamping Authority"}})
	if err != nil {
		return err
	}
	nb, na := a.validity(validity)
	if na.After(is.cert.NotAfter) {
		na = is.cert.NotAfter
	}
	tmpl, err := a.tsaTemplate(subject, nb, na, is.name)
	if err != nil {
		return err
	}
	_, err = a.issue(ctx, &issueParams{issuer: is, profile: ProfileTSA, tmpl: tmpl, pub: info.PublicKey, keyURI: info.URI, actor: actor})
	return err
}

// currentCert returns the newest good, unexpired certificate of a profile
// from the issuing CA, or store.ErrNotFound.
func (a *Authority) currentCert(ctx context.Context, profile string) (*store.Certificate, error) {
	certs, err := a.st.ListCertificates(ctx, &store.CertificateFilter{Issuer: IssuingName, Profile: profile, Status: store.StatusGood})
	if err != nil {
		return nil, fmt.Errorf("ca: listing %s certificates: %w", profile, err)
	}
	now := a.now()
	var best *store.Certificate
	for _, c := range certs {
		if now.Before(c.NotAfter) && (best == nil || c.NotBefore.After(best.NotBefore)) {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("ca: no current %s certificate: %w", profile, store.ErrNotFound)
	}
	return best, nil
}

// Hierarchy returns the current hierarchy from the store.
func (a *Authority) Hierarchy(ctx context.Context) (*Hierarchy, error) {
	is, err := a.loadIssuer(ctx, IssuingName)
	if err != nil {
		return nil, err
	}
	h := &Hierarchy{Issuing: is.cert, Chain: append([]*x509.Certificate(nil), is.chain...)}
	if root, err := a.st.GetCA(ctx, RootName); err == nil {
		if h.Root, err = x509.ParseCertificate(root.CertDER); err != nil {
			return nil, fmt.Errorf("ca: parsing the root: %w", err)
		}
	}
	for _, p := range []struct {
		profile string
		into    **x509.Certificate
	}{{ProfileOCSP, &h.OCSP}, {ProfileTSA, &h.TSA}} {
		rec, err := a.currentCert(ctx, p.profile)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if *p.into, err = x509.ParseCertificate(rec.DER); err != nil {
			return nil, fmt.Errorf("ca: parsing the %s certificate: %w", p.profile, err)
		}
	}
	return h, nil
}

// Chain returns the issuing CA's certificate followed by the certificates
// above it up to the root, as a relying party needs to build the RFC 5280
// section 6 certification path.
func (a *Authority) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	// From the stored record alone, cached: every signature's pre-signing
	// check asks for it, and the issuing CA's private key has no part in
	// it.
	return a.loadChain(ctx, IssuingName)
}

// RenewOCSP makes a new OCSP responder key and certificate when there is
// none or the current one has passed half its life, and returns the
// certificate to sign with and whether it is new. The old certificate stays
// valid until it expires, so responses signed with it stay verifiable.
func (a *Authority) RenewOCSP(ctx context.Context) (*x509.Certificate, bool, error) {
	return a.renew(ctx, ocspCert)
}

// RenewReceipt is RenewOCSP for the certificate that signs consent
// receipts (profile ProfileReceipt, keys "kyso-receipt-N"): made when
// there is none, replaced at half its life; a receipt signed with an older
// one stays verifiable until that certificate expires.
func (a *Authority) RenewReceipt(ctx context.Context) (*x509.Certificate, bool, error) {
	return a.renew(ctx, receiptCert)
}

// renew returns sc's current certificate, or a new one when there is none
// or the current one has passed half its life.
func (a *Authority) renew(ctx context.Context, sc *serviceCert) (*x509.Certificate, bool, error) {
	rec, err := a.currentCert(ctx, sc.profile)
	if err == nil {
		half := rec.NotBefore.Add(rec.NotAfter.Sub(rec.NotBefore) / 2)
		if a.now().Before(half) {
			c, err := x509.ParseCertificate(rec.DER)
			if err != nil {
				return nil, false, fmt.Errorf("ca: parsing the %s certificate: %w", sc.profile, err)
			}
			return c, false, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	// One process renews: replicas sharing the database (and a signing
	// service making the receipt certificate on first use while the
	// upkeep renews it) would otherwise each make a key and certificate.
	// The others keep the current certificate, still valid, or wait for
	// the first to be made.
	now := a.now()
	ok, err := a.st.ClaimUpkeep(ctx, renewLeasePrefix+sc.profile, a.holder, now, now.Add(RenewLease))
	if err != nil {
		return nil, false, fmt.Errorf("ca: claiming the %s renewal: %w", sc.profile, err)
	}
	if !ok {
		return a.renewedElsewhere(ctx, sc, rec)
	}
	var alg hsm.Algorithm
	if rec != nil {
		if old, err := x509.ParseCertificate(rec.DER); err == nil {
			alg, _ = hsm.AlgorithmOf(old.PublicKey)
		}
	}
	c, err := a.newServiceCert(ctx, sc, "", alg, "")
	if err != nil {
		// Let another process try at once rather than after the lease.
		t := a.now()
		if _, rerr := a.st.ClaimUpkeep(context.WithoutCancel(ctx), renewLeasePrefix+sc.profile, a.holder, t, t.Add(time.Millisecond)); rerr != nil {
			a.log.Warn("ca: releasing the renewal lease", "profile", sc.profile, "err", rerr)
		}
		return nil, false, err
	}
	return c, true, nil
}

// RenewLease is how long one process's claim on renewing a service
// certificate (OCSP, consent receipts) keeps the others from renewing it
// too: longer than making a key and a certificate takes.
const RenewLease = time.Minute

// renewLeasePrefix names a service certificate's renewal lease in the
// store's upkeep leases, followed by its profile.
const renewLeasePrefix = "ca-renew-"

// renewedElsewhere is renew's answer while another process holds the
// renewal's lease: the current certificate (rec) when there is one, still
// valid; otherwise the one the other process is making, waited for.
func (a *Authority) renewedElsewhere(ctx context.Context, sc *serviceCert, rec *store.Certificate) (*x509.Certificate, bool, error) {
	for range 50 {
		if rec != nil {
			c, err := x509.ParseCertificate(rec.DER)
			if err != nil {
				return nil, false, fmt.Errorf("ca: parsing the %s certificate: %w", sc.profile, err)
			}
			return c, false, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		var err error
		if rec, err = a.currentCert(ctx, sc.profile); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("ca: another process has been making the %s certificate for 10 s; try again", sc.profile)
}

// OCSPSigner returns the current OCSP responder certificate and its key, for
// the RFC 6960 responder.
func (a *Authority) OCSPSigner(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	return a.signerFor(ctx, ProfileOCSP)
}

// ReceiptSigner returns the current consent-receipt certificate and its
// key (RenewReceipt makes them).
func (a *Authority) ReceiptSigner(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	return a.signerFor(ctx, ProfileReceipt)
}

// TSASigner returns the current time-stamping certificate and its key, for
// the RFC 3161 server.
func (a *Authority) TSASigner(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	return a.signerFor(ctx, ProfileTSA)
}

func (a *Authority) signerFor(ctx context.Context, profile string) (*x509.Certificate, crypto.Signer, error) {
	rec, err := a.currentCert(ctx, profile)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: parsing the %s certificate: %w", profile, err)
	}
	s, err := a.ks.Signer(ctx, &hsm.SignerRequest{Label: KeyLabel(rec.KeyURI)})
	if err != nil {
		return nil, nil, fmt.Errorf("ca: opening the %s key: %w", profile, err)
	}
	return c, s, nil
}

// ImportRequest installs a provider's real subordinate CA.
type ImportRequest struct {
	// Certificate is the subordinate CA certificate (DER) issued by the
	// national root (NEAC) or another CA above.
	Certificate []byte
	// Chain holds the certificates above it, nearest first, the last one a
	// self-signed root (DER).
	Chain [][]byte
	// KeyLabel names the subordinate's key, already in the key store.
	KeyLabel string
	// Actor is recorded in the audit trail.
	Actor string
}

// ImportSubordinate installs a subordinate CA certificate whose key is
// already in the key store as the issuing CA. It checks that the key store's
// key is the certificate's, that the certificate is a CA allowed to sign
// certificates and CRLs (RFC 5280 sections 4.2.1.3 and 4.2.1.9), and that it
// chains to the given root (RFC 5280 section 6). Run Init afterwards to add
// the OCSP and TSA certificates.
func (a *Authority) ImportSubordinate(ctx context.Context, req *ImportRequest) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(req.Certificate)
	if err != nil {
		return nil, invalid("subordinate CA certificate does not parse: %v", err)
	}
	if len(req.Chain) == 0 {
		return nil, invalid("the chain up to the root is missing")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for i, d := range req.Chain {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, invalid("chain certificate %d does not parse: %v", i, err)
		}
		if i == len(req.Chain)-1 {
			if err := c.CheckSignatureFrom(c); err != nil {
				return nil, invalid("the last chain certificate is not a self-signed root: %v", err)
			}
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 || cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, invalid("the certificate is not a CA allowed to sign certificates and CRLs")
	}
	// Decree 23/2025 caps a public CA's certificate at 10 years. The
	// national root issues it, so a longer one is the root's mis-issuance;
	// kyso still refuses to run on it, because every certificate issued
	// below would chain to a certificate the law does not allow, and the
	// provider is better told now than at its audit.
	if err := checkValidity(ProfileIssuing, cert.NotBefore, cert.NotAfter); err != nil {
		return nil, fmt.Errorf("%w; ask the issuer of the subordinate CA for a certificate within the limit", err)
	}
	if err := checkCAKey(cert.PublicKey); err != nil {
		return nil, err
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: a.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, invalid("the subordinate CA does not chain to the given root: %v", err)
	}
	pub, err := a.ks.PublicKey(ctx, &hsm.PublicKeyRequest{Label: req.KeyLabel})
	if err != nil {
		return nil, fmt.Errorf("ca: reading key %q: %w", req.KeyLabel, err)
	}
	if !hsm.SamePublicKey(pub, cert.PublicKey) {
		return nil, invalid("key %q is not the key certified by the subordinate CA certificate", req.KeyLabel)
	}
	uri := a.keyURI(ctx, req.KeyLabel)
	rec := &store.CA{Name: IssuingName, Kind: "imported-subordinate", KeyURI: uri, CertDER: cert.Raw, ChainDER: req.Chain, Created: a.now().UTC()}
	if err := a.st.PutCA(ctx, rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("ca: an issuing CA is already installed: %w", err)
		}
		return nil, fmt.Errorf("ca: recording the imported CA: %w", err)
	}
	if err := a.audit(ctx, req.Actor, "ca.import", IssuingName, "ok", map[string]any{"subject": display.SubjectDN(cert), "serial": FormatSerialInt(cert.SerialNumber), "key_uri": uri}); err != nil {
		return nil, err
	}
	return cert, nil
}

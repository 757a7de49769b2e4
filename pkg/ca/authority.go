// Package ca is kyso's certificate authority: the RFC 5280 profiles of the
// provider's hierarchy (root, issuing CA, OCSP responder, time-stamping
// authority) and of its subscribers (citizens and organisations, under
// Decree 23/2025/ND-CP), issuance in the order boulder taught — validate,
// reserve the serial, lint a throwaway-signed copy with zlint, audit the
// intent, sign, check, record, audit the result — and revocation with CRLs
// (RFC 5280 section 5).
//
// Every key is a crypto.Signer from an hsm.KeyStore and every record lives in
// a Store (every store.Store is one), so several kysod replicas can share one database and one
// HSM. The package has no HTTP handlers and reads no configuration files.
package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/zmap/zlint/v3/lint"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Names of the CAs Init creates and of the key labels it uses.
const (
	// RootName is the store name of the root CA Init creates.
	RootName = "root"
	// IssuingName is the store name of the CA that issues subscriber,
	// OCSP and TSA certificates: made by Init or by ImportSubordinate.
	IssuingName = "issuing"
)

// Certificate profiles, as recorded in store.Certificate.Profile.
const (
	ProfileRoot    = "root-ca"
	ProfileIssuing = "issuing-ca"
	ProfileOCSP    = "ocsp"
	ProfileTSA     = "tsa"
	// ProfileReceipt certifies the key that signs consent receipts
	// (pkg/signing): the service's own statement of what an owner approved.
	ProfileReceipt      = "receipt"
	ProfileCitizen      = "citizen"
	ProfileOrganisation = "organisation"
)

// DefaultPolicyOID is the certificate policy written when Options.PolicyOID
// is empty: 2.999.704.1.1, under the joint-iso-itu-t "example" arc (2.999,
// ITU-T X.660), 704 being Viet Nam's ISO 3166 number. It is a placeholder
// that can never collide with a real policy. WARNING: a provider must set
// the policy OID registered for its certificate policy.
var DefaultPolicyOID = asn1.ObjectIdentifier{2, 999, 704, 1, 1}

// DefaultBaseURL is the base of the OCSP, caIssuers and CRL URLs written
// into certificates when Options.BaseURL is empty. WARNING: it is a
// development default; certificates carry it for life.
const DefaultBaseURL = "http://127.0.0.1:8080"

// Validity defaults and limits (Decree 23/2025/ND-CP: subscriber 3 years,
// public CA 10 years, TSA 5 years, root 25 years). The Max…Validity
// durations are the longest those many calendar years can be (with their
// leap days), a first bound for a request whose start is not known yet;
// issuance enforces the exact calendar maximum from the certificate's
// notBefore (MaxValidity).
const (
	year                   = 365 * 24 * time.Hour
	DefaultLeafValidity    = 1 * year
	MaxLeafValidity        = 3*year + 24*time.Hour // a leap day
	DefaultRootValidity    = 25 * year
	MaxRootValidity        = 25*year + 7*24*time.Hour
	DefaultIssuingValidity = 10 * year
	MaxIssuingValidity     = 10*year + 3*24*time.Hour
	DefaultTSAValidity     = 5 * year
	MaxTSAValidity         = 5*year + 2*24*time.Hour
	DefaultOCSPValidity    = 30 * 24 * time.Hour
	MaxOCSPValidity        = 90 * 24 * time.Hour
	DefaultCRLValidity     = 7 * 24 * time.Hour
	// DefaultReceiptValidity is the life of a consent-receipt certificate
	// (RenewReceipt replaces it at half life, so a receipt's certificate
	// is valid at least half a year after it was signed).
	DefaultReceiptValidity = 1 * year
	MaxCRLValidity         = 7 * 24 * time.Hour
)

// backdate is how far before "now" certificates and CRLs start, to absorb
// clock skew at relying parties.
const backdate = time.Minute

// IssuerURLs are the URLs written into certificates issued by one CA.
type IssuerURLs struct {
	// OCSP is the responder URL for the AIA id-ad-ocsp (RFC 5280 section
	// 4.2.2.1). Empty: BaseURL + "/ocsp".
	OCSP string
	// CAIssuers is where the issuer's certificate (DER) is served, for AIA
	// id-ad-caIssuers. Empty: BaseURL + "/ca/<issuer>.crt".
	CAIssuers string
	// CRL is the issuer's CRL (DER), for the CRL distribution point (RFC 5280
	// section 4.2.1.13). Empty: BaseURL + "/crl/<issuer>.crl".
	CRL string
}

// Options configure New. The zero value is usable for development.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of serial numbers; nil means crypto/rand.Reader.
	// WARNING: anything but a CSPRNG makes serials predictable.
	Rand io.Reader
	// Logger receives debug and operational messages (not the audit trail,
	// which goes to the store). Nil discards them.
	Logger *slog.Logger
	// Actor is recorded in audit events when a request names none; empty
	// means "kyso".
	Actor string

	// BaseURL is the plain-HTTP base of the revocation and CA-certificate
	// URLs (RFC 5280 sections 4.2.1.13 and 4.2.2.1). Empty means
	// DefaultBaseURL. WARNING: the URLs are written into certificates and
	// cannot be changed afterwards.
	BaseURL string
	// URLs override the URLs of one issuer, by CA name.
	URLs map[string]IssuerURLs
	// PolicyOID is the provider's certificate policy (RFC 5280 section
	// 4.2.1.4), written into every certificate below the root. Nil means
	// DefaultPolicyOID (a placeholder; see its WARNING).
	PolicyOID asn1.ObjectIdentifier

	// LeafValidity is the default validity of citizen and organisation
	// certificates; zero means DefaultLeafValidity (one year). At most
	// MaxLeafValidity.
	LeafValidity time.Duration
	// OCSPValidity is the life of an OCSP responder certificate; zero means
	// DefaultOCSPValidity (30 days). RenewOCSP replaces it at half life.
	OCSPValidity time.Duration
	// CRLValidity is nextUpdate − thisUpdate of CRLs; zero means
	// DefaultCRLValidity (7 days), which is also the maximum.
	CRLValidity time.Duration
	// CRLBatch, when set, batches CRLs: Revoke, Suspend and Resume record
	// the change (OCSP answers it at once) and leave the CRL to the next
	// scheduled one — server.PKI's tick makes it once CRLBatch has passed
	// since the last — but for a key or CA compromise, which makes one at
	// once. Zero makes a CRL at every change, as a lone command must.
	CRLBatch time.Duration
	// CRLShards partitions the issuing CA's CRL (RFC 5280 section 5.2.5)
	// when above 1: each end-entity certificate issued from then on names,
	// in its CRL distribution point, the CRL of shard (serial mod
	// CRLShards) + 1 (ShardURL), recorded with the certificate so that a
	// later change of CRLShards never moves it, and each shard's CRL lists
	// only that shard's revocations under a critical
	// issuingDistributionPoint naming its URL. Certificates issued before
	// keep the issuer's original CRL, which then carries an
	// issuingDistributionPoint too. Zero or 1: one CRL, as before
	// sharding. At most store.MaxCRLShards. See docs/OPERATING.md for
	// choosing it.
	CRLShards int

	// RSAPKCS1v15 makes an RSA CA sign certificates and CRLs with PKCS#1
	// v1.5 (sha256WithRSAEncryption). False, the default, signs them with
	// RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt; RFC 4055), which
	// Circular 15/2025/TT-BKHCN Annex I requires for RSA signatures.
	// ECDSA CAs are not affected. WARNING: only for relying parties that
	// cannot verify RSASSA-PSS; it departs from Annex I.
	RSAPKCS1v15 bool

	// DisableCampaign turns off the campaign rule: by default (false) every
	// citizen certificate is a campaign certificate, and a national ID may
	// hold only one active campaign certificate.
	DisableCampaign bool
}

// Authority is a certificate authority over a store and a key store. It is
// safe for concurrent use, and several Authorities (in several processes)
// may share one store and key store.
type Authority struct {
	st   Store
	ks   hsm.KeyStore
	now  func() time.Time
	rand io.Reader
	log  *slog.Logger
	opts Options
	reg  lint.Registry

	mu      sync.Mutex
	issuers map[string]*issuer
	// chains holds each CA's public certificates (its own, then those
	// above it), read from its stored record without opening its key.
	chains map[string][]*x509.Certificate
	// holder names this Authority in the store's upkeep leases (the
	// service certificates' renewal).
	holder string
}

// issuer is a CA this Authority signs with.
type issuer struct {
	name   string
	rec    *store.CA
	cert   *x509.Certificate
	signer crypto.Signer
	lint   *linter
	// chain is rec.ChainDER parsed: the certificates above cert.
	chain []*x509.Certificate
}

// New returns an Authority. It does not touch the store or the key store;
// call Init or ImportSubordinate to set up a hierarchy.
func New(st Store, ks hsm.KeyStore, opts *Options) (*Authority, error) {
	if st == nil || ks == nil {
		return nil, errors.New("ca: New needs a store and a key store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Actor == "" {
		o.Actor = "kyso"
	}
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
		o.Logger.Warn("ca: no BaseURL configured; certificates will carry the development URLs", "base_url", DefaultBaseURL)
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.PolicyOID == nil {
		o.PolicyOID = DefaultPolicyOID
		o.Logger.Warn("ca: no certificate policy OID configured; using the placeholder", "policy", DefaultPolicyOID.String())
	}
	if o.LeafValidity == 0 {
		o.LeafValidity = DefaultLeafValidity
	}
	if o.OCSPValidity == 0 {
		o.OCSPValidity = DefaultOCSPValidity
	}
	if o.CRLValidity == 0 {
		o.CRLValidity = DefaultCRLValidity
	}
	switch {
	case o.LeafValidity < 0 || o.LeafValidity > MaxLeafValidity:
		return nil, fmt.Errorf("ca: LeafValidity %v is outside (0, %v] (Decree 23/2025: subscriber certificates last at most 3 years)", o.LeafValidity, MaxLeafValidity)
	case o.OCSPValidity < time.Hour || o.OCSPValidity > MaxOCSPValidity:
		return nil, fmt.Errorf("ca: OCSPValidity %v is outside [1h, %v]", o.OCSPValidity, MaxOCSPValidity)
	case o.CRLValidity < time.Hour || o.CRLValidity > MaxCRLValidity:
		return nil, fmt.Errorf("ca: CRLValidity %v is outside [1h, %v]", o.CRLValidity, MaxCRLValidity)
	}
	if o.CRLShards < 0 || o.CRLShards > store.MaxCRLShards {
		return nil, fmt.Errorf("ca: CRLShards %d is outside [0, %d]", o.CRLShards, store.MaxCRLShards)
	}
	reg, err := newLintRegistry()
	if err != nil {
		return nil, err
	}
	return &Authority{
		st: st, ks: ks, now: o.Now, rand: o.Rand, log: o.Logger, opts: o, reg: reg,
		issuers: map[string]*issuer{}, chains: map[string][]*x509.Certificate{},
		holder: rand.Text(),
	}, nil
}

// urls returns the URLs for certificates issued by the CA named name.
func (a *Authority) urls(name string) IssuerURLs {
	u := a.opts.URLs[name]
	if u.OCSP == "" {
		u.OCSP = a.opts.BaseURL + "/ocsp"
	}
	if u.CAIssuers == "" {
		u.CAIssuers = a.opts.BaseURL + "/ca/" + name + ".crt"
	}
	if u.CRL == "" {
		u.CRL = a.opts.BaseURL + "/crl/" + name + ".crl"
	}
	return u
}

// loadIssuer returns the CA named name with its signer, from the cache or
// the store.
func (a *Authority) loadIssuer(ctx context.Context, name string) (*issuer, error) {
	a.mu.Lock()
	is := a.issuers[name]
	a.mu.Unlock()
	if is != nil {
		return is, nil
	}
	rec, certs, err := a.readCA(ctx, name)
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	signer, err := a.ks.Signer(ctx, &hsm.SignerRequest{Label: KeyLabel(rec.KeyURI)})
	if err != nil {
		return nil, fmt.Errorf("ca: opening the key of CA %q: %w", name, err)
	}
	if !hsm.SamePublicKey(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("ca: the key %s does not match the certificate of CA %q", rec.KeyURI, name)
	}
	l, err := newLinter(cert)
	if err != nil {
		return nil, err
	}
	is = &issuer{name: name, rec: rec, cert: cert, signer: signer, lint: l, chain: certs[1:]}
	a.mu.Lock()
	if prev := a.issuers[name]; prev != nil {
		is = prev
	} else {
		a.issuers[name] = is
	}
	a.mu.Unlock()
	return is, nil
}

// loadChain returns the certificate of the CA named name followed by those
// above it, from an issuer already loaded or the stored record: it never
// opens the CA's key, so the public chain every signature asks for costs
// no key-store call.
func (a *Authority) loadChain(ctx context.Context, name string) ([]*x509.Certificate, error) {
	a.mu.Lock()
	is, certs := a.issuers[name], a.chains[name]
	a.mu.Unlock()
	if is != nil {
		return append([]*x509.Certificate{is.cert}, is.chain...), nil
	}
	if certs == nil {
		_, read, err := a.readCA(ctx, name)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if certs = a.chains[name]; certs == nil {
			certs = read
			a.chains[name] = certs
		}
		a.mu.Unlock()
	}
	return append([]*x509.Certificate(nil), certs...), nil
}

// readCA reads the record of the CA named name and parses its certificate
// and the chain above it, returned in that order (at least one).
func (a *Authority) readCA(ctx context.Context, name string) (*store.CA, []*x509.Certificate, error) {
	rec, err := a.st.GetCA(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("ca: %w: no CA named %q (run Init or ImportSubordinate first)", ErrNoHierarchy, name)
		}
		return nil, nil, fmt.Errorf("ca: loading CA %q: %w", name, err)
	}
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: parsing the certificate of CA %q: %w", name, err)
	}
	certs := []*x509.Certificate{cert}
	for _, d := range rec.ChainDER {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, nil, fmt.Errorf("ca: parsing the chain of CA %q: %w", name, err)
		}
		certs = append(certs, c)
	}
	return rec, certs, nil
}

// ErrNoHierarchy: the store holds no CA to issue from yet.
var ErrNoHierarchy = errors.New("no CA hierarchy")

// KeyLabel returns the key label a key URI names ("object" in pkcs11 URIs,
// "name" in vault and softkey ones), or the string itself when it is a bare
// label.
func KeyLabel(uri string) string {
	u, err := hsm.ParseURI(uri)
	if err != nil || (u.Path["object"] == "" && u.Path["name"] == "") {
		return uri
	}
	if l := u.Path["object"]; l != "" {
		return l
	}
	return u.Path["name"]
}

// audit appends an audit event; a failure to audit is returned, because an
// unaudited issuance must not happen.
func (a *Authority) audit(ctx context.Context, actor, action, subject, outcome string, details map[string]any) error {
	e, err := a.auditEvent(actor, action, subject, outcome, details)
	if err != nil {
		return err
	}
	if err := a.st.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("ca: writing audit event %s/%s: %w", action, outcome, err)
	}
	return nil
}

// auditEvent is the event audit appends, for a write that appends it
// with its change (PutCertificate).
func (a *Authority) auditEvent(actor, action, subject, outcome string, details map[string]any) (*store.AuditEvent, error) {
	if actor == "" {
		actor = a.opts.Actor
	}
	d, err := json.Marshal(details)
	if err != nil {
		return nil, fmt.Errorf("ca: encoding audit details: %w", err)
	}
	return &store.AuditEvent{Time: a.now().UTC(), Actor: actor, Action: action, Subject: subject, Outcome: outcome, Details: d}, nil
}

package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"

	// The lint packages of lintSources, and only those: each registers
	// its lints in zlint's global registry from init, and every package
	// linked into a binary is initialised at every start, whatever the
	// command. github.com/zmap/zlint/v3 itself links all ten, for
	// sources kyso never runs.
	_ "github.com/zmap/zlint/v3/lints/community"
	_ "github.com/zmap/zlint/v3/lints/etsi"
	_ "github.com/zmap/zlint/v3/lints/rfc"
)

// ErrLint is wrapped by the error that refuses issuance because zlint found
// an error or a warning in the certificate or CRL about to be signed.
var ErrLint = errors.New("lint failed")

// LintError lists the zlint findings that refused a certificate or CRL.
type LintError struct {
	// Findings are "lint_name: status: details", sorted.
	Findings []string
}

// Error lists the findings.
func (e *LintError) Error() string {
	return "ca: " + ErrLint.Error() + ": " + strings.Join(e.Findings, "; ")
}

// Unwrap makes errors.Is(err, ErrLint) true.
func (e *LintError) Unwrap() error { return ErrLint }

// lintSources are the zlint sources whose lints kyso runs, and why:
//
//   - RFC 5280, RFC 5480, RFC 8813, RFC 3279, RFC 5891, RFC 6960: the
//     profiles of certificates, CRLs, keys and OCSP responder certificates,
//     which Circular 15/2025 Annex I makes mandatory.
//   - ETSI ESI: ETSI EN 319 412 lints; Annex I names the ETSI signature
//     formats, and the lints only apply to certificates claiming QC
//     statements or ETSI policies.
//   - Community: generic good-practice lints.
//
// Not run: CABF_BR, CABF_EV, Chrome, Apple and Mozilla (the Web PKI's TLS
// and browser root store rules — kyso's hierarchy chains to NEAC's national
// root, not a browser store, and issues no TLS certificates), CABF_CS_BR
// (code signing) and CABF_SMIME_BR. The S/MIME Baseline Requirements apply
// to certificates that assert a CA/Browser Forum S/MIME policy OID
// (2.23.140.1.5.*), which kyso never does: its certificates are issued
// under the provider's policy for Decree 23/2025 document signing, and
// emailProtection is there so mail clients accept the signing key for
// signed mail. A provider that wants S/MIME BR certificates must meet that
// standard's own profile and audits; this package does not claim it.
var lintSources = lint.SourceList{
	lint.RFC5280, lint.RFC5480, lint.RFC8813, lint.RFC3279, lint.RFC5891, lint.RFC6960,
	lint.EtsiEsi, lint.Community,
}

// lintExcluded are single lints left out of the chosen sources.
// e_cert_issued_by_compromised_emudhra_ca verifies every certificate's
// signature against one compromised Indian CA's public key; kyso's
// certificates are signed by kyso's own issuer, checked after signing, and
// the check was half of issuance's CPU time.
var lintExcluded = []string{"e_cert_issued_by_compromised_emudhra_ca"}

// newLintRegistry returns the zlint registry kyso lints with.
func newLintRegistry() (lint.Registry, error) {
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lintSources, ExcludeNames: lintExcluded})
	if err != nil {
		return nil, fmt.Errorf("ca: building zlint registry: %w", err)
	}
	return reg, nil
}

// finding collects one lint's result when it is a warning or worse.
func finding(out []string, name string, r *lint.LintResult) []string {
	if r.Status < lint.Warn {
		return out
	}
	f := name + ": " + r.Status.String()
	if r.Details != "" {
		f += ": " + r.Details
	}
	return append(out, f)
}

// lintError is nil without findings, else a *LintError with them sorted.
func lintError(f []string) error {
	if len(f) == 0 {
		return nil
	}
	sort.Strings(f)
	return &LintError{Findings: f}
}

// lintCertificateDER runs zlint over a DER certificate and returns a
// *LintError for any error, warning or fatal finding.
func lintCertificateDER(reg lint.Registry, der []byte) error {
	_, err := lintCertificate(reg, der)
	return err
}

// lintCertificate is lintCertificateDER that also returns the
// TBSCertificate zlint parsed, which issuance compares with the one the
// issuer signs, so the lint copy is parsed once.
func lintCertificate(reg lint.Registry, der []byte) ([]byte, error) {
	zc, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: zlint cannot parse the certificate: %w", err)
	}
	// Each lint runs as zlint.LintCertificateEx runs it.
	var f []string
	conf := reg.GetConfiguration()
	for _, l := range reg.CertificateLints().Lints() {
		f = finding(f, l.Name, l.Execute(zc, conf))
	}
	return zc.RawTBSCertificate, lintError(f)
}

// lintCRLDER runs zlint over a DER CRL.
func lintCRLDER(reg lint.Registry, der []byte) error {
	zc, err := zx509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("ca: zlint cannot parse the CRL: %w", err)
	}
	var f []string
	conf := reg.GetConfiguration()
	for _, l := range reg.RevocationListLints().Lints() {
		f = finding(f, l.Name, l.Execute(zc, conf))
	}
	return lintError(f)
}

// linter signs pre-issuance copies of certificates and CRLs with a
// throwaway key of the same type as an issuer's real key, under a
// throwaway issuer certificate carrying the real issuer's subject, subject
// key identifier, validity and key usage. Go's x509 takes the issuer name
// and the authority key identifier from that certificate, so the copy's
// TBSCertificate is byte for byte the one the real key will sign (boulder's
// linter package does the same).
type linter struct {
	key    crypto.Signer
	issuer *x509.Certificate
}

// newLinter makes a linter for a real issuer certificate.
func newLinter(real *x509.Certificate) (*linter, error) {
	key, err := newLintKey(real.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          real.SerialNumber,
		RawSubject:            real.RawSubject,
		SubjectKeyId:          real.SubjectKeyId,
		NotBefore:             real.NotBefore,
		NotAfter:              real.NotAfter,
		KeyUsage:              real.KeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: making the lint issuer: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: parsing the lint issuer: %w", err)
	}
	return &linter{key: key, issuer: cert}, nil
}

// newLintKey generates the throwaway key that signs lint copies for an
// issuer whose key is pub: of the same type, which the signature algorithm
// names (ecdsa-with-SHA384 is signed by any ECDSA key), and for ECDSA
// always on P-256. The copy's TBSCertificate does not hold the issuer's
// key, only its name and key identifier (issue checks it byte for byte
// against the real one), and no lint kyso runs judges the signature's
// value (TestLintCopyLintsAsIssued), so the curve changes no finding; a
// P-384 signature and its check cost Go about 1.2 ms of CPU, a P-256 one
// 0.1 ms, and every issuance and CRL signs a lint copy.
func newLintKey(pub crypto.PublicKey) (crypto.Signer, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case *rsa.PublicKey:
		return rsa.GenerateKey(rand.Reader, k.N.BitLen())
	case ed25519.PublicKey:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("ca: no throwaway key for issuer key type %T", pub)
}

package pades

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// RevocationSource gives the revocation data of a certificate issued by
// issuer: an OCSP response, or a CRL. *revocation.Fetcher is one; a cache
// or a test double can be another.
type RevocationSource interface {
	OCSP(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.OCSPResult, error)
	CRL(ctx context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error)
}

var _ RevocationSource = (*revocation.Fetcher)(nil)

// Limits of AddLTV.
const (
	// DefaultMaxLTVSignatures bounds the signatures and document
	// time-stamps AddLTV gathers validation data for.
	DefaultMaxLTVSignatures = 64
	// DefaultMaxLTVCertificates bounds the distinct certificates in their
	// chains.
	DefaultMaxLTVCertificates = 256
	// maxDSSEntries bounds the certificates, OCSP responses and CRLs read
	// from an existing DSS, and maxLTVBytes the validation data added in
	// one update.
	maxDSSEntries = 4096
	maxLTVBytes   = 256 << 20
)

// ErrRevoked is returned when a certificate was revoked before the time
// its signature or time-stamp claims: no validation data can make that
// signature valid.
var ErrRevoked = errors.New("pades: certificate revoked")

// LTVOptions say where AddLTV finds the trust anchors and the revocation
// data. Roots and Revocation are required.
type LTVOptions struct {
	// Roots are the trust anchors every chain must end in. They are
	// written to the DSS too (as pyHanko does), but a validator trusts
	// only its own.
	Roots *x509.CertPool
	// Intermediates help build chains, besides the certificates in the
	// signatures, their time-stamp tokens and the DSS.
	Intermediates []*x509.Certificate
	// Revocation fetches an OCSP response, or failing that a CRL, for
	// every certificate of every chain but the anchor and OCSP responders
	// with id-pkix-ocsp-nocheck. Usually a *revocation.Fetcher.
	Revocation RevocationSource
	// Now is the clock, for the VRI /TU entries and the chains of
	// signatures without a time-stamp; nil means time.Now.
	Now func() time.Time
	// Limits bounds the reading of the (untrusted) PDF; nil means pdf's
	// defaults.
	Limits *pdf.Limits
	// MaxSignatures and MaxCertificates bound the work; zero means
	// DefaultMaxLTVSignatures and DefaultMaxLTVCertificates.
	MaxSignatures   int
	MaxCertificates int
}

// AddLTV writes to w the PDF of size bytes in r with, appended as an
// incremental update (ISO 32000-2 §7.5.6), a document security store
// holding what validates every signature and document time-stamp in it
// (PAdES B-LT, ETSI EN 319 142-1 clause 5.4.2 and 6.5; ISO 32000-2
// §12.8.4.3): for each, the certificate chain of the signer and of its
// time-stamp tokens' signers up to one of Roots, and for every certificate
// but the anchor an OCSP response or a CRL from opts.Revocation; and a
// /VRI entry (§12.8.4.4) keyed by the upper-case hex SHA-1 of the
// signature's /Contents, with the /Cert, /OCSP and /CRL it uses and /TU.
//
// An existing DSS is merged, not replaced: its entries and VRI entries are
// kept as they are, data already in it is not written twice, and fresh
// revocation data is added next to the old (so extending a document again
// adds what is current). When a fetch fails for a certificate the DSS
// already holds data for, the old data stands; otherwise AddLTV fails and
// writes nothing. A certificate revoked before its signature's time (the
// earliest signature time-stamp, or now without one) is an error wrapping
// ErrRevoked. For a document older than PDF 2.0 the catalog gets the ESIC
// developer extension (BaseVersion 1.7, ExtensionLevel 5) that announces
// PAdES. With nothing new to add, w gets the document unchanged.
func AddLTV(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, opts *LTVOptions) error {
	l, err := newLTV(opts)
	if err != nil {
		return err
	}
	section, err := l.section(ctx, r, size)
	if err != nil {
		return err
	}
	return writeWith(w, r, size, section)
}

// writeWith writes the size bytes of r, then section.
func writeWith(w io.Writer, r io.ReaderAt, size int64, section []byte) error {
	if err := copyOriginal(r, size, copyBuffer(size), w); err != nil {
		return err
	}
	if _, err := w.Write(section); err != nil {
		return fmt.Errorf("pades: writing the update: %w", err)
	}
	return nil
}

// ltv gathers validation data; its cache of revocation answers lasts the
// whole Extend, so the update after a document time-stamp fetches only
// for certificates it has not seen.
type ltv struct {
	o     LTVOptions
	cache map[[32]byte]*revData
}

// revData is the revocation data found for one certificate.
type revData struct {
	ocsp, crl []byte
	signers   []*x509.Certificate // OCSP responder certificates
	status    revocation.Status
	revokedAt time.Time
}

func newLTV(opts *LTVOptions) (*ltv, error) {
	if opts == nil || opts.Roots == nil || opts.Revocation == nil {
		return nil, errors.New("pades: LTVOptions.Roots and LTVOptions.Revocation are required")
	}
	l := &ltv{o: *opts, cache: map[[32]byte]*revData{}}
	if l.o.Now == nil {
		l.o.Now = time.Now
	}
	if l.o.MaxSignatures <= 0 {
		l.o.MaxSignatures = DefaultMaxLTVSignatures
	}
	if l.o.MaxCertificates <= 0 {
		l.o.MaxCertificates = DefaultMaxLTVCertificates
	}
	return l, nil
}

// sigInfo is one signature or document time-stamp of the document.
type sigInfo struct {
	field    string
	contents []byte // /Contents as stored, padding included: the VRI key's input
	docTS    bool   // SubFilter ETSI.RFC3161
	// ends are the certificates to build chains from: the signer, then
	// each time-stamp token's signer, with the time the chain must be
	// valid at.
	ends []endCert
	// certs are the certificates the CMS and its tokens carry.
	certs []*x509.Certificate
	// timestamped is whether a CMS signature has a signature time-stamp.
	timestamped bool
}

type endCert struct {
	cert *x509.Certificate
	at   time.Time // the claimed time: of the earliest time-stamp, genTime, or now
}

// vriKey is the key of a signature's VRI entry: the upper-case hex SHA-1
// of its /Contents bytes, padding included (ISO 32000-2 §12.8.4.4, ETSI EN
// 319 142-1 clause 5.4.2.2).
func vriKey(contents []byte) pdf.Name {
	sum := sha1.Sum(contents)
	return pdf.Name(strings.ToUpper(hex.EncodeToString(sum[:])))
}

// signatures reads every signed signature field: its /Contents parsed as
// a CMS SignedData (a CAdES signature or, for a document time-stamp, a
// TimeStampToken) with the tokens it carries.
func (l *ltv) signatures(rd *pdf.Reader) ([]*sigInfo, error) {
	fields, err := rd.Fields()
	if err != nil {
		return nil, fmt.Errorf("pades: reading the form fields: %w", err)
	}
	now := l.o.Now()
	var sigs []*sigInfo
	for _, f := range fields {
		if !f.IsSignature() || f.Value == nil {
			continue
		}
		if len(sigs) == l.o.MaxSignatures {
			return nil, fmt.Errorf("pades: more than %d signatures", l.o.MaxSignatures)
		}
		o, err := rd.Get(f.Value)
		if err != nil {
			return nil, fmt.Errorf("pades: reading the signature of field %q: %w", f.Name, err)
		}
		d, ok := o.(*pdf.Dict)
		if !ok {
			return nil, fmt.Errorf("pades: field %q: the signature is not a dictionary: %w", f.Name, pdf.ErrMalformed)
		}
		co, err := rd.Get(d.Get("Contents"))
		if err != nil {
			return nil, fmt.Errorf("pades: field %q: reading /Contents: %w", f.Name, err)
		}
		c, ok := co.(pdf.String)
		if !ok || len(c.Value) == 0 || len(c.Value) > cms.MaxSize {
			return nil, fmt.Errorf("pades: field %q: /Contents is not a string of 1 to %d bytes: %w", f.Name, cms.MaxSize, pdf.ErrMalformed)
		}
		sub, _ := d.Get("SubFilter").(pdf.Name)
		s := &sigInfo{field: f.Name, contents: c.Value, docTS: sub == "ETSI.RFC3161"}
		switch sub {
		case "ETSI.CAdES.detached", "adbe.pkcs7.detached", "ETSI.RFC3161":
		default:
			return nil, fmt.Errorf("pades: field %q: SubFilter %q: %w", f.Name, sub, ErrUnsupported)
		}
		sd, err := cms.Parse(c.Value)
		if err != nil {
			return nil, fmt.Errorf("pades: field %q: %w", f.Name, err)
		}
		if sd.Signer == nil {
			return nil, fmt.Errorf("pades: field %q: the signer's certificate is not in the signature", f.Name)
		}
		s.certs = append(s.certs, sd.Certificates...)
		if s.docTS {
			tok, err := tsa.ParseToken(sd.Raw)
			if err != nil {
				return nil, fmt.Errorf("pades: field %q: the document time-stamp: %w", f.Name, err)
			}
			s.ends = append(s.ends, endCert{sd.Signer, tok.GenTime})
		} else {
			at := now
			for _, ts := range sd.Timestamps {
				if ts.SignedData.Signer == nil {
					return nil, fmt.Errorf("pades: field %q: the time-stamp token does not carry its signer's certificate", f.Name)
				}
				s.ends = append(s.ends, endCert{ts.SignedData.Signer, ts.GenTime})
				s.certs = append(s.certs, ts.SignedData.Certificates...)
				if ts.GenTime.Before(at) {
					at = ts.GenTime
				}
			}
			s.timestamped = len(sd.Timestamps) > 0
			s.ends = slices.Insert(s.ends, 0, endCert{sd.Signer, at})
		}
		sigs = append(sigs, s)
	}
	return sigs, nil
}

// dss is a document security store being extended.
type dss struct {
	old *pdf.Dict // nil when there is none
	ref pdf.Ref   // its reference when indirect
	// Existing and added entries, by SHA-256 of their DER.
	have  map[string]map[[32]byte]pdf.Ref // key: Certs, OCSPs, CRLs
	added map[string][]pdf.Ref
	// Existing data, for deciding whether a failed fetch matters.
	oldCerts     []*x509.Certificate
	oldOCSP      [][]byte
	oldCRL       [][]byte
	oldVRI       *pdf.Dict
	newVRI       []pdf.Name
	newVRIValues map[pdf.Name]*pdf.Dict
	bytes        int
}

var dssKeys = []pdf.Name{"Certs", "OCSPs", "CRLs"}

// readDSS reads the catalog's /DSS, if any.
func readDSS(rd *pdf.Reader, cat *pdf.Dict) (*dss, error) {
	d := &dss{have: map[string]map[[32]byte]pdf.Ref{}, added: map[string][]pdf.Ref{}, newVRIValues: map[pdf.Name]*pdf.Dict{}}
	for _, k := range dssKeys {
		d.have[string(k)] = map[[32]byte]pdf.Ref{}
	}
	v := cat.Get("DSS")
	if v == nil {
		return d, nil
	}
	d.ref, _ = v.(pdf.Ref)
	o, err := rd.Get(v)
	if err != nil {
		return nil, fmt.Errorf("pades: reading the DSS: %w", err)
	}
	old, ok := o.(*pdf.Dict)
	if !ok {
		if _, null := o.(pdf.Null); null {
			return d, nil
		}
		return nil, fmt.Errorf("pades: the catalog's /DSS is not a dictionary: %w", pdf.ErrMalformed)
	}
	d.old = old
	n := 0
	for _, k := range dssKeys {
		arr, err := resolveArray(rd, old.Get(k))
		if err != nil {
			return nil, fmt.Errorf("pades: reading the DSS's /%s: %w", k, err)
		}
		for _, e := range arr {
			ref, ok := e.(pdf.Ref)
			if !ok {
				continue
			}
			if n++; n > maxDSSEntries {
				return nil, fmt.Errorf("pades: the DSS has more than %d entries", maxDSSEntries)
			}
			so, err := rd.Resolve(ref)
			if err != nil {
				return nil, fmt.Errorf("pades: reading DSS entry %v: %w", ref, err)
			}
			st, ok := so.(*pdf.Stream)
			if !ok {
				continue
			}
			der, err := rd.StreamData(st)
			if err != nil {
				return nil, fmt.Errorf("pades: reading DSS entry %v: %w", ref, err)
			}
			d.have[string(k)][sha256.Sum256(der)] = ref
			switch k {
			case "Certs":
				if c, err := x509.ParseCertificate(der); err == nil {
					d.oldCerts = append(d.oldCerts, c)
				}
			case "OCSPs":
				d.oldOCSP = append(d.oldOCSP, der)
			case "CRLs":
				d.oldCRL = append(d.oldCRL, der)
			}
		}
	}
	vo, err := rd.Get(old.Get("VRI"))
	if err != nil {
		return nil, fmt.Errorf("pades: reading the DSS's /VRI: %w", err)
	}
	d.oldVRI, _ = vo.(*pdf.Dict)
	return d, nil
}

// resolveArray returns the array v is or refers to; nil for none.
func resolveArray(rd *pdf.Reader, v pdf.Object) (pdf.Array, error) {
	o, err := rd.Get(v)
	if err != nil {
		return nil, err
	}
	a, _ := o.(pdf.Array)
	return a, nil
}

// put adds der under key (Certs, OCSPs or CRLs) unless the DSS has it, and
// returns its reference.
func (d *dss) put(w *pdf.Writer, key string, der []byte) (pdf.Ref, error) {
	h := sha256.Sum256(der)
	if ref, ok := d.have[key][h]; ok {
		return ref, nil
	}
	if d.bytes += len(der); d.bytes > maxLTVBytes {
		return pdf.Ref{}, fmt.Errorf("pades: more than %d bytes of validation data", maxLTVBytes)
	}
	ref := w.Add(&pdf.Stream{Dict: pdf.NewDict(), Data: der})
	d.have[key][h] = ref
	d.added[key] = append(d.added[key], ref)
	return ref, nil
}

// hasRevocation reports whether the DSS already holds an OCSP response or
// CRL for cert that verifies with issuer.
func (d *dss) hasRevocation(cert, issuer *x509.Certificate) bool {
	for _, der := range d.oldOCSP {
		if _, err := revocation.ParseOCSP(der, cert, issuer); err == nil {
			return true
		}
	}
	for _, der := range d.oldCRL {
		if _, err := revocation.ParseCRL(der, cert, issuer); err == nil {
			return true
		}
	}
	return false
}

// section gathers validation data for the PDF of size bytes in r and lays
// out the incremental update holding it; nil when there is nothing new.
func (l *ltv) section(ctx context.Context, r io.ReaderAt, size int64) ([]byte, error) {
	rd, err := pdf.Open(r, size, l.o.Limits)
	if err != nil {
		if errors.Is(err, pdf.ErrEncrypted) {
			return nil, fmt.Errorf("pades: cannot extend an encrypted PDF: %w", err)
		}
		return nil, fmt.Errorf("pades: reading the PDF: %w", err)
	}
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return nil, fmt.Errorf("pades: reading the catalog: %w", err)
	}
	sigs, err := l.signatures(rd)
	if err != nil {
		return nil, err
	}
	if len(sigs) == 0 {
		return nil, errors.New("pades: the document has no signature to add validation data for")
	}
	d, err := readDSS(rd, cat)
	if err != nil {
		return nil, err
	}
	w := pdf.NewIncrementalWriter(r, size, rd)

	inter := x509.NewCertPool()
	for _, c := range l.o.Intermediates {
		inter.AddCert(c)
	}
	for _, c := range d.oldCerts {
		inter.AddCert(c)
	}
	for _, s := range sigs {
		for _, c := range s.certs {
			inter.AddCert(c)
		}
	}
	seen := map[[32]byte]bool{}
	tu := pdf.String{Value: []byte(pdfDate(l.o.Now().UTC()))}
	for _, s := range sigs {
		var certRefs, ocspRefs, crlRefs []pdf.Ref
		add := func(refs *[]pdf.Ref, key string, der []byte) error {
			ref, err := d.put(w, key, der)
			if err == nil && !slices.Contains(*refs, ref) {
				*refs = append(*refs, ref)
			}
			return err
		}
		for _, e := range s.ends {
			chain, err := l.chain(e, inter)
			if err != nil {
				return nil, fmt.Errorf("pades: field %q: %w", s.field, err)
			}
			for i, c := range chain {
				if h := sha256.Sum256(c.Raw); !seen[h] {
					if seen[h] = true; len(seen) > l.o.MaxCertificates {
						return nil, fmt.Errorf("pades: more than %d certificates", l.o.MaxCertificates)
					}
				}
				if err := add(&certRefs, "Certs", c.Raw); err != nil {
					return nil, err
				}
				if i == len(chain)-1 || hasOCSPNoCheck(c) {
					continue // the anchor; a responder exempt from checks (RFC 6960 section 4.2.2.2.1)
				}
				rv, err := l.revocation(ctx, c, chain[i+1], d)
				if err != nil {
					return nil, fmt.Errorf("pades: field %q: %w", s.field, err)
				}
				if rv == nil {
					continue // the DSS already has it
				}
				if rv.status == revocation.Revoked && !rv.revokedAt.After(e.at) {
					return nil, fmt.Errorf("%w: %s was revoked at %s, not after %s, the time of the signature in field %q",
						ErrRevoked, c.Subject, rv.revokedAt.UTC().Format(time.RFC3339), e.at.UTC().Format(time.RFC3339), s.field)
				}
				if rv.ocsp != nil {
					if err := add(&ocspRefs, "OCSPs", rv.ocsp); err != nil {
						return nil, err
					}
				}
				if rv.crl != nil {
					if err := add(&crlRefs, "CRLs", rv.crl); err != nil {
						return nil, err
					}
				}
				for _, rc := range rv.signers {
					if err := add(&certRefs, "Certs", rc.Raw); err != nil {
						return nil, err
					}
				}
			}
		}
		key := vriKey(s.contents)
		if d.oldVRI.Get(key) != nil || d.newVRIValues[key] != nil {
			continue // VRI entries are never rewritten (a validator may see that as a change)
		}
		v := pdf.NewDict()
		v.Set("Type", pdf.Name("VRI"))
		v.Set("Cert", refArray(certRefs))
		if len(ocspRefs) > 0 {
			v.Set("OCSP", refArray(ocspRefs))
		}
		if len(crlRefs) > 0 {
			v.Set("CRL", refArray(crlRefs))
		}
		v.Set("TU", tu)
		d.newVRI = append(d.newVRI, key)
		d.newVRIValues[key] = v
	}
	changed := len(d.newVRI) > 0
	for _, k := range dssKeys {
		changed = changed || len(d.added[string(k)]) > 0
	}
	if !changed {
		return nil, nil
	}
	if err := d.write(rd, w, cat, catRef); err != nil {
		return nil, err
	}
	section, err := w.Section()
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	return bytes.Clone(section), nil
}

func refArray(refs []pdf.Ref) pdf.Array {
	a := make(pdf.Array, len(refs))
	for i, r := range refs {
		a[i] = r
	}
	return a
}

// chain builds e's chain to one of the roots, valid at the time e's
// signature claims.
func (l *ltv) chain(e endCert, inter *x509.CertPool) ([]*x509.Certificate, error) {
	chains, err := e.cert.Verify(x509.VerifyOptions{Roots: l.o.Roots, Intermediates: inter, CurrentTime: e.at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, fmt.Errorf("building the chain of %s at %s: %w", e.cert.Subject, e.at.UTC().Format(time.RFC3339), err)
	}
	return chains[0], nil
}

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

func hasOCSPNoCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) {
			return true
		}
	}
	return false
}

// prefetch gathers, before anything is signed, the validation data of
// the signer's chain that extend will embed (kept in the cache it reads):
// a B-LT signature whose signer's validation data cannot be had now is
// refused before the key is used, rather than made and then lost.
func (l *ltv) prefetch(ctx context.Context, cert *x509.Certificate, chain []*x509.Certificate) error {
	inter := x509.NewCertPool()
	for _, c := range chain {
		inter.AddCert(c)
	}
	full, err := l.chain(endCert{cert: cert, at: l.o.Now()}, inter)
	if err != nil {
		return fmt.Errorf("pades: before signing: %w", err)
	}
	none := &dss{}
	for i, c := range full {
		if i == len(full)-1 || hasOCSPNoCheck(c) {
			continue
		}
		rv, err := l.revocation(ctx, c, full[i+1], none)
		if err != nil {
			return fmt.Errorf("pades: before signing, the validation data the level needs: %w; nothing was signed", err)
		}
		if rv.status == revocation.Revoked {
			return fmt.Errorf("%w: %s is revoked; nothing was signed", ErrRevoked, c.Subject)
		}
	}
	return nil
}

// revocation returns fresh revocation data for cert: an OCSP response
// that knows it, or else a CRL. When neither can be had and the DSS
// already holds data for cert, it returns nil and no error.
func (l *ltv) revocation(ctx context.Context, cert, issuer *x509.Certificate, d *dss) (*revData, error) {
	key := sha256.Sum256(append(bytes.Clone(cert.Raw), issuer.Raw...))
	if rv, ok := l.cache[key]; ok {
		return rv, nil
	}
	var errs []error
	var rv *revData
	res, err := l.o.Revocation.OCSP(ctx, cert, issuer)
	switch {
	case err != nil:
		errs = append(errs, err)
	case res.Status == revocation.Unknown:
		errs = append(errs, fmt.Errorf("the OCSP responder does not know %s", cert.Subject))
	default:
		rv = &revData{ocsp: res.Raw, status: res.Status}
		if res.Status == revocation.Revoked {
			rv.revokedAt = res.Response.RevokedAt
		}
		if res.Responder != nil && !res.Responder.Equal(issuer) {
			rv.signers = append(rv.signers, res.Responder)
		}
	}
	if rv == nil {
		res, err := l.o.Revocation.CRL(ctx, cert, issuer)
		if err != nil {
			errs = append(errs, err)
		} else {
			rv = &revData{crl: res.Raw, status: res.Status}
			if res.Entry != nil {
				rv.revokedAt = res.Entry.RevocationTime
			}
		}
	}
	if rv == nil {
		if d.hasRevocation(cert, issuer) {
			return nil, nil
		}
		return nil, fmt.Errorf("no revocation data for %s: %w", cert.Subject, errors.Join(errs...))
	}
	l.cache[key] = rv
	return rv, nil
}

// write lays the DSS out in w: existing arrays and VRI extended in place
// when they are indirect objects, the DSS dictionary updated or, when new
// or direct, added and referred to from the catalog, with the ESIC
// extension for a document older than PDF 2.0 (ETSI EN 319 142-1 clause
// 5.4.1).
func (d *dss) write(rd *pdf.Reader, w *pdf.Writer, cat *pdf.Dict, catRef pdf.Ref) error {
	nd := pdf.NewDict()
	if d.old != nil {
		nd = d.old.Clone()
	} else {
		nd.Set("Type", pdf.Name("DSS"))
	}
	for _, k := range dssKeys {
		added := d.added[string(k)]
		if len(added) == 0 {
			continue
		}
		cur := nd.Get(k)
		arr, err := resolveArray(rd, cur)
		if err != nil {
			return fmt.Errorf("pades: reading the DSS's /%s: %w", k, err)
		}
		arr = append(append(pdf.Array{}, arr...), refArray(added)...)
		if ref, ok := cur.(pdf.Ref); ok {
			w.Update(ref, arr)
		} else {
			nd.Set(k, arr)
		}
	}
	if len(d.newVRI) > 0 {
		vri := pdf.NewDict()
		if d.oldVRI != nil {
			vri = d.oldVRI.Clone()
		}
		for _, k := range d.newVRI {
			vri.Set(k, d.newVRIValues[k])
		}
		if ref, ok := nd.Get("VRI").(pdf.Ref); ok && d.oldVRI != nil {
			w.Update(ref, vri)
		} else {
			nd.Set("VRI", vri)
		}
	}
	newCat := cat.Clone()
	catChanged := false
	if d.old != nil && d.ref != (pdf.Ref{}) {
		w.Update(d.ref, nd)
	} else {
		newCat.Set("DSS", w.Add(nd))
		catChanged = true
	}
	changed, err := addESIC(rd, w, cat, newCat)
	if err != nil {
		return err
	}
	if catChanged || changed {
		w.Update(catRef, newCat)
	}
	return nil
}

// addESIC adds to newCat's /Extensions the ESIC developer extension
// (BaseVersion 1.7, ExtensionLevel 5: ETSI EN 319 142-1 clause 5.4.1),
// which tells a reader of a PDF older than 2.0 that it holds PAdES
// structures (the DSS, document time-stamps). It reports whether newCat
// changed; an indirect /Extensions is updated in place.
func addESIC(rd *pdf.Reader, w *pdf.Writer, cat, newCat *pdf.Dict) (bool, error) {
	if pdfVersion(rd, cat) >= 20 {
		return false, nil
	}
	v := cat.Get("Extensions")
	o, err := rd.Get(v)
	if err != nil {
		return false, fmt.Errorf("pades: reading the catalog's /Extensions: %w", err)
	}
	ext, _ := o.(*pdf.Dict)
	if ext.Get("ESIC") != nil {
		return false, nil
	}
	if ext == nil {
		ext = pdf.NewDict()
	} else {
		ext = ext.Clone()
	}
	esic := pdf.NewDict()
	esic.Set("BaseVersion", pdf.Name("1.7"))
	esic.Set("ExtensionLevel", pdf.Int(5))
	ext.Set("ESIC", esic)
	if ref, ok := v.(pdf.Ref); ok && o != nil {
		if _, null := o.(pdf.Null); !null {
			w.Update(ref, ext)
			return false, nil
		}
	}
	newCat.Set("Extensions", ext)
	return true, nil
}

// pdfVersion is the document's version times ten: the header's, or the
// catalog's /Version when later (ISO 32000-2 §7.7.2).
func pdfVersion(rd *pdf.Reader, cat *pdf.Dict) int {
	v := parseVersion(rd.Version())
	if n, ok := cat.Get("Version").(pdf.Name); ok {
		v = max(v, parseVersion(string(n)))
	}
	return v
}

func parseVersion(s string) int {
	major, minor, _ := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(major)
	b, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil || a < 0 || a > 9 || b < 0 || b > 9 {
		return 0
	}
	return a*10 + b
}

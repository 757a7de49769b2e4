package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
)

// Bounds on the validation data read from a document.
const (
	maxDataItems = 1024
	maxDataBytes = 4 << 20
)

// validationData is certificates and revocation data: a document's DSS
// (ETSI EN 319 142-1 clause 5.4.2) or what a signature carries.
type validationData struct {
	certs []*x509.Certificate
	ocsps [][]byte
	crls  [][]byte
	// found is true when a DSS dictionary was there.
	found bool
	// proven says from when an item is proven to exist (a document
	// time-stamp over it); nil, or a zero answer, means only now.
	proven func(raw []byte) time.Time
}

// provenAt is when raw is proven to exist: by d.proven, else now.
func (d *validationData) provenAt(raw []byte, now time.Time) time.Time {
	if d.proven != nil {
		if t := d.proven(raw); !t.IsZero() {
			return t
		}
	}
	return now
}

// validAt reports whether the certificate that signed revocation data was
// valid when the data is proven to exist: data signed by a certificate
// that has since expired proves nothing unless something shows it was made
// while the certificate was valid (ETSI EN 319 102-1 clause 5.6.2.3; EU DSS
// LTV_ISCKNR).
func validAt(signer *x509.Certificate, t time.Time) bool {
	return signer != nil && !t.Before(signer.NotBefore) && !t.After(signer.NotAfter)
}

func (d *validationData) pool() *x509.CertPool {
	p := x509.NewCertPool()
	if d == nil {
		return p
	}
	for _, c := range d.certs {
		p.AddCert(c)
	}
	return p
}

// validationData returns the final revision's DSS, read once.
func (v *validation) validationData() *validationData {
	if v.dss == nil {
		v.dss = readDSS(v.final)
		v.dss.proven = v.provenByDocTimestamp
	}
	return v.dss
}

// readDSS reads the /DSS of the catalog of rd: the streams of /Certs,
// /OCSPs and /CRLs. What cannot be read is skipped: it only weakens what
// can be proven.
func readDSS(rd *pdf.Reader) *validationData {
	d := &validationData{}
	cat, _, err := rd.Catalog()
	if err != nil {
		return d
	}
	obj, err := rd.Get(cat.Get("DSS"))
	dss, ok := obj.(*pdf.Dict)
	if err != nil || !ok {
		return d
	}
	d.found = true
	streams := func(key pdf.Name) [][]byte {
		obj, err := rd.Get(dss.Get(key))
		arr, ok := obj.(pdf.Array)
		if err != nil || !ok {
			return nil
		}
		var out [][]byte
		for i, o := range arr {
			if i >= maxDataItems {
				break
			}
			so, err := rd.Get(o)
			st, ok := so.(*pdf.Stream)
			if err != nil || !ok {
				continue
			}
			b, err := rd.StreamData(st)
			if err != nil || len(b) > maxDataBytes {
				continue
			}
			out = append(out, b)
		}
		return out
	}
	for _, b := range streams("Certs") {
		if c, err := x509.ParseCertificate(b); err == nil {
			d.certs = append(d.certs, c)
		}
	}
	d.ocsps = streams("OCSPs")
	d.crls = streams("CRLs")
	return d
}

// oidRevocationInfoArchival is Adobe's signed attribute carrying revocation
// data in a PKCS#7 signature (ISO 32000-2 §12.8.3.3.2).
var oidRevocationInfoArchival = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8}

// archivalData reads revocationInfoArchival ::= SEQUENCE { crl [0] EXPLICIT
// SEQUENCE OF CRLs OPTIONAL, ocsp [1] EXPLICIT SEQUENCE OF OCSPResponse
// OPTIONAL, otherRevInfo [2] ... OPTIONAL }.
func archivalData(sd *cms.SignedData) validationData {
	var d validationData
	for _, a := range sd.SignedAttributes {
		if !a.Type.Equal(oidRevocationInfoArchival) || len(a.Values) == 0 {
			continue
		}
		in := cryptobyte.String(a.Values[0])
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
			continue
		}
		for !seq.Empty() {
			var el cryptobyte.String
			var tag cbasn1.Tag
			if !seq.ReadAnyASN1(&el, &tag) {
				break
			}
			var list cryptobyte.String
			if !el.ReadASN1(&list, cbasn1.SEQUENCE) {
				continue
			}
			for !list.Empty() && len(d.crls)+len(d.ocsps) < maxDataItems {
				var item cryptobyte.String
				if !list.ReadASN1Element(&item, cbasn1.SEQUENCE) {
					break
				}
				switch tag {
				case cbasn1.Tag(0).Constructed().ContextSpecific():
					d.crls = append(d.crls, item)
				case cbasn1.Tag(1).Constructed().ContextSpecific():
					d.ocsps = append(d.ocsps, item)
				}
			}
		}
	}
	return d
}

// status is what revocation data says of one certificate at one time.
type status struct {
	known     bool      // some usable data was found
	revoked   bool      // revoked (or on hold) at or before the time asked
	revokedAt time.Time // when, if revoked at any time the data shows
	hold      bool      // the reason is certificateHold: suspended
	reason    int
	source    string // "OCSP" or "CRL", and where from
}

// ocspStatus evaluates the OCSP responses in raws for cert at time t; each
// is checked by revocation.ParseOCSP (signer, certID) first.
func ocspStatus(d *validationData, m *memo, cert, issuer *x509.Certificate, t, now time.Time, from string) status {
	var st status
	for _, raw := range d.ocsps {
		res, err := m.parseOCSP(raw, cert, issuer)
		if err != nil || res.Response.ThisUpdate.After(now.Add(5*time.Minute)) || !validAt(res.Responder, d.provenAt(raw, now)) {
			continue
		}
		resp := res.Response
		switch res.Status {
		case revocation.Revoked:
			r := status{known: true, revokedAt: resp.RevokedAt, reason: resp.RevocationReason,
				hold: resp.RevocationReason == ocsp.CertificateHold, source: "OCSP " + from}
			if !resp.RevokedAt.After(t) {
				r.revoked = true
				return r
			}
			if fresh(resp.ThisUpdate, resp.NextUpdate, t) {
				st = r
			}
		case revocation.Good:
			if fresh(resp.ThisUpdate, resp.NextUpdate, t) && !st.known && speaksFor(resp.ThisUpdate, keptSince(resp.Extensions, oidArchiveCutoff), cert) {
				st = status{known: true, source: "OCSP " + from}
			}
		}
	}
	return st
}

// fresh reports whether data produced at thisUpdate, valid until
// nextUpdate, speaks for time t: it was produced after t, or t lies in its
// validity.
func fresh(thisUpdate, nextUpdate, t time.Time) bool {
	if !thisUpdate.Before(t) {
		return true
	}
	return !nextUpdate.IsZero() && !t.After(nextUpdate)
}

// crlStatus evaluates the CRLs in raws for cert at time t; each is checked
// by revocation.ParseCRL (issuer, signature, completeness) first.
func crlStatus(d *validationData, m *memo, cert, issuer *x509.Certificate, t, now time.Time, from string) status {
	var st status
	for _, raw := range d.crls {
		res, err := m.parseCRL(raw, cert, issuer)
		if err != nil || res.List.ThisUpdate.After(now.Add(5*time.Minute)) || !validAt(issuer, d.provenAt(raw, now)) {
			continue
		}
		rl := res.List
		if e := res.Entry; e != nil {
			r := status{known: true, revokedAt: e.RevocationTime, reason: e.ReasonCode,
				hold: e.ReasonCode == ocsp.CertificateHold, source: "CRL " + from}
			if !e.RevocationTime.After(t) {
				r.revoked = true
				return r
			}
			if fresh(rl.ThisUpdate, rl.NextUpdate, t) {
				st = r
			}
			continue
		}
		if fresh(rl.ThisUpdate, rl.NextUpdate, t) && !st.known && speaksFor(rl.ThisUpdate, keptSince(rl.Extensions, oidExpiredCertsOnCRL), cert) {
			st = status{known: true, source: "CRL " + from}
		}
	}
	return st
}

// Extensions by which revocation data says it keeps expired certificates:
// the CRL extension expiredCertsOnCRL (ITU-T X.509, OID 2.5.29.60) and the
// OCSP single extension archiveCutoff (RFC 6960 section 4.4.4).
var (
	oidExpiredCertsOnCRL = asn1.ObjectIdentifier{2, 5, 29, 60}
	oidArchiveCutoff     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 6}
)

// keptSince reads the GeneralizedTime of extension id, nil when absent.
func keptSince(exts []pkix.Extension, id asn1.ObjectIdentifier) *time.Time {
	for _, e := range exts {
		var t time.Time
		if e.Id.Equal(id) {
			if _, err := asn1.UnmarshalWithParams(e.Value, &t, "generalized"); err == nil {
				return &t
			}
		}
	}
	return nil
}

// speaksFor reports whether data issued at thisUpdate that does not list
// cert as revoked says it is not: a CA may drop an expired certificate from
// its CRLs and an OCSP responder forget it (RFC 5280 section 3.3, RFC 6960
// section 4.4.4), so data issued after cert expired says nothing of it,
// unless it keeps expired certificates since a time no later than that
// expiry (kept). EU DSS checks the same (BBB_XCV_REVOC_HAS_CERT_INFO).
func speaksFor(thisUpdate time.Time, kept *time.Time, cert *x509.Certificate) bool {
	if !thisUpdate.After(cert.NotAfter) {
		return true
	}
	return kept != nil && !kept.After(cert.NotAfter)
}

// combine evaluates OCSP first, then CRLs, of one set of data.
func (d *validationData) status(m *memo, cert, issuer *x509.Certificate, t, now time.Time, from string) status {
	if d == nil {
		return status{}
	}
	o := ocspStatus(d, m, cert, issuer, t, now, from)
	if o.revoked {
		return o
	}
	c := crlStatus(d, m, cert, issuer, t, now, from)
	if c.revoked || !o.known {
		return c
	}
	return o
}

// reasonNames are RFC 5280 section 5.3.1 reason codes.
var reasonNames = map[int]string{
	0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
	4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
	9: "privilegeWithdrawn", 10: "aACompromise",
}

func reasonName(r int) string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("reason %d", r)
}

// oidOCSPNoCheck marks an OCSP responder certificate whose status is not
// checked (RFC 6960 section 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

func noCheck(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidOCSPNoCheck) {
			return true
		}
	}
	return false
}

// provenByDocTimestamp is when a DSS item is first covered by a valid
// document time-stamp: the earliest such time-stamp whose signed revision
// already holds it in its DSS; zero when none does. Computed once, after
// every signature's own checks.
func (v *validation) provenByDocTimestamp(raw []byte) time.Time {
	if v.dataPOE == nil {
		v.dataPOE = map[[32]byte]time.Time{}
		for _, d := range v.sigs {
			if d.report.Kind != KindDocumentTimestamp || d.done || d.poe.IsZero() {
				continue
			}
			rd, err := v.revision(d.end)
			if err != nil {
				continue
			}
			dss := readDSS(rd)
			for _, items := range [][][]byte{dss.ocsps, dss.crls} {
				for _, it := range items {
					k := sha256.Sum256(it)
					if old, ok := v.dataPOE[k]; !ok || d.poe.Before(old) {
						v.dataPOE[k] = d.poe
					}
				}
			}
		}
	}
	return v.dataPOE[sha256.Sum256(raw)]
}

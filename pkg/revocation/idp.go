package revocation

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrOutOfScope: the CRL's issuing distribution point (RFC 5280 section
// 5.2.5) says it does not cover the certificate — another partition's CRL,
// a CA-only CRL for an end-entity certificate, or a scope kyso does not
// interpret — so it proves nothing of the certificate's status. Errors of
// ParseCRL that wrap it also wrap ErrInvalid.
var ErrOutOfScope = errors.New("the CRL does not cover the certificate")

// IssuingDistributionPoint is the value of a CRL's issuingDistributionPoint
// extension (RFC 5280 section 5.2.5):
//
//	IssuingDistributionPoint ::= SEQUENCE {
//	     distributionPoint          [0] DistributionPointName OPTIONAL,
//	     onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
//	     onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
//	     onlySomeReasons            [3] ReasonFlags OPTIONAL,
//	     indirectCRL                [4] BOOLEAN DEFAULT FALSE,
//	     onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
//
// kyso writes the distribution point's fullName as URIs and the two
// only…Certs flags; it reads every field, so that a scope it does not
// interpret is refused rather than ignored.
type IssuingDistributionPoint struct {
	// URIs are the uniformResourceIdentifier names of the distribution
	// point's fullName; empty when there is no distribution point.
	URIs []string
	// OtherNames counts the fullName's names of other kinds (not written
	// by kyso; never matched).
	OtherNames int
	// RelativeName is set when the distribution point is a
	// nameRelativeToCRLIssuer (not written by kyso; refused).
	RelativeName bool
	// OnlyUserCerts and OnlyCACerts limit the CRL to end-entity or to CA
	// certificates (basicConstraints cA).
	OnlyUserCerts, OnlyCACerts bool
	// OnlySomeReasons, IndirectCRL and OnlyAttributeCerts are set when
	// those fields are present and true (not written by kyso; refused).
	OnlySomeReasons, IndirectCRL, OnlyAttributeCerts bool
}

// Marshal encodes the extension value (DER): the distribution point's
// fullName from URIs, and the only…Certs flags when true (DER leaves
// DEFAULT FALSE out). Only URIs and the two flags may be set.
func (p *IssuingDistributionPoint) Marshal() ([]byte, error) {
	if p.OtherNames > 0 || p.RelativeName || p.OnlySomeReasons || p.IndirectCRL || p.OnlyAttributeCerts {
		return nil, errors.New("revocation: only URIs and the only…Certs flags of an issuing distribution point can be encoded")
	}
	if p.OnlyUserCerts && p.OnlyCACerts {
		return nil, errors.New("revocation: an issuing distribution point cannot be for user and CA certificates only both (RFC 5280 section 5.2.5)")
	}
	for _, u := range p.URIs {
		if u == "" || !isIA5(u) {
			return nil, fmt.Errorf("revocation: distribution point URI %q is not a non-empty IA5String", u)
		}
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if len(p.URIs) > 0 {
			b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					for _, u := range p.URIs {
						b.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
					}
				})
			})
		}
		for i, set := range []bool{p.OnlyUserCerts, p.OnlyCACerts} {
			if set {
				b.AddASN1(cbasn1.Tag(i+1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xff) })
			}
		}
	})
	return b.Bytes()
}

// ParseIssuingDistributionPoint decodes an issuingDistributionPoint
// extension value. Errors wrap ErrInvalid.
func ParseIssuingDistributionPoint(der []byte) (*IssuingDistributionPoint, error) {
	p := &IssuingDistributionPoint{}
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, fmt.Errorf("%w: the issuing distribution point is not one DER SEQUENCE", ErrInvalid)
	}
	var dp cryptobyte.String
	var hasDP bool
	if !seq.ReadOptionalASN1(&dp, &hasDP, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return nil, fmt.Errorf("%w: malformed issuing distribution point name", ErrInvalid)
	}
	if hasDP {
		var names cryptobyte.String
		var tag cbasn1.Tag
		if !dp.ReadAnyASN1(&names, &tag) || !dp.Empty() {
			return nil, fmt.Errorf("%w: malformed issuing distribution point name", ErrInvalid)
		}
		switch tag {
		case cbasn1.Tag(0).ContextSpecific().Constructed(): // fullName
			for !names.Empty() {
				var name cryptobyte.String
				var nameTag cbasn1.Tag
				if !names.ReadAnyASN1(&name, &nameTag) {
					return nil, fmt.Errorf("%w: malformed name in the issuing distribution point", ErrInvalid)
				}
				if nameTag == cbasn1.Tag(6).ContextSpecific() {
					p.URIs = append(p.URIs, string(name))
				} else {
					p.OtherNames++
				}
			}
			if len(p.URIs)+p.OtherNames == 0 {
				return nil, fmt.Errorf("%w: empty fullName in the issuing distribution point", ErrInvalid)
			}
		case cbasn1.Tag(1).ContextSpecific().Constructed(): // nameRelativeToCRLIssuer
			p.RelativeName = true
		default:
			return nil, fmt.Errorf("%w: unknown issuing distribution point name tag %#x", ErrInvalid, uint8(tag))
		}
	}
	for i, field := range []*bool{&p.OnlyUserCerts, &p.OnlyCACerts, &p.OnlySomeReasons, &p.IndirectCRL, &p.OnlyAttributeCerts} {
		tag := cbasn1.Tag(i + 1).ContextSpecific()
		var v cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&v, &present, tag) {
			return nil, fmt.Errorf("%w: malformed issuing distribution point field [%d]", ErrInvalid, i+1)
		}
		switch {
		case !present:
		case i+1 == 3: // onlySomeReasons, a BIT STRING: any is a limit
			*field = true
		case len(v) != 1:
			return nil, fmt.Errorf("%w: issuing distribution point field [%d] is not a BOOLEAN", ErrInvalid, i+1)
		default:
			*field = v[0] != 0
		}
	}
	if !seq.Empty() {
		return nil, fmt.Errorf("%w: trailing data in the issuing distribution point", ErrInvalid)
	}
	return p, nil
}

// Covers reports, as RFC 5280 section 6.3.3 (b)(2) asks, whether a
// complete CRL with this issuing distribution point covers cert: its
// distribution point, when named, matches one of cert's CRL distribution
// points (the same URI, byte for byte); onlyContainsUserCerts is not
// asserted for a CA certificate, nor onlyContainsCACerts for an end-entity
// one. A scope kyso does not interpret (a reason subset, an indirect CRL,
// attribute certificates, a name relative to the issuer) covers nothing.
// The error, nil when it covers cert, wraps ErrOutOfScope.
func (p *IssuingDistributionPoint) Covers(cert *x509.Certificate) error {
	switch {
	case p.OnlySomeReasons:
		return fmt.Errorf("%w: it lists only some revocation reasons, which kyso does not combine", ErrOutOfScope)
	case p.IndirectCRL:
		return fmt.Errorf("%w: it is an indirect CRL, which kyso does not interpret", ErrOutOfScope)
	case p.OnlyAttributeCerts:
		return fmt.Errorf("%w: it lists only attribute certificates", ErrOutOfScope)
	case p.RelativeName:
		return fmt.Errorf("%w: its distribution point is a name relative to the issuer, which kyso does not interpret", ErrOutOfScope)
	case p.OnlyUserCerts && cert.IsCA:
		return fmt.Errorf("%w: it lists only end-entity certificates and this is a CA certificate", ErrOutOfScope)
	case p.OnlyCACerts && !cert.IsCA:
		return fmt.Errorf("%w: it lists only CA certificates and this is an end-entity certificate", ErrOutOfScope)
	}
	if len(p.URIs)+p.OtherNames == 0 {
		return nil
	}
	for _, u := range p.URIs {
		if slices.Contains(cert.CRLDistributionPoints, u) {
			return nil
		}
	}
	return fmt.Errorf("%w: it is the CRL of %v, and the certificate's distribution points are %v", ErrOutOfScope, p.URIs, cert.CRLDistributionPoints)
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

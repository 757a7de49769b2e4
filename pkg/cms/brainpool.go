package cms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"errors"

	"github.com/ProtonMail/go-crypto/brainpool"

	"github.com/kyso-pki/kyso/pkg/algid"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// brainpoolCurves are the Brainpool curves of RFC 5639 by their OIDs
// (section 4.1), which crypto/x509 does not know. Their arithmetic comes
// from github.com/ProtonMail/go-crypto/brainpool; crypto/ecdsa verifies on
// any elliptic.Curve.
var brainpoolCurves = []struct {
	oid   asn1.ObjectIdentifier
	curve func() elliptic.Curve
}{
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, brainpool.P256r1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 8}, brainpool.P256t1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, brainpool.P384r1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 12}, brainpool.P384t1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, brainpool.P512r1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 14}, brainpool.P512t1},
}

// isBrainpool reports whether c is one of brainpoolCurves.
func isBrainpool(c elliptic.Curve) bool {
	for _, b := range brainpoolCurves {
		if b.curve() == c {
			return true
		}
	}
	return false
}

var (
	// placeholderSPKI is a P-256 SubjectPublicKeyInfo (the curve's
	// generator as the key) that parseBrainpool puts in place of a
	// Brainpool key for crypto/x509 to read the rest.
	placeholderSPKI = func() []byte {
		b, _ := x509.MarshalPKIXPublicKey(&ecdsa.PublicKey{Curve: elliptic.P256(), X: elliptic.P256().Params().Gx, Y: elliptic.P256().Params().Gy})
		return b
	}()
	errNotBrainpool = errors.New("cms: not a Brainpool certificate")
)

// parseBrainpool reads a certificate whose subject key is on a Brainpool
// curve: crypto/x509 reads a copy with the key replaced by a placeholder,
// and the certificate returned has der's raw fields (so its issuer's
// signature over RawTBSCertificate checks) and the Brainpool key.
func parseBrainpool(der []byte) (*x509.Certificate, error) {
	in := cryptobyte.String(der)
	var cert, tbsEl, tbs, rest cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() || !cert.ReadASN1Element(&tbsEl, cbasn1.SEQUENCE) {
		return nil, errNotBrainpool
	}
	rest = cert
	tbs = tbsEl
	var body cryptobyte.String
	tbs.ReadASN1(&body, cbasn1.SEQUENCE)
	// TBSCertificate: [0] version, serial, signature, issuer, validity,
	// subject, subjectPublicKeyInfo, ... (RFC 5280 section 4.1).
	var head []byte
	var el cryptobyte.String
	var tag cbasn1.Tag
	for i := 0; i < 6; i++ {
		if !body.ReadAnyASN1Element(&el, &tag) {
			return nil, errNotBrainpool
		}
		head = append(head, el...)
		if i == 0 && tag != cbasn1.Tag(0).Constructed().ContextSpecific() {
			i++ // a v1 certificate has no version
		}
	}
	var spki, alg, point cryptobyte.String
	var algOID, curveOID asn1.ObjectIdentifier
	var bits asn1.BitString
	if !body.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errNotBrainpool
	}
	s := spki
	if !s.ReadASN1(&point, cbasn1.SEQUENCE) || !point.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) ||
		!alg.ReadASN1ObjectIdentifier(&curveOID) || !point.ReadASN1BitString(&bits) || !algOID.Equal(algid.ECPublicKey) {
		return nil, errNotBrainpool
	}
	var curve elliptic.Curve
	for _, b := range brainpoolCurves {
		if b.oid.Equal(curveOID) {
			curve = b.curve()
		}
	}
	if curve == nil {
		return nil, errNotBrainpool
	}
	x, y := elliptic.Unmarshal(curve, bits.RightAlign()) //nolint:staticcheck // crypto/ecdh has no Brainpool
	if x == nil {
		return nil, errors.New("cms: the Brainpool public key is not a point of its curve")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(head)
			b.AddBytes(placeholderSPKI)
			b.AddBytes(body)
		})
		b.AddBytes(rest)
	})
	stand, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(stand)
	if err != nil {
		return nil, err
	}
	c.Raw, c.RawTBSCertificate, c.RawSubjectPublicKeyInfo = der, tbsEl, spki
	c.PublicKey = &ecdsa.PublicKey{Curve: curve, X: x, Y: y}
	return c, nil
}

package csc

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// keyInfo is the credential's key as credentials/info shows it (CSC API v2
// section 11.5, key/algo, key/len and key/curve): the signature algorithms
// a signHash may name for it, its size in bits and, for an EC key, its
// curve's OID.
func keyInfo(cert *x509.Certificate) (algo []string, bits int, curve string) {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return []string{signing.OIDRSASSAPSS, signing.OIDRSAEncryption, signing.OIDSHA256WithRSA}, k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		oids := map[int]asn1.ObjectIdentifier{256: {1, 2, 840, 10045, 3, 1, 7}, 384: {1, 3, 132, 0, 34}, 521: {1, 3, 132, 0, 35}}
		return []string{signing.OIDECDSAWithSHA256, signing.OIDECDSAWithSHA384, signing.OIDECDSAWithSHA512}, k.Curve.Params().BitSize, oids[k.Curve.Params().BitSize].String()
	}
	return nil, 0, ""
}

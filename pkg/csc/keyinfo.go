package csc

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"

	"github.com/kyso-pki/kyso/pkg/algid"
)

// keyInfo is the credential's key as credentials/info shows it (CSC API v2
// section 11.5, key/algo, key/len and key/curve): the signature algorithms
// a signHash may name for it, its size in bits and, for an EC key, its
// curve's OID.
func keyInfo(cert *x509.Certificate) (algo []string, bits int, curve string) {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return dotted(algid.RSASSAPSS, algid.RSAEncryption, algid.SHA256WithRSA), k.N.BitLen(), ""
	case *ecdsa.PublicKey:
		oids := map[int]asn1.ObjectIdentifier{256: {1, 2, 840, 10045, 3, 1, 7}, 384: {1, 3, 132, 0, 34}, 521: {1, 3, 132, 0, 35}}
		return dotted(algid.ECDSAWithSHA256, algid.ECDSAWithSHA384, algid.ECDSAWithSHA512), k.Curve.Params().BitSize, oids[k.Curve.Params().BitSize].String()
	}
	return nil, 0, ""
}

// dotted writes OIDs as CSC's JSON carries them.
func dotted(oids ...asn1.ObjectIdentifier) []string {
	out := make([]string, len(oids))
	for i, o := range oids {
		out[i] = o.String()
	}
	return out
}

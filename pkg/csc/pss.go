package csc

import (
	"crypto"
	"encoding/asn1"
	"encoding/base64"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/signing"
)

// pssParams is RSASSA-PSS-params (RFC 8017 appendix A.2.3); the defaults
// (SHA-1) are not accepted, so the fields must be present.
type pssParams struct {
	Hash       asn1.RawValue `asn1:"explicit,tag:0,optional"`
	MGF        asn1.RawValue `asn1:"explicit,tag:1,optional"`
	SaltLength int           `asn1:"explicit,tag:2,optional"`
	Trailer    int           `asn1:"explicit,tag:3,optional"`
}

// checkPSSParams accepts signAlgoParams only when they name the hash of the
// hashes and a salt as long as it, which is what kyso signs with.
func checkPSSParams(b64 string, h crypto.Hash) error {
	bad := func(format string, args ...any) error {
		return &signing.Error{Kind: signing.KindInvalid, Description: "signAlgoParams: " + fmt.Sprintf(format, args...)}
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return bad("not base64")
	}
	var p pssParams
	if rest, err := asn1.Unmarshal(der, &p); err != nil || len(rest) != 0 {
		return bad("not DER RSASSA-PSS-params")
	}
	var alg struct {
		Algorithm asn1.ObjectIdentifier
		Params    asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(p.Hash.Bytes, &alg); err != nil {
		return bad("no hash algorithm")
	}
	if got, ok := signing.HashByOID(alg.Algorithm.String()); !ok || got != h {
		return bad("hash %v does not match hashAlgorithmOID (%v)", alg.Algorithm, h)
	}
	if p.SaltLength != h.Size() {
		return bad("salt length %d; kyso signs with %d (the hash length)", p.SaltLength, h.Size())
	}
	return nil
}

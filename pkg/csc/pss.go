package csc

import (
	"crypto"
	"encoding/base64"
	"fmt"

	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// checkPSSParams accepts signAlgoParams, RSASSA-PSS-params (RFC 8017
// appendix A.2.3) in base64, only when they say how kyso signs: the hash
// of the hashes, MGF1 with it, and a salt as long as it. The DEFAULTs
// (SHA-1) are not that.
func checkPSSParams(b64 string, h crypto.Hash) error {
	bad := func(format string, args ...any) error {
		return &signing.Error{Kind: signing.KindInvalid, Description: "signAlgoParams: " + fmt.Sprintf(format, args...)}
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return bad("not base64")
	}
	p, err := algid.ParsePSS(der)
	switch {
	case err != nil:
		return bad("not DER RSASSA-PSS-params kyso signs with: %v", err)
	case p.Hash != h:
		return bad("hash %v does not match hashAlgorithmOID (%v)", p.Hash, h)
	case p.MGFHash != h:
		return bad("MGF1 with %v; kyso signs with MGF1 over the hash (%v)", p.MGFHash, h)
	case p.SaltLength != h.Size():
		return bad("salt length %d; kyso signs with %d (the hash length)", p.SaltLength, h.Size())
	}
	return nil
}

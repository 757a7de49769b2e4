package cms

import (
	"bytes"
	"crypto"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// SignatureValue returns the signature value octets of the SignedData's
// SignerInfo: what a signature-time-stamp covers. The TSA is asked to
// time-stamp them, that is given a message imprint that is their hash
// (ETSI EN 319 122-1 clause 5.3, RFC 3161 appendix A); SignatureDigest
// computes it.
func SignatureValue(cmsDER []byte) ([]byte, error) {
	sd, err := Parse(cmsDER)
	if err != nil {
		return nil, err
	}
	if len(sd.Signature) == 0 {
		return nil, errNoSigner
	}
	return bytes.Clone(sd.Signature), nil
}

// SignatureDigest returns h over the signature value: the hashedMessage of
// the time-stamp request for a signature-time-stamp.
func SignatureDigest(cmsDER []byte, h crypto.Hash) ([]byte, error) {
	if err := checkHash(h); err != nil {
		return nil, err
	}
	sig, err := SignatureValue(cmsDER)
	if err != nil {
		return nil, err
	}
	return digest(h, sig), nil
}

// AddTimestamp returns cmsDER with tokenDER, an RFC 3161 TimeStampToken,
// added as a signature-time-stamp unsigned attribute (id-aa-
// signatureTimeStampToken, ETSI EN 319 122-1 clause 5.3): the signature
// becomes CAdES-B-T. The signed part is unchanged, so the signature stays
// valid. A token whose message imprint is not the hash of the signature
// value is refused with an error wrapping ErrTimestamp. Tokens already
// there are kept.
func AddTimestamp(cmsDER, tokenDER []byte) ([]byte, error) {
	sd, err := Parse(cmsDER)
	if err != nil {
		return nil, err
	}
	if len(sd.Timestamps) >= maxTimestamps {
		return nil, fmt.Errorf("cms: the signature already has %d time-stamp tokens", len(sd.Timestamps))
	}
	a, err := timestampAttribute(tokenDER, sd.Signature)
	if err != nil {
		return nil, err
	}
	sd.parts.si.unsigned = append(sd.parts.si.unsigned, a)
	if len(sd.parts.si.unsigned) > maxAttributes {
		return nil, fmt.Errorf("cms: more than %d unsigned attributes", maxAttributes)
	}
	return sd.parts.encode()
}

// timestampAttribute checks token covers signature and returns the DER
// signature-time-stamp Attribute holding it.
func timestampAttribute(token, signature []byte) ([]byte, error) {
	ts, err := parseTimestamp(token, maxDepth)
	if err != nil {
		return nil, err
	}
	if ts.Hash == 0 {
		return nil, fmt.Errorf("%w: message imprint hash is not SHA-256, SHA-384 or SHA-512", ErrTimestamp)
	}
	if !ts.Covers(signature) {
		return nil, fmt.Errorf("%w: its message imprint is not the %v hash of this signature value", ErrTimestamp, ts.Hash)
	}
	return encodeAttribute(OIDAttributeTimeStampToken, func(b *cryptobyte.Builder) { b.AddBytes(ts.Token) })
}

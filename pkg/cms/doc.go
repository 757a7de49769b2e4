// Package cms makes and reads the CMS signatures that PAdES embeds in a PDF:
// CAdES detached SignedData (RFC 5652, ETSI EN 319 122-1) for SubFilter
// ETSI.CAdES.detached (ETSI EN 319 142-1).
//
// Signing is two-phase because a remote signer waits for a person to approve
// a digest (ETSI TS 119 432, CSC signHash):
//
//	p, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: cert, ContentDigest: d})
//	// store p.MarshalBinary() while the key owner approves p.Digest …
//	sig, err := signer.Sign(rand.Reader, p.Digest, p.SignerOpts())
//	der, err := p.Finish(sig)
//
// Sign does the three steps in one call with a crypto.Signer.
//
// What is signed are the signed attributes of RFC 5652 section 5.3 that
// CAdES-B-B needs: content-type, message-digest and signing-certificate-v2
// (RFC 5035, ETSI EN 319 122-1 clause 5.2.2.3). AddTimestamp adds the
// signature-time-stamp unsigned attribute (ETSI EN 319 122-1 clause 5.3,
// RFC 3161 appendix A) that raises a signature to level B-T.
//
// Parse reads a SignedData with bounded effort (size, element counts and
// nesting are limited; BER, as NSS and OpenSSL's streaming mode write it,
// is converted to DER once, by DER, and only DER is parsed) and Verify
// checks one against the digest of the content it signs.
package cms

package verify

import (
	"fmt"
	"time"
)

// Code names a reason or warning so that a presenter can say it in its
// own language (pkg/verify/report says it in Vietnamese and English). The
// codes are part of the JSON report: add new ones, never rename one.
type Code string

// Codes of the reasons and warnings met most often. A reason without a code
// is still explained by its signature's SubIndication; its Text is the
// English detail.
const (
	// CodeRevocationUnknown: the revocation status of a certificate could
	// not be checked. Params: subject.
	CodeRevocationUnknown Code = "revocation_unknown"
	// CodeRevocationUnknownExpired: as CodeRevocationUnknown, for a
	// certificate that has expired since. Params: subject, expiry.
	CodeRevocationUnknownExpired Code = "revocation_unknown_expired"
	// CodeSuspended: the certificate was suspended (certificateHold) at or
	// before the signing time. Params: subject, time.
	CodeSuspended Code = "suspended"
	// CodeRevoked: the certificate was revoked at or before the signing
	// time. Params: subject, time, reason.
	CodeRevoked Code = "revoked"
	// CodeRevokedAfter (a warning): revoked after the signature was
	// time-stamped, which leaves the signature valid. Params: subject,
	// time, reason, signing_time.
	CodeRevokedAfter Code = "revoked_after"
	// CodeNotYetValid: a certificate was not yet valid at the signing
	// time. Params: subject, time, from.
	CodeNotYetValid Code = "not_yet_valid"
	// CodeExpired: a certificate has expired and no time-stamp proves the
	// signature was made before. Params: subject, expiry.
	CodeExpired Code = "expired"
	// CodeExpiredAtTimestamp: a certificate had expired when the signature
	// was time-stamped. Params: subject, expiry, time.
	CodeExpiredAtTimestamp Code = "expired_at_timestamp"
	// CodeUntrusted: no path to a trust anchor. Params: subject, issuer.
	CodeUntrusted Code = "untrusted"
	// CodeNoTrustAnchors: no trust anchors were configured.
	CodeNoTrustAnchors Code = "no_trust_anchors"
	// CodeNoSigningCertificate: the signer's certificate is not in the
	// signature.
	CodeNoSigningCertificate Code = "no_signing_certificate"
	// CodeModified: the signed bytes were changed after signing.
	CodeModified Code = "modified"
	// CodeBadSignature: the signature value does not verify.
	CodeBadSignature Code = "bad_signature"
	// CodeChangedAfterSigning: later revisions made changes the
	// signature's permissions forbid. Params: first (the first change, in
	// English), count.
	CodeChangedAfterSigning Code = "changed_after_signing"
	// CodeWeakDigest: a digest algorithm below Circular 15/2025 Annex I.
	// Params: algorithm.
	CodeWeakDigest Code = "weak_digest"
	// CodeWeakRSAKey: an RSA key shorter than 2048 bits. Params: subject,
	// bits.
	CodeWeakRSAKey Code = "weak_rsa_key"
	// CodeWeakECKey: an ECDSA key on a curve smaller than P-256. Params:
	// subject, bits.
	CodeWeakECKey Code = "weak_ec_key"
	// CodeUnsupportedKey: a key type Annex I does not list. Params:
	// subject, type.
	CodeUnsupportedKey Code = "unsupported_key"
	// CodeWeakCertSignature: a certificate of the path is signed with an
	// algorithm below Annex I. Params: subject, algorithm.
	CodeWeakCertSignature Code = "weak_cert_signature"
	// CodeRSAPKCS1v15 (a warning): an RSA signature uses PKCS#1 v1.5 where
	// Annex I asks for RSASSA-PSS. Params: subject (the certificate whose
	// key signed), what ("signature" for the document's signature,
	// "certificate" for the issuer's signature on subject).
	CodeRSAPKCS1v15 Code = "rsa_pkcs1v15"
	// CodeDetachedWithContent: a detached signature's CMS carries an
	// eContent. Params: subfilter, bytes.
	CodeDetachedWithContent Code = "detached_with_content"
	// CodeTimestampNoPOE (a warning): a time-stamp's own certificate path
	// has expired and nothing later proves the time-stamp existed before,
	// so it proves nothing. Params: n (0 for a document time-stamp),
	// subject, expiry.
	CodeTimestampNoPOE Code = "timestamp_no_poe"
	// CodeUnsupportedCertificate: the signature's certificates include
	// ones crypto/x509 cannot read, and the signer's is not among those it
	// can. Params: detail (English).
	CodeUnsupportedCertificate Code = "unsupported_certificate"
	// CodeTimestampWeakImprint (a warning): a time-stamp's message
	// imprint uses a digest algorithm the validation policy accepted only
	// until a date, and nothing proves the time-stamp existed before.
	// Params: n (0 for a document time-stamp), algorithm, expiry.
	CodeTimestampWeakImprint Code = "timestamp_weak_imprint"
	// CodeNoSignedAttributes: an adbe.pkcs7.detached signature whose
	// value verifies but that has no signed attributes, which ISO 32000-1
	// §12.8.3.3.1 allows and signature acceptance (ETSI EN 319 102-1
	// clause 5.2.8) does not: INDETERMINATE.
	CodeNoSignedAttributes Code = "no_signed_attributes"
	// CodeLegacyCertRef (a warning): the signing-certificate(-v2)
	// attribute names the signer's certificate by a hash the dated policy
	// no longer holds reliable at the signature's proven time. Params:
	// attribute, algorithm, expiry.
	CodeLegacyCertRef Code = "legacy_cert_ref"
	// CodeChange: one change after signing that the signature's
	// permissions do not allow (Signature.ChangeDetails). Params: what
	// (the kind of change, one of ChangeKinds), and
	// as the kind needs them: target and arg (the object changed, a key of
	// TargetNames and its page number or field name), object (a number),
	// key, ref, subtype, type, perm (the DocMDP permission), was, now,
	// detail (English).
	CodeChange Code = "change"
	// CodeAllowedChange: a change after signing that a rule allows
	// (Signature.AllowedChanges). Params: target and arg (as CodeChange's),
	// rule (a key of ChangeRules).
	CodeAllowedChange Code = "allowed_change"
	// CodeTimestampInvalid (a warning): a signature time-stamp does not
	// verify, so it proves nothing. Params: n, detail (English).
	CodeTimestampInvalid Code = "timestamp_invalid"
)

// Finding is one reason or warning: its code and parameters for a
// presenter, and the same in English.
type Finding struct {
	// Code is one of the Code constants, empty for a reason only Text
	// explains.
	Code Code `json:"code,omitempty"`
	// Params are the values Code names, as text; times are RFC 3339 in
	// UTC.
	Params map[string]string `json:"params,omitempty"`
	// Text is the finding in English, as in Reasons or Warnings.
	Text string `json:"text"`
}

// params builds Finding.Params from key, value pairs; time.Time values are
// written in RFC 3339, UTC.
func params(kv ...any) map[string]string {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case time.Time:
			m[k] = v.UTC().Format(time.RFC3339)
		case string:
			m[k] = v
		default:
			m[k] = fmt.Sprint(v)
		}
	}
	return m
}

// note makes a finding whose English text is format with args.
func note(code Code, p map[string]string, format string, args ...any) Finding {
	return Finding{Code: code, Params: p, Text: fmt.Sprintf(format, args...)}
}

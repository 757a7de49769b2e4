package report

import (
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// enTime writes t in zone as the English report shows times: ISO 8601's
// order, then the zone as display.Offset names it, "2026-12-07 05:55:12
// (GMT+7)".
func enTime(t time.Time, zone *time.Location) string {
	t = t.In(display.Zone(zone))
	return t.Format("2006-01-02 15:04:05") + " (" + display.Offset(t) + ")"
}

// en is the report in English. Its findings are the validator's own
// English texts (codes is nil).
var en = &messages{
	lang:  "en",
	clock: enTime,
	date:  "2006-01-02",

	title:            "Digital signature validation report",
	file:             "File",
	generated:        "Report made by kyso following Circular 15/2025/TT-BKHCN (Article 6, Annex II) and ETSI EN 319 102-1.",
	docValid:         "The document is valid: every signature is valid",
	docInvalid:       "The document is not valid: at least one signature is not valid",
	docIndeterminate: "The validity of the document could not be determined",
	summary:          "%d bytes, %d revisions, %d signatures; validated at %s",
	sigHeading:       "Signature #%d",
	tsHeading:        "Document time-stamp #%d",
	fieldName:        "field “%s”",
	sigPassed:        "The signature is valid",
	sigFailed:        "The signature is not valid",
	sigIndeterminate: "The validity of the signature could not be determined",
	tsPassed:         "The time-stamp is valid",
	tsFailed:         "The time-stamp is not valid",
	tsIndeterminate:  "The validity of the time-stamp could not be determined",

	lStatus:    "Result",
	lETSI:      "Result code (ETSI EN 319 102-1)",
	lSigner:    "Signer",
	lTSA:       "Time-stamping unit",
	lID:        "Identifier",
	lIssuer:    "Certification service provider",
	lUnit:      "Unit managing the certificate",
	lSerial:    "Certificate serial number",
	lValidity:  "Certificate validity period",
	lClaimed:   "Signing time",
	lTimestamp: "Time-stamp",
	lIntegrity: "Document integrity",
	lAtSigning: "Validity of the signature at signing time",
	lCovers:    "Signed part",
	lLevel:     "Signature format",
	lReason:    "Stated reason",
	lLocation:  "Location",
	lCertified: "Certification signature",
	lReasons:   "Reasons",
	lWarnings:  "Warnings",
	lChanges:   "Changes after signing",

	cccd:               "CCCD %s",
	mst:                "tax code (MST) %s",
	validityRange:      "from %s to %s",
	claimedNote:        "%s (stated by the signer, not proven)",
	noTimestamp:        "None",
	intactWhole:        "Intact: the document has not changed since it was signed",
	intactLaterAllowed: "Intact: the signed part has not changed; later revisions only make allowed changes",
	intactLaterBad:     "The signed part has not changed, but the document was changed after signing in ways that are not allowed",
	notIntact:          "Not intact: the signed data was changed or the signature value does not match",
	intactUnknown:      "Could not be determined",
	atSigningStamped:   "Valid: the certificate was in force and neither revoked nor suspended at signing time (time-stamped %s)",
	atSigningNow:       "Valid at validation time (%s): the certificate is in force and neither revoked nor suspended; no time-stamp proves when the signature was made",
	atSigningInvalid:   "Not valid: %s",
	atSigningUnknown:   "Could not be determined: %s",
	coversWhole:        "revision %d of %d, the whole document",
	coversPart:         "revision %d of %d; later revisions were analysed",
	certified:          "yes (DocMDP P=%d)",
	revocationWarning:  "Warning: the revocation status of the certificate could not be checked. It cannot be said that the certificate was neither revoked nor suspended at signing time.",
	detail:             "%s (%s)",
	englishOnly:        "%s",
	forbids:            ", which DocMDP P={perm} forbids", // unused: English says a change by its text
	lAllowed:           "Changes after signing that are allowed",
	allowedChange:      "{target} was changed, as {rule} allows", // unused: English says it by its text

	indications: map[verify.Indication]string{
		verify.TotalPassed:   "Passed",
		verify.TotalFailed:   "Failed",
		verify.Indeterminate: "Indeterminate",
	},
	sub: map[verify.SubIndication]string{
		"FORMAT_FAILURE":                    "The signature is malformed or cannot be read",
		"HASH_FAILURE":                      "The signed data was changed: the digest does not match",
		"SIG_CRYPTO_FAILURE":                "The signature value does not verify with the signer's public key",
		"REVOKED":                           "The certificate was revoked before signing time",
		"SIG_CONSTRAINTS_FAILURE":           "The signature does not meet the validation policy's constraints",
		"CHAIN_CONSTRAINTS_FAILURE":         "The certificate path does not meet the validation policy's constraints",
		"CERTIFICATE_CHAIN_GENERAL_FAILURE": "The certificate path could not be validated",
		"CRYPTO_CONSTRAINTS_FAILURE":        "An algorithm or key size does not meet the cryptographic requirements",
		"EXPIRED":                           "The certificate expired before signing time",
		"NOT_YET_VALID":                     "The certificate was not yet valid at signing time",
		"POLICY_PROCESSING_ERROR":           "The signature policy could not be processed",
		"SIGNATURE_POLICY_NOT_AVAILABLE":    "The required signature policy is not available",
		"TIMESTAMP_ORDER_FAILURE":           "The time-stamps are not in a valid order",
		"NO_SIGNING_CERTIFICATE_FOUND":      "The signer's certificate was not found",
		"NO_CERTIFICATE_CHAIN_FOUND":        "No path to a trusted root was found",
		"REVOKED_NO_POE":                    "The certificate was revoked and nothing proves the signature was made before",
		"REVOKED_CA_NO_POE":                 "A CA certificate of the path was revoked and nothing proves the signature was made before",
		"OUT_OF_BOUNDS_NO_POE":              "The certificate has expired and nothing proves the signature was made while it was valid",
		"OUT_OF_BOUNDS_NOT_REVOKED":         "The certificate has expired (not revoked) and nothing proves the signature was made while it was valid",
		"REVOCATION_OUT_OF_BOUNDS_NO_POE":   "The revocation data is outside the certificate's validity and nothing proves when it existed",
		"CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "An algorithm or key size is below Circular 15/2025/TT-BKHCN Annex I and nothing proves the signature was made while it was accepted",
		"NO_POE":                            "Nothing proves when the signature existed",
		"TRY_LATER":                         "Not enough information to conclude (for example, revocation status could not be checked); try again later",
		"SIGNED_DATA_NOT_FOUND":             "The signed data was not found",
	},
}

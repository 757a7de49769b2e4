package report

import (
	"time"

	"github.com/kyso-pki/kyso/pkg/verify"
)

// messages is everything a report says in one language. Each language has
// one table (messages_vi.go, messages_en.go); a test checks that every
// field is filled, in NFC, and that every ETSI sub-indication has a text.
type messages struct {
	lang  string                                        // BCP 47 tag, for <html lang>
	zone  *time.Location                                // times are shown in this zone (set per report)
	clock func(t time.Time, zone *time.Location) string // writes a time in zone, the zone's offset shown
	date  string                                        // date layout

	title, file, generated                          string
	docValid, docInvalid, docIndeterminate          string
	summary                                         string // size, revisions, signatures, validation time
	sigHeading, tsHeading, fieldName                string // #n; the field's name
	sigPassed, sigFailed, sigIndeterminate          string
	tsPassed, tsFailed, tsIndeterminate             string
	lStatus, lETSI, lSigner, lTSA, lID              string
	lIssuer, lUnit, lSerial, lValidity              string
	lClaimed, lTimestamp, lIntegrity, lAtSigning    string
	lCovers, lLevel, lReason, lLocation, lCertified string
	lReasons, lWarnings, lChanges                   string
	cccd, mst                                       string // "CCCD %s"
	validityRange                                   string // from, to
	claimedNote, noTimestamp                        string
	intactWhole, intactLaterAllowed, intactLaterBad string
	notIntact, intactUnknown                        string
	atSigningStamped, atSigningNow                  string // a time
	atSigningInvalid, atSigningUnknown              string // the sub-indication's text
	coversWhole, coversPart                         string // revision, revisions
	certified                                       string // DocMDP P
	revocationWarning                               string
	detail                                          string // English detail under a translated sub-indication
	englishOnly                                     string // a finding only said in English
	indications                                     map[verify.Indication]string
	// sub are the ETSI EN 319 102-1 sub-indications (clause 5.1.3, Tables
	// 5 and 6), all of them, not only those kyso reports.
	sub map[verify.SubIndication]string
	// codes are templates for verify's codes, "code" or "code/what", with
	// {param} placeholders; nil means the English text of the finding.
	codes map[string]string
	// revocationReasons name RFC 5280 reason codes, by verify's names.
	revocationReasons map[string]string
	// changes are templates for verify.CodeChange findings by their kind
	// (verify.ChangeKinds), with {param} placeholders, {target} the
	// object's name from targets; nil means the English text.
	changes map[string]string
	// targets name the objects a change names (verify.TargetNames), {arg}
	// a page number or a field's name.
	targets map[string]string
	// forbids ends a change that the DocMDP permission {perm} forbids.
	forbids string
	// lAllowed heads the changes after signing that rules allow;
	// allowedChange says one, {target} changed as {rule} allows, the
	// rule's name from rules (verify.ChangeRules); nil rules means the
	// English text.
	lAllowed, allowedChange string
	rules                   map[string]string
}

// subIndications are the sub-indications of ETSI EN 319 102-1 clause
// 5.1.3, Tables 5 and 6.
var subIndications = []verify.SubIndication{
	"FORMAT_FAILURE", "HASH_FAILURE", "SIG_CRYPTO_FAILURE", "REVOKED",
	"SIG_CONSTRAINTS_FAILURE", "CHAIN_CONSTRAINTS_FAILURE",
	"CERTIFICATE_CHAIN_GENERAL_FAILURE", "CRYPTO_CONSTRAINTS_FAILURE",
	"EXPIRED", "NOT_YET_VALID", "POLICY_PROCESSING_ERROR",
	"SIGNATURE_POLICY_NOT_AVAILABLE", "TIMESTAMP_ORDER_FAILURE",
	"NO_SIGNING_CERTIFICATE_FOUND", "NO_CERTIFICATE_CHAIN_FOUND",
	"REVOKED_NO_POE", "REVOKED_CA_NO_POE", "OUT_OF_BOUNDS_NO_POE",
	"OUT_OF_BOUNDS_NOT_REVOKED", "REVOCATION_OUT_OF_BOUNDS_NO_POE",
	"CRYPTO_CONSTRAINTS_FAILURE_NO_POE", "NO_POE", "TRY_LATER",
	"SIGNED_DATA_NOT_FOUND",
}

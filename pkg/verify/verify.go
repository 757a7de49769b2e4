// Package verify validates the signatures of a PDF: for each signature, the
// integrity of its byte range, the CMS, the certificate path to trust
// anchors, revocation at the signing time, time-stamps, algorithm strength
// and what changed in the document after it was signed, with a verdict in
// the terms of ETSI EN 319 102-1 (TOTAL-PASSED, INDETERMINATE, TOTAL-FAILED
// and a sub-indication) and reasons a person can read.
//
// The verdict of a signature made at PAdES baseline level B-LT or B-LTA
// (ETSI EN 319 142-1) rests on the validation data the document carries, so
// it can be checked offline years later; for B-B and B-T signatures the
// revocation status is fetched when Options.Fetcher allows it.
package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
)

// Indication is the main status of a validation (ETSI EN 319 102-1 clause
// 5.1.2).
type Indication string

// Indications.
const (
	TotalPassed   Indication = "TOTAL-PASSED"
	Indeterminate Indication = "INDETERMINATE"
	TotalFailed   Indication = "TOTAL-FAILED"
)

// SubIndication says why a validation did not pass (ETSI EN 319 102-1
// clause 5.1.3, Table 5 and Table 6).
type SubIndication string

// Sub-indications kyso reports.
const (
	FormatFailure                 SubIndication = "FORMAT_FAILURE"
	HashFailure                   SubIndication = "HASH_FAILURE"
	SigCryptoFailure              SubIndication = "SIG_CRYPTO_FAILURE"
	Revoked                       SubIndication = "REVOKED" // not reported: it needs a content time-stamp after the revocation (ETSI EN 319 102-1 clause 5.3.4), which kyso does not read
	SigConstraintsFailure         SubIndication = "SIG_CONSTRAINTS_FAILURE"
	ChainConstraintsFailure       SubIndication = "CHAIN_CONSTRAINTS_FAILURE"
	CryptoConstraintsFailureNoPOE SubIndication = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
	NoSigningCertificateFound     SubIndication = "NO_SIGNING_CERTIFICATE_FOUND"
	NoCertificateChainFound       SubIndication = "NO_CERTIFICATE_CHAIN_FOUND"
	RevokedNoPOE                  SubIndication = "REVOKED_NO_POE"
	OutOfBoundsNoPOE              SubIndication = "OUT_OF_BOUNDS_NO_POE"
	NotYetValid                   SubIndication = "NOT_YET_VALID"
	TryLater                      SubIndication = "TRY_LATER"
)

// Kinds of signature a Signature reports.
const (
	KindSignature         = "signature"
	KindDocumentTimestamp = "document-timestamp"
)

// Levels a signature can reach (ETSI EN 319 142-1 clause 6).
const (
	LevelBB  = "PAdES-BASELINE-B"
	LevelBT  = "PAdES-BASELINE-T"
	LevelBLT = "PAdES-BASELINE-LT"
	LevelLTA = "PAdES-BASELINE-LTA"
	// LevelPKCS7 is a signature with SubFilter adbe.pkcs7.detached: valid
	// PDF, but no PAdES baseline level.
	LevelPKCS7 = "PKCS7"
)

// DefaultMaxSignatures bounds the signatures Verify examines.
const DefaultMaxSignatures = 64

// Options say what to trust and how far to go.
type Options struct {
	// Roots are the trust anchors. WARNING: nil trusts nothing, so no
	// signature passes; its chain is reported as not found.
	Roots *x509.CertPool
	// Fetcher fetches revocation data that the document does not carry,
	// from the OCSP and CRL URLs in the certificates; what it returns is
	// checked like embedded data. Nil means offline: only the document's
	// validation data is used.
	Fetcher *revocation.Fetcher
	// Now returns the validation time; nil means time.Now.
	Now func() time.Time
	// Limits bound the reading of the (untrusted) PDF; nil means pdf's
	// defaults.
	Limits *pdf.Limits
	// MaxSignatures bounds how many signatures are examined; zero means
	// DefaultMaxSignatures.
	MaxSignatures int

	// noMemo turns off the memo of repeated path and revocation checks,
	// for tests that compare the verdicts with and without it.
	noMemo bool
}

// Report is the validation report of one document.
type Report struct {
	// Size is the file size, Revisions the number of revisions (the
	// original and each incremental update, ISO 32000-2 §7.5.6).
	Size      int64 `json:"size"`
	Revisions int   `json:"revisions"`
	// ValidationTime is when the validation ran.
	ValidationTime time.Time `json:"validation_time"`
	// Signatures are the document's signatures and document time-stamps,
	// in the order they were made.
	Signatures []*Signature `json:"signatures"`
	// Valid is true when there is at least one signature and every one is
	// TOTAL-PASSED.
	Valid bool `json:"valid"`
}

// Signature is the validation of one signature or document time-stamp.
type Signature struct {
	// Field is the fully qualified name of the signature field.
	Field string `json:"field"`
	// Kind is KindSignature or KindDocumentTimestamp.
	Kind string `json:"kind"`
	// SubFilter is the signature dictionary's /SubFilter.
	SubFilter string `json:"sub_filter"`
	// Revision is the revision the signature signs, counted from 1.
	Revision int `json:"revision"`
	// CoversWholeDocument is true when nothing was added after the
	// signature.
	CoversWholeDocument bool `json:"covers_whole_document"`
	// Signer is the signer's (or the time-stamping unit's) certificate.
	Signer *Signer `json:"signer,omitempty"`
	// ClaimedTime is /M, the time the signer claims (not proven).
	ClaimedTime *time.Time `json:"claimed_signing_time,omitempty"`
	// TimestampTime is the time of the earliest valid time-stamp over the
	// signature (a signature time-stamp or a later document time-stamp):
	// proof the signature existed then.
	TimestampTime *time.Time `json:"timestamp_time,omitempty"`
	// Reason and Location are the signer's /Reason and /Location.
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
	// Level is the PAdES baseline level reached, one of the Level
	// constants, or empty when none is.
	Level string `json:"level,omitempty"`
	// Certification is the DocMDP /P of a certification signature (1, 2 or
	// 3), zero for an approval signature.
	Certification int `json:"certification,omitempty"`
	// Indication and SubIndication are the verdict.
	Indication    Indication    `json:"indication"`
	SubIndication SubIndication `json:"sub_indication,omitempty"`
	// Reasons say why the verdict is not TOTAL-PASSED; Warnings note what
	// does not change it.
	Reasons  []string `json:"reasons,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// ReasonDetails and WarningDetails are Reasons and Warnings, one for
	// one and in the same order, with a Code and its parameters so that a
	// presenter can say them in another language.
	ReasonDetails  []Finding `json:"reason_details,omitempty"`
	WarningDetails []Finding `json:"warning_details,omitempty"`
	// Intact says whether the signed bytes are those the signer signed:
	// true when their digest matches and the signature value verifies,
	// false when either does not, nil when the check could not be made.
	Intact *bool `json:"intact,omitempty"`
	// Changes are the modifications made after the signature that its
	// permissions do not allow.
	Changes []string `json:"changes,omitempty"`
	// ChangeDetails are Changes, one for one, as CodeChange findings.
	ChangeDetails []Finding `json:"change_details,omitempty"`
	// AllowedChanges are the changes after the signature that its
	// permissions allow, each with the rule that allows it
	// (CodeAllowedChange).
	AllowedChanges []Finding `json:"allowed_changes,omitempty"`
	// Chain is the certificate path found, signer first, anchor last.
	Chain []*Signer `json:"chain,omitempty"`
}

// Signer describes a certificate.
type Signer struct {
	// Name is the subject's common name.
	Name string `json:"name"`
	// CCCD and MST are the national identity number and the tax code
	// from the subject's UID (Vietnamese profiles: "CCCD:…", "MST:…").
	CCCD string `json:"cccd,omitempty"`
	MST  string `json:"mst,omitempty"`
	// Organization is the subject's O.
	Organization string `json:"organization,omitempty"`
	// OrganizationalUnit is the subject's OU.
	OrganizationalUnit string `json:"organizational_unit,omitempty"`
	// Subject and Issuer are the distinguished names.
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// IssuerOrganization is the issuer's O (the certification authority).
	IssuerOrganization string `json:"issuer_organization,omitempty"`
	// IssuerName is the issuer's common name.
	IssuerName string `json:"issuer_name,omitempty"`
	// Serial is the serial number, hexadecimal.
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// Errors Verify returns for a document it cannot examine at all; a
// document it can read gets a Report, whatever its signatures are worth.
var (
	// ErrNoSignatures: the document has no signed signature field.
	ErrNoSignatures = errors.New("verify: the document has no signatures")
)

// Verify validates every signature of the PDF of size bytes in r. It
// returns an error only when the document cannot be read as a PDF (the
// error wraps pdf's sentinels) or has no signature (ErrNoSignatures); what
// is wrong with a signature is in its part of the Report.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts *Options) (*Report, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxSignatures <= 0 {
		o.MaxSignatures = DefaultMaxSignatures
	}
	v := &validation{ctx: ctx, r: r, size: size, opts: &o, now: o.Now().UTC(), revs: map[int64]*pdf.Reader{}}
	v.memo.off = o.noMemo
	final, err := pdf.OpenToRead(r, size, o.Limits)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v.final = final
	v.revs[size] = final
	if v.ends, err = revisionEnds(r, size); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	sigs, err := v.findSignatures()
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	if len(sigs) == 0 {
		return nil, ErrNoSignatures
	}
	if len(sigs) > o.MaxSignatures {
		return nil, fmt.Errorf("verify: %d signatures, more than the limit of %d", len(sigs), o.MaxSignatures)
	}
	rep := &Report{Size: size, Revisions: len(v.ends), ValidationTime: v.now}
	v.sigs = sigs
	for _, s := range sigs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v.check(s)
	}
	for i := len(sigs) - 1; i >= 0; i-- {
		v.provePOE(sigs[i])
	}
	for _, s := range sigs {
		v.finish(s)
		rep.Signatures = append(rep.Signatures, s.report)
	}
	rep.Valid = true
	for _, s := range rep.Signatures {
		if s.Indication != TotalPassed {
			rep.Valid = false
		}
	}
	return rep, nil
}

package pades

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

var (
	// ErrUnsupported is returned for documents or options kyso cannot sign
	// correctly (for example a certification signature on a document that
	// is already signed).
	ErrUnsupported = errors.New("pades: unsupported")
	// ErrEncrypted is returned for an encrypted (password-protected)
	// document. It is pdf.ErrEncrypted, so either sentinel matches.
	ErrEncrypted = pdf.ErrEncrypted
	// ErrMismatch is returned by Embed when the original or the CMS is not
	// the one the Prepared was made for.
	ErrMismatch = errors.New("pades: mismatch")
	// ErrNoSignerCheck: signing was asked for without the pre-signing
	// check of the signer's certificate (SignOptions.Check or Checked,
	// Prepared.CheckSigner) and without opting out of it.
	ErrNoSignerCheck = errors.New("pades: no pre-signing check of the signer's certificate configured (Circular 15/2025 Art. 5); give trust anchors and a revocation source, or opt out with SkipSignerCheck")
)

const (
	// DefaultContentsSize is the number of bytes Prepare reserves for the
	// CMS when Options.ContentsSize is zero and the certificates are not
	// known: room for a signer certificate, a chain of a few CAs and a
	// time-stamp token with its own certificates.
	DefaultContentsSize = 32 << 10
	// MaxContentsSize bounds Options.ContentsSize: the CMS parser's limit.
	MaxContentsSize = 4 << 20
	// maxSection bounds the update section kept in a Prepared.
	maxSection = 64 << 20
)

// Options says how to sign. The zero value makes an invisible approval
// signature in a new field, hashed with SHA-256, with /M set to now;
// Visible makes it visible.
type Options struct {
	// Reason, Location, ContactInfo and Name are written to the signature
	// dictionary as text strings (ISO 32000-2 §12.8.1, Table 255): ASCII as
	// is, anything else (Vietnamese) as UTF-16BE with a byte order mark.
	// Empty ones are left out. ETSI EN 319 142-1 clause 5.4 lets /Name
	// differ from the certificate's subject; it is informative.
	Reason, Location, ContactInfo, Name string
	// SigningTime is the claimed signing time written as /M (ETSI EN 319
	// 142-1 clause 6.3 requirement: in PAdES the CMS signing-time attribute
	// is absent and /M carries it). Zero means time.Now(); its location is
	// kept as the time zone of the PDF date.
	SigningTime time.Time
	// FieldName is the signature field to sign: an existing empty /Sig
	// field of that (fully qualified) name is filled; otherwise a new
	// field of that name is added, invisible on the first page, or where
	// Visible says. Empty means
	// "Signature1", or the next SignatureN whose name is free (an empty
	// signature field of that name counts as free and is filled).
	FieldName string
	// Certify, when 1, 2 or 3, makes a certification signature (ISO
	// 32000-2 §12.8.2.2 DocMDP) with that /P: 1 no changes allowed, 2 form
	// filling and signing, 3 also annotations. Zero is an approval
	// signature. A certification signature must be the document's first.
	Certify int
	// ContentsSize is the number of bytes reserved in /Contents for the
	// CMS (written hex, so twice as many characters). Zero means
	// DefaultContentsSize; Sign computes it from the certificates instead.
	ContentsSize int
	// Limits bounds the reading of the (untrusted) PDF; nil means
	// pdf's defaults.
	Limits *pdf.Limits
	// Hash is the digest algorithm over the byte range: SHA-256, SHA-384
	// or SHA-512. Zero means SHA-256.
	Hash crypto.Hash
	// Visible, when not nil, makes the signature visible: a stamp on a
	// page (see Visible). nil, the zero value, keeps it invisible.
	Visible *Visible
	// SkipSignerCheck lets Embed embed a signature whose signer's
	// certificate was not checked with Prepared.CheckSigner. WARNING: the
	// pre-signing check is what Circular 15/2025 Art. 5 requires of
	// signing software; skip it only in tests and offline tools that
	// check the certificate some other way.
	SkipSignerCheck bool
}

// Visible places and describes the stamp of a visible signature: the
// signature field's widget annotation gets a /Rect on a page, the print
// flag and a normal appearance drawn by pkg/stamp (ISO 32000-2 §12.5.5,
// §12.7.5.5), and is added to the page's /Annots.
type Visible struct {
	// Page is the page, counted from 1. Zero means the page of the empty
	// field being filled, if it is on one, else the first page.
	Page int
	// Rect is the stamp's lower-left corner and size — x, y, width,
	// height — in points in the page's default user space (the
	// coordinates of its MediaBox, before /Rotate turns the page for
	// display). It must lie within the page's CropBox (or MediaBox). The
	// zero value means the /Rect of the empty field being filled, if it
	// has an area, else DefaultStampWidth × DefaultStampHeight at the
	// bottom right of the page as displayed, 36 points from the edges.
	Rect [4]float64
	// Signer names the signer in the default text, "Ký bởi: <SIGNER>" in
	// capitals. Empty means Options.Name; with both empty the stamp needs
	// Lines.
	Signer string
	// Lines, when not empty, replace the default text, which is
	// stamp.DefaultLines of Signer, SigningTime (in TimeZone), Reason and
	// Location.
	Lines []string
	// TimeZone is the zone the default text shows the signing time in,
	// with the zone's offset ("Ngày ký: 05:55:12 07/12/2026 (GMT+7)").
	// Nil, the zero value, means Vietnam's time (Asia/Ho_Chi_Minh, GMT+7),
	// whatever zone SigningTime carries or the host runs in.
	TimeZone *time.Location
	// Image is an optional JPEG or PNG drawn on the left of the stamp: a
	// handwritten signature, a seal.
	Image []byte
	// QRURL is an optional absolute URL drawn as a QR code on the right
	// of the stamp, typically where the document can be verified.
	QRURL string
}

// Default stamp size, in points, when Visible.Rect is zero.
const (
	DefaultStampWidth  = 260.0
	DefaultStampHeight = 80.0
	stampMargin        = 36.0
)

// VisibleError is returned when a visible signature cannot be made as
// asked — no such page, a rectangle off the page or too small for the
// text, an image that is not a JPEG or PNG: a mistake in the options, not
// in the document.
type VisibleError struct{ Err error }

func (e *VisibleError) Error() string { return "pades: visible signature: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *VisibleError) Unwrap() error { return e.Err }

func visibleErr(format string, args ...any) error {
	return &VisibleError{Err: fmt.Errorf(format, args...)}
}

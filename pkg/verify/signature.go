package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// validation is the state of one Verify call.
type validation struct {
	ctx   context.Context
	r     io.ReaderAt
	size  int64
	opts  *Options
	now   time.Time
	final *pdf.Reader
	ends  []revision
	revs  map[int64]*pdf.Reader // a reader per revision, by its end
	sigs  []*sigState
	dss   *validationData // the final revision's DSS, nil until read
	// dataPOE is when each DSS item (by SHA-256) is first proven to exist
	// by a document time-stamp; nil until computed.
	dataPOE map[[32]byte]time.Time
	// memo keeps certificate paths and verified revocation data that the
	// signatures' checks ask for more than once.
	memo memo
}

// sigState is what Verify learns of one signature.
type sigState struct {
	report *Signature
	ref    pdf.Ref
	field  string
	br     [4]int64
	end    int64 // br[2]+br[3]: where the signed revision ends
	rev    int   // index into validation.ends, -1 when unknown
	cms    *cms.SignedData
	token  *tsa.Token          // for a document time-stamp
	dict   *pdf.Dict           // the signature dictionary in the signed revision
	done   bool                // the verdict is already decided
	poe    time.Time           // earliest proof of existence; zero when none
	tsPOE  bool                // poe comes from the signature's own time-stamp
	stamps []stampPOE          // its own time-stamps that verified, for provePOE
	path   []*x509.Certificate // the certificate path found, signer first
	// strengthChecked: checkStrength has run.
	strengthChecked bool
	// archival is revocation data signed into the CMS (Adobe's
	// revocationInfoArchival attribute).
	archival validationData
}

// fail decides a verdict and records why, in English only.
func (s *sigState) fail(ind Indication, sub SubIndication, format string, args ...any) {
	s.failWith(ind, sub, note("", nil, format, args...))
}

// failWith decides a verdict and records why. A later failure adds its
// reason and leaves the verdict, but for a definitive one: a TOTAL-FAILED
// (of integrity, of the change analysis, of a certificate not yet valid)
// outranks an INDETERMINATE found before it, as the order of the checks
// of ETSI EN 319 102-1 clause 5.3 puts what fails for certain before what
// cannot yet be decided, and its reason then leads the report.
func (s *sigState) failWith(ind Indication, sub SubIndication, f Finding) {
	if s.done && !(ind == TotalFailed && s.report.Indication != TotalFailed) {
		s.report.Reasons = append(s.report.Reasons, f.Text)
		s.report.ReasonDetails = append(s.report.ReasonDetails, f)
		return
	}
	s.report.Reasons = append([]string{f.Text}, s.report.Reasons...)
	s.report.ReasonDetails = append([]Finding{f}, s.report.ReasonDetails...)
	s.done = true
	s.report.Indication, s.report.SubIndication = ind, sub
}

func (s *sigState) warn(format string, args ...any) {
	s.warnWith(note("", nil, format, args...))
}

func (s *sigState) warnWith(f Finding) {
	s.report.Warnings = append(s.report.Warnings, f.Text)
	s.report.WarningDetails = append(s.report.WarningDetails, f)
}

// setIntact records the integrity verdict.
func (s *sigState) setIntact(ok bool) { s.report.Intact = &ok }

// findSignatures lists the signed signature fields of the final revision
// (ISO 32000-2 §12.7.5.5), in the order their byte ranges end.
func (v *validation) findSignatures() ([]*sigState, error) {
	fields, err := v.final.Fields()
	if err != nil {
		return nil, err
	}
	seen := map[pdf.Ref]string{}
	var sigs []*sigState
	for _, f := range fields {
		if !f.IsSignature() || f.Value == nil {
			continue
		}
		s := &sigState{field: f.Name, rev: -1, report: &Signature{Field: f.Name, Kind: KindSignature}}
		sigs = append(sigs, s)
		if len(sigs) > v.opts.MaxSignatures {
			return sigs, nil
		}
		ref, ok := f.Value.(pdf.Ref)
		if !ok {
			s.fail(TotalFailed, FormatFailure, "the field's /V is not a reference to a signature dictionary")
			continue
		}
		s.ref = ref
		if other, dup := seen[ref]; dup {
			s.fail(TotalFailed, FormatFailure, "the field shares its signature dictionary %v with field %q", ref, other)
			continue
		}
		seen[ref] = f.Name
		obj, err := v.final.Resolve(ref)
		if err != nil {
			s.fail(TotalFailed, FormatFailure, "reading the signature dictionary: %v", err)
			continue
		}
		d, ok := obj.(*pdf.Dict)
		if !ok {
			s.fail(TotalFailed, FormatFailure, "the field's /V %v is not a dictionary", ref)
			continue
		}
		s.br, err = byteRange(d)
		if err != nil {
			s.fail(TotalFailed, FormatFailure, "%v", err)
			continue
		}
		s.end = s.br[2] + s.br[3]
	}
	sort.SliceStable(sigs, func(i, j int) bool { return sigs[i].end < sigs[j].end })
	return sigs, nil
}

// byteRange reads /ByteRange: exactly four non-negative integers [0 a b c]
// with a < b, the gap [a, b) being /Contents (ISO 32000-2 §12.8.1).
func byteRange(d *pdf.Dict) ([4]int64, error) {
	var br [4]int64
	arr, ok := d.Get("ByteRange").(pdf.Array)
	if !ok {
		return br, errors.New("the signature has no /ByteRange array (a universal signature forgery leaves it out)")
	}
	if len(arr) != 4 {
		return br, fmt.Errorf("/ByteRange has %d numbers, not 4", len(arr))
	}
	for i, o := range arr {
		n, ok := o.(pdf.Int)
		if !ok || n < 0 {
			return br, fmt.Errorf("/ByteRange entry %d is not a non-negative integer", i+1)
		}
		br[i] = int64(n)
	}
	if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] {
		return br, fmt.Errorf("/ByteRange %v does not start at 0 and leave one gap", br)
	}
	return br, nil
}

// revision returns a reader of the file as it was at the revision ending at
// end.
func (v *validation) revision(end int64) (*pdf.Reader, error) {
	if rd, ok := v.revs[end]; ok {
		return rd, nil
	}
	rd, err := pdf.OpenToRead(io.NewSectionReader(v.r, 0, end), end, v.opts.Limits)
	if err != nil {
		return nil, err
	}
	v.revs[end] = rd
	return rd, nil
}

// check verifies what a signature says by itself: its byte range, its
// dictionary, its CMS or time-stamp token, and its signature time-stamps.
func (v *validation) check(s *sigState) {
	if s.done {
		return
	}
	if s.end > v.size {
		s.fail(TotalFailed, FormatFailure, "/ByteRange %v runs past the end of the %d-byte file", s.br, v.size)
		return
	}
	s.rev = revisionOf(v.ends, s.end)
	if s.rev < 0 {
		s.fail(TotalFailed, FormatFailure, "/ByteRange %v does not end where a revision of the document ends", s.br)
		return
	}
	s.report.Revision = s.rev + 1
	s.report.CoversWholeDocument = s.rev == len(v.ends)-1
	rd, err := v.revision(v.ends[s.rev].end)
	if err != nil {
		s.fail(TotalFailed, FormatFailure, "the signed revision cannot be read: %v", err)
		return
	}
	obj, err := rd.Resolve(s.ref)
	if err != nil {
		s.fail(TotalFailed, FormatFailure, "the signed revision's signature dictionary cannot be read: %v", err)
		return
	}
	d, ok := obj.(*pdf.Dict)
	if !ok {
		s.fail(TotalFailed, FormatFailure, "the signature dictionary %v is not in the revision it signs", s.ref)
		return
	}
	s.dict = d
	if br, err := byteRange(d); err != nil || br != s.br {
		s.fail(TotalFailed, FormatFailure, "the signature dictionary was changed after signing (its /ByteRange differs)")
		return
	}
	if !v.gapIsContents(s, rd) {
		return
	}
	readDictInfo(s)
	contents, ok := d.Get("Contents").(pdf.String)
	if !ok || len(bytes.TrimRight(contents.Value, "\x00")) == 0 {
		s.fail(TotalFailed, FormatFailure, "/Contents is missing or empty: there is no signature (universal signature forgery)")
		return
	}
	der, err := derPrefix(contents.Value)
	if err != nil {
		s.fail(TotalFailed, FormatFailure, "/Contents is not a DER or BER signature: %v", err)
		return
	}
	sub, _ := d.Get("SubFilter").(pdf.Name)
	s.report.SubFilter = string(sub)
	switch sub {
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
		v.checkCMS(s, der, sub == "adbe.pkcs7.detached")
	case "ETSI.RFC3161":
		s.report.Kind = KindDocumentTimestamp
		v.checkDocTimestamp(s, der)
	default:
		s.fail(Indeterminate, FormatFailure, "SubFilter %q is not supported (ETSI.CAdES.detached, adbe.pkcs7.detached and ETSI.RFC3161 are)", sub)
	}
}

// gapIsContents checks that the byte range's gap is exactly this
// signature's /Contents hex string, inside its dictionary: otherwise the
// signed bytes could be moved under another dictionary (signature
// wrapping).
func (v *validation) gapIsContents(s *sigState, rd *pdf.Reader) bool {
	a, b := s.br[1], s.br[2]
	start, end, ok, err := rd.ObjectSpan(s.ref)
	if err != nil || !ok {
		s.fail(TotalFailed, FormatFailure, "the signature dictionary is not a plain object of the signed revision, so its /Contents cannot be the gap of /ByteRange")
		return false
	}
	if a <= start || b >= end {
		s.fail(TotalFailed, FormatFailure, "the gap of /ByteRange [%d, %d) is not inside the signature dictionary (bytes %d to %d): signature wrapping", a, b, start, end)
		return false
	}
	edge := make([]byte, 1)
	if _, err := v.r.ReadAt(edge, a); err != nil || edge[0] != '<' {
		s.fail(TotalFailed, FormatFailure, "the gap of /ByteRange does not start with the '<' of /Contents")
		return false
	}
	if _, err := v.r.ReadAt(edge, b-1); err != nil || edge[0] != '>' {
		s.fail(TotalFailed, FormatFailure, "the gap of /ByteRange does not end with the '>' of /Contents")
		return false
	}
	c, _ := s.dict.Get("Contents").(pdf.String)
	if int64(2*len(c.Value)+2) > b-a || !c.Hex {
		s.fail(TotalFailed, FormatFailure, "the gap of /ByteRange is not the /Contents string")
		return false
	}
	return true
}

// readDictInfo copies /M, /Reason, /Location and DocMDP into the report.
func readDictInfo(s *sigState) {
	d := s.dict
	if m, ok := d.Get("M").(pdf.String); ok {
		if t, err := pdf.ParseDate(string(m.Value)); err == nil {
			s.report.ClaimedTime = &t
		}
	}
	s.report.Reason = textOf(d.Get("Reason"))
	s.report.Location = textOf(d.Get("Location"))
	if refs, ok := d.Get("Reference").(pdf.Array); ok {
		for _, r := range refs {
			sr, ok := r.(*pdf.Dict)
			if !ok || sr.Get("TransformMethod") != pdf.Name("DocMDP") {
				continue
			}
			p := 2
			if tp, ok := sr.Get("TransformParams").(*pdf.Dict); ok {
				if n, ok := tp.Get("P").(pdf.Int); ok && n >= 1 && n <= 3 {
					p = int(n)
				}
			}
			s.report.Certification = p
		}
	}
}

// textOf decodes a PDF text string, empty for anything else.
func textOf(o pdf.Object) string {
	s, ok := o.(pdf.String)
	if !ok {
		return ""
	}
	return pdf.TextString(s.Value)
}

// derPrefix returns the signature at the start of b as DER, without the
// zero padding a PDF's /Contents carries after it; BER is converted.
func derPrefix(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != 0x30 {
		return nil, errors.New("no SEQUENCE at its start")
	}
	return cms.DER(b)
}

// digestRanges hashes the two byte ranges, streaming.
func (v *validation) digestRanges(s *sigState, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("digest algorithm %v is not available", h)
	}
	return v.digestRangesWith(s, h.New())
}

// digestRangesWith hashes the signature's byte range with w.
func (v *validation) digestRangesWith(s *sigState, w hash.Hash) ([]byte, error) {
	rd := io.MultiReader(io.NewSectionReader(v.r, s.br[0], s.br[1]), io.NewSectionReader(v.r, s.br[2], s.br[3]))
	if _, err := io.Copy(w, rd); err != nil {
		return nil, err
	}
	return w.Sum(nil), nil
}

// checkCMS verifies a CAdES or PKCS#7 detached signature over the byte
// range and its signature time-stamps.
func (v *validation) checkCMS(s *sigState, der []byte, pkcs7 bool) {
	sd, err := cms.Parse(der)
	if err != nil {
		s.fail(TotalFailed, FormatFailure, "the CMS signature cannot be read: %v", err)
		return
	}
	s.cms = sd
	if sd.Signer != nil {
		s.report.Signer = describe(sd.Signer)
	}
	if sd.Content != nil {
		// What such a CMS signs is its eContent, not the byte range: a
		// detached signature has none (ISO 32000-2 §12.8.3.3.1, ETSI EN
		// 319 142-1 clause 6.3), even an empty one; pyHanko refuses it and
		// EU DSS finds it not intact.
		s.setIntact(false)
		s.failWith(TotalFailed, FormatFailure, note(CodeDetachedWithContent, params("subfilter", s.report.SubFilter, "bytes", len(sd.Content)),
			"the signature is detached (%s) but its CMS carries an eContent of %d bytes, so it does not sign the document's byte range alone", s.report.SubFilter, len(sd.Content)))
		return
	}
	if sd.Signer == nil && len(sd.Unreadable) > 0 {
		// crypto/x509 refuses some certificates others accept: what kyso
		// cannot read it cannot judge, which is not a failure of the
		// signature.
		var why []string
		for _, u := range sd.Unreadable {
			why = append(why, u.Err.Error())
		}
		detail := strings.Join(why, "; ")
		s.failWith(Indeterminate, NoSigningCertificateFound, note(CodeUnsupportedCertificate, params("detail", detail),
			"the signature's certificates include %d that kyso cannot read, the signer's presumably, so it cannot check the signature (unsupported: %s)", len(sd.Unreadable), detail))
		return
	}
	newDigest := sd.NewDigest()
	if newDigest == nil {
		s.failWith(Indeterminate, CryptoConstraintsFailureNoPOE, note(CodeWeakDigest, params("algorithm", sd.DigestAlgorithm.String()),
			"digest algorithm %v is not accepted (SHA-256, SHA-384 or SHA-512 are)", sd.DigestAlgorithm))
		return
	}
	if sd.Signer != nil && !checkKey(s, sd.Signer) {
		// cms does not verify with keys below Annex I: say why here.
		s.strengthChecked = true
		return
	}
	digest, err := v.digestRangesWith(s, newDigest)
	if err != nil {
		s.fail(Indeterminate, FormatFailure, "hashing the signed bytes: %v", err)
		return
	}
	err = sd.Verify(digest, cms.VerifyOptions{SigningCertificateOptional: pkcs7, SignedAttributesOptional: pkcs7})
	switch {
	case err == nil:
		s.setIntact(true)
		if sd.SignedAttrs == nil {
			// The value verified over the byte range's digest, as ISO
			// 32000-1 §12.8.3.3.1 allows for adbe.pkcs7.detached; but
			// nothing signed binds the signer's certificate or a time.
			s.failWith(Indeterminate, SigConstraintsFailure, note(CodeNoSignedAttributes, nil,
				"the PKCS#7 signature verifies but has no signed attributes: its value signs the document's digest directly and binds neither the signer's certificate nor a time, and signature acceptance (ETSI EN 319 102-1 clause 5.2.8, as EU DSS's default policy applies it) asks for a signed message-digest"))
			return
		}
	case errors.Is(err, cms.ErrMessageDigest):
		s.setIntact(false)
		s.failWith(TotalFailed, HashFailure, note(CodeModified, nil, "the signed bytes were changed: their digest is not the one signed"))
		return
	case errors.Is(err, cms.ErrSignature):
		s.setIntact(false)
		s.failWith(TotalFailed, SigCryptoFailure, note(CodeBadSignature, nil, "the signature value does not verify with the signer's public key"))
		return
	case errors.Is(err, cms.ErrSigningCertificate):
		s.fail(Indeterminate, NoSigningCertificateFound, "%v", err)
		return
	case errors.Is(err, cms.ErrTimestamp):
		s.fail(TotalFailed, FormatFailure, "a signature time-stamp is not over this signature: %v", err)
		return
	default:
		s.fail(Indeterminate, FormatFailure, "%v", err)
		return
	}
	if sd.SigningCertificateV2 == nil && !pkcs7 {
		s.fail(Indeterminate, NoSigningCertificateFound, "no signing-certificate-v2 attribute")
		return
	}
	s.archival = archivalData(sd)
	for i, ts := range sd.Timestamps {
		t, chains, err := v.verifyToken(ts.Token, func(h crypto.Hash) ([]byte, error) {
			w := h.New()
			w.Write(sd.Signature)
			return w.Sum(nil), nil
		})
		if err != nil {
			s.warnWith(note(CodeTimestampInvalid, params("n", i+1, "detail", err.Error()), "signature time-stamp %d is not valid, so it proves nothing: %v", i+1, err))
			continue
		}
		s.stamps = append(s.stamps, v.stampOf(t, chains, i+1))
	}
}

// verifyToken parses and verifies an RFC 3161 token against the trust
// anchors, over what digest gives for the token's hash algorithm.
// It returns the TSA's chains at the token's time too.
func (v *validation) verifyToken(der []byte, digest func(crypto.Hash) ([]byte, error)) (*tsa.Token, [][]*x509.Certificate, error) {
	tok, err := tsa.ParseToken(der)
	if err != nil {
		return nil, nil, err
	}
	if v.opts.Roots == nil {
		return tok, nil, errors.New("no trust anchors are configured")
	}
	if tok.HashAlgorithm == 0 || !tok.HashAlgorithm.Available() {
		return tok, nil, errors.New("the token's hash algorithm is not supported")
	}
	d, err := digest(tok.HashAlgorithm)
	if err != nil {
		return tok, nil, err
	}
	chains, err := tok.VerifyChains(d, tok.HashAlgorithm, &tsa.VerifyOptions{Roots: v.opts.Roots, Intermediates: v.validationData().pool()})
	return tok, chains, err
}

// checkDocTimestamp verifies a document time-stamp (ETSI EN 319 142-1
// clause 5.4.3): an RFC 3161 token over the byte range.
func (v *validation) checkDocTimestamp(s *sigState, der []byte) {
	tok, chains, err := v.verifyToken(der, func(h crypto.Hash) ([]byte, error) { return v.digestRanges(s, h) })
	if tok != nil {
		s.token = tok
		if c := tokenSigner(tok); c != nil {
			s.report.Signer = describe(c)
		}
		t := tok.GenTime
		s.report.TimestampTime = &t
	}
	switch {
	case err == nil:
		s.setIntact(true)
		s.stamps = append(s.stamps, v.stampOf(tok, chains, 0))
	case errors.Is(err, tsa.ErrImprintMismatch):
		s.setIntact(false)
		s.failWith(TotalFailed, HashFailure, note(CodeModified, nil, "the time-stamped bytes were changed: %v", err))
	case errors.Is(err, tsa.ErrUntrusted):
		s.fail(Indeterminate, NoCertificateChainFound, "the time-stamping unit is not trusted: %v", err)
	case tok == nil:
		s.fail(TotalFailed, FormatFailure, "the document time-stamp cannot be read: %v", err)
	default:
		s.fail(TotalFailed, SigCryptoFailure, "the document time-stamp does not verify: %v", err)
	}
}

// tokenSigner guesses the TSA certificate among the token's certificates:
// the one with the time-stamping extended key usage.
func tokenSigner(tok *tsa.Token) *x509.Certificate {
	for _, c := range tok.Certificates {
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageTimeStamping {
				return c
			}
		}
	}
	return nil
}

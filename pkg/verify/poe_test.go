package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// TestTimestampNeedsItsOwnPOE: a time-stamp proves when a signature
// existed only while it can itself be validated (ETSI EN 319 102-1 clause
// 5.6.3): its TSA's path valid now, or a later time-stamp over it made
// while that path was valid. A B-LT signature whose signer, TSA and root
// certificates have all expired, with nothing after its time-stamp, and
// one whose TSA certificate alone expired (a month ago), are INDETERMINATE
// / OUT_OF_BOUNDS_NO_POE, as EU DSS says; B-LTA saves neither when its
// document time-stamp comes from the same expired TSA.
func TestTimestampNeedsItsOwnPOE(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  pastConfig
	}{
		{"all-expired", allExpired},
		{"tsa-expired", tsaExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pp := newPastPKIWith(t, tc.cfg)
			roots := x509.NewCertPool()
			roots.AddCert(pp.root)
			f := getFixture(t)
			for _, doc := range [][]byte{pp.bt, pp.blt} {
				rep := f.verifyWith(t, doc, &verify.Options{Roots: roots})
				s := want(t, rep, 0, verify.Indeterminate, verify.OutOfBoundsNoPOE)
				if !hasCode(s.WarningDetails, verify.CodeTimestampNoPOE) {
					t.Errorf("no %s warning: %v", verify.CodeTimestampNoPOE, s.Warnings)
				}
			}
			rep := f.verifyWith(t, pp.blta, &verify.Options{Roots: roots})
			want(t, rep, 0, verify.Indeterminate, verify.OutOfBoundsNoPOE)
			want(t, rep, 1, verify.Indeterminate, verify.OutOfBoundsNoPOE)
		})
	}
}

// The past hierarchies of the POE tests: everything expired a year ago;
// or signed two months ago with a TSA certificate that expired a month
// ago, the OCSP responder's still valid.
var (
	allExpired = pastConfig{ago: 365 * 24 * time.Hour, name: "Kyso Hết Hạn",
		root: 2 * time.Hour, issuing: 2 * time.Hour, tsa: 2 * time.Hour, ocsp: time.Hour}
	tsaExpired = pastConfig{ago: 60 * 24 * time.Hour, name: "Kyso TSA Hết Hạn",
		tsa: 30 * 24 * time.Hour, ocsp: 90 * 24 * time.Hour}
)

func hasCode(fs []verify.Finding, c verify.Code) bool {
	for _, f := range fs {
		if f.Code == c {
			return true
		}
	}
	return false
}

// TestDefinitiveFailureLeads: a signature that cannot be judged for want
// of proof of existence (an expired certificate, B-B) but whose document
// gained a page after signing fails: the change analysis's TOTAL-FAILED
// outranks the INDETERMINATE found before it, and leads the reasons.
func TestDefinitiveFailureLeads(t *testing.T) {
	pp := newPastPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(pp.root)
	f := getFixture(t)
	rep := f.verifyWith(t, addPage(t, pp.bb), &verify.Options{Roots: roots})
	s := want(t, rep, 0, verify.TotalFailed, verify.SigConstraintsFailure)
	if len(s.ReasonDetails) < 2 || s.ReasonDetails[0].Code != verify.CodeChangedAfterSigning {
		t.Errorf("the change does not lead the reasons: %q", s.Reasons)
	}
}

// addPage appends an incremental update that adds a page to formPDF's
// page tree.
func addPage(t testing.TB, doc []byte) []byte {
	return update(t, doc, func(rd *pdf.Reader, w *pdf.Writer) {
		page := pdf.NewDict()
		page.Set("Type", pdf.Name("Page"))
		page.Set("Parent", pdf.Ref{Num: 2})
		page.Set("MediaBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
		page.Set("Contents", w.Add(&pdf.Stream{Dict: pdf.NewDict(), Data: []byte("BT /F1 24 Tf 72 720 Td (Trang them) Tj ET")}))
		pages := resolveDict(t, rd, 2)
		pages.Set("Kids", pdf.Array{pdf.Ref{Num: 3}, w.Add(page)})
		pages.Set("Count", pdf.Int(2))
		w.Update(pdf.Ref{Num: 2}, pages)
	})
}

// TestDetachedWithEContent: a detached signature whose CMS carries an
// eContent, even an empty one, fails (the agreement test has pyHanko make
// them; here kyso's own signature gets one).
func TestDetachedWithEContent(t *testing.T) {
	f := getFixture(t)
	doc := f.sign(t, f.citizen(t, hsm.ECDSAP256), formPDF(), &pades.SignOptions{Level: pades.LevelBT})
	for _, content := range [][]byte{{}, []byte("hello")} {
		rep := f.verifyOnline(t, withEContent(t, doc, content))
		s := want(t, rep, 0, verify.TotalFailed, verify.FormatFailure)
		if s.Intact == nil || *s.Intact || s.ReasonDetails[0].Code != verify.CodeDetachedWithContent {
			t.Errorf("eContent %q: intact %v, reasons %q", content, s.Intact, s.Reasons)
		}
	}
}

// withEContent rewrites the CMS in doc's /Contents with content as its
// eContent, in the padding's room.
func withEContent(t *testing.T, doc []byte, content []byte) []byte {
	t.Helper()
	br := byteRangeOf(t, doc)
	der, err := hex.DecodeString(string(doc[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	in := cryptobyte.String(der)
	var ci, oid, inner, sd, version, algs, encap cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&inner, cbasn1.Tag(0).Constructed().ContextSpecific()) || !inner.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.ReadASN1Element(&version, cbasn1.INTEGER) || !sd.ReadASN1Element(&algs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) {
		t.Fatal("cannot read the CMS")
	}
	var ct cryptobyte.String
	encap.ReadASN1Element(&ct, cbasn1.OBJECT_IDENTIFIER)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oid)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(version)
				b.AddBytes(algs)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(ct)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(content)
					})
				})
				b.AddBytes(sd)
			})
		})
	})
	out := b.BytesOrPanic()
	hexOut := []byte(strings.ToUpper(hex.EncodeToString(out)))
	if len(hexOut) > int(br[2]-br[1]-2) {
		t.Fatal("no room for the eContent")
	}
	res := bytes.Clone(doc)
	copy(res[br[1]+1:], hexOut)
	for i := br[1] + 1 + int64(len(hexOut)); i < br[2]-1; i++ {
		res[i] = '0'
	}
	return res
}

package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	gorsa "crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// agreeCase is one PDF of the agreement test.
type agreeCase struct {
	name string
	doc  []byte
	// want is the verdict each signature is built to deserve, in the order
	// kyso reports them (the order they were made).
	want []verdict
	// client reaches the CA of its signers for kyso's revocation fetches;
	// nil means the fixture's.
	client *http.Client
}

// disagreement is a checker that, by its own policy, judges a signature
// otherwise than kyso; the test asserts that it still does (so the table
// stays true), and says what it must show of having seen the problem, and
// holds every other verdict to agreement.
type disagreement struct {
	checker, file, field string
	says                 verdict
	why                  string
	// shows are strings the checker's report must hold: what it noticed.
	shows []string
}

// Checker names.
const (
	ckPyhanko = "pyHanko"
	ckDSS     = "DSS"
	ckPdfsig  = "pdfsig"
)

// disagreements are the verdicts of outside checkers that differ from
// kyso's for a reason of theirs, not a fault of kyso's.
var disagreements = []disagreement{
	// EU DSS, default validation policy.
	{checker: ckDSS, file: "certified-P1-then-filled", says: vPass, shows: []string{"BBB_FC_ISVADMDPD_ANS"},
		why: "DSS's default policy only warns of changes that the DocMDP P=1 certification forbids; kyso and pyHanko fail the signature, as ISO 32000-2 §12.8.2.2 allows no change after it"},
	{checker: ckDSS, file: "attack-incremental-saving", says: vPass, shows: []string{"BBB_FC_IVDBSFR_ANS", "BBB_FC_DSCNUOM_ANS"},
		why: "DSS's default policy only warns of the visual difference on page 1 and of undefined object modifications after the signed revision"},
	{checker: ckDSS, file: "attack-shadow-hide-and-replace", says: vPass, shows: []string{"BBB_FC_IVDBSFR_ANS", "BBB_FC_DSCNUOM_ANS"},
		why: "DSS's default policy only warns of the visual difference on page 1 and of undefined object modifications after the signed revision"},
	{checker: ckDSS, file: "attack-object-deleted", says: vPass, shows: []string{"BBB_FC_IVDBSFR_ANS", "BBB_FC_DSCNUOM_ANS"},
		why: "DSS's default policy only warns of the visual difference on page 1 and of undefined object modifications after the signed revision"},
	{checker: ckDSS, file: "attack-shadow-hide-annotation", says: vPass, shows: []string{"BBB_FC_IAOD_ANS"},
		why: "DSS's default policy only warns that an annotation added after signing overlaps the page's content"},
	{checker: ckDSS, file: "kyso-then-page-respelled", says: vPass,
		why: "DSS compares the page's values; pyHanko and kyso find the page object written again with nothing an allowed change explains (595.0 now spelt 595)"},
	{checker: ckDSS, file: "attack-zeroed-contents", says: vAbsent,
		why: "DSS does not list a signature whose /Contents holds no CMS at all; kyso reports it as a forgery (FORMAT_FAILURE)"},

	// pyHanko's validate (validate_pdf_signature).
	{checker: ckPyhanko, file: "revoked-after-BT", says: vIndet, shows: []string{"REVOKED_NO_POE"}, why: pyhankoNow},
	{checker: ckPyhanko, file: "revoked-after-BLT", says: vIndet, shows: []string{"REVOKED_NO_POE"}, why: pyhankoNow},
	{checker: ckPyhanko, file: "expired-BLTA", field: "Signature1", says: vIndet, shows: []string{"OUT_OF_BOUNDS_NO_POE"}, why: pyhankoNow},

	{checker: ckPyhanko, file: "openssl-negative-serial", says: vPass, why: pyhankoNoRevocationPointer},
	{checker: ckPyhanko, file: "openssl-large-exponent", says: vPass, why: pyhankoNoRevocationPointer},
	{checker: ckPyhanko, file: "openssl-brainpool", says: vPass, why: pyhankoNoRevocationPointer},
	{checker: ckPyhanko, file: "openssl-ed25519", says: vPass, why: pyhankoNoRevocationPointer},
	{checker: ckPyhanko, file: "openssl-ed448", says: vPass, why: pyhankoNoRevocationPointer},
	{checker: ckPyhanko, file: "openssl-secp256k1-then-kyso-BT", field: "Secp256k1", says: vPass,
		why: "pyHanko (python's cryptography) verifies ECDSA on secp256k1, which neither crypto/x509 nor kyso reads: kyso says unsupported (INDETERMINATE), never passes or fails what it cannot check; " + pyhankoNoRevocationPointer},

	{checker: ckPyhanko, file: "openssl-pkcs7-no-signed-attributes", says: vPass,
		why: "pyHanko verifies a signature without signed attributes over the document's digest and asks nothing more; kyso and DSS (BBB_SAV_ISQPMDOSPP) find its value right but, at signature acceptance, nothing signed binding the signer's certificate or a time: INDETERMINATE"},

	// pdfsig checks integrity and trust only.
	{checker: ckPdfsig, file: "openssl-brainpool", says: vFail, shows: []string{"Signature is Invalid."},
		why: "pdfsig (NSS) does not support Brainpool curves and calls the signature invalid; kyso verifies it (RFC 5639 arithmetic from ProtonMail's go-crypto) and, missing revocation data, says INDETERMINATE"},
	{checker: ckPdfsig, file: "openssl-ed25519", says: vFail, shows: []string{"Document isn't signed or corrupted data."},
		why: "pdfsig (NSS) does not verify Ed25519 in CMS (RFC 8419); kyso, pyHanko and DSS find the signature intact and valid, and kyso and DSS, missing revocation data, say INDETERMINATE"},
	{checker: ckPdfsig, file: "openssl-ed448", says: vFail, shows: []string{"Unknown Validation Failure."},
		why: "pdfsig (NSS) does not verify Ed448 in CMS (RFC 8419); kyso, pyHanko and DSS find the signature intact and valid, and kyso and DSS, missing revocation data, say INDETERMINATE"},
	{checker: ckPdfsig, file: "openssl-secp256k1-then-kyso-BT", field: "Secp256k1", says: vFail, shows: []string{"Signature is Invalid."},
		why: "pdfsig (NSS) does not support secp256k1 and calls the signature invalid; kyso cannot check it either and says so (INDETERMINATE, unsupported)"},
	{checker: ckPdfsig, file: "openssl-pkcs7-no-signed-attributes", says: vPass, shows: []string{"Signature is Valid."},
		why: "pdfsig checks the signature value and the certificate's trust only, not what the signature's attributes bind"},
	{checker: ckPdfsig, file: "certified-P1-then-filled", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "attack-incremental-saving", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "attack-shadow-hide-annotation", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "attack-shadow-hide-and-replace", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "attack-shadow-page-tree-swap", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "attack-object-deleted", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "expired-BB-page-added", says: vIndet, shows: []string{"Not total document signed", "Certificate has Expired"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "pyhanko-cades-econtent-empty", says: vPass, shows: []string{"Signature is Valid."}, why: pdfsigEContent},
	{checker: ckPdfsig, file: "pyhanko-pkcs7-econtent-empty", says: vPass, shows: []string{"Signature is Valid."}, why: pdfsigEContent},
	{checker: ckPdfsig, file: "kyso-then-page-respelled", says: vPass, shows: []string{"Not total document signed"}, why: pdfsigNoDiff},
	{checker: ckPdfsig, file: "revoked-before-BT", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigRevokedNow},
	{checker: ckPdfsig, file: "revoked-before-BB", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigRevokedNow},
	{checker: ckPdfsig, file: "suspended-before-BT", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigRevokedNow},
	{checker: ckPdfsig, file: "revoked-after-BB", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigRevokedNow},
	{checker: ckPdfsig, file: "revoked-after-BT", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigNoPOE},
	{checker: ckPdfsig, file: "revoked-after-BLT", says: vFail, shows: []string{"Certificate has been Revoked."}, why: pdfsigNoPOE},
	{checker: ckPdfsig, file: "expired-BLTA", field: "Signature1", says: vIndet, shows: []string{"Certificate has Expired"}, why: pdfsigNoPOE},
	{checker: ckPdfsig, file: "valid-BLTA-rsa2048", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
	{checker: ckPdfsig, file: "two-signers-BLTA", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
	{checker: ckPdfsig, file: "expired-BLTA", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
	{checker: ckPdfsig, file: "certified-P1-BLTA", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
	{checker: ckPdfsig, file: "certified-P1-BT-extended-BLTA", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
	{checker: ckPdfsig, file: "nss-ber-then-kyso-BLTA", field: "DocTimeStamp1", says: vIndet, shows: []string{"Signature has not yet been verified."}, why: pdfsigNoDocTimestamp},
}

const (
	pyhankoNow                 = "pyHanko's validate checks the signer's certificate at the validation time only, where it is revoked or expired; kyso and DSS accept a time-stamp earlier than the revocation or expiry as proof the signature was made before it, with revocation data from then (ETSI EN 319 102-1 clauses 5.5 and 5.6)"
	pdfsigNoPOE                = "pdfsig checks the certificate at the validation time only, and uses neither the time-stamps nor the document's validation data, which show the signature was made while the certificate was valid and not revoked"
	pdfsigNoDocTimestamp       = "pdfsig 22.12 does not verify an ETSI.RFC3161 document time-stamp: \"Signature has not yet been verified.\""
	pdfsigNoDiff               = "pdfsig does not analyse what incremental updates after a signature change; it only says the signature does not cover the whole document"
	pdfsigEContent             = "pdfsig (NSS) verifies the signed attributes against the byte range and does not look at the eContent that the CMS of a detached signature must not carry; with an empty one nothing else differs, so it says valid, where kyso, pyHanko (a CMS structural error) and DSS (not intact) fail it"
	pyhankoNoRevocationPointer = "pyHanko checks revocation only of certificates that name a CRL distribution point or an OCSP responder, and openssl's throwaway CA names none; kyso and DSS ask for revocation data of every certificate but the anchor (ETSI EN 319 102-1 clause 5.2.6) and find none: INDETERMINATE"
	pdfsigRevokedNow           = "pdfsig checks the certificate's status at the validation time, against the CRLs in its NSS database, and knows no INDETERMINATE: a certificate revoked or suspended now fails the signature, where kyso, pyHanko and DSS find nothing proving when it was made (REVOKED_NO_POE, TRY_LATER)"
)

// kysoBug is a verdict kyso gets wrong today, found by this test and
// reported, not yet fixed: the file's want is the right verdict, the
// checkers are held to it, and the test fails once kyso's verdict changes,
// so that the entry goes with the fix.
type kysoBug struct {
	file, field string
	says        verdict
	why         string
}

var kysoBugs = []kysoBug{}

func findKysoBug(file, field string) *kysoBug {
	for i, b := range kysoBugs {
		if b.file == file && (b.field == "" || b.field == field) {
			return &kysoBugs[i]
		}
	}
	return nil
}

func findDisagreement(checker, file, field string) *disagreement {
	for i, d := range disagreements {
		if d.checker == checker && d.file == file && (d.field == "" || d.field == field) {
			return &disagreements[i]
		}
	}
	return nil
}

// TestAgreeWithCheckers builds PDFs that are valid, tampered with in each
// known way, signed by revoked, suspended, expired and untrusted
// certificates, and signed by pyHanko, and has kyso, pyHanko, EU DSS and
// poppler's pdfsig judge every signature of every file. kyso must give
// each signature the verdict it was built to deserve, and pyHanko and DSS
// must agree with kyso but where the table of disagreements says why they
// do not; pdfsig, which checks integrity and trust only, is held to the
// same rule with its own entries in that table. Where kyso is wrong (the
// kysoBugs table) the checkers are held to the right verdict. The whole
// comparison is logged as a table.
//
// Revocation: kyso fetches OCSP responses and CRLs from the throwaway CA
// served over HTTP; pyHanko and DSS are handed, as files, the CRLs and the
// OCSP responses for every signer that the same CA serves once every
// revocation is done, and check offline; pdfsig gets the CRLs imported
// into its NSS database and runs with -no-ocsp (its OCSP client cannot
// reach the test CA).
func TestAgreeWithCheckers(t *testing.T) {
	f := getFixture(t)
	dss := testenv.DSS(t)
	testenv.PyHankoPython(t)
	testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	ctx := context.Background()
	dir := t.TempDir()

	var cases []*agreeCase
	add := func(name string, doc []byte, client *http.Client, want ...verdict) {
		cases = append(cases, &agreeCase{name: name, doc: doc, want: want, client: client})
	}
	bt := func(o pades.Options) *pades.SignOptions { return &pades.SignOptions{Level: pades.LevelBT, Options: o} }

	p256, rsa := f.citizen(t, hsm.ECDSAP256), f.citizen(t, hsm.RSA2048)
	revokedBT, revokedBB, revokedAfter, held, resumed := f.citizen(t, hsm.ECDSAP256), f.citizen(t, hsm.ECDSAP256),
		f.citizen(t, hsm.ECDSAP256), f.citizen(t, hsm.ECDSAP256), f.citizen(t, hsm.ECDSAP256)
	foreign := newPyhankoSigner(t, f, dir)

	// Revoked and suspended before signing; revocation times have whole
	// seconds, so the signatures come a second later.
	f.revoke(t, revokedBT, store.ReasonKeyCompromise)
	f.revoke(t, revokedBB, store.ReasonKeyCompromise)
	f.revoke(t, held, store.ReasonCertificateHold)
	f.revoke(t, resumed, store.ReasonCertificateHold)
	time.Sleep(1100 * time.Millisecond)
	// A suspension lifted before signing: the certificate is good again.
	f.resume(t, resumed)

	add("valid-BB-p256", f.sign(t, p256, formPDF(), nil), nil, vPass)
	add("valid-BT-p256", f.sign(t, p256, formPDF(), bt(pades.Options{Reason: "Tôi đồng ý", Location: "Hà Nội"})), nil, vPass)
	add("valid-BB-rsa2048", f.sign(t, rsa, formPDF(), nil), nil, vPass)
	add("valid-BT-rsa2048", f.sign(t, rsa, formPDF(), bt(pades.Options{})), nil, vPass)
	add("two-signers-BT", f.sign(t, rsa, f.sign(t, p256, formPDF(), bt(pades.Options{})), bt(pades.Options{})), nil, vPass, vPass)

	fill := func(doc []byte) []byte {
		return update(t, doc, func(rd *pdf.Reader, w *pdf.Writer) {
			field := resolveDict(t, rd, 6)
			field.Set("V", pdf.String{Value: []byte("Tran")})
			w.Update(pdf.Ref{Num: 6}, field)
		})
	}
	add("certified-P2-then-filled", fill(f.sign(t, p256, formPDF(), bt(pades.Options{Certify: 2}))), nil, vPass)
	add("certified-P1-then-filled", fill(f.sign(t, p256, formPDF(), bt(pades.Options{Certify: 1}))), nil, vFail)
	add("approval-then-filled", fill(f.sign(t, p256, formPDF(), bt(pades.Options{}))), nil, vPass)
	// A DSS and a document time-stamp are exempt from P=1's "no changes"
	// (ISO 32000-2 §12.8.2.2): kyso makes them at signing and extending.
	ltv := &pades.LTVOptions{Roots: f.roots, Revocation: &revocation.Fetcher{Client: f.srv.Client}}
	add("certified-P1-BLTA", f.sign(t, p256, formPDF(), &pades.SignOptions{Level: pades.LevelBLTA, TSA: pades.TSAServer(f.tsa), LTV: ltv, Options: pades.Options{Certify: 1}}), nil, vPass, vPass)
	add("certified-P1-BT-extended-BLTA", f.extend(t, f.sign(t, p256, formPDF(), bt(pades.Options{Certify: 1})), pades.LevelBLTA), nil, vPass, vPass)

	// The attacks, each on its own B-T signature.
	signed := f.sign(t, p256, formPDF(), bt(pades.Options{}))
	br := byteRangeOf(t, signed)
	{
		doc := bytes.Clone(signed)
		doc[bytes.Index(doc, []byte("Nguyen"))] = 'X'
		add("attack-changed-byte", doc, nil, vFail)
	}
	{
		doc := bytes.Clone(signed)
		for i := br[1] + 1; i < br[2]-1; i++ {
			doc[i] = '0'
		}
		add("attack-zeroed-contents", doc, nil, vFail)
	}
	{
		// Signature wrapping: the gap no longer is the /Contents string.
		doc := bytes.Clone(signed)
		old := []byte("/ByteRange [0 " + strconv.FormatInt(br[1], 10) + " ")
		i := bytes.Index(doc, old)
		if i < 0 {
			t.Fatalf("no %q", old)
		}
		repl := []byte("/ByteRange [0 " + strconv.FormatInt(br[1]-10, 10))
		repl = append(repl, bytes.Repeat([]byte(" "), len(old)-len(repl))...)
		copy(doc[i:], repl)
		add("attack-byterange-gap-moved", doc, nil, vFail)
	}
	add("attack-incremental-saving", update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
		page := resolveDict(t, rd, 3)
		page.Set("Contents", w.Add(&pdf.Stream{Dict: pdf.NewDict(), Data: []byte("BT /F1 24 Tf 72 720 Td (Chuyen 1 ty dong) Tj ET")}))
		w.Update(pdf.Ref{Num: 3}, page)
	}), nil, vFail)
	add("attack-shadow-hide-annotation", update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
		annot := pdf.NewDict()
		annot.Set("Type", pdf.Name("Annot"))
		annot.Set("Subtype", pdf.Name("Square"))
		annot.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
		annot.Set("IC", pdf.Array{pdf.Int(1), pdf.Int(1), pdf.Int(1)})
		o, _ := rd.Resolve(pdf.Ref{Num: 7})
		arr := append(pdf.Array{}, o.(pdf.Array)...)
		w.Update(pdf.Ref{Num: 7}, append(arr, w.Add(annot)))
	}), nil, vFail)
	add("attack-shadow-hide-and-replace", update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
		// The signed revision hid object 9; the update shows it.
		page := resolveDict(t, rd, 3)
		page.Set("Contents", pdf.Ref{Num: 9})
		w.Update(pdf.Ref{Num: 3}, page)
	}), nil, vFail)
	add("attack-shadow-page-tree-swap", update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
		cat, ref, _ := rd.Catalog()
		cat = cat.Clone()
		cat.Set("Pages", pdf.Ref{Num: 8})
		w.Update(ref, cat)
	}), nil, vFail)
	add("attack-object-deleted", update(t, signed, func(rd *pdf.Reader, w *pdf.Writer) {
		w.Update(pdf.Ref{Num: 4}, pdf.Null{})
	}), nil, vFail)

	// A time-stamp after the revocation does not prove the signature was
	// made after it (ETSI EN 319 102-1 clause 5.5.4): INDETERMINATE.
	add("revoked-before-BT", f.sign(t, revokedBT, formPDF(), bt(pades.Options{})), nil, vIndet)
	add("revoked-before-BB", f.sign(t, revokedBB, formPDF(), nil), nil, vIndet)
	add("suspended-before-BT", f.sign(t, held, formPDF(), bt(pades.Options{})), nil, vIndet)
	add("resumed-before-BT", f.sign(t, resumed, formPDF(), bt(pades.Options{})), nil, vPass)
	revokedAfterBT := f.sign(t, revokedAfter, formPDF(), bt(pades.Options{}))
	revokedAfterBB := f.sign(t, revokedAfter, formPDF(), nil)
	revokedAfterBLT := f.extend(t, revokedAfterBT, pades.LevelBLT)

	// B-LT and B-LTA: validation data in the document's DSS, and for
	// B-LTA a document time-stamp over it.
	add("valid-BLT-p256", f.extend(t, f.sign(t, p256, formPDF(), bt(pades.Options{})), pades.LevelBLT), nil, vPass)
	add("valid-BLTA-rsa2048", f.extend(t, f.sign(t, rsa, formPDF(), bt(pades.Options{})), pades.LevelBLTA), nil, vPass, vPass)
	add("two-signers-BLTA", f.extend(t, f.sign(t, rsa, f.sign(t, p256, formPDF(), bt(pades.Options{})), bt(pades.Options{})), pades.LevelBLTA), nil, vPass, vPass, vPass)

	// pyHanko as the signer: PKCS#7 and CAdES, and kyso signing after it.
	pkcs7 := foreign.sign(t, formPDF(), "PyHankoPKCS7", false)
	add("pyhanko-pkcs7", pkcs7, nil, vPass)
	cades := foreign.sign(t, formPDF(), "PyHankoCAdES", true)
	add("pyhanko-cades", cades, nil, vPass)
	add("pyhanko-cades-then-kyso-BT", f.sign(t, p256, cades, bt(pades.Options{})), nil, vPass, vPass)
	// A detached signature whose CMS carries an eContent, even an empty
	// one, signs what it carries: pyHanko refuses it, DSS finds it not
	// intact.
	add("pyhanko-cades-econtent-empty", foreign.signEContent(t, formPDF(), "PyHankoEmpty", true, []byte{}), nil, vFail)
	add("pyhanko-cades-econtent", foreign.signEContent(t, formPDF(), "PyHankoContent", true, []byte("Don xin cap ho chieu")), nil, vFail)
	add("pyhanko-pkcs7-econtent-empty", foreign.signEContent(t, formPDF(), "PyHankoPKCS7Empty", false, []byte{}), nil, vFail)

	// Certificates crypto/x509 refuses or long refused, made by openssl,
	// signed with by pyHanko: read and judged (INDETERMINATE: openssl's
	// throwaway CA publishes no revocation data), or, for the secp256k1
	// key kyso cannot check, unsupported, with the next signature judged.
	ossl := newOpensslPKI(t)
	add("openssl-negative-serial", ossl.signers[osslNegativeSerial].sign(t, formPDF(), "NegativeSerial", true), nil, vIndet)
	add("openssl-large-exponent", ossl.signers[osslLargeExponent].sign(t, formPDF(), "LargeExponent", true), nil, vIndet)
	add("openssl-brainpool", ossl.signers[osslBrainpool].sign(t, formPDF(), "Brainpool", true), nil, vIndet)
	// EdDSA (RFC 8419): verified, never made.
	add("openssl-ed25519", ossl.signers[osslEd25519].sign(t, formPDF(), "Ed25519", true), nil, vIndet)
	add("openssl-ed448", ossl.signers[osslEd448].sign(t, formPDF(), "Ed448", true), nil, vIndet)
	// Legacy algorithms by the dated policy: a SHA-1 time-stamp imprint
	// made today proves nothing, and the signature is judged now.
	add("pyhanko-sha1-imprint-BT", foreign.signSHA1Stamp(t, ossl, formPDF(), "SHA1Stamp"), nil, vPass)
	// A PKCS#7 signature without signed attributes (openssl cms -noattr):
	// its value verifies, but signature acceptance asks for a signed
	// message-digest.
	add("openssl-pkcs7-no-signed-attributes", opensslNoAttrs(t, foreign, foreign.sign(t, formPDF(), "NoAttrs", false)), nil, vIndet)
	// The signer's certificate named by SHA-1 (ESS v1, or v2 with SHA-1):
	// the dated policy only warns of it.
	add("pyhanko-ess-v1", foreign.signESS(t, formPDF(), "ESSv1", "v1"), nil, vPass)
	add("pyhanko-ess-v2-sha1", foreign.signESS(t, formPDF(), "ESSv2SHA1", "v2-sha1"), nil, vPass)
	add("openssl-secp256k1-then-kyso-BT", f.sign(t, p256, ossl.signers[osslSecp256k1].sign(t, formPDF(), "Secp256k1", true), bt(pades.Options{})), nil, vIndet, vPass)

	// A BER-encoded CMS (indefinite lengths), as NSS writes it, and kyso
	// signing at B-LTA after it (validation data for both signatures). NSS's key is RSA: poppler sizes
	// /Contents before signing, and an ECDSA signature one byte longer
	// than its estimate makes it fail.
	rsaKey, err := gorsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	nssSigner := newPEMSigner(t, f, dir, "nss", rsaKey)
	nssDoc := nssSign(t, nssSigner, plainPDF(), "NSSSignature")
	add("nss-ber-pkcs7", nssDoc, nil, vPass)
	add("nss-ber-then-kyso-BLTA", f.sign(t, p256, nssDoc, &pades.SignOptions{Level: pades.LevelBLTA, TSA: pades.TSAServer(f.tsa), LTV: ltv}), nil, vPass, vPass, vPass)

	// Later revisions by other software that pyHanko's difference analysis
	// (its DEFAULT_DIFF_POLICY) and DSS accept; the rule that allows each
	// is named.
	signedBT := f.sign(t, p256, formPDF(), bt(pades.Options{}))
	// GenericFieldModificationRule: a text field's /V.
	add("kyso-then-pyhanko-filled", pyhankoUpdate(t, signedBT, "fill"), nil, vPass)
	// FieldMDPRule's compare_dicts: the page that gets the new widget
	// keeps its other entries in value; pyHanko writes its width 595.0
	// as 595.
	add("kyso-then-pyhanko-visible-respelled", foreign.sign(t, f.sign(t, p256, formPDFPage("595.0", ""), bt(pades.Options{})), "1/72,500,272,550/PyHankoVisible", true), nil, vPass, vPass)
	// A page written again with nothing changed but 595.0 spelt 595 is
	// an unexplained change for pyHanko (and kyso); DSS lets it pass.
	add("kyso-then-page-respelled", pyhankoUpdate(t, f.sign(t, p256, formPDFPage("595.0", "/Annots 7 0 R"), bt(pades.Options{})), "page"), nil, vFail)
	// CatalogModificationRule: the catalogs compare, wherever they are.
	add("kyso-then-new-catalog", pyhankoUpdate(t, signedBT, "newroot"), nil, vPass)
	// CatalogModificationRule: /Version and /Extensions may change;
	// SigFieldCreationRule: a new signature field and its widget.
	add("kyso-1.6-then-pyhanko-cosigned", foreign.sign(t, f.sign(t, p256, version16(t, formPDF()), bt(pades.Options{})), "PyHankoCoSign", true), nil, vPass, vPass)
	add("kyso-then-pyhanko-visible", foreign.sign(t, signedBT, "1/72,500,272,550/PyHankoVisible", true), nil, vPass, vPass)

	// Encrypted documents (qpdf, the empty user password, as documents
	// restricted by permissions are) signed by pyHanko: kyso reads them
	// decrypted.
	add("qpdf-aes256-then-pyhanko", pyhankoUpdate(t, qpdfEncrypted(t, formPDF(), "", "256"), "sign", foreign.keyPath, foreign.certPath, foreign.chainPath, "PyHankoAES256"), nil, vPass)
	add("qpdf-aes128-then-pyhanko", pyhankoUpdate(t, qpdfEncrypted(t, formPDF(), "", "128"), "sign", foreign.keyPath, foreign.certPath, foreign.chainPath, "PyHankoAES128"), nil, vPass)

	// A signer whose root nobody trusts.
	other, err := catest.NewInit(ctx, t.TempDir(), &ca.InitRequest{Name: "Kyso Không Tin Cậy"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ocert, okey, err := other.Citizen(ctx, "untrusted", hsm.ECDSAP256, "079203099999")
	if err != nil {
		t.Fatal(err)
	}
	{
		in, out := formPDF(), bytes.Buffer{}
		if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, okey, ocert, []*x509.Certificate{other.Hierarchy.Issuing},
			&pades.SignOptions{Level: pades.LevelBT, TSA: pades.TSAServer(f.tsa), Options: pades.Options{SkipSignerCheck: true}}); err != nil {
			t.Fatal(err)
		}
		add("untrusted-root-BT", out.Bytes(), nil, vIndet)
	}

	// Expired: signed a year ago, with a one-hour certificate. Even with a
	// time-stamp from when it was valid, the revocation data to be had
	// today was issued after it expired and says nothing of it (a CA may
	// drop expired certificates from its CRLs): only validation data
	// gathered before it expired (B-LT) can show it was not revoked then.
	past := newPastPKI(t)
	add("expired-BB", past.bb, past.srv.Client, vIndet)
	add("expired-BT", past.bt, past.srv.Client, vIndet)
	// B-LT: the validation data is from before it expired, but so is the
	// OCSP responder's certificate that signed it; only the document
	// time-stamp of B-LTA proves the data existed while that was valid.
	add("expired-BLT", past.blt, past.srv.Client, vIndet)
	add("expired-BLTA", past.blta, past.srv.Client, vPass, vPass)
	// A time-stamp proves nothing once its own TSA's path has expired with
	// nothing later over it: the whole hierarchy a year ago, or the TSA
	// certificate alone a month ago (ETSI EN 319 102-1 clause 5.6.3).
	allGone, tsaGone := newPastPKIWith(t, allExpired), newPastPKIWith(t, tsaExpired)
	add("expired-all-BLT", allGone.blt, nil, vIndet)
	add("expired-all-BLTA", allGone.blta, nil, vIndet, vIndet)
	add("expired-tsa-BLT", tsaGone.blt, nil, vIndet)
	// A page added after signing fails the signature, whatever else
	// could not be decided of it.
	add("expired-BB-page-added", addPage(t, past.bb), past.srv.Client, vFail)

	// Revoked (key compromise) after signing: a time-stamp proves the
	// signature came before; without one nothing does.
	time.Sleep(1100 * time.Millisecond)
	f.revoke(t, revokedAfter, store.ReasonKeyCompromise)
	add("revoked-after-BT", revokedAfterBT, nil, vPass)
	add("revoked-after-BB", revokedAfterBB, nil, vIndet)
	// The DSS holds the OCSP response that said "good" before the
	// revocation; the checkers are handed today's, which says "revoked".
	add("revoked-after-BLT", revokedAfterBLT, nil, vPass)

	// The revocation data a relying party fetches now, for the outside
	// checkers.
	var crls, ocsps []string
	writeDER := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, der, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for i, a := range []*ca.Authority{f.p.CA, past.p.CA} {
		list, err := a.GenerateCRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			crls = append(crls, writeDER(fmt.Sprintf("crl-%d-%s.crl", i, c.Issuer), c.DER))
		}
	}
	fetchOCSP := func(client *http.Client, cert, issuer *x509.Certificate) {
		res, err := (&revocation.Fetcher{Client: client}).OCSP(ctx, cert, issuer)
		if err != nil {
			t.Fatalf("OCSP for %s: %v", cert.Subject.CommonName, err)
		}
		ocsps = append(ocsps, writeDER(fmt.Sprintf("ocsp-%d.der", len(ocsps)), res.Raw))
	}
	for _, s := range []signer{p256, rsa, revokedBT, revokedBB, revokedAfter, held, resumed, {foreign.cert, nil}, {nssSigner.cert, nil}} {
		fetchOCSP(f.srv.Client, s.cert, f.p.Hierarchy.Issuing)
	}
	fetchOCSP(past.srv.Client, past.cert, past.p.Hierarchy.Issuing)
	trust := []string{writePEM(t, dir, "root.pem", f.p.Hierarchy.Root), writePEM(t, dir, "past-root.pem", past.root),
		writePEM(t, dir, "all-gone-root.pem", allGone.root), writePEM(t, dir, "tsa-gone-root.pem", tsaGone.root), ossl.rootPath}

	var paths []string
	for _, c := range cases {
		paths = append(paths, writeFile(t, dir, c.name+".pdf", c.doc))
	}
	if len(cases) < 20 {
		t.Fatalf("%d files, the issue asks for at least 20", len(cases))
	}

	roots := x509.NewCertPool()
	roots.AddCert(f.p.Hierarchy.Root)
	roots.AddCert(past.root)
	roots.AddCert(allGone.root)
	roots.AddCert(tsaGone.root)
	roots.AddCert(ossl.root)
	reports := make([]*verify.Report, len(cases))
	for i, c := range cases {
		client := c.client
		if client == nil {
			client = f.srv.Client
		}
		reports[i] = f.verifyWith(t, c.doc, &verify.Options{Roots: roots, Fetcher: &revocation.Fetcher{Client: client}})
	}

	py := runPyhanko(t, trust, crls, ocsps, paths)
	// kyso's B-LTA update is what pyHanko calls LTA updates, not form
	// filling: the document time-stamp's widget has no appearance.
	for i, c := range cases {
		if !strings.HasSuffix(c.name, "BLTA") || strings.Contains(c.name, "two-signers") || strings.Contains(c.name, "nss") || strings.Contains(c.name, "expired") {
			continue
		}
		for _, ps := range py[i].Signatures {
			if ps.Field == "Signature1" && ps.ModificationLevel != "ModificationLevel.LTA_UPDATES" {
				t.Errorf("%s: pyHanko reads the updates after Signature1 as %s, want LTA_UPDATES", c.name, ps.ModificationLevel)
			}
		}
	}
	var dssCRLs, dssOCSPs [][]byte
	for _, p := range crls {
		b, _ := os.ReadFile(p)
		dssCRLs = append(dssCRLs, b)
	}
	for _, p := range ocsps {
		b, _ := os.ReadFile(p)
		dssOCSPs = append(dssOCSPs, b)
	}
	ds := dss.Validate(t, trust, dssCRLs, dssOCSPs, paths...)
	nss := newNSSDB(t, trust, crls)

	type cell struct {
		v      verdict
		why    string
		detail string // for messages: everything the checker said
	}
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	checkers := []string{ckPyhanko, ckDSS, ckPdfsig}
	fmt.Fprintln(tw, "file\tfield\twant\tkyso\t"+strings.Join(checkers, "\t"))
	for i, c := range cases {
		rep := reports[i]
		if len(rep.Signatures) != len(c.want) {
			t.Errorf("%s: kyso found %d signatures, want %d", c.name, len(rep.Signatures), len(c.want))
			continue
		}
		sigs, pdfsigErr := runPdfsig(t, nss, paths[i])
		for j, s := range rep.Signatures {
			k := kysoVerdict(s)
			got := map[string]cell{ckPyhanko: {v: vAbsent}, ckDSS: {v: vAbsent}, ckPdfsig: {v: vAbsent, why: pdfsigErr}}
			if py[i].Error != "" {
				got[ckPyhanko] = cell{vFail, "error reading the file: " + py[i].Error, ""}
			}
			for _, ps := range py[i].Signatures {
				if ps.Field == s.Field {
					v, why := pyhankoVerdict(ps)
					js, _ := json.Marshal(ps)
					got[ckPyhanko] = cell{v, why, string(js)}
				}
			}
			for _, d := range ds[i].Signatures {
				if slices.Contains(d.FieldNames, s.Field) {
					got[ckDSS] = cell{dssVerdict(d.Indication), strings.TrimSuffix(d.Indication+"/"+d.SubIndication, "/") + " " + d.SignatureFormat, d.Describe()}
				}
			}
			// A document time-stamp is listed on its own, or under each
			// signature it covers.
			dts := slices.Clone(ds[i].DocumentTimestamps)
			for _, d := range ds[i].Signatures {
				dts = append(dts, d.Timestamps...)
			}
			for _, d := range dts {
				if slices.Contains(d.FieldNames, s.Field) {
					got[ckDSS] = cell{dssVerdict(d.Indication), strings.TrimSuffix(d.Indication+"/"+d.SubIndication, "/"), d.Describe()}
				}
			}
			if got[ckDSS].v == vAbsent {
				js, _ := json.Marshal(ds[i])
				got[ckDSS] = cell{vAbsent, "", string(js)}
			}
			for _, ps := range sigs {
				if ps.field == s.Field {
					v, why := pdfsigVerdict(ps)
					got[ckPdfsig] = cell{v, why, ps.text}
				}
			}
			kw := string(k)
			if s.SubIndication != "" {
				kw += " " + string(s.SubIndication)
			}
			if s.Level != "" {
				kw += " " + s.Level
			}
			if b := findKysoBug(c.name, s.Field); b != nil && b.says == k {
				kw += " [KNOWN BUG]"
			}
			show := func(c cell) string {
				w := string(c.v)
				if why, _, _ := strings.Cut(c.why, "\n"); why != "" {
					if len(why) > 60 {
						why = why[:57] + "..."
					}
					w += " (" + why + ")"
				}
				return w
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s", c.name, s.Field, c.want[j], kw)
			for _, ck := range checkers {
				fmt.Fprintf(tw, "\t%s", show(got[ck]))
			}
			fmt.Fprintln(tw)

			// ref is what the checkers are held to: kyso's verdict, or the
			// right one where kyso has a known bug.
			ref := k
			bug := findKysoBug(c.name, s.Field)
			switch {
			case k != c.want[j] && bug != nil && bug.says == k:
				ref = c.want[j]
				t.Logf("KNOWN KYSO BUG: %s, %s: kyso says %s, the file was built to be %s: %s", c.name, s.Field, k, c.want[j], bug.why)
			case k != c.want[j]:
				var b strings.Builder
				rep.WriteText(&b, c.name+".pdf")
				t.Errorf("%s, %s: kyso says %s, the file was built to be %s:\n%s", c.name, s.Field, k, c.want[j], b.String())
			case bug != nil:
				t.Errorf("%s, %s: kyso now says %s, as the file was built to be: the bug recorded in kysoBugs is fixed, remove its entry", c.name, s.Field, k)
			}
			for _, ck := range checkers {
				g := got[ck]
				d := findDisagreement(ck, c.name, s.Field)
				switch {
				case d == nil && g.v != ref:
					t.Errorf("%s, %s: kyso says %s (%s), %s says %s (%s), and no disagreement is recorded:\n%s", c.name, s.Field, ref, strings.Join(s.Reasons, "; "), ck, g.v, g.why, g.detail)
				case d != nil && g.v != d.says:
					t.Errorf("%s, %s: the table says %s judges it %s (%s), but it says %s (%s); kyso says %s", c.name, s.Field, ck, d.says, d.why, g.v, g.why, ref)
				case d != nil:
					for _, w := range d.shows {
						if !strings.Contains(g.detail, w) {
							t.Errorf("%s, %s: %s does not show %q, which the table says it notices:\n%s", c.name, s.Field, ck, w, g.detail)
						}
					}
				}
			}
		}
	}
	tw.Flush()
	t.Logf("verdicts of %d files:\n%s", len(cases), table.String())
	var b strings.Builder
	for _, d := range disagreements {
		fmt.Fprintf(&b, "  %s says %s of %s: %s\n", d.checker, d.says, d.file, d.why)
	}
	t.Logf("recorded disagreements with kyso:\n%s", b.String())
}

// extend raises doc to B-LT or B-LTA with pades.Extend: validation data
// fetched from the served CA, the document time-stamp from the fixture's
// TSA.
func (f *fixture) extend(t testing.TB, doc []byte, level pades.Level) []byte {
	t.Helper()
	var out bytes.Buffer
	opts := &pades.ExtendOptions{TSA: pades.TSAServer(f.tsa),
		LTVOptions: pades.LTVOptions{Roots: f.roots, Revocation: &revocation.Fetcher{Client: f.srv.Client}}}
	if err := pades.Extend(context.Background(), bytes.NewReader(doc), int64(len(doc)), &out, level, opts); err != nil {
		t.Fatalf("Extend %s: %v", level, err)
	}
	return out.Bytes()
}

// pyhankoSigner is a citizen certificate of the fixture's CA for a key
// kept as a PEM file, for pyHanko to sign with.
type pyhankoSigner struct {
	cert                         *x509.Certificate
	keyPath, certPath, chainPath string
}

func newPyhankoSigner(t *testing.T, f *fixture, dir string) *pyhankoSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newPEMSigner(t, f, dir, "pyhanko", key)
}

// newPEMSigner issues a citizen certificate of the fixture's CA for key,
// and writes key, certificate and chain as PEM files named after prefix.
func newPEMSigner(t *testing.T, f *fixture, dir, prefix string, key crypto.Signer) *pyhankoSigner {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: prefix}}, key)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.cccd++
	n := f.cccd
	f.mu.Unlock()
	cert, err := f.p.CA.IssueCitizen(context.Background(), &ca.CitizenRequest{
		Name: "Phạm Minh Châu", CCCD: fmt.Sprintf("0792030%05d", n), Province: "Hồ Chí Minh", Key: ca.KeySource{CSR: csr},
	})
	if err != nil {
		t.Fatal(err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s := &pyhankoSigner{cert: cert, keyPath: filepath.Join(dir, prefix+"-key.pem"),
		certPath: writePEM(t, dir, prefix+"-cert.pem", cert), chainPath: writePEM(t, dir, prefix+"-chain.pem", f.p.Hierarchy.Issuing)}
	if err := os.WriteFile(s.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// sign signs in with `pyhanko sign addsig` in a new invisible field:
// ETSI.CAdES.detached with cades, adbe.pkcs7.detached without.
func (s *pyhankoSigner) sign(t *testing.T, in []byte, field string, cades bool) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := src + ".signed.pdf"
	args := []string{"sign", "addsig", "--field", field}
	if cades {
		args = append(args, "--use-pades")
	}
	args = append(args, "pemder", "--key", s.keyPath, "--cert", s.certPath, "--chain", s.chainPath, "--no-pass", src, dst)
	if r := testenv.RunPyHanko(t, args...); r.Err != nil {
		t.Fatalf("pyhanko %s: %v\n%s\nlog: %s\nstderr: %s", strings.Join(args, " "), r.Err, r.Report, r.Log, r.Stderr)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pyhankoEContent signs with pyHanko's PdfSigner through a signer that
// hands pyHanko's own CMS builder an encapContentInfo with an eContent
// (argv: in, out, key, cert, chain, field, "cades" or "pkcs7", the
// eContent in hex): a detached PDF signature that carries content, as
// signers that build the CMS for attached data make it.
const pyhankoEContent = `
import sys
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
src, dst, key, cert, chain, field, kind, content = sys.argv[1:]

class EContentSigner(signers.SimpleSigner):
    async def async_sign(self, *a, **kw):
        kw['encap_content_info'] = {'content_type': 'data', 'content': bytes.fromhex(content)}
        return await super().async_sign(*a, **kw)

s = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
s.__class__ = EContentSigner
meta = signers.PdfSignatureMetadata(field_name=field,
    subfilter=fields.SigSeedSubFilter.PADES if kind == 'cades' else fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED)
with open(src, 'rb') as f, open(dst, 'wb') as out:
    signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=s, output=out)
`

// signEContent signs in with pyHanko, as sign does, but with content as
// the CMS's eContent (see pyhankoEContent).
func (s *pyhankoSigner) signEContent(t *testing.T, in []byte, field string, cades bool, content []byte) []byte {
	t.Helper()
	kind := "pkcs7"
	if cades {
		kind = "cades"
	}
	return s.signWith(t, pyhankoEContent, in, field, kind, fmt.Sprintf("%x", content))
}

// signWith runs script, a pyHanko signing script, with pyHanko's Python:
// its arguments are the input and output PDFs, s's key, certificate and
// chain, then args; it returns the signed PDF.
func (s *pyhankoSigner) signWith(t *testing.T, script string, in []byte, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst, py := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf"), filepath.Join(dir, "sign.py")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := testenv.Command(t, testenv.PyHankoPython(t), append([]string{py, src, dst, s.keyPath, s.certPath, s.chainPath}, args...)...)
	if out, errOut, err := testenv.Run(cmd); err != nil {
		t.Fatalf("pyHanko signing (%v): %v\n%s\n%s", args, err, out, errOut)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

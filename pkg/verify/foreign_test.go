package verify_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// This file makes signatures with other signers' own software, for the
// agreement test: what a portal receives from tools kyso did not write.

// plainPDF is a one-page document without a form: poppler 22.12's pdfsig
// -add-signature does not add its field to an existing /AcroForm's
// /Fields, so nobody would see the signature it adds to formPDF.
func plainPDF() []byte { return testpdf.Minimal("Don xin cap ho chieu") }

// nssSign signs in with NSS, through poppler's `pdfsig -add-signature`
// (adbe.pkcs7.detached, the CMS written in BER with indefinite lengths),
// with s's key and certificate and its issuer in a fresh NSS database.
func nssSign(t *testing.T, s *pyhankoSigner, in []byte, field string) []byte {
	t.Helper()
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	certutil := testenv.LookPath(t, "certutil", "apt-get install libnss3-tools")
	pk12util := testenv.LookPath(t, "pk12util", "apt-get install libnss3-tools")
	openssl := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	db := "sql:" + dir
	p12 := filepath.Join(dir, "signer.p12")
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{openssl, "pkcs12", "-export", "-inkey", s.keyPath, "-in", s.certPath, "-certfile", s.chainPath, "-name", "nss-signer", "-passout", "pass:kyso", "-out", p12},
		{certutil, "-N", "-d", db, "--empty-password"},
		{pk12util, "-i", p12, "-d", db, "-W", "kyso", "-K", ""},
		{pdfsig, "-add-signature", "-nssdir", db, "-nick", "nss-signer", "-new-signature-field-name", field, src, dst},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdin = strings.NewReader("")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if c := contentsOf(t, out); !bytes.HasPrefix(c, []byte{0x30, 0x80}) {
		t.Fatalf("NSS wrote % x…, not BER with an indefinite length", c[:min(len(c), 4)])
	}
	return out
}

// contentsOf is the last signature's /Contents, decoded.
func contentsOf(t *testing.T, doc []byte) []byte {
	t.Helper()
	br := byteRangeOf(t, doc)
	b, err := hex.DecodeString(string(doc[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pyhankoEdit is run by pyHanko's interpreter: it appends to a PDF an
// incremental update written by pyHanko's own IncrementalPdfFileWriter.
const pyhankoEdit = `
import sys
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

op, src, dst = sys.argv[1:4]
w = IncrementalPdfFileWriter(open(src, 'rb'))
if w.prev.encrypted:
    w.encrypt(b'')  # the empty user password
root = w.root

def sign(key, cert, chain, field):
    # Sign (PAdES) in field, with the key, certificate and chain files
    # given, what is in w's update written with the signature.
    from pyhanko.sign import fields, signers
    signer = signers.SimpleSigner.load(key, cert, ca_chain_files=[chain])
    meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
    with open(dst, 'wb') as out:
        signers.sign_pdf(w, meta, signer=signer, output=out)
    sys.exit(0)

if op == 'sign':
    # Sign (PAdES) in a new field, with the key, certificate and chain
    # files given: what "pyhanko sign addsig --use-pades" does, which
    # cannot be given an empty password without a terminal.
    sign(*sys.argv[4:8])
if op == 'sign-tagged':
    # Sign in a new visible field and, in the same revision, tag its
    # widget as a tagged-PDF writer does (ISO 32000-2 §14.7.4.4): a Form
    # structure element with an object reference to the widget, under the
    # document's element, the widget's /StructParent, its entry in the
    # /ParentTree and /ParentTreeNextKey counted on.
    from pyhanko.sign import fields
    field = sys.argv[7]
    fields.append_signature_field(w, fields.SigFieldSpec(field, box=(72, 300, 272, 350), on_page=0))
    widget_ref = root['/AcroForm']['/Fields'][-1]
    widget = widget_ref.get_object()
    str_root = root['/StructTreeRoot']
    doc_ref = str_root.raw_get('/K')
    doc = doc_ref.get_object()
    page_ref = root['/Pages'].raw_get('/Kids')[0]
    n = int(str_root['/ParentTreeNextKey'])
    elem_ref = w.add_object(generic.DictionaryObject({
        generic.pdf_name('/Type'): generic.pdf_name('/StructElem'),
        generic.pdf_name('/S'): generic.pdf_name('/Form'),
        generic.pdf_name('/P'): doc_ref,
        generic.pdf_name('/Pg'): page_ref,
        generic.pdf_name('/K'): generic.DictionaryObject({
            generic.pdf_name('/Type'): generic.pdf_name('/OBJR'),
            generic.pdf_name('/Obj'): widget_ref,
        }),
    }))
    doc['/K'].append(elem_ref)
    w.update_container(doc)
    parent_tree = str_root['/ParentTree']
    parent_tree['/Nums'].append(generic.NumberObject(n))
    parent_tree['/Nums'].append(elem_ref)
    w.update_container(parent_tree)
    str_root[generic.pdf_name('/ParentTreeNextKey')] = generic.NumberObject(n + 1)
    w.update_container(str_root)
    widget[generic.pdf_name('/StructParent')] = generic.NumberObject(n)
    w.update_container(widget)
    sign(*sys.argv[4:8])
if op == 'ap-inplace':
    # Rewrite in place the normal appearance stream of a field's widget,
    # then, in the same revision, fill the field in (a text field) or sign
    # it (a signature field), as a writer that redraws an appearance in
    # its own object does.
    name = sys.argv[4]
    f = next(r.get_object() for r in root['/AcroForm']['/Fields'] if r.get_object().get('/T') == name)
    ap_ref = f['/AP'].raw_get('/N')
    old = ap_ref.get_object()
    w.objects[(ap_ref.generation, ap_ref.idnum)] = generic.StreamObject(
        {k: v for k, v in old.items() if k not in ('/Length', '/Filter', '/DecodeParms')},
        stream_data=b'0 0.5 0 rg 0 0 20 10 re f')
    if f.get('/FT') == '/Tx':
        f[generic.pdf_name('/V')] = generic.pdf_string('Tran Thi Binh')
        w.update_container(f)
    else:
        sign(*sys.argv[5:8], name)
elif op == 'fill':
    # Fill in the text field "ten", as a form-filling application does.
    for ref in root['/AcroForm']['/Fields']:
        f = ref.get_object()
        if f.get('/T') == 'ten':
            f[generic.pdf_name('/V')] = generic.pdf_string('Tran Thi Binh')
            w.update_container(f)
elif op == 'page':
    # Write page 1 again, unchanged: pyHanko spells a real that is a
    # whole number as an integer (595.0 as 595).
    page = root['/Pages']['/Kids'][0].get_object()
    w.update_container(page)
elif op == 'newroot':
    # The same catalog as a new object, which the trailer's /Root names.
    cat = generic.DictionaryObject({k: v for k, v in root.items()})
    w._root = w.add_object(cat)
else:
    sys.exit('unknown op ' + op)
with open(dst, 'wb') as out:
    w.write(out)
`

// pyhankoUpdate appends pyhankoEdit's update op to doc.
func pyhankoUpdate(t *testing.T, doc []byte, op string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	script, src, dst := filepath.Join(dir, "edit.py"), filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(script, []byte(pyhankoEdit), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := testenv.Command(t, testenv.PyHankoPython(t), append([]string{script, op, src, dst}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pyHanko %s: %v\n%s", op, err, stderr.Bytes())
	}
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// version16 is doc with its header saying PDF 1.6.
func version16(t *testing.T, doc []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte("%PDF-1.")) {
		t.Fatalf("no PDF header")
	}
	doc = bytes.Clone(doc)
	doc[7] = '6'
	return doc
}

// qpdfEncrypted is doc encrypted by qpdf with the given user password
// (empty, as for documents restricted by permissions only), an owner
// password, and AES of the given key length.
func qpdfEncrypted(t *testing.T, doc []byte, user, bits string) []byte {
	t.Helper()
	args := []string{"--encrypt", user, "kyso-owner", bits}
	if bits == "128" {
		args = append(args, "--use-aes=y")
	}
	return testenv.Qpdf(t, doc, append(args, "--")...)
}

// TestEncryptedRefusals: a document that needs a password to be opened
// cannot be validated, and the message says so without telling the
// relying party to sign anything; kyso still refuses to sign an
// encrypted document, even one it can read.
func TestEncryptedRefusals(t *testing.T) {
	f := getFixture(t)
	locked := qpdfEncrypted(t, f.sign(t, f.citizen(t, hsm.ECDSAP256), formPDF(), nil), "kyso-user", "256")
	_, err := verify.Verify(context.Background(), bytes.NewReader(locked), int64(len(locked)), &verify.Options{Roots: f.roots})
	if !errors.Is(err, pdf.ErrEncrypted) || !strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "signing") {
		t.Errorf("verify of a password-protected document: %v", err)
	}
	open := qpdfEncrypted(t, formPDF(), "", "256")
	var out bytes.Buffer
	s := f.citizen(t, hsm.ECDSAP256)
	err = pades.Sign(context.Background(), bytes.NewReader(open), int64(len(open)), &out, s.key, s.cert, f.chain, &pades.SignOptions{Options: pades.Options{SkipSignerCheck: true}})
	if !errors.Is(err, pades.ErrEncrypted) {
		t.Errorf("signing an encrypted document: %v, want ErrEncrypted", err)
	}
}

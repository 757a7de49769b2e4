package verify_test

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// opensslPKI is a root and signers made by openssl with what crypto/x509
// refuses or long refused: a negative serial number (DER INTEGERs are
// signed; certificates with negative serials are in use), an RSA public
// exponent of 2^32+1 (above crypto/rsa's limit of 2^31-1; python's
// cryptography and pyHanko verify with it), a Brainpool key (RFC 5639,
// which crypto/x509 does not know), a secp256k1 key (which kyso does
// not read at all), and Ed25519 and Ed448 keys (RFC 8410; crypto/x509
// leaves an Ed448 key unread).
type opensslPKI struct {
	dir      string
	rootPath string
	root     *x509.Certificate
	signers  map[string]*pyhankoSigner
	// tsaKey and tsaCert are an RSA time-stamping unit's PEM files.
	tsaKey, tsaCert string
}

// The opensslPKI signers' names.
const (
	osslNegativeSerial = "negative-serial"
	osslLargeExponent  = "large-exponent"
	osslBrainpool      = "brainpool"
	osslSecp256k1      = "secp256k1"
	osslEd25519        = "ed25519"
	osslEd448          = "ed448"
)

func newOpensslPKI(t *testing.T) *opensslPKI {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := testenv.Command(t, bin, args...)
		cmd.Dir = dir
		if out, errOut, err := testenv.Run(cmd); err != nil {
			t.Fatalf("openssl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
		}
	}
	ext := filepath.Join(dir, "leaf.ext")
	if err := os.WriteFile(ext, []byte("keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root.key")
	run("req", "-x509", "-new", "-key", "root.key", "-subj", "/O=Kyso OpenSSL/CN=Kyso OpenSSL Root", "-days", "30", "-out", "root.pem",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	p := &opensslPKI{dir: dir, rootPath: filepath.Join(dir, "root.pem"), signers: map[string]*pyhankoSigner{}}
	for _, s := range []struct {
		name, serial string
		keygen       []string
	}{
		{osslNegativeSerial, "-4660", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		{osslLargeExponent, "4661", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:4294967297"}},
		{osslBrainpool, "4662", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:brainpoolP256r1"}},
		{osslSecp256k1, "4663", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}},
		{osslEd25519, "4664", []string{"-algorithm", "ED25519"}},
		{osslEd448, "4665", []string{"-algorithm", "ED448"}},
	} {
		run(append(append([]string{"genpkey"}, s.keygen...), "-out", s.name+".key")...)
		run("req", "-new", "-key", s.name+".key", "-subj", "/O=Kyso OpenSSL/CN="+s.name, "-out", s.name+".csr")
		run("x509", "-req", "-in", s.name+".csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", s.serial, "-days", "30",
			"-extfile", ext, "-out", s.name+".pem")
		p.signers[s.name] = &pyhankoSigner{keyPath: filepath.Join(dir, s.name+".key"), certPath: filepath.Join(dir, s.name+".pem"), chainPath: p.rootPath}
	}
	// An RSA time-stamping unit (pyHanko's DummyTimeStamper signs with
	// RSA only).
	tsaExt := filepath.Join(dir, "tsa.ext")
	if err := os.WriteFile(tsaExt, []byte("keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "tsa.key")
	run("req", "-new", "-key", "tsa.key", "-subj", "/O=Kyso OpenSSL/CN=Kyso OpenSSL TSA", "-out", "tsa.csr")
	run("x509", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "4700", "-days", "30", "-extfile", tsaExt, "-out", "tsa.pem")
	p.tsaKey, p.tsaCert = filepath.Join(dir, "tsa.key"), filepath.Join(dir, "tsa.pem")
	b, err := os.ReadFile(p.rootPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if p.root, err = x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCertificatesX509Refuses: a certificate with a negative serial
// number, an RSA exponent above crypto/rsa's limit or a Brainpool key is
// read and its signature judged like any other (here INDETERMINATE for
// want of revocation data, which openssl's throwaway CA does not
// publish); a signer certificate kyso cannot read (secp256k1) leaves the
// signature INDETERMINATE, unsupported, never TOTAL-FAILED, and a later
// signature in the same file is still judged.
func TestCertificatesX509Refuses(t *testing.T) {
	f := getFixture(t)
	testenv.PyHankoPython(t)
	o := newOpensslPKI(t)
	roots := f.roots.Clone()
	roots.AddCert(o.root)

	for _, name := range []string{osslNegativeSerial, osslLargeExponent, osslBrainpool} {
		doc := o.signers[name].sign(t, formPDF(), "Read", true)
		rep := f.verifyWith(t, doc, &verify.Options{Roots: roots})
		s := want(t, rep, 0, verify.Indeterminate, verify.TryLater)
		if s.Intact == nil || !*s.Intact || s.Signer == nil || len(s.Chain) != 2 {
			t.Errorf("%s: intact %v, signer %+v, chain of %d", name, s.Intact, s.Signer, len(s.Chain))
		}
	}
	for _, name := range []string{osslSecp256k1} {
		doc := o.signers[name].sign(t, formPDF(), "Unsupported", true)
		doc = f.sign(t, f.citizen(t, hsm.ECDSAP256), doc, nil)
		rep := f.verifyWith(t, doc, &verify.Options{Roots: roots, Fetcher: &revocation.Fetcher{Client: f.srv.Client}})
		s := want(t, rep, 0, verify.Indeterminate, verify.NoSigningCertificateFound)
		if !hasCode(s.ReasonDetails, verify.CodeUnsupportedCertificate) {
			t.Errorf("%s: reasons %q", name, s.Reasons)
		}
		want(t, rep, 1, verify.TotalPassed, "")
	}
}

// pyhankoSHA1Stamp signs with pyHanko at B-T, its signature time-stamp
// made by pyHanko's DummyTimeStamper over a SHA-1 message imprint (the
// token itself signed with SHA-256), as time-stamping units long did
// (argv: in, out, key, cert, chain, tsa key, tsa cert, field).
const pyhankoSHA1Stamp = `
import sys
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
src, dst, key, cert, chain, tkey, tcert, field = sys.argv[1:]

init = attributes.TSTProvider.__init__
def sha1_imprint(self, digest_algorithm, *a, **kw):
    init(self, 'sha1', *a, **kw)
attributes.TSTProvider.__init__ = sha1_imprint

ts = DummyTimeStamper(tsa_cert=load_cert_from_pemder(tcert), tsa_key=load_private_key_from_pemder(tkey, None), override_md='sha256')
s = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
with open(src, 'rb') as f, open(dst, 'wb') as out:
    signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=s, timestamper=ts, output=out)
`

// signSHA1Stamp signs in with pyHanko at B-T, the time-stamp's imprint
// SHA-1 (see pyhankoSHA1Stamp), by the time-stamping unit of o.
func (s *pyhankoSigner) signSHA1Stamp(t *testing.T, o *opensslPKI, in []byte, field string) []byte {
	t.Helper()
	return s.signWith(t, pyhankoSHA1Stamp, in, o.tsaKey, o.tsaCert, field)
}

// TestLegacyImprintByPolicy: a signature time-stamp whose message imprint
// is SHA-1 is judged by the dated policy (algid.HashExpiry: SHA-1 until
// 2012-08-01, ETSI TS 119 312): made today, it proves nothing, and kyso
// says which rule decided; the signature is then judged at the validation
// time, where it passes (it was TOTAL-FAILED: "token 1 is not over this
// signature value").
func TestLegacyImprintByPolicy(t *testing.T) {
	f := getFixture(t)
	o := newOpensslPKI(t)
	roots := f.roots.Clone()
	roots.AddCert(o.root)
	foreign := newPyhankoSigner(t, f, t.TempDir())
	doc := foreign.signSHA1Stamp(t, o, formPDF(), "SHA1Stamp")
	rep := f.verifyWith(t, doc, &verify.Options{Roots: roots, Fetcher: &revocation.Fetcher{Client: f.srv.Client}})
	s := want(t, rep, 0, verify.TotalPassed, "")
	if !hasCode(s.WarningDetails, verify.CodeTimestampWeakImprint) || s.TimestampTime != nil || s.Level != verify.LevelBT {
		t.Errorf("time-stamp %v, level %s, warnings %q", s.TimestampTime, s.Level, s.Warnings)
	}
}

// opensslNoAttrs re-signs doc's last signature as adbe.pkcs7.detached
// with `openssl cms -sign -noattr`: a PKCS#7 signature without signed
// attributes, its value over the byte range's digest, as older signers
// made them (ISO 32000-1 §12.8.3.3.1 allows it).
func opensslNoAttrs(t *testing.T, s *pyhankoSigner, doc []byte) []byte {
	t.Helper()
	bin := testenv.LookPath(t, "openssl", "apt-get install openssl")
	doc = bytes.Replace(bytes.Clone(doc), []byte("/SubFilter /ETSI.CAdES.detached"), []byte("/SubFilter /adbe.pkcs7.detached"), 1)
	br := byteRangeOf(t, doc)
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	if err := os.WriteFile(content, append(bytes.Clone(doc[:br[1]]), doc[br[2]:br[2]+br[3]]...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := testenv.Command(t, bin, "cms", "-sign", "-binary", "-noattr", "-md", "sha256", "-signer", s.certPath, "-inkey", s.keyPath,
		"-certfile", s.chainPath, "-outform", "DER", "-in", content, "-out", filepath.Join(dir, "p7.der"))
	if out, errOut, err := testenv.Run(cmd); err != nil {
		t.Fatalf("openssl cms -sign -noattr: %v\n%s%s", err, out, errOut)
	}
	der, err := os.ReadFile(filepath.Join(dir, "p7.der"))
	if err != nil {
		t.Fatal(err)
	}
	h := []byte(strings.ToUpper(hex.EncodeToString(der)))
	if len(h) > int(br[2]-br[1]-2) {
		t.Fatal("no room for the PKCS#7 signature")
	}
	copy(doc[br[1]+1:], h)
	for i := br[1] + 1 + int64(len(h)); i < br[2]-1; i++ {
		doc[i] = '0'
	}
	return doc
}

// TestPKCS7WithoutSignedAttributes: a PKCS#7 signature without signed
// attributes is verified over the byte range's digest (intact), and is
// INDETERMINATE/SIG_CONSTRAINTS_FAILURE by the rule of signature
// acceptance, which the report names, as EU DSS says (it was
// INDETERMINATE/FORMAT_FAILURE, unchecked: "no signed attributes (CAdES
// requires them)"); a changed byte fails it.
func TestPKCS7WithoutSignedAttributes(t *testing.T) {
	f := getFixture(t)
	foreign := newPyhankoSigner(t, f, t.TempDir())
	doc := opensslNoAttrs(t, foreign, foreign.sign(t, formPDF(), "NoAttrs", false))
	rep := f.verifyOnline(t, doc)
	s := want(t, rep, 0, verify.Indeterminate, verify.SigConstraintsFailure)
	if !hasCode(s.ReasonDetails, verify.CodeNoSignedAttributes) || s.Intact == nil || !*s.Intact {
		t.Errorf("intact %v, reasons %q", s.Intact, s.Reasons)
	}
	doc[bytes.Index(doc, []byte("/Type /Catalog"))+1] = 'X'
	want(t, f.verifyOnline(t, doc), 0, verify.TotalFailed, verify.SigCryptoFailure)
}

// pyhankoESS signs with pyHanko (PAdES) but names the signer's
// certificate the old way (argv: in, out, key, cert, chain, field, "v1"
// or "v2-sha1"): ESS signing-certificate v1 (RFC 2634, a SHA-1 hash) or
// signing-certificate-v2 with a SHA-1 hash, as older CAdES signers do.
const pyhankoESS = `
import hashlib, sys
from asn1crypto import algos, tsp, x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import attributes, fields, signers
from pyhanko.sign.general import as_signing_certificate
src, dst, key, cert, chain, field, kind = sys.argv[1:]

P = attributes.SigningCertificateV2Provider
if kind == 'v1':
    P.attribute_type = 'signing_certificate'
    async def value(self, dry_run=False):
        return as_signing_certificate(self.signing_cert)
else:
    async def value(self, dry_run=False):
        c = self.signing_cert
        return tsp.SigningCertificateV2({'certs': [tsp.ESSCertIDv2({
            'hash_algorithm': algos.DigestAlgorithm({'algorithm': 'sha1'}),
            'cert_hash': hashlib.sha1(c.dump()).digest(),
            'issuer_serial': {'issuer': [x509.GeneralName({'directory_name': c.issuer})],
                              'serial_number': c['tbs_certificate']['serial_number']}})]})
P.build_attr_value = value

s = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES)
with open(src, 'rb') as f, open(dst, 'wb') as out:
    signers.sign_pdf(IncrementalPdfFileWriter(f), meta, signer=s, output=out)
`

// signESS signs in with pyHanko, naming the certificate by kind (see
// pyhankoESS).
func (s *pyhankoSigner) signESS(t *testing.T, in []byte, field, kind string) []byte {
	t.Helper()
	return s.signWith(t, pyhankoESS, in, field, kind)
}

// TestLegacyCertRefByPolicy: a signature whose certificate is named by ESS
// signing-certificate v1 or by signing-certificate-v2 with SHA-1 (it was
// INDETERMINATE, "the attribute is missing", and TOTAL-FAILED, FORMAT_FAILURE)
// is judged by the dated policy: SHA-1 was reliable until 2012-08-01,
// which nothing proves the signature is older than, and the policy only
// warns of it, as EU DSS's does; the signature passes with the rule named.
func TestLegacyCertRefByPolicy(t *testing.T) {
	f := getFixture(t)
	foreign := newPyhankoSigner(t, f, t.TempDir())
	for _, kind := range []string{"v1", "v2-sha1"} {
		rep := f.verifyOnline(t, foreign.signESS(t, formPDF(), "ESS", kind))
		s := want(t, rep, 0, verify.TotalPassed, "")
		if !hasCode(s.WarningDetails, verify.CodeLegacyCertRef) {
			t.Errorf("%s: warnings %q", kind, s.Warnings)
		}
	}
}

package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	xocsp "golang.org/x/crypto/ocsp"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/ocsp"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
)

// dssFile is one PDF for the EU DSS validator and what it must say of it.
type dssFile struct {
	name   string
	signed []byte
	// format is the PAdES level every signature must reach, TOTAL_PASSED.
	format string
	// fields are the signed fields, as DSS names them, in any order.
	fields []string
	// docMDP is the certification permission DSS must read, if any.
	docMDP string
	// revocation is how DSS must have learnt kyso's signer is not revoked:
	// "CRL" or "OCSP", handed to it (origin EXTERNAL).
	revocation string
	// check replaces the TOTAL_PASSED assertion for the files that must
	// not pass.
	check func(t *testing.T, r testenv.DSSFileReport)
}

// TestDSS signs the fixture's inputs with both key types at B-B and B-T,
// certifies one, puts kyso's signature between two of pyHanko's, and asks
// the EU's DSS validator (ETSI EN 319 102-1, DSS's default policy) to judge
// every file in one run: TOTAL_PASSED at the PAdES baseline level asked
// for (ETSI EN 319 142-1), trusted to the test root, with the CAs' CRLs —
// and, for one signer, a response of kyso's OCSP responder — handed to it
// as if fetched. A signer revoked after signing and a tampered file must
// not pass, so a checker that passes everything fails the test.
func TestDSS(t *testing.T) {
	f := getFixture(t)
	dss := testenv.DSS(t)
	ctx := context.Background()
	a, ks := reopenCA(t, f)

	var files []dssFile
	for _, in := range inputs() {
		for _, c := range []struct {
			key   string
			level Level
		}{{"p256", LevelBB}, {"rsa2048", LevelBT}} {
			opts := &SignOptions{Options: Options{Reason: "Nộp hồ sơ trực tuyến", Location: "Hà Nội"}, Level: c.level}
			if c.level == LevelBT {
				opts.TSA = TSAServer(f.tsa)
			}
			files = append(files, dssFile{
				name:   in.name + "-" + c.key + "-" + string(c.level),
				signed: signBytes(t, f, c.key, in.make(t), opts),
				format: "PAdES-BASELINE-" + strings.TrimPrefix(string(c.level), "B-"),
			})
		}
	}
	files = append(files, dssFile{
		name:   "rsa2048-pkcs1v15-B-B",
		signed: signBytes(t, f, "rsa2048", minimalPDF("1.7", 0), &SignOptions{SignatureAlgorithm: cms.RSAPKCS1v15}),
		format: "PAdES-BASELINE-B",
	})
	certified := signBytes(t, f, "p256", formPDF(), &SignOptions{Options: Options{Certify: 2}, Level: LevelBT, TSA: TSAServer(f.tsa)})
	files = append(files, dssFile{
		name:   "certified-P2-then-approved-B-T",
		signed: signBytes(t, f, "rsa2048", certified, &SignOptions{Options: Options{Reason: "Phê duyệt"}, Level: LevelBT, TSA: TSAServer(f.tsa)}),
		format: "PAdES-BASELINE-T", fields: []string{"Signature1", "Signature2"}, docMDP: "MINIMAL_CHANGES_PERMITTED",
	})

	foreign := newDSSForeignCA(t)
	one := foreign.sign(t, formPDF(), "PyHanko1")
	two := signBytes(t, f, "p256", one, nil)
	files = append(files, dssFile{
		name:   "pyhanko-kyso-pyhanko-B-B",
		signed: foreign.sign(t, two, "PyHanko2"),
		format: "PAdES-BASELINE-B", fields: []string{"PyHanko1", "Signature1", "PyHanko2"},
	})

	// A signer whose status DSS learns from kyso's OCSP responder.
	ocspSigner := issueDSSSigner(t, a, ks, "pades-dss-ocsp", "001099000101")
	files = append(files, dssFile{
		name:   "ocsp-checked-p256-B-T",
		signed: signWith(t, f, ocspSigner, minimalPDF("1.7", 0), &SignOptions{Level: LevelBT, TSA: TSAServer(f.tsa)}),
		format: "PAdES-BASELINE-T", revocation: "OCSP",
	})

	// A signer revoked (key compromise) after signing: a B-B signature
	// has no proof it existed before, so DSS cannot accept it.
	revoked := issueDSSSigner(t, a, ks, "pades-dss-revoked", "001099000102")
	revokedPDF := signWith(t, f, revoked, minimalPDF("1.7", 0), nil)
	if err := a.Revoke(ctx, revoked.cert.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Now()); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	files = append(files, dssFile{
		name: "revoked-signer-B-B", signed: revokedPDF,
		check: func(t *testing.T, r testenv.DSSFileReport) {
			s := onlySignature(t, r)
			if s.Indication != testenv.DSSIndeterminate || s.SubIndication != "REVOKED_NO_POE" {
				t.Errorf("DSS says %s/%s of a signer revoked after signing, want INDETERMINATE/REVOKED_NO_POE:\n%s", s.Indication, s.SubIndication, s.Describe())
			}
		},
	})

	// One byte of the signed range changed: /MediaBox [0 0 595 842] → 695.
	tampered := signBytes(t, f, "p256", minimalPDF("1.7", 0), nil)
	i := bytes.Index(tampered, []byte("/MediaBox [0 0 595 842]"))
	if i < 0 {
		t.Fatal("no /MediaBox to tamper with")
	}
	tampered = bytes.Clone(tampered)
	tampered[i+len("/MediaBox [0 0 ")] = '6'
	files = append(files, dssFile{
		name: "tampered-B-B", signed: tampered,
		check: func(t *testing.T, r testenv.DSSFileReport) {
			s := onlySignature(t, r)
			if s.Indication != testenv.DSSTotalFailed || s.SubIndication != "HASH_FAILURE" {
				t.Errorf("DSS says %s/%s of a tampered file, want TOTAL_FAILED/HASH_FAILURE:\n%s", s.Indication, s.SubIndication, s.Describe())
			}
		},
	})

	// Revocation data is made after the signatures (and the revocation),
	// as a relying party fetching it now would get it.
	crls := append(caCRLs(t, a), foreign.crl(t))
	ocsps := [][]byte{ocspResponse(t, a, f, ocspSigner.cert)}

	dir := t.TempDir()
	var paths []string
	for _, file := range files {
		p := filepath.Join(dir, file.name+".pdf")
		if err := os.WriteFile(p, file.signed, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	trust := []string{filepath.Join(f.dir, "root.pem"), foreign.rootPath}
	reports := dss.Validate(t, trust, crls, ocsps, paths...)

	for i, r := range reports {
		file := files[i]
		t.Run(file.name, func(t *testing.T) {
			for _, s := range r.Signatures {
				t.Logf("DSS: %s %s %s by %q, fields %v", s.Indication, s.SubIndication, s.SignatureFormat, s.SignedBy, s.FieldNames)
			}
			if file.check != nil {
				file.check(t, r)
				return
			}
			testenv.AssertDSSPassed(t, r, file.format)
			var got []string
			for _, s := range r.Signatures {
				got = append(got, s.FieldNames...)
				if s.DocMDP != "" && s.DocMDP != file.docMDP {
					t.Errorf("DSS reads DocMDP %s in field %v, want %q", s.DocMDP, s.FieldNames, file.docMDP)
				}
				if file.format == "PAdES-BASELINE-T" && len(s.Timestamps) != 1 {
					t.Errorf("DSS found %d signature time-stamps on %v, want 1", len(s.Timestamps), s.FieldNames)
				}
			}
			slices.Sort(got)
			want := []string{"Signature1"}
			if file.fields != nil {
				want = slices.Sorted(slices.Values(file.fields))
			}
			if !slices.Equal(got, want) {
				t.Errorf("DSS names the signed fields %v, want %v", got, want)
			}
			if file.docMDP != "" && !slices.ContainsFunc(r.Signatures, func(s testenv.DSSSignature) bool { return s.DocMDP == file.docMDP }) {
				t.Errorf("DSS finds no certification signature with %s", file.docMDP)
			}
			// kyso's signatures embed no revocation data: what DSS used
			// must be what it was handed.
			kind := file.revocation
			if kind == "" {
				kind = "CRL"
			}
			// DSS keeps the freshest data it is handed: kyso's responder
			// pre-signs its answers (RFC 5019), so for the OCSP-checked
			// signer the issuing CA's CRL may be the newer and win; either
			// is kyso's own, handed over as a file.
			if !slices.ContainsFunc(r.Revocation, func(rv testenv.DSSRevocation) bool {
				return (rv.Type == kind || kind == "OCSP" && rv.Type == "CRL") && rv.Origin == "EXTERNAL"
			}) {
				t.Errorf("DSS used no %s handed to it: %+v", kind, r.Revocation)
			}
		})
	}
}

func onlySignature(t *testing.T, r testenv.DSSFileReport) testenv.DSSSignature {
	t.Helper()
	if r.Error != "" || len(r.Signatures) != 1 {
		t.Fatalf("DSS: error %q, %d signatures, want 1", r.Error, len(r.Signatures))
	}
	return r.Signatures[0]
}

// reopenCA opens the fixture's database and key store a second time, as a
// second kysod process would, to make CRLs, OCSP responses and signers the
// fixture does not keep.
func reopenCA(t *testing.T, f *fixture) (*ca.Authority, hsm.KeyStore) {
	t.Helper()
	ctx := context.Background()
	u, err := hsm.ParseURI("softkey:?dir=" + filepath.Join(f.dir, "keys") + "&passphrase=test-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(f.dir, "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := ca.New(st, ks, &ca.Options{BaseURL: "http://ca.kyso.test"})
	if err != nil {
		t.Fatal(err)
	}
	return a, ks
}

// issueDSSSigner issues a citizen certificate for a new P-256 key of its
// own, for the tests that revoke or ask OCSP about one signer only.
func issueDSSSigner(t *testing.T, a *ca.Authority, ks hsm.KeyStore, label, cccd string) *signerKey {
	t.Helper()
	ctx := context.Background()
	cert, err := a.IssueCitizen(ctx, &ca.CitizenRequest{
		Name: "Trần Thị Bích", CCCD: cccd, Province: "Hà Nội",
		Key: ca.KeySource{KeyLabel: label, KeyAlgorithm: hsm.ECDSAP256},
	})
	if err != nil {
		t.Fatalf("issuing %s: %v", label, err)
	}
	s, err := ks.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	return &signerKey{cert: cert, signer: s}
}

func signWith(t *testing.T, f *fixture, k *signerKey, in []byte, opts *SignOptions) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, k.signer, k.cert, f.chain, skipCheck(opts)); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return out.Bytes()
}

// caCRLs has the CA sign a fresh CRL for the root and for the issuing CA.
func caCRLs(t *testing.T, a *ca.Authority) [][]byte {
	t.Helper()
	crls, err := a.GenerateCRL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(crls) != 2 {
		t.Fatalf("GenerateCRL made %d CRLs, want the root's and the issuing CA's", len(crls))
	}
	var out [][]byte
	for _, c := range crls {
		out = append(out, c.DER)
	}
	return out
}

// ocspResponse asks kyso's OCSP responder (pkg/ocsp over the CA's records,
// signed by the delegated responder key, as kysod serves it) about cert,
// in-process over HTTP POST, and checks it answers good.
func ocspResponse(t *testing.T, a *ca.Authority, f *fixture, cert *x509.Certificate) []byte {
	t.Helper()
	ctx := context.Background()
	rcert, rkey, err := a.OCSPSigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ocsp.New(ocsp.Config{Issuer: f.h.Issuing, Signer: rkey, SignerCert: rcert, Source: dssOCSPSource{a}})
	if err != nil {
		t.Fatal(err)
	}
	reqDER, err := xocsp.CreateRequest(cert, f.h.Issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(reqDER))
	req.Header.Set("Content-Type", "application/ocsp-request")
	rec := httptest.NewRecorder()
	resp.ServeHTTP(rec, req)
	der := rec.Body.Bytes()
	parsed, err := xocsp.ParseResponseForCert(der, cert, f.h.Issuing)
	if err != nil || parsed.Status != xocsp.Good {
		t.Fatalf("kyso's OCSP responder: %v, status %v", err, parsed)
	}
	return der
}

// dssOCSPSource is the OCSP responder's view of the CA's records.
type dssOCSPSource struct{ a *ca.Authority }

func (s dssOCSPSource) Status(ctx context.Context, serial *big.Int) (ocsp.Status, error) {
	st, err := s.a.OCSPStatus(ctx, ca.IssuingName, serial)
	if err != nil {
		return ocsp.Status{}, err
	}
	return ocsp.Status{Known: st.Known, Revoked: st.Revoked && !st.OnHold, OnHold: st.OnHold, RevokedAt: st.RevokedAt, Reason: st.Reason}, nil
}

// dssForeignCA is a throwaway root and signer for pyHanko, like the
// fixture's foreign signer but with the root key kept, so that it can sign
// a CRL: DSS, rightly, does not accept a signer whose status it cannot
// learn.
type dssForeignCA struct {
	root     *x509.Certificate
	rootKey  crypto.Signer
	rootPath string
	certPath string
	keyPath  string
}

func newDSSForeignCA(t *testing.T) *dssForeignCA {
	t.Helper()
	dir := t.TempDir()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Foreign DSS Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Foreign Signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		CRLDistributionPoints: []string{"http://foreign.test/root.crl"}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, key.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &dssForeignCA{root: root, rootKey: rootKey,
		rootPath: filepath.Join(dir, "root.pem"), certPath: filepath.Join(dir, "cert.pem"), keyPath: filepath.Join(dir, "key.pem")}
	for p, b := range map[string]*pem.Block{
		c.rootPath: {Type: "CERTIFICATE", Bytes: rootDER},
		c.certPath: {Type: "CERTIFICATE", Bytes: leafDER},
		c.keyPath:  {Type: "PRIVATE KEY", Bytes: pk},
	} {
		if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// sign signs in with pyHanko in a new invisible field, at PAdES B-B.
func (c *dssForeignCA) sign(t *testing.T, in []byte, field string) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := src + ".signed.pdf"
	if r := testenv.RunPyHanko(t, "sign", "addsig", "--field", field, "--use-pades", "pemder",
		"--key", c.keyPath, "--cert", c.certPath, "--chain", c.rootPath, "--no-pass", src, dst); r.Err != nil {
		t.Fatalf("pyhanko sign addsig: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crl is the foreign root's empty CRL, made now.
func (c *dssForeignCA) crl(t *testing.T) []byte {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour)}, c.root, c.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

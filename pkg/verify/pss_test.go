package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// rsaHierarchy is an RSA-2048 hierarchy (root, issuing CA, OCSP responder,
// TSA) made by catest and served by pkg/server, with a citizen's RSA-2048
// key, signing with RSASSA-PSS everywhere or, legacy, PKCS#1 v1.5
// everywhere.
type rsaHierarchy struct {
	name    string
	legacy  bool
	p       *catest.PKI
	srv     *servertest.Served
	chain   []*x509.Certificate
	citizen signer
	// sigAlg is the certificate and OCSP signature algorithm expected.
	sigAlg x509.SignatureAlgorithm
}

func newRSAHierarchy(t *testing.T, name string, legacy bool) *rsaHierarchy {
	t.Helper()
	ctx := context.Background()
	p, err := catest.NewOptions(ctx, t.TempDir(), &ca.InitRequest{Name: "Kyso " + name, CAAlgorithm: hsm.RSA2048, Algorithm: hsm.RSA2048},
		&ca.Options{RSAPKCS1v15: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv, err := servertest.ServeOptions(ctx, p, &server.PKIOptions{OCSPRSAPKCS1v15: legacy, TSARSAPKCS1v15: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	h := &rsaHierarchy{name: name, legacy: legacy, p: p, srv: srv, sigAlg: x509.SHA256WithRSAPSS}
	if legacy {
		h.sigAlg = x509.SHA256WithRSA
	}
	if h.chain, err = p.CA.Chain(ctx); err != nil {
		t.Fatal(err)
	}
	cert, key, err := p.Citizen(ctx, "citizen-rsa", hsm.RSA2048, "079203077001")
	if err != nil {
		t.Fatal(err)
	}
	h.citizen = signer{cert, key}
	for _, c := range []*x509.Certificate{p.Hierarchy.Issuing, p.Hierarchy.OCSP, p.Hierarchy.TSA, cert} {
		if c.PublicKeyAlgorithm != x509.RSA || c.SignatureAlgorithm != h.sigAlg {
			t.Fatalf("%s: %v key signed with %v, want RSA signed with %v", c.Subject.CommonName, c.PublicKeyAlgorithm, c.SignatureAlgorithm, h.sigAlg)
		}
	}
	return h
}

// sign signs a form at B-T with the hierarchy's TSA (RSASSA-PSS in the
// CMS, or PKCS#1 v1.5 for the legacy hierarchy), and extends a copy to
// B-LT with validation data fetched from the served PKI.
func (h *rsaHierarchy) sign(t *testing.T) (bt, blt []byte) {
	t.Helper()
	ctx := context.Background()
	opts := &pades.SignOptions{Level: pades.LevelBT, TSA: pades.TSAServer(h.srv.PKI.TSA()),
		// The test is about validation; pkg/signercheck has its own.
		Options: pades.Options{Reason: "Nộp hồ sơ trực tuyến", Location: "Hà Nội", SkipSignerCheck: true}}
	if h.legacy {
		opts.SignatureAlgorithm = cms.RSAPKCS1v15
	}
	in := formPDF()
	var out bytes.Buffer
	if err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, h.citizen.key, h.citizen.cert, h.chain, opts); err != nil {
		t.Fatalf("%s: signing: %v", h.name, err)
	}
	bt = out.Bytes()
	// The CMS and its time-stamp token are signed as the hierarchy says,
	// and openssl verifies the CMS.
	want := cms.RSAPSS
	if h.legacy {
		want = cms.RSAPKCS1v15
	}
	_, br := signedBytes(t, bt)
	padded, err := hex.DecodeString(string(bt[br[1]+1 : br[2]-1]))
	if err != nil {
		t.Fatal(err)
	}
	in2 := cryptobyte.String(padded)
	var der cryptobyte.String
	if !in2.ReadASN1Element(&der, cbasn1.SEQUENCE) {
		t.Fatal("/Contents does not start with a DER SEQUENCE")
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if sd.SignatureAlgorithm != want || len(sd.Timestamps) != 1 || sd.Timestamps[0].SignedData.SignatureAlgorithm != want {
		t.Fatalf("%s: the CMS is signed with %v and has %d time-stamp tokens; want %v for both", h.name, sd.SignatureAlgorithm, len(sd.Timestamps), want)
	}
	opensslCMSVerify(t, bt, h.p.Hierarchy.Root)

	roots := x509.NewCertPool()
	roots.AddCert(h.p.Hierarchy.Root)
	var ext bytes.Buffer
	if err := pades.Extend(ctx, bytes.NewReader(bt), int64(len(bt)), &ext, pades.LevelBLT, &pades.ExtendOptions{
		LTVOptions: pades.LTVOptions{Roots: roots, Revocation: &revocation.Fetcher{Client: h.srv.Client}}}); err != nil {
		t.Fatalf("%s: extending to B-LT: %v", h.name, err)
	}
	return bt, ext.Bytes()
}

// TestRSAPSSCheckers signs a PDF with a citizen's RSA key under an RSA
// hierarchy that uses RSASSA-PSS for every signature — certificates, CRLs,
// OCSP responses, time-stamp tokens and the CMS (Circular 15/2025 Annex
// I) — at B-T and at B-LT, and has kyso, pyHanko and EU DSS judge it:
// TOTAL_PASSED at the level signed, intact, valid and trusted. The same
// with the legacy switch (PKCS#1 v1.5 everywhere) passes too, and kyso's
// report warns of each PKCS#1 v1.5 signature it relies on.
//
// The status of the citizen and of the TSA reaches pyHanko and DSS only as
// the OCSP responses kyso's responder signs (the issuing CA's CRL is
// withheld), so a checker that cannot verify an RSASSA-PSS OCSP response
// fails (without them both say CERTIFICATE_CHAIN_GENERAL_FAILURE). The
// B-LT files are judged by DSS and kyso from the document's own
// validation data, nothing handed over and nothing fetched; pyHanko's
// validate_pdf_signature does not read the document's DSS, so it is
// handed the same responses for them.
func TestRSAPSSCheckers(t *testing.T) {
	dss := testenv.DSS(t)
	testenv.PyHankoPython(t)
	ctx := context.Background()
	dir := t.TempDir()

	type file struct {
		h     *rsaHierarchy
		level string // verify.Level* and DSS's format
		doc   []byte
		path  string
	}
	var files []*file
	var trust, crlPaths, ocspPaths []string
	var crls, ocsps [][]byte
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, h := range []*rsaHierarchy{newRSAHierarchy(t, "RSA-PSS", false), newRSAHierarchy(t, "RSA PKCS1", true)} {
		bt, blt := h.sign(t)
		tag := strings.ReplaceAll(h.name, " ", "-")
		files = append(files,
			&file{h: h, level: verify.LevelBT, doc: bt, path: write(tag+"-B-T.pdf", bt)},
			&file{h: h, level: verify.LevelBLT, doc: blt, path: write(tag+"-B-LT.pdf", blt)})
		trust = append(trust, writePEM(t, dir, tag+"-root.pem", h.p.Hierarchy.Root))

		// What a relying party fetches now: the root's CRL (for the
		// issuing CA) and OCSP for the citizen and the TSA.
		list, err := h.p.CA.GenerateCRL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.Issuer == ca.RootName {
				crls = append(crls, c.DER)
				crlPaths = append(crlPaths, write(tag+"-root.crl", c.DER))
			}
		}
		for _, c := range []*x509.Certificate{h.citizen.cert, h.p.Hierarchy.TSA} {
			res, err := (&revocation.Fetcher{Client: h.srv.Client}).OCSP(ctx, c, h.p.Hierarchy.Issuing)
			if err != nil {
				t.Fatalf("%s: OCSP for %s: %v", h.name, c.Subject.CommonName, err)
			}
			if res.Status != revocation.Good || res.Response.SignatureAlgorithm != h.sigAlg {
				t.Fatalf("%s: OCSP for %s: %v signed with %v, want good signed with %v", h.name, c.Subject.CommonName, res.Status, res.Response.SignatureAlgorithm, h.sigAlg)
			}
			ocsps = append(ocsps, res.Raw)
			ocspPaths = append(ocspPaths, write(fmt.Sprintf("%s-ocsp-%d.der", tag, len(ocspPaths)), res.Raw))
		}
	}
	if len(crls) != 2 {
		t.Fatalf("%d root CRLs, want one per hierarchy", len(crls))
	}

	// kyso: B-T with revocation fetched from the served PKI, B-LT offline.
	for _, f := range files {
		t.Run("kyso/"+filepath.Base(f.path), func(t *testing.T) {
			roots := x509.NewCertPool()
			roots.AddCert(f.h.p.Hierarchy.Root)
			opts := &verify.Options{Roots: roots}
			if f.level == verify.LevelBT {
				opts.Fetcher = &revocation.Fetcher{Client: f.h.srv.Client}
			}
			rep, err := verify.Verify(ctx, bytes.NewReader(f.doc), int64(len(f.doc)), opts)
			if err != nil {
				t.Fatal(err)
			}
			s := want(t, rep, 0, verify.TotalPassed, "")
			if len(rep.Signatures) != 1 || s.Level != f.level {
				t.Errorf("%d signatures, level %q; want 1 at %s", len(rep.Signatures), s.Level, f.level)
			}
			var whats []string
			for _, w := range s.WarningDetails {
				if w.Code == verify.CodeRSAPKCS1v15 {
					whats = append(whats, w.Params["what"]+":"+w.Params["subject"])
				}
			}
			slices.Sort(whats)
			var wantWhats []string
			if f.h.legacy {
				// The CMS, and the citizen's and issuing CA's certificates;
				// the root, a trust anchor, is not relied on for its
				// signature.
				wantWhats = []string{"certificate:" + f.h.citizen.cert.Subject.CommonName,
					"certificate:" + f.h.p.Hierarchy.Issuing.Subject.CommonName,
					"signature:" + f.h.citizen.cert.Subject.CommonName}
				slices.Sort(wantWhats)
			}
			if !slices.Equal(whats, wantWhats) {
				t.Errorf("PKCS#1 v1.5 warnings %q, want %q; all warnings: %q", whats, wantWhats, s.Warnings)
			}
		})
	}

	// pyHanko: every file, with the root CRLs and the OCSP responses.
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	py := runPyhanko(t, trust, crlPaths, ocspPaths, paths)
	for i, f := range files {
		t.Run("pyHanko/"+filepath.Base(f.path), func(t *testing.T) {
			if py[i].Error != "" || len(py[i].Signatures) != 1 {
				t.Fatalf("pyHanko: error %q, %d signatures, want 1", py[i].Error, len(py[i].Signatures))
			}
			s := py[i].Signatures[0]
			if v, why := pyhankoVerdict(s); v != vPass || !s.BottomLine || !s.Trusted {
				t.Errorf("pyHanko says %s (%s), bottom line %v, trusted %v; want VALID and trusted: %+v", v, why, s.BottomLine, s.Trusted, s)
			}
		})
	}

	// DSS: the B-T files with the root CRLs and the OCSP responses, the
	// B-LT files with nothing but what they carry.
	var btPaths, bltPaths []string
	var btFiles, bltFiles []*file
	for _, f := range files {
		if f.level == verify.LevelBT {
			btPaths, btFiles = append(btPaths, f.path), append(btFiles, f)
		} else {
			bltPaths, bltFiles = append(bltPaths, f.path), append(bltFiles, f)
		}
	}
	check := func(fs []*file, reps []testenv.DSSFileReport) {
		for i, r := range reps {
			f := fs[i]
			t.Run("DSS/"+filepath.Base(f.path), func(t *testing.T) {
				for _, s := range r.Signatures {
					t.Logf("DSS: %s %s %s by %q", s.Indication, s.SubIndication, s.SignatureFormat, s.SignedBy)
				}
				for _, rv := range r.Revocation {
					t.Logf("DSS revocation data: %s from %s by %q", rv.Type, rv.Origin, rv.ProducedBy)
				}
				testenv.AssertDSSPassed(t, r, f.level)
				if f.level == verify.LevelBLT && !slices.ContainsFunc(r.Revocation, func(rv testenv.DSSRevocation) bool {
					return rv.Type == "OCSP" && rv.Origin != "EXTERNAL"
				}) {
					t.Errorf("DSS found no OCSP response in the document: %+v", r.Revocation)
				}
			})
		}
	}
	check(btFiles, dss.Validate(t, trust, crls, ocsps, btPaths...))
	check(bltFiles, dss.Validate(t, trust, nil, nil, bltPaths...))
}

package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// ltvFixture is a throwaway CA whose PKI routes — OCSP, CRLs, CA
// certificates, the TSA — pkg/server serves for http://ca.kyso.test, the
// base URL written into its certificates, through an http.Client that
// dials the test server whatever the host: validation data is fetched the
// way a deployment fetches it, without DNS. It embeds a *fixture so the
// package's checker helpers (pdfsig's NSS database, pyHanko's trust roots)
// work with its root.
type ltvFixture struct {
	*fixture
	p       *catest.PKI
	srv     *server.PKI
	client  *http.Client
	fetcher *revocation.Fetcher
	tsa     TimestampFunc
}

func newLTVFixture(t *testing.T) *ltvFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	p, err := catest.New(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv, err := server.NewPKI(ctx, p.CA, p.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "ca.kyso.test" {
			http.Error(w, "unexpected host "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	var d net.Dialer
	addr := ts.Listener.Addr().String()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
	f := &fixture{h: p.Hierarchy, chain: []*x509.Certificate{p.Hierarchy.Issuing}, keys: map[string]*signerKey{}, dir: dir}
	for i, k := range []struct {
		name string
		alg  hsm.Algorithm
	}{{"p256", hsm.ECDSAP256}, {"rsa2048", hsm.RSA2048}, {"revokee", hsm.ECDSAP256}} {
		cert, s, err := p.Citizen(ctx, "ltv-test-"+k.name, k.alg, fmt.Sprintf("01920300456%d", i))
		if err != nil {
			t.Fatal(err)
		}
		f.keys[k.name] = &signerKey{cert: cert, signer: s}
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Hierarchy.Root.Raw})
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), root, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := foreignSigner(dir); err != nil {
		t.Fatal(err)
	}
	return &ltvFixture{fixture: f, p: p, srv: srv, client: client,
		fetcher: &revocation.Fetcher{Client: client},
		tsa:     TSAClient("http://ca.kyso.test/tsa", &tsa.ClientOptions{HTTPClient: client, Roots: f.roots()}),
	}
}

func (f *ltvFixture) extendOptions() *ExtendOptions {
	return &ExtendOptions{LTVOptions: LTVOptions{Roots: f.roots(), Revocation: f.fetcher}, TSA: f.tsa}
}

// signBT signs in at B-T with key, the time-stamp from the served TSA.
func (f *ltvFixture) signBT(t *testing.T, key string, in []byte) []byte {
	t.Helper()
	return signBytes(t, f.fixture, key, in, &SignOptions{Options: Options{Reason: "Nộp hồ sơ trực tuyến", Location: "Hà Nội"}, Level: LevelBT, TSA: f.tsa})
}

func (f *ltvFixture) extend(t *testing.T, in []byte, level Level) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := Extend(context.Background(), bytes.NewReader(in), int64(len(in)), &out, level, f.extendOptions()); err != nil {
		t.Fatalf("Extend %s: %v", level, err)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("the input is not a prefix of the extended PDF")
	}
	return out.Bytes()
}

// dssView is the DSS of a document read back with pkg/pdf.
type dssView struct {
	certs, ocsps, crls [][]byte
	vri                map[pdf.Name]*pdf.Dict
	esic               bool
}

func readDSSView(t *testing.T, b []byte) *dssView {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	o, err := rd.Get(cat.Get("DSS"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := o.(*pdf.Dict)
	if !ok {
		t.Fatalf("the catalog has no DSS dictionary: %v", cat.Get("DSS"))
	}
	v := &dssView{vri: map[pdf.Name]*pdf.Dict{}}
	for k, dst := range map[pdf.Name]*[][]byte{"Certs": &v.certs, "OCSPs": &v.ocsps, "CRLs": &v.crls} {
		arr, err := resolveArray(rd, d.Get(k))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range arr {
			so, err := rd.Get(e)
			if err != nil {
				t.Fatal(err)
			}
			st, ok := so.(*pdf.Stream)
			if !ok {
				t.Fatalf("/DSS /%s holds %T, not a stream", k, so)
			}
			data, err := rd.StreamData(st)
			if err != nil {
				t.Fatal(err)
			}
			*dst = append(*dst, data)
		}
	}
	if vo, _ := rd.Get(d.Get("VRI")); vo != nil {
		if vd, ok := vo.(*pdf.Dict); ok {
			for _, k := range vd.Keys() {
				e, _ := rd.Get(vd.Get(k))
				v.vri[k], _ = e.(*pdf.Dict)
			}
		}
	}
	if eo, _ := rd.Get(cat.Get("Extensions")); eo != nil {
		if ed, ok := eo.(*pdf.Dict); ok {
			if es, ok := ed.Get("ESIC").(*pdf.Dict); ok {
				v.esic = es.Get("BaseVersion") == pdf.Name("1.7") && es.Get("ExtensionLevel") == pdf.Int(5)
			}
		}
	}
	return v
}

// signatureContents returns the /Contents of every signed field, in
// field order, with whether it is a document time-stamp.
func signatureContents(t *testing.T, b []byte) (contents [][]byte, docTS []bool) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields {
		if !fl.IsSignature() || fl.Value == nil {
			continue
		}
		o, err := rd.Get(fl.Value)
		if err != nil {
			t.Fatal(err)
		}
		d := o.(*pdf.Dict)
		contents = append(contents, d.Get("Contents").(pdf.String).Value)
		docTS = append(docTS, d.Get("Type") == pdf.Name("DocTimeStamp") && d.Get("SubFilter") == pdf.Name("ETSI.RFC3161"))
	}
	return contents, docTS
}

// checkDSS checks the DSS holds, for every signature, a VRI entry under
// the upper-case hex SHA-1 of its /Contents, that the certificates of the
// signer's chain are there with revocation data for each but the root,
// and the ESIC extension when the header is older than 2.0.
func (f *ltvFixture) checkDSS(t *testing.T, b []byte, signer *x509.Certificate, wantESIC bool) *dssView {
	t.Helper()
	v := readDSSView(t, b)
	contents, _ := signatureContents(t, b)
	for i, c := range contents {
		sum := sha1.Sum(c)
		key := pdf.Name(strings.ToUpper(hex.EncodeToString(sum[:])))
		e := v.vri[key]
		if e == nil {
			t.Errorf("no VRI entry %s for signature %d", key, i+1)
			continue
		}
		for _, k := range []pdf.Name{"Cert", "TU"} {
			if e.Get(k) == nil {
				t.Errorf("VRI entry of signature %d lacks /%s", i+1, k)
			}
		}
		if e.Get("OCSP") == nil && e.Get("CRL") == nil {
			t.Errorf("VRI entry of signature %d has no revocation data", i+1)
		}
	}
	has := func(list [][]byte, der []byte) bool {
		for _, x := range list {
			if bytes.Equal(x, der) {
				return true
			}
		}
		return false
	}
	h := f.h
	for _, c := range []*x509.Certificate{signer, h.Issuing, h.Root} {
		if !has(v.certs, c.Raw) {
			t.Errorf("the DSS lacks the certificate of %s", c.Subject)
		}
	}
	if leaf := f.findOCSP(v, signer); leaf == nil {
		t.Errorf("the DSS has no OCSP response for the signer")
	}
	okCA := false
	for _, der := range v.crls {
		if _, err := revocation.ParseCRL(der, h.Issuing, h.Root); err == nil {
			okCA = true
		}
	}
	if !okCA {
		t.Error("the DSS has no CRL covering the issuing CA")
	}
	if v.esic != wantESIC {
		t.Errorf("ESIC extension present = %v, want %v", v.esic, wantESIC)
	}
	return v
}

func (f *ltvFixture) findOCSP(v *dssView, cert *x509.Certificate) []*revocation.OCSPResult {
	var out []*revocation.OCSPResult
	for _, der := range v.ocsps {
		if r, err := revocation.ParseOCSP(der, cert, f.h.Issuing); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// runPyhankoAdES validates every signature with pyHanko's AdES validation
// (ETSI EN 319 102-1 with the LTA process of clause 5.6.3: `pyhanko sign
// adesverify`), which requires revocation data for every certificate but
// the test root. --validation-time makes it a point-in-time validation, for
// which pyHanko fetches nothing online: the data must come from the
// document. (The time is now, rounded up to the next second; pyHanko 0.38's
// `validate` lost its LTV mode and, without --no-revocation-check, would
// fetch from ca.kyso.test.) It returns what pyHanko said and whether it
// judged every signature valid.
func runPyhankoAdES(t *testing.T, f *ltvFixture, path string) (testenv.PyHankoRun, bool) {
	t.Helper()
	at := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format("2006-01-02T15:04:05Z")
	r := testenv.RunPyHanko(t, "sign", "adesverify", "--pretty-print", "--validation-time", at,
		"--trust", filepath.Join(f.dir, "root.pem"), "--trust-replace", path)
	// A judgement of invalid is told apart from a failure to run by the
	// line pyHanko's CLI (click) ends with, on stderr alone.
	if r.Err != nil && !strings.Contains(r.Stderr, "Error: Validation failed") {
		t.Fatalf("pyhanko sign adesverify: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	return r, r.Err == nil
}

// assertPyhankoLTV asserts that pyHanko, from the document alone, judges
// every one of the want signatures valid and trusted with a valid
// signature time-stamp, that only signature maintenance (DSS, document
// time-stamps) follows them, and, for lta, that the document time-stamps
// give it proof of existence (the time slide of ETSI EN 319 102-1 clause
// 5.6.2.1 succeeds) — which without them it says it cannot do.
func assertPyhankoLTV(t *testing.T, f *ltvFixture, path string, want int, lta bool) {
	t.Helper()
	r, ok := runPyhankoAdES(t, f, path)
	out := r.Report
	if !ok {
		t.Errorf("pyHanko judges a signature invalid:\n%s\nlog: %s\nstderr: %s", out, r.Log, r.Stderr)
	}
	fields := pyhankoFields(t, out)
	if len(fields) != want {
		t.Fatalf("pyHanko reported %d signatures, want %d:\n%s", len(fields), want, out)
	}
	for i, s := range fields {
		for _, v := range []string{"The signer's certificate is trusted.", "The signature is cryptographically sound.",
			"The timestamp token is cryptographically sound.", "The TSA certificate is trusted.",
			"The signature does not cover the entire file.", "The signature is judged VALID."} {
			if !strings.Contains(s, v) {
				t.Errorf("pyHanko field %d lacks %q:\n%s", i+1, v, s)
			}
		}
	}
	// How pyHanko found proof of existence, it says in its log alone.
	noPOE := strings.Contains(r.Log, "No document timestamps after signature") || strings.Contains(r.Log, "Document timestamp chain failed to validate")
	if slide := strings.Contains(r.Log, "AdES time slide yields"); lta && (noPOE || !slide) {
		t.Errorf("pyHanko found no proof of existence in the document time-stamps:\n%s", r.Log)
	} else if !lta && !noPOE {
		t.Errorf("pyHanko found document time-stamps in a B-LT file:\n%s", r.Log)
	}
	if !lta && !strings.Contains(out, "All modifications relate to signature maintenance") {
		t.Errorf("pyHanko sees more than signature maintenance after the signatures:\n%s", out)
	}
}

// assertPdfsigLTV asserts that pdfsig finds every CAdES signature valid
// and trusted and none covering the whole file (validation data follows
// them), and lists the document time-stamps. pdfsig 22.12 cannot verify a
// document time-stamp ("Signature Type: unknown"); pyHanko and DSS do.
func assertPdfsigLTV(t *testing.T, f *ltvFixture, path string, sigs, docTS int) {
	t.Helper()
	var nSig, nTS int
	for i, s := range runPdfsig(t, f.fixture, path) {
		if s.has("Total document signed") {
			t.Errorf("pdfsig signature #%d covers the whole file, but validation data follows it:\n%s", i+1, s.text)
		}
		if s.has("Signature Field Name: DocTimeStamp") {
			nTS++
			continue
		}
		nSig++
		for _, v := range []string{"Signature Validation: Signature is Valid.", "Signature Type: ETSI.CAdES.detached", "Certificate Validation: Certificate is Trusted."} {
			if !s.has(v) {
				t.Errorf("pdfsig signature #%d lacks %q:\n%s", i+1, v, s.text)
			}
		}
	}
	if nSig != sigs || nTS != docTS {
		t.Errorf("pdfsig found %d signatures and %d document time-stamps, want %d and %d", nSig, nTS, sigs, docTS)
	}
}

// checkLTV writes an extended file to dir (the top-level test's, so that
// DSS can read it once all subtests are done), runs every outside checker
// but DSS on it, and returns its path.
func (f *ltvFixture) checkLTV(t *testing.T, dir string, b []byte, name string, sigs, docTS int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	assertQpdf(t, p)
	assertPdfcpu(t, p)
	assertPdfsigLTV(t, f, p, sigs, docTS)
	assertPyhankoLTV(t, f, p, sigs, docTS > 0)
	return p
}

// dssCase is a file for the EU DSS validator and what it must find.
type dssCase struct {
	path   string
	format string // PAdES-BASELINE-LT or -LTA
	docTS  int    // document time-stamps over the signature
}

// assertDSS has the EU DSS validator judge the files in one run, offline,
// with the test root as the only trust anchor and no revocation data but
// what the files embed: every signature TOTAL_PASSED at the format, every
// time-stamp PASSED, and as many document time-stamps as made.
func (f *ltvFixture) assertDSS(t *testing.T, cases ...dssCase) {
	t.Helper()
	var paths []string
	for _, c := range cases {
		paths = append(paths, c.path)
	}
	for i, r := range testenv.DSS(t).Validate(t, []string{filepath.Join(f.dir, "root.pem")}, nil, nil, paths...) {
		testenv.AssertDSSPassed(t, r, cases[i].format)
		for _, s := range r.Signatures {
			n := 0
			for _, ts := range s.Timestamps {
				if ts.Type == "DOCUMENT_TIMESTAMP" {
					n++
				}
			}
			if n != cases[i].docTS {
				t.Errorf("%s: DSS found %d document time-stamps over signature %v, want %d", filepath.Base(r.File), n, s.FieldNames, cases[i].docTS)
			}
		}
	}
}

// TestExtendLT signs every input at B-T with the served TSA and extends it
// to B-LT with validation data fetched from the served OCSP responder and
// CRLs: the checkers find every signature valid from the document alone.
func TestExtendLT(t *testing.T) {
	f := newLTVFixture(t)
	dir := t.TempDir()
	var cases []dssCase
	for i, in := range inputs() {
		key := "p256"
		if i%2 == 1 {
			key = "rsa2048"
		}
		t.Run(in.name+"/"+key, func(t *testing.T) {
			orig := in.make(t)
			bt := f.signBT(t, key, orig)
			lt := f.extend(t, bt, LevelBLT)
			f.checkDSS(t, lt, f.keys[key].cert, !strings.HasPrefix(in.name, "pdf-2.0"))
			p := f.checkLTV(t, dir, lt, in.name+"-lt.pdf", 1, 0)
			cases = append(cases, dssCase{p, "PAdES-BASELINE-LT", 0})

			// Extending again finds nothing new: the responder's answer
			// and the CRLs have not changed, and VRI entries stay.
			again := f.extend(t, lt, LevelBLT)
			if !bytes.Equal(again, lt) {
				t.Errorf("extending a B-LT file again added %d bytes of nothing new", len(again)-len(lt))
			}
		})
	}
	t.Run("pyhanko-needs-the-dss", func(t *testing.T) {
		// The same check on the B-T file fails: it is the DSS that
		// makes the difference.
		bt := writeTemp(t, "bt.pdf", f.signBT(t, "p256", minimalPDF("1.7", 0)))
		// Why the path failed, pyHanko says in its log alone.
		if r, ok := runPyhankoAdES(t, f, bt); ok || !strings.Contains(r.Log, "no revocation information could be found") {
			t.Errorf("pyHanko judged a B-T file without validation data valid offline:\n%s\nlog: %s", r.Report, r.Log)
		}
	})
	f.assertDSS(t, cases...)
}

// TestExtendLTA extends B-T to B-LTA and then again, as an archive
// renewal does: each time fresh validation data and a new document
// time-stamp over everything before, with the time-stamp's own chain
// validated after it.
func TestExtendLTA(t *testing.T) {
	f := newLTVFixture(t)
	dir := t.TempDir()
	var cases []dssCase
	for _, in := range []input{inputs()[0], inputs()[2], inputs()[3]} {
		t.Run(in.name, func(t *testing.T) {
			bt := f.signBT(t, "p256", in.make(t))
			lta := f.extend(t, bt, LevelBLTA)
			v1 := f.checkDSS(t, lta, f.keys["p256"].cert, true)
			cases = append(cases, dssCase{f.checkLTV(t, dir, lta, in.name+"-lta.pdf", 1, 1), "PAdES-BASELINE-LTA", 1})
			_, docTS := signatureContents(t, lta)
			if len(docTS) != 2 || docTS[0] || !docTS[1] {
				t.Fatalf("signed fields are document time-stamps: %v, want [false true]", docTS)
			}
			// The time-stamp's own validation data (its TSA's OCSP
			// response) is in the DSS too, with a VRI entry for it.
			if len(v1.vri) != 2 {
				t.Errorf("%d VRI entries, want 2 (the signature and the document time-stamp)", len(v1.vri))
			}

			time.Sleep(1100 * time.Millisecond) // a later time-stamp
			lta2 := f.extend(t, lta, LevelBLTA)
			v2 := f.checkDSS(t, lta2, f.keys["p256"].cert, true)
			cases = append(cases, dssCase{f.checkLTV(t, dir, lta2, in.name+"-lta2.pdf", 1, 2), "PAdES-BASELINE-LTA", 2})
			for k, e := range v1.vri {
				if v2.vri[k] == nil || !reflect.DeepEqual(v2.vri[k], e) {
					t.Errorf("VRI entry %s changed when extending again", k)
				}
			}
			if len(v2.vri) != 3 {
				t.Errorf("%d VRI entries after renewal, want 3", len(v2.vri))
			}
		})
	}
	f.assertDSS(t, cases...)
}

// TestLTVRevokedAfterSigning revokes the signer's certificate after the
// B-LT file was made: a fresh fetch says revoked, yet the signature,
// time-stamped before the revocation, stays valid with the proof embedded
// (ETSI EN 319 102-1 clause 5.6.2.4: revocation after the signature's
// proof of existence). A signature made after the revocation cannot be
// extended.
func TestLTVRevokedAfterSigning(t *testing.T) {
	f := newLTVFixture(t)
	ctx := context.Background()
	k := f.keys["revokee"]
	lt := f.extend(t, f.signBT(t, "revokee", minimalPDF("1.7", 0)), LevelBLT)
	lta := f.extend(t, lt, LevelBLTA)
	time.Sleep(1100 * time.Millisecond) // revoked strictly after the time-stamp's second

	if err := f.p.CA.Revoke(ctx, k.cert.SerialNumber.Bytes(), store.ReasonKeyCompromise, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Tick(ctx); err != nil { // the responder drops its cached answer
		t.Fatal(err)
	}
	res, err := f.fetcher.OCSP(ctx, k.cert, f.h.Issuing)
	if err != nil || res.Status != revocation.Revoked {
		t.Fatalf("a fresh OCSP fetch: %v, %v; want revoked", res, err)
	}
	crl, err := f.fetcher.CRL(ctx, k.cert, f.h.Issuing)
	if err != nil || crl.Status != revocation.Revoked {
		t.Fatalf("a fresh CRL fetch: %v, %v; want revoked", crl, err)
	}
	if got := f.findOCSP(readDSSView(t, lt), k.cert); len(got) != 1 || got[0].Status != revocation.Good {
		t.Fatalf("the B-LT file's embedded OCSP answers: %v, want one good", got)
	}

	dir := t.TempDir()
	ltPath := f.checkLTV(t, dir, lt, "revoked-later-lt.pdf", 1, 0)
	ltaPath := f.checkLTV(t, dir, lta, "revoked-later-lta.pdf", 1, 1)
	f.assertDSS(t, dssCase{ltPath, "PAdES-BASELINE-LT", 0}, dssCase{ltaPath, "PAdES-BASELINE-LTA", 1})

	// Signed after the revocation: no validation data helps.
	late := f.signBT(t, "revokee", minimalPDF("1.7", 0))
	err = Extend(ctx, bytes.NewReader(late), int64(len(late)), &bytes.Buffer{}, LevelBLT, f.extendOptions())
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("extending a signature made after the revocation: %v, want ErrRevoked", err)
	}
}

// TestExtendRefuses: what Extend will not do, and says why.
func TestExtendRefuses(t *testing.T) {
	f := newLTVFixture(t)
	ctx := context.Background()
	bb := signBytes(t, f.fixture, "p256", minimalPDF("1.7", 0), nil)
	bt := f.signBT(t, "p256", minimalPDF("1.7", 0))
	unsigned := minimalPDF("1.7", 0)
	noTSA := f.extendOptions()
	noTSA.TSA = nil
	otherRoot := f.extendOptions()
	otherRoot.Roots = x509.NewCertPool()
	failing := f.extendOptions()
	failing.Revocation = &revocation.Fetcher{Client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("network down")
	})}}
	for _, c := range []struct {
		name  string
		in    []byte
		level Level
		opts  *ExtendOptions
		is    error
		want  string
	}{
		{"b-b", bb, LevelBLT, f.extendOptions(), ErrUnsupported, "no signature time-stamp"},
		{"level", bt, "B-X", f.extendOptions(), ErrUnsupported, "not B-LT or B-LTA"},
		{"lta-without-tsa", bt, LevelBLTA, noTSA, nil, "needs a TSA"},
		{"no-options", bt, LevelBLT, nil, nil, "needs ExtendOptions"},
		{"unsigned", unsigned, LevelBLT, f.extendOptions(), nil, "no signature"},
		{"encrypted", encryptedPDF(), LevelBLT, f.extendOptions(), ErrEncrypted, "encrypted"},
		{"untrusted-root", bt, LevelBLT, otherRoot, nil, "building the chain"},
		{"no-revocation-data", bt, LevelBLT, failing, nil, "no revocation data"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Extend(ctx, bytes.NewReader(c.in), int64(len(c.in)), &out, c.level, c.opts)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "pades: ") {
				t.Errorf("Extend: %v, want an error wrapping %v saying %q", err, c.is, c.want)
			}
			if out.Len() != 0 {
				t.Errorf("Extend wrote %d bytes after failing", out.Len())
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDocTimestamp checks AddDocumentTimestamp's dictionary and token, and
// that it refuses a token over anything but the byte range.
func TestDocTimestamp(t *testing.T) {
	f := newLTVFixture(t)
	ctx := context.Background()
	bt := f.signBT(t, "p256", formPDF())
	var out bytes.Buffer
	if err := AddDocumentTimestamp(ctx, bytes.NewReader(bt), int64(len(bt)), &out, f.tsa, &Options{Hash: crypto.SHA384}); err != nil {
		t.Fatal(err)
	}
	signed := out.Bytes()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := rd.Fields()
	var d *pdf.Dict
	for _, fl := range fields {
		if fl.Name == "DocTimeStamp1" {
			o, _ := rd.Get(fl.Value)
			d, _ = o.(*pdf.Dict)
		}
	}
	if d == nil {
		t.Fatalf("no signed field DocTimeStamp1 in %v", fields)
	}
	if d.Get("Type") != pdf.Name("DocTimeStamp") || d.Get("SubFilter") != pdf.Name("ETSI.RFC3161") || d.Get("M") != nil {
		t.Errorf("dictionary: /Type %v /SubFilter %v /M %v", d.Get("Type"), d.Get("SubFilter"), d.Get("M"))
	}
	br := d.Get("ByteRange").(pdf.Array)
	a, b, c, e := int64(br[0].(pdf.Int)), int64(br[1].(pdf.Int)), int64(br[2].(pdf.Int)), int64(br[3].(pdf.Int))
	if a != 0 || c+e != int64(len(signed)) || signed[b] != '<' || signed[c-1] != '>' {
		t.Fatalf("/ByteRange %v does not cover the file but /Contents", br)
	}
	h := crypto.SHA384.New()
	h.Write(signed[:b])
	h.Write(signed[c:])
	tok, err := tsa.ParseToken(trimDER(t, d.Get("Contents").(pdf.String).Value))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(h.Sum(nil), crypto.SHA384, &tsa.VerifyOptions{Roots: f.roots()}); err != nil {
		t.Errorf("the token does not verify over the byte range: %v", err)
	}
	p := writeTemp(t, "dts.pdf", signed)
	assertQpdf(t, p)
	assertPdfcpu(t, p)

	wrong := func(ctx context.Context, digest []byte, hash crypto.Hash) ([]byte, error) {
		d := bytes.Clone(digest)
		d[0] ^= 1
		return f.tsa(ctx, d, hash)
	}
	if err := AddDocumentTimestamp(ctx, bytes.NewReader(bt), int64(len(bt)), &bytes.Buffer{}, wrong, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("a token over another digest: %v, want ErrMismatch", err)
	}
	var small bytes.Buffer
	err = AddDocumentTimestamp(ctx, bytes.NewReader(bt), int64(len(bt)), &small, f.tsa, &Options{ContentsSize: 1024})
	if err == nil || !strings.Contains(err.Error(), "placeholder holds 1024") || small.Len() != 0 {
		t.Errorf("a token larger than the placeholder: %v (wrote %d bytes)", err, small.Len())
	}
}

// TestLTVMergesExistingDSS extends a document whose DSS another tool
// wrote — a direct dictionary with an indirect /Certs array holding the
// root and an empty indirect /VRI — and checks the DSS is merged: the
// indirect objects updated in place, the root not written twice.
func TestLTVMergesExistingDSS(t *testing.T) {
	f := newLTVFixture(t)
	bt := f.signBT(t, "p256", minimalPDF("1.7", 0))
	rd, err := pdf.Open(bytes.NewReader(bt), int64(len(bt)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, catRef, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	w := pdf.NewIncrementalWriter(bytes.NewReader(bt), int64(len(bt)), rd)
	rootRef := w.Add(&pdf.Stream{Dict: pdf.NewDict(), Data: f.h.Root.Raw})
	certsRef := w.Add(pdf.Array{rootRef})
	vriRef := w.Add(pdf.NewDict())
	d := pdf.NewDict()
	d.Set("Certs", certsRef)
	d.Set("VRI", vriRef)
	nc := cat.Clone()
	nc.Set("DSS", d)
	w.Update(catRef, nc)
	var pre bytes.Buffer
	if _, err := w.WriteTo(&pre); err != nil {
		t.Fatal(err)
	}

	lt := f.extend(t, pre.Bytes(), LevelBLT)
	v := f.checkDSS(t, lt, f.keys["p256"].cert, true)
	n := 0
	for _, c := range v.certs {
		if bytes.Equal(c, f.h.Root.Raw) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the root is %d times in the DSS, want once", n)
	}
	rd, err = pdf.Open(bytes.NewReader(lt), int64(len(lt)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, _ = rd.Catalog()
	o, _ := rd.Get(cat.Get("DSS"))
	nd, _ := o.(*pdf.Dict)
	if nd.Get("Certs") != certsRef || nd.Get("VRI") != vriRef {
		t.Errorf("the DSS's /Certs %v and /VRI %v are not the indirect objects it had (%v, %v)", nd.Get("Certs"), nd.Get("VRI"), certsRef, vriRef)
	}
	if arr, _ := resolveArray(rd, certsRef); len(arr) < 4 || arr[0] != rootRef {
		t.Errorf("/Certs %v: the old entry first, then the new ones", arr)
	}
	f.checkLTV(t, t.TempDir(), lt, "merged-lt.pdf", 1, 0)
}

// TestSignLTLTA signs straight to B-LT and B-LTA with Sign, its LTV
// options given, in one call: the same levels Extend reaches from B-T,
// checked by the same validators.
func TestSignLTLTA(t *testing.T) {
	f := newLTVFixture(t)
	dir := t.TempDir()
	var cases []dssCase
	for _, c := range []struct {
		level  Level
		docTS  int
		dssLvl string
	}{{LevelBLT, 0, "PAdES-BASELINE-LT"}, {LevelBLTA, 1, "PAdES-BASELINE-LTA"}} {
		t.Run(string(c.level), func(t *testing.T) {
			in := minimalPDF("1.7", 0)
			signed := signBytes(t, f.fixture, "p256", in, &SignOptions{Options: Options{Reason: "Nộp hồ sơ trực tuyến"},
				Level: c.level, TSA: f.tsa, LTV: &f.extendOptions().LTVOptions})
			v := f.checkDSS(t, signed, f.keys["p256"].cert, true)
			if len(v.vri) != 1+c.docTS {
				t.Errorf("%d VRI entries, want %d", len(v.vri), 1+c.docTS)
			}
			_, docTS := signatureContents(t, signed)
			if len(docTS) != 1+c.docTS || docTS[0] {
				t.Fatalf("signed fields are document time-stamps: %v, want a signature and %d time-stamps", docTS, c.docTS)
			}
			cases = append(cases, dssCase{f.checkLTV(t, dir, signed, string(c.level)+".pdf", 1, c.docTS), c.dssLvl, c.docTS})
		})
	}
	t.Run("no validation data", func(t *testing.T) {
		// The signer's status cannot be had: the key is never used.
		k := f.keys["p256"]
		counted := &countingSigner{Signer: k.signer}
		lo := f.extendOptions().LTVOptions
		lo.Revocation = &downSource{}
		in := minimalPDF("1.7", 0)
		var out bytes.Buffer
		err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, counted, k.cert, f.chain,
			skipCheck(&SignOptions{Level: LevelBLT, TSA: f.tsa, LTV: &lo}))
		if err == nil || !strings.Contains(err.Error(), "nothing was signed") || counted.n.Load() != 0 || out.Len() != 0 {
			t.Fatalf("Sign at B-LT without validation data: %v, %d signatures, %d bytes; want a refusal before signing", err, counted.n.Load(), out.Len())
		}
	})
	t.Run("refused", func(t *testing.T) {
		k := f.keys["p256"]
		in := minimalPDF("1.7", 0)
		for _, o := range []*SignOptions{
			{Level: LevelBLT, TSA: f.tsa},
			{Level: LevelBLTA, LTV: &f.extendOptions().LTVOptions},
		} {
			var out bytes.Buffer
			if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, k.signer, k.cert, f.chain, skipCheck(o)); err == nil || out.Len() != 0 {
				t.Errorf("Sign at %s with TSA %v and LTV %v: err %v, %d bytes written; want a refusal before writing", o.Level, o.TSA != nil, o.LTV != nil, err, out.Len())
			}
		}
	})
	f.assertDSS(t, cases...)
}

// downSource is a revocation source whose responders are all down.
type downSource struct{}

func (downSource) OCSP(context.Context, *x509.Certificate, *x509.Certificate) (*revocation.OCSPResult, error) {
	return nil, errors.New("dial tcp: connection refused")
}

func (downSource) CRL(context.Context, *x509.Certificate, *x509.Certificate) (*revocation.CRLResult, error) {
	return nil, errors.New("dial tcp: connection refused")
}

// countingSigner counts the signatures a key made.
type countingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (c *countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.Signer.Sign(r, digest, opts)
}

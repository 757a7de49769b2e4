package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/server"
)

// TestExtendPDF signs a form at B-T with the CLI against a provider whose
// PKI (OCSP, CRLs, TSA) is served over HTTP at the URLs in its
// certificates, extends it with `kyso extend` to B-LT, to B-LTA and to
// B-LTA again, and has pdfsig, qpdf, pyHanko (offline, from the document
// alone) and the EU DSS validator check the results.
func TestExtendPDF(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	testenv.PyHanko(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	ts := newTestPKI(t)
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	chain, root := ts.initCA(t, dir)
	cert := filepath.Join(dir, "citizen.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", cert)
	ts.start(t, data)

	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai dang ky"), 0o644)
	bt := filepath.Join(dir, "bt.pdf")
	ok("sign", "pdf", in, "-o", bt, "--key", "citizen-1", "--cert", cert, "--chain", chain, "--level", "B-T", "--tsa", ts.URL+"/tsa")
	lt := filepath.Join(dir, "lt.pdf")
	ok("extend", bt, "-o", lt, "--level", "B-LT")
	lta := filepath.Join(dir, "lta.pdf")
	ok("extend", lt, "-o", lta, "--level", "B-LTA", "--tsa", ts.URL+"/tsa", "--trust", root)
	time.Sleep(1100 * time.Millisecond) // the renewal's time-stamp is a second later
	lta2 := filepath.Join(dir, "lta2.pdf")
	ok("extend", lta, "-o", lta2, "--level", "B-LTA", "--tsa", ts.URL+"/tsa")

	prev, _ := os.ReadFile(bt)
	for _, c := range []struct {
		path   string
		docTS  int
		format string
	}{{lt, 0, "PAdES-BASELINE-LT"}, {lta, 1, "PAdES-BASELINE-LTA"}, {lta2, 2, "PAdES-BASELINE-LTA"}} {
		b, _ := os.ReadFile(c.path)
		if !bytes.HasPrefix(b, prev) {
			t.Errorf("%s does not keep the file it extends (not an incremental update)", filepath.Base(c.path))
		}
		prev = b
		testenv.CheckQpdf(t, c.path)
		out, errOut, _ := testenv.Run(exec.Command(pdfsig, "-no-ocsp", c.path))
		if !strings.Contains(out, "Signature is Valid.") || strings.Count(out, "DocTimeStamp") != c.docTS {
			t.Errorf("pdfsig %s:\n%s\nstderr: %s", filepath.Base(c.path), out, errOut)
		}
		// pyHanko's AdES validation at a point in time fetches nothing:
		// the revocation data it requires comes from the document.
		at := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format("2006-01-02T15:04:05Z")
		r := testenv.RunPyHanko(t, "sign", "adesverify", "--pretty-print", "--validation-time", at, "--trust", root, "--trust-replace", c.path)
		if r.Err != nil || !strings.Contains(r.Report, "The signature is judged VALID.") {
			t.Errorf("pyhanko sign adesverify %s: %v\n%s\nlog: %s\nstderr: %s", filepath.Base(c.path), r.Err, r.Report, r.Log, r.Stderr)
		}
		// How it found proof of existence, pyHanko says in its log alone.
		if poe := strings.Contains(r.Log, "AdES time slide yields"); poe != (c.docTS > 0) {
			t.Errorf("pyHanko %s: proof of existence from document time-stamps = %v, want %v:\n%s", filepath.Base(c.path), poe, c.docTS > 0, r.Log)
		}
	}
	dss := testenv.DSS(t)
	reports := dss.Validate(t, []string{root}, nil, nil, lt, lta, lta2)
	testenv.AssertDSSPassed(t, reports[0], "PAdES-BASELINE-LT")
	testenv.AssertDSSPassed(t, reports[1], "PAdES-BASELINE-LTA")
	testenv.AssertDSSPassed(t, reports[2], "PAdES-BASELINE-LTA")
	for i, r := range reports {
		n := 0
		for _, s := range r.Signatures {
			for _, ts := range s.Timestamps {
				if ts.Type == "DOCUMENT_TIMESTAMP" {
					n++
				}
			}
		}
		if n != i {
			t.Errorf("%s: DSS found %d document time-stamps over the signature, want %d", filepath.Base(r.File), n, i)
		}
	}

	// Refusals a user can hit; none leaves a file behind.
	bb := filepath.Join(dir, "bb.pdf")
	ok("sign", "pdf", in, "-o", bb, "--key", "citizen-1", "--cert", cert, "--chain", chain)
	x := filepath.Join(dir, "x.pdf")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"extend", bt, "-o", x}, 2, "want B-LT or B-LTA"},
		{[]string{"extend", bt, "-o", x, "--level", "B-LTA"}, 2, "needs --tsa"},
		{[]string{"extend", bt, "--level", "B-LT"}, 2, "-o OUT.pdf is required"},
		{[]string{"extend", bt, "-o", bt, "--level", "B-LT"}, 2, "must not be the input"},
		{[]string{"extend", bt, "-o", x, "--level", "B-LT", "--trust", filepath.Join(dir, "nowhere.pem")}, 2, "--trust"},
		{[]string{"extend", bb, "-o", x, "--level", "B-LT"}, 1, "no signature time-stamp"},
		{[]string{"extend", in, "-o", x, "--level", "B-LT"}, 1, "no signature"},
		{[]string{"extend", bt, "-o", x, "--level", "B-LT", "--trust", cert}, 1, "building the chain"},
	} {
		if _, errOut, code := kyso(t, c.args...); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("kyso %v: exit %d %q, want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if _, err := os.Stat(x); err == nil {
		t.Error("a failed extension left an output file behind")
	}
	var help bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &env{stdout: &help, stderr: &help}); code != 0 || !strings.Contains(help.String(), "extend") {
		t.Errorf("--help does not list extend:\n%s", help.String())
	}
}

// testPKI serves a data directory's PKI — OCSP, CRLs, the TSA — over
// HTTP at the URL its certificates name: `kyso ca init --base-url` with
// URL (initCA), then start once the CA exists. Until then it answers
// 503.
type testPKI struct {
	*httptest.Server
	pki atomic.Pointer[server.PKI]
}

// newTestPKI starts the server.
func newTestPKI(t *testing.T) *testPKI {
	k := &testPKI{}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := k.pki.Load(); p != nil {
			p.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	t.Cleanup(k.Close)
	return k
}

// initCA runs `kyso ca init --base-url` (on $KYSO_DATA) and writes the
// chain (issuing CA, root) and the root alone, for outside validators,
// into dir.
func (k *testPKI) initCA(t *testing.T, dir string) (chain, root string) {
	t.Helper()
	if out, errOut, code := kyso(t, "ca", "init", "--base-url", k.URL); code != 0 {
		t.Fatalf("ca init: %s%s", out, errOut)
	}
	chainPEM, errOut, code := kyso(t, "ca", "chain")
	if code != 0 {
		t.Fatalf("ca chain: %s", errOut)
	}
	chain = filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(chainPEM), 0o644)
	// The root alone: the chain's last block.
	var rootBlock *pem.Block
	for rest := []byte(chainPEM); ; {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		rootBlock, rest = b, r
	}
	root = filepath.Join(dir, "root.pem")
	os.WriteFile(root, pem.EncodeToMemory(rootBlock), 0o644)
	return chain, root
}

// start serves the PKI of the data directory data.
func (k *testPKI) start(t *testing.T, data string) {
	t.Helper()
	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := d.Open(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	p, err := server.NewPKI(context.Background(), opened.CA, opened.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	k.pki.Store(p)
}

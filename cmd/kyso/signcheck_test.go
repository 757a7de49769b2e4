package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kyso-pki/kyso/cmd/internal/datadir"
	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/store"
)

// TestSignPDFChecks: kyso sign pdf checks the signer's certificate against
// the data directory's trust store, with OCSP from the CA the data
// directory names, before it opens the key, and refuses each bad
// certificate in Vietnamese and English without writing a file.
func TestSignPDFChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("KYSO_DATA", data)
	t.Setenv("KYSO_KEYSTORE", "")
	var pki atomic.Pointer[server.PKI]
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := pki.Load(); p != nil {
			p.ServeHTTP(w, r)
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	os.MkdirAll(data, 0o700)
	cfg, _ := json.Marshal(map[string]string{"base_url": ts.URL})
	if err := os.WriteFile(filepath.Join(data, datadir.ConfigFile), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(args ...string) string { t.Helper(); return kysoOK(t, args...) }
	ok("ca", "init")
	chain := filepath.Join(dir, "chain.pem")
	os.WriteFile(chain, []byte(ok("ca", "chain")), 0o644)
	good := filepath.Join(dir, "good.pem")
	ok("cert", "issue", "--cccd", "079203001234", "--name", "Nguyễn Văn Đức", "--province", "Hồ Chí Minh", "--keygen", "ecdsa-p256", "--label", "citizen-1", "-o", good)

	d, err := datadir.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := d.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	p, err := server.NewPKI(ctx, opened.CA, opened.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	pki.Store(p)
	h, err := opened.CA.Hierarchy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tp := &catest.PKI{Keys: opened.Keys, Store: opened.Store, CA: opened.CA, Hierarchy: h}
	other, err := catest.New(ctx, filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	writeCert := func(name string, der []byte) string {
		f := filepath.Join(dir, name+".pem")
		os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		return f
	}
	type bad struct{ name, label, vi, en string }
	cases := []bad{
		{"expired", "k-expired", "chứng thư số đã hết hạn", "(certificate expired"},
		{"revoked", "k-revoked", "chứng thư số đã bị thu hồi", "(certificate revoked"},
		{"suspended", "k-held", "chứng thư số đang bị tạm dừng", "(certificate suspended"},
		{"untrusted", "k-stranger", "không có đường tin cậy", "(no trust path"},
		{"weak-key", "k-weak", "quá yếu: RSA 1024 bit", "too weak: RSA 1024 bits"},
	}
	files := map[string]string{}
	c, _, err := tp.Expired(ctx, "k-expired", hsm.ECDSAP256, "079203002001")
	if err != nil {
		t.Fatal(err)
	}
	files["expired"] = writeCert("expired", c.Raw)
	if c, _, err = tp.Revoked(ctx, "k-revoked", hsm.ECDSAP256, "079203002002", store.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	files["revoked"] = writeCert("revoked", c.Raw)
	if c, _, err = tp.Revoked(ctx, "k-held", hsm.ECDSAP256, "079203002003", store.ReasonCertificateHold); err != nil {
		t.Fatal(err)
	}
	files["suspended"] = writeCert("suspended", c.Raw)
	if c, _, err = other.Citizen(ctx, "k-stranger", hsm.ECDSAP256, "079203002004"); err != nil {
		t.Fatal(err)
	}
	files["untrusted"] = writeCert("untrusted", c.Raw)
	if c, _, err = tp.WeakKey(ctx); err != nil {
		t.Fatal(err)
	}
	files["weak-key"] = writeCert("weak", c.Raw)

	in := filepath.Join(dir, "form.pdf")
	os.WriteFile(in, testpdf.Minimal("To khai dang ky"), 0o644)
	for _, b := range cases {
		t.Run(b.name, func(t *testing.T) {
			x := filepath.Join(dir, b.name+".pdf")
			// The key need not exist: the check comes before the key
			// store is opened.
			_, errOut, code := kyso(t, "sign", "pdf", in, "-o", x, "--key", b.label, "--cert", files[b.name], "--chain", chain)
			if code == 0 || !strings.Contains(errOut, b.vi) || !strings.Contains(errOut, b.en) {
				t.Errorf("exit %d, stderr %q; want a refusal saying %q and %q", code, errOut, b.vi, b.en)
			}
			if _, err := os.Stat(x); err == nil {
				t.Errorf("a refused signing left %s", x)
			}
		})
	}
	// The good certificate passes and signs at B-LT, its DSS holding the
	// check's evidence; kyso verify and EU DSS judge it B-LT offline.
	lt := filepath.Join(dir, "lt.pdf")
	ok("sign", "pdf", in, "-o", lt, "--key", "citizen-1", "--cert", good, "--chain", chain, "--level", "B-LT", "--tsa", ts.URL+"/tsa")
	if out := ok("verify", lt, "--offline"); !strings.Contains(out, "PAdES-BASELINE-LT") || !strings.Contains(out, "TOTAL-PASSED") {
		t.Errorf("kyso verify --offline:\n%s", out)
	}
	for _, r := range testenv.DSS(t).Validate(t, []string{writeCert("root", h.Root.Raw)}, nil, nil, lt) {
		testenv.AssertDSSPassed(t, r, "PAdES-BASELINE-LT")
	}
}

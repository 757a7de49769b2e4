package testvectors_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/hsm/softkey"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/tsa"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/testvectors"
)

// TestFormSigned checks pdf/form-signed.pdf: at testvectors.FormSignedAt,
// offline, trusting certs/throwaway-root.pem, pkg/verify passes its one
// signature at PAdES B-LT. With KYSO_UPDATE_TESTVECTORS=1 it makes both
// again first (see makeFormSigned); run it once more to check them, as the
// files are compiled in.
func TestFormSigned(t *testing.T) {
	if os.Getenv("KYSO_UPDATE_TESTVECTORS") == "1" {
		makeFormSigned(t)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(testvectors.Read(testvectors.ThrowawayRoot)) {
		t.Fatalf("%s holds no PEM certificate", testvectors.ThrowawayRoot)
	}
	doc := testvectors.Read(testvectors.FormSigned)
	r, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)),
		&verify.Options{Roots: roots, Now: func() time.Time { return testvectors.FormSignedAt.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Valid || len(r.Signatures) != 1 || r.Signatures[0].Level != verify.LevelBLT || r.Signatures[0].Signer.CCCD != "079203001234" {
		var b bytes.Buffer
		r.WriteText(&b, testvectors.FormSigned)
		t.Errorf("want one valid B-LT signature by CCCD 079203001234:\n%s", b.String())
	}
}

// makeFormSigned writes pdf/form-signed.pdf and certs/throwaway-root.pem:
// a kyso CA (pkg/ca, keys in a throwaway softkey store, discarded) issues
// a citizen's certificate, and pades.Sign signs pdf/form.pdf at B-LT with
// the CA's TSA and its CRLs as validation data, every clock at
// FormSignedAt.
func makeFormSigned(t *testing.T) {
	ctx := context.Background()
	at := testvectors.FormSignedAt
	now := func() time.Time { return at }
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "kyso.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := hsm.ParseURI("softkey:?dir=" + filepath.Join(dir, "keys") + "&passphrase=throwaway")
	ks, err := softkey.Open(ctx, u, &softkey.Options{KDF: softkey.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	a, err := ca.New(st, ks, &ca.Options{Now: now, BaseURL: "http://pki.example.vn"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.Init(ctx, &ca.InitRequest{Name: "kyso testvectors THROWAWAY"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Nguyễn Văn Đức", CCCD: "079203001234", Province: "Hồ Chí Minh",
		Key: ca.KeySource{KeyLabel: "citizen", KeyAlgorithm: hsm.ECDSAP256}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ks.Signer(ctx, &hsm.SignerRequest{Label: "citizen"})
	if err != nil {
		t.Fatal(err)
	}
	tsaCert, tsaKey, err := a.TSASigner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chain := append([]*x509.Certificate{h.Issuing}, h.Chain...)
	ts, err := tsa.New(tsa.Config{Certificate: tsaCert, Chain: chain, Signer: tsaKey, Policy: tsa.PlaceholderPolicy, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	crls, err := a.GenerateCRL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.Root)
	form := testvectors.Read(testvectors.Form)
	var out bytes.Buffer
	err = pades.Sign(ctx, bytes.NewReader(form), int64(len(form)), &out, signer, cert, chain, &pades.SignOptions{
		Options: pades.Options{Reason: "Tôi đồng ý", Location: "Hồ Chí Minh", SigningTime: at, SkipSignerCheck: true},
		Level:   pades.LevelBLT, TSA: pades.TSAServer(ts),
		LTV: &pades.LTVOptions{Roots: roots, Revocation: crlSource(crls), Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		testvectors.FormSigned:    out.Bytes(),
		testvectors.ThrowawayRoot: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Root.Raw}),
	} {
		if err := os.WriteFile(filepath.FromSlash(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// crlSource answers every revocation question with the CA's own CRLs.
type crlSource []*store.CRL

func (crlSource) OCSP(context.Context, *x509.Certificate, *x509.Certificate) (*revocation.OCSPResult, error) {
	return nil, errors.New("no OCSP here: CRLs only")
}

func (s crlSource) CRL(_ context.Context, cert, issuer *x509.Certificate) (*revocation.CRLResult, error) {
	var last error = errors.New("no CRL of this issuer")
	for _, c := range s {
		r, err := revocation.ParseCRL(c.DER, cert, issuer)
		if err == nil {
			return r, nil
		}
		last = err
	}
	return nil, last
}

// TestCheckers has qpdf find every PDF here well formed, and pdfsig the
// signature of pdf/form-signed.pdf valid.
func TestCheckers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range testvectors.Names("pdf") {
		p := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(p, testvectors.Read(name), 0o600); err != nil {
			t.Fatal(err)
		}
		testenv.CheckQpdf(t, p)
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	p := filepath.Join(dir, filepath.Base(testvectors.FormSigned))
	if out, errOut, _ := testenv.Run(exec.Command(pdfsig, "-nocert", "-no-ocsp", p)); !strings.Contains(out, "Signature Validation: Signature is Valid.") {
		t.Errorf("pdfsig %s:\n%s\nstderr: %s", testvectors.FormSigned, out, errOut)
	}
}

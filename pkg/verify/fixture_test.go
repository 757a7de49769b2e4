package verify_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/internal/testpdf"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/tsa"
	"github.com/kyso-pki/kyso/pkg/verify"
)

// fixture is a throwaway CA hierarchy served over HTTP, a TSA, and a few
// citizens' keys.
type fixture struct {
	dir    string
	p      *catest.PKI
	srv    *servertest.Served
	tsa    *tsa.Server
	roots  *x509.CertPool
	chain  []*x509.Certificate
	mu     sync.Mutex
	cccd   int
	signer map[string]signer
}

type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// shared is the package's fixture.
var shared = testenv.Shared[*fixture]{Prefix: "kyso-verify-test-", Build: newFixture,
	Close: func(f *fixture) {
		f.srv.Close()
		f.p.Close()
	}}

func TestMain(m *testing.M) { shared.Main(m) }

func getFixture(t testing.TB) *fixture {
	t.Helper()
	return shared.Get(t)
}

func newFixture(dir string) (*fixture, error) {
	ctx := context.Background()
	p, err := catest.New(ctx, dir)
	if err != nil {
		return nil, err
	}
	srv, err := servertest.Serve(ctx, p)
	if err != nil {
		return nil, err
	}
	f := &fixture{dir: dir, p: p, srv: srv, roots: x509.NewCertPool(), signer: map[string]signer{}}
	f.roots.AddCert(p.Hierarchy.Root)
	if f.chain, err = p.CA.Chain(ctx); err != nil {
		return nil, err
	}
	tcert, tkey, err := p.CA.TSASigner(ctx)
	if err != nil {
		return nil, err
	}
	if f.tsa, err = tsa.New(tsa.Config{Certificate: tcert, Chain: f.chain, Signer: tkey, Policy: tsa.PlaceholderPolicy}); err != nil {
		return nil, err
	}
	return f, nil
}

// citizen issues a fresh certificate and key, so a test may revoke it.
func (f *fixture) citizen(t testing.TB, alg hsm.Algorithm) signer {
	t.Helper()
	f.mu.Lock()
	f.cccd++
	n := f.cccd
	f.mu.Unlock()
	cert, key, err := f.p.Citizen(context.Background(), fmt.Sprintf("verify-%d", n), alg, fmt.Sprintf("0792030%05d", n))
	if err != nil {
		t.Fatal(err)
	}
	return signer{cert, key}
}

// sign signs in with s at level B-B or B-T.
func (f *fixture) sign(t testing.TB, s signer, in []byte, opts *pades.SignOptions) []byte {
	t.Helper()
	if opts == nil {
		opts = &pades.SignOptions{}
	}
	if opts.Level == pades.LevelBT {
		opts.TSA = pades.TSAServer(f.tsa)
	}
	// The validator's tests sign with revoked, held and untrusted
	// certificates on purpose: no pre-signing check.
	opts.SkipSignerCheck = true
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, s.key, s.cert, f.chain, opts); err != nil {
		t.Fatalf("signing: %v", err)
	}
	return out.Bytes()
}

// verifyOnline validates with revocation fetched from the served PKI.
func (f *fixture) verifyOnline(t testing.TB, doc []byte) *verify.Report {
	t.Helper()
	return f.verifyWith(t, doc, &verify.Options{Roots: f.roots, Fetcher: &revocation.Fetcher{Client: f.srv.Client}})
}

// verifyWith validates doc with opts, and again without the memo of
// repeated checks (verify.WithoutMemo) at the same validation time: the
// two reports must be the same.
func (f *fixture) verifyWith(t testing.TB, doc []byte, opts *verify.Options) *verify.Report {
	t.Helper()
	o := *opts
	if o.Now == nil {
		now := time.Now()
		o.Now = func() time.Time { return now }
	}
	rep, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), &o)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	verify.WithoutMemo(&o)
	plain, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), &o)
	if err != nil {
		t.Fatalf("verify without the memo: %v", err)
	}
	if !reflect.DeepEqual(rep, plain) {
		var a, b strings.Builder
		rep.WriteText(&a, "doc.pdf")
		plain.WriteText(&b, "doc.pdf")
		t.Fatalf("the report differs without the memo of repeated checks:\nwith:\n%s\nwithout:\n%s", a.String(), b.String())
	}
	return rep
}

// want asserts the verdict of signature i.
func want(t testing.TB, rep *verify.Report, i int, ind verify.Indication, sub verify.SubIndication) *verify.Signature {
	t.Helper()
	if len(rep.Signatures) <= i {
		t.Fatalf("report has %d signatures, want at least %d", len(rep.Signatures), i+1)
	}
	s := rep.Signatures[i]
	if s.Indication != ind || s.SubIndication != sub {
		var b strings.Builder
		rep.WriteText(&b, "doc.pdf")
		t.Fatalf("signature %d: %s/%s, want %s/%s\n%s", i+1, s.Indication, s.SubIndication, ind, sub, b.String())
	}
	return s
}

// flateStream is a stream object with data compressed.
func flateStream(data string) string {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(data))
	zw.Close()
	return fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes())
}

// formPDF is a one-page form: a text field "ten" and, as object 9, an
// unused content stream (what a shadow attack hides in the signed
// revision to show later).
func formPDF() []byte {
	return testpdf.Objects(
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots 7 0 R >>",
		flateStream("BT /F1 24 Tf 72 720 Td (Don xin cap ho chieu) Tj ET"),
		testpdf.Helvetica,
		"<< /FT /Tx /T (ten) /V (Nguyen) /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /DA (/Helv 12 Tf 0 g) >>",
		"[6 0 R]",
		"<< /Type /Pages /Kids [] /Count 0 >>",
		flateStream("BT /F1 24 Tf 72 720 Td (Chuyen 1 ty dong) Tj ET"),
	)
}

// update appends an incremental update that sets objects (by number) to
// the given objects, and adds others.
func update(t testing.TB, doc []byte, edit func(rd *pdf.Reader, w *pdf.Writer)) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := pdf.NewIncrementalWriter(bytes.NewReader(doc), int64(len(doc)), rd)
	edit(rd, w)
	if err := w.Build(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// resolveDict reads object num of rd as a dictionary, cloned for editing.
func resolveDict(t testing.TB, rd *pdf.Reader, num int) *pdf.Dict {
	t.Helper()
	o, err := rd.Resolve(pdf.Ref{Num: num})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := o.(*pdf.Dict)
	if !ok {
		t.Fatalf("object %d is %T", num, o)
	}
	return d.Clone()
}

package report_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/ca/catest"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/server/servertest"
	"github.com/kyso-pki/kyso/pkg/tsa"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// The fixture's clock: the CA is made at t0, documents are signed and
// time-stamped at signedAt, and validated at checkedAt, so that every
// time, validity period and OCSP response in a report is the same from run
// to run. Serial numbers stay random (a CA's serials must be); the test
// replaces each by a placeholder after checking it was shown.
var (
	t0        = time.Date(2026, 3, 2, 3, 4, 5, 0, time.UTC)
	signedAt  = t0.Add(90 * time.Minute)
	checkedAt = t0.Add(3 * time.Hour)
)

type fixture struct {
	p     *catest.PKI
	srv   *servertest.Served
	tsa   *tsa.Server
	roots *x509.CertPool
	chain []*x509.Certificate

	mu      sync.Mutex
	signers map[string]signer
}

type signer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// shared is the package's fixture.
var shared = testenv.Shared[*fixture]{Prefix: "kyso-report-test-", Build: newFixture,
	Close: func(f *fixture) {
		f.srv.Close()
		f.p.Close()
	}}

func TestMain(m *testing.M) { shared.Main(m) }

func getFixture(t *testing.T) *fixture {
	t.Helper()
	return shared.Get(t)
}

// newFixture makes the hierarchy in dir, every clock at t0 and the TSA's
// at signedAt, so that the reports are repeatable.
func newFixture(dir string) (*fixture, error) {
	ctx := context.Background()
	clock := func() time.Time { return t0 }
	f := &fixture{roots: x509.NewCertPool(), signers: map[string]signer{}}
	var err error
	if f.p, err = catest.NewOptions(ctx, dir, nil, &ca.Options{Now: clock}); err != nil {
		return nil, err
	}
	if f.srv, err = servertest.ServeOptions(ctx, f.p, &server.PKIOptions{Now: clock}); err != nil {
		return nil, err
	}
	f.roots.AddCert(f.p.Hierarchy.Root)
	if f.chain, err = f.p.CA.Chain(ctx); err != nil {
		return nil, err
	}
	tcert, tkey, err := f.p.CA.TSASigner(ctx)
	if err != nil {
		return nil, err
	}
	if f.tsa, err = tsa.New(tsa.Config{Certificate: tcert, Chain: f.chain, Signer: tkey, Policy: tsa.PlaceholderPolicy,
		Now: func() time.Time { return signedAt }}); err != nil {
		return nil, err
	}
	return f, nil
}

// onePage is a one-page PDF with a classic cross-reference table.
func onePage() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Length 44 >>\nstream\nBT /F1 24 Tf 72 720 Td (To khai) Tj ET      \nendstream",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// signer issues, once, the certificate of "citizen" (CCCD in the UID)
// or "org" (an e-seal: O and MST).
func (f *fixture) signer(t *testing.T, who string) signer {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.signers[who]; ok {
		return s
	}
	ctx := context.Background()
	var cert *x509.Certificate
	var err error
	label := "golden-" + who
	switch who {
	case "citizen":
		cert, err = f.p.CA.IssueCitizen(ctx, &ca.CitizenRequest{Name: "Trần Thị Ánh Nguyệt", CCCD: "079195012345", Province: "Hồ Chí Minh",
			Key: ca.KeySource{KeyLabel: label, KeyAlgorithm: hsm.ECDSAP256}})
	case "org":
		cert, err = f.p.CA.IssueOrganisation(ctx, &ca.OrganisationRequest{Name: "Công ty TNHH Phần mềm Sông Hồng", TaxCode: "0101234567", Province: "Hà Nội",
			Key: ca.KeySource{KeyLabel: label, KeyAlgorithm: hsm.ECDSAP256}})
	default:
		t.Fatalf("no signer %q", who)
	}
	if err != nil {
		t.Fatal(err)
	}
	key, err := f.p.Keys.Signer(ctx, &hsm.SignerRequest{Label: label})
	if err != nil {
		t.Fatal(err)
	}
	f.signers[who] = signer{cert, key}
	return f.signers[who]
}

// sign signs in at signedAt, with a fixed /Contents size so that the
// file's size does not depend on the lengths of random serial numbers.
func (f *fixture) sign(t *testing.T, in []byte, who string, level pades.Level, reason string) []byte {
	t.Helper()
	s := f.signer(t, who)
	opts := &pades.SignOptions{Level: level, Options: pades.Options{SigningTime: signedAt, ContentsSize: 16384, Reason: reason, Location: "Hà Nội", SkipSignerCheck: true}}
	if level == pades.LevelBT {
		opts.TSA = pades.TSAServer(f.tsa)
	}
	var out bytes.Buffer
	if err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, s.key, s.cert, f.chain, opts); err != nil {
		t.Fatalf("signing: %v", err)
	}
	return out.Bytes()
}

// pdfsigSays runs poppler's pdfsig without certificate checks (its NSS
// client cannot reach the test CA) and returns each signature's
// "Signature Validation" line.
func pdfsigSays(t *testing.T, doc []byte) []string {
	t.Helper()
	bin := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	path := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, _ := testenv.Run(exec.Command(bin, "-nocert", path))
	var lines []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- Signature Validation: (.*)$`).FindAllStringSubmatch(out, -1) {
		lines = append(lines, strings.TrimSpace(m[1]))
	}
	if len(lines) == 0 {
		t.Fatalf("pdfsig found no signature:\n%s\nstderr: %s", out, errOut)
	}
	return lines
}

// scenario is a signed document and how it is validated.
type scenario struct {
	name string
	doc  func(t *testing.T, f *fixture) []byte
	// online lets the validator fetch OCSP responses from the test CA.
	online bool
	// pdfsig is what pdfsig must say of each signature.
	pdfsig []string
	// want are the verdicts, "INDICATION/SUB".
	want []string
}

var scenarios = []scenario{
	{
		name: "valid",
		doc: func(t *testing.T, f *fixture) []byte {
			return f.sign(t, onePage(), "citizen", pades.LevelBT, "Tờ khai đăng ký thuế")
		},
		online: true,
		pdfsig: []string{"Signature is Valid."},
		want:   []string{"TOTAL-PASSED/"},
	},
	{
		name: "offline",
		doc: func(t *testing.T, f *fixture) []byte {
			d := f.sign(t, onePage(), "citizen", pades.LevelBB, "Đồng ý")
			return f.sign(t, d, "org", pades.LevelBT, "Xác nhận của doanh nghiệp")
		},
		pdfsig: []string{"Signature is Valid.", "Signature is Valid."},
		want:   []string{"INDETERMINATE/TRY_LATER", "INDETERMINATE/TRY_LATER"},
	},
	{
		name: "tampered",
		doc: func(t *testing.T, f *fixture) []byte {
			d := f.sign(t, onePage(), "citizen", pades.LevelBB, "Đồng ý")
			i := bytes.Index(d, []byte("(To khai)"))
			d[i+1] = 'X' // same length, inside the signed bytes
			return d
		},
		online: true,
		pdfsig: []string{"Digest Mismatch."},
		want:   []string{"TOTAL-FAILED/HASH_FAILURE"},
	},
}

// TestGolden renders real reports in both languages and three formats and
// compares them with testdata/*.golden (go test -update rewrites them).
// Each random serial number is replaced by a placeholder once the test has
// seen it in the output; everything else is fixed by the fixture's clock.
func TestGolden(t *testing.T) {
	f := getFixture(t)
	var htmls []string
	htmlDir := t.TempDir()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			doc := sc.doc(t, f)
			if got := pdfsigSays(t, doc); strings.Join(got, "|") != strings.Join(sc.pdfsig, "|") {
				t.Fatalf("pdfsig says %q, want %q", got, sc.pdfsig)
			}
			opts := &verify.Options{Roots: f.roots, Now: func() time.Time { return checkedAt }}
			if sc.online {
				opts.Fetcher = &revocation.Fetcher{Client: f.srv.Client, Now: opts.Now}
			}
			rep, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)), opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range rep.Signatures {
				got = append(got, string(s.Indication)+"/"+string(s.SubIndication))
			}
			if strings.Join(got, ",") != strings.Join(sc.want, ",") {
				t.Fatalf("verdicts %v, want %v; %q", got, sc.want, rep.Signatures[0].Reasons)
			}
			for _, lang := range []report.Lang{report.Vietnamese, report.English} {
				for _, format := range []report.Format{report.Text, report.JSON, report.HTML} {
					var b bytes.Buffer
					if err := report.Write(&b, rep, sc.name+".pdf", format, &report.Options{Lang: lang}); err != nil {
						t.Fatal(err)
					}
					out := normalize(t, b.String(), rep)
					name := fmt.Sprintf("%s.%s.%s", sc.name, lang, format)
					compareGolden(t, name, out)
					if format == report.HTML {
						p := filepath.Join(htmlDir, name+".html")
						if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
							t.Fatal(err)
						}
						htmls = append(htmls, p)
					}
					if format == report.JSON {
						checkJSON(t, b.Bytes(), rep)
					}
				}
			}
		})
	}
	if len(htmls) != 2*len(scenarios) {
		t.Fatalf("%d HTML reports, want %d", len(htmls), 2*len(scenarios))
	}
	testenv.CheckHTML(t, htmls...)
}

// normalize replaces each serial number of rep, which the output must
// show, by SERIAL-n.
func normalize(t *testing.T, out string, rep *verify.Report) string {
	t.Helper()
	n := 0
	seen := map[string]string{}
	add := func(c *verify.Signer) {
		if c == nil || seen[c.Serial] != "" {
			return
		}
		n++
		seen[c.Serial] = fmt.Sprintf("SERIAL-%d", n)
	}
	for _, s := range rep.Signatures {
		add(s.Signer)
		for _, c := range s.Chain {
			add(c)
		}
	}
	for _, s := range rep.Signatures {
		if s.Signer != nil && !strings.Contains(out, s.Signer.Serial) {
			t.Errorf("the report does not show the signer's serial %s", s.Signer.Serial)
		}
	}
	for serial, name := range seen {
		out = strings.ReplaceAll(out, serial, name)
	}
	return out
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, diff(string(want), got))
	}
}

// diff shows the first differing line.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\nwant: %s\n got: %s", i+1, a, b)
		}
	}
	return ""
}

// checkJSON checks that the JSON keeps verify.Report's fields: it decodes
// back into a verify.Report equal, field for field, to rep.
func checkJSON(t *testing.T, b []byte, rep *verify.Report) {
	t.Helper()
	var back verify.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(rep)
	got, _ := json.Marshal(&back)
	if !bytes.Equal(want, got) {
		t.Errorf("the JSON report does not decode back to verify.Report:\n got %s\nwant %s", got, want)
	}
}

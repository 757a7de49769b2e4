package padesbench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

func TestParseSizes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Size
		err  string
	}{
		{in: "1page,10MB,100MB", want: DefaultSizes},
		{in: " 1PAGE , 512KB ", want: []Size{{Name: "1page"}, {Name: "512KB", Target: 512 << 10}}},
		{in: "10mb", want: []Size{{Name: "10mb", Target: 10 << 20}}},
		{in: "", err: "no size"},
		{in: "10GB", err: "not 1page"},
		{in: "2page", err: "not 1page"},
		{in: "0MB", err: "1 ≤ N"},
		{in: "32KB", err: "smaller than one scanned page"},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSizes(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("ParseSizes(%q) = %v, %v; want an error with %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || len(got) != len(c.want) {
				t.Fatalf("ParseSizes(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("ParseSizes(%q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestWritePDF checks the generated documents the way the peers will read
// them: qpdf finds no error, kyso's reader finds the pages, the size is
// near the target, and the same size gives the same bytes.
func TestWritePDF(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		z     Size
		pages int
	}{
		{Size{Name: "1page"}, 1},
		{Size{Name: "3MB", Target: 3 << 20}, 0},
	} {
		t.Run(c.z.Name, func(t *testing.T) {
			path := filepath.Join(dir, c.z.Name+".pdf")
			n, err := WritePDF(path, c.z)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || int64(len(b)) != n {
				t.Fatalf("WritePDF returned %d; the file has %d bytes (%v)", n, len(b), err)
			}
			testenv.CheckQpdf(t, path)
			rd, err := pdf.Open(bytes.NewReader(b), n, nil)
			if err != nil {
				t.Fatal(err)
			}
			pages, err := rd.Pages()
			if err != nil {
				t.Fatal(err)
			}
			if c.pages > 0 && len(pages) != c.pages {
				t.Errorf("%d pages, want %d", len(pages), c.pages)
			}
			if c.z.Target > 0 {
				if len(pages) < 2 {
					t.Errorf("%d pages: a %s document is several scanned pages", len(pages), c.z.Name)
				}
				if d := n - c.z.Target; d < -c.z.Target/10 || d > c.z.Target/10 {
					t.Errorf("%d bytes, more than 10%% off the target %d", n, c.z.Target)
				}
			}
			again := filepath.Join(dir, c.z.Name+"-again.pdf")
			if _, err := WritePDF(again, c.z); err != nil {
				t.Fatal(err)
			}
			if b2, _ := os.ReadFile(again); !bytes.Equal(b, b2) {
				t.Error("two runs wrote different bytes")
			}
		})
	}
}

// TestFloor checks that the floor writes the file and a signature over its
// SHA-256, with either key type.
func TestFloor(t *testing.T) {
	dir := t.TempDir()
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	verify := map[string]func(d, sig []byte) bool{
		KeyP256: func(d, sig []byte) bool { return ecdsa.VerifyASN1(&p256.PublicKey, d, sig) },
		KeyRSA2048: func(d, sig []byte) bool {
			return rsa.VerifyPSS(&rsa2048.PublicKey, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		},
	}
	for name, key := range map[string]crypto.Signer{KeyP256: p256, KeyRSA2048: rsa2048} {
		for _, size := range []int{1, 1000, 3<<20 + 17} {
			in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
			data := bytes.Repeat([]byte("kyso"), size/4+1)[:size]
			if err := os.WriteFile(in, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := Floor(in, out, key); err != nil {
				t.Fatalf("%s, size %d: %v", name, size, err)
			}
			got, err := os.ReadFile(out)
			if err != nil || !bytes.HasPrefix(got, data) {
				t.Fatalf("%s, size %d: the output does not start with the input (%v)", name, size, err)
			}
			d := sha256.Sum256(data)
			if !verify[name](d[:], got[size:]) {
				t.Errorf("%s, size %d: what follows the input is not a signature over its SHA-256", name, size)
			}
		}
	}
	if err := Floor(filepath.Join(dir, "missing"), filepath.Join(dir, "out"), p256); err == nil {
		t.Error("Floor of a missing file succeeded")
	}
}

// TestLoadKey reads back the key NewPKI writes, and refuses what is not one.
func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	p, err := NewPKI(context.Background(), dir, KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(p.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(*ecdsa.PublicKey).Equal(p.Cert.PublicKey) {
		t.Error("the key file does not hold the certified key")
	}
	if _, err := LoadKey(p.CertFile); err == nil {
		t.Error("LoadKey took a certificate")
	}
	if err := p.Cert.CheckSignatureFrom(p.Chain[0]); err != nil {
		t.Errorf("the signer's certificate is not issued by the chain: %v", err)
	}
	if _, err := NewPKI(context.Background(), t.TempDir(), "ed25519"); err == nil {
		t.Error("NewPKI took an unknown key type")
	}
}

// rows is one document measured with every row, times in seconds.
func rows(size string, fileBytes int64, best map[string]float64) []Result {
	var rs []Result
	for _, n := range Rows {
		r := Result{Size: size, FileBytes: fileBytes, Name: n, Runs: 1, Best: best[n], Median: best[n]}
		if n != RowFloor && n != RowKyso {
			r.Child, r.MaxRSS = true, 2*fileBytes
			r.RSSPerFileByte = 2
		}
		if best[n] == 0 {
			r.Err = "did not run"
		}
		rs = append(rs, r)
	}
	return rs
}

func TestRatiosAndAims(t *testing.T) {
	rs := append(rows("10MB", 10<<20, map[string]float64{RowFloor: 0.010, RowKyso: 0.012, RowFloorCLI: 0.020, RowKysoCLI: 0.040, RowPyhanko: 1.0, RowPdfsig: 0.030}),
		rows("1page", 1000, map[string]float64{RowFloor: 0.001, RowKyso: 0.002, RowFloorCLI: 0.015, RowKysoCLI: 0.016, RowPyhanko: 1.0})...)
	Ratios(rs)
	near := func(a, b float64) bool { return a > b-1e-9 && a < b+1e-9 }
	for _, c := range []struct {
		i    int
		to   string
		want float64
	}{
		{1, RowFloor, 1.2},
		{3, RowFloorCLI, 2},
		{3, RowFloor, 4},
		{4, RowKysoCLI, 25},
		{5, RowKysoCLI, 0.75},
		{7, RowFloor, 2},
		{10, RowKysoCLI, 62.5},
	} {
		if got := rs[c.i].Ratios[c.to]; !near(got, c.want) {
			t.Errorf("%s %s over %s = %v, want %v", rs[c.i].Size, rs[c.i].Name, c.to, got, c.want)
		}
	}
	if len(rs[0].Ratios) != 0 || len(rs[11].Ratios) != 0 {
		t.Errorf("the floor or a failed row has ratios: %v %v", rs[0].Ratios, rs[11].Ratios)
	}

	aims := Aims(rs)
	if len(aims) != 10 {
		t.Fatalf("%d aims, want 5 per document: %+v", len(aims), aims)
	}
	want := map[string]bool{
		"10MB/kyso ≤ 1.5× floor":              true,
		"10MB/kyso-cli ≤ 1.5× floor-cli":      false,
		"10MB/kyso-cli faster than pyhanko":   true,
		"10MB/kyso-cli faster than pdfsig":    false,
		"10MB/kyso-cli peak RSS < 1.5× file":  false,
		"1page/kyso ≤ 1.5× floor":             false,
		"1page/kyso-cli ≤ 1.5× floor-cli":     true,
		"1page/kyso-cli faster than pyhanko":  true,
		"1page/kyso-cli faster than pdfsig":   false, // pdfsig failed: not measured
		"1page/kyso-cli peak RSS < 1.5× file": false,
	}
	for _, a := range aims {
		key := ""
		for k := range want {
			z, what, _ := strings.Cut(k, "/")
			if z == a.Size && strings.HasPrefix(a.What, what) {
				key = k
			}
		}
		if key == "" {
			t.Errorf("unexpected aim %+v", a)
			continue
		}
		if a.Met != want[key] {
			t.Errorf("aim %s: met = %v, want %v (%+v)", key, a.Met, want[key], a)
		}
		if key == "1page/kyso-cli faster than pdfsig" && a.Value != 0 {
			t.Errorf("an aim whose row failed has a value: %+v", a)
		}
	}

	var out strings.Builder
	rep := &Report{Machine: Machine{CPUs: 2, Platform: "linux/amd64", Go: "go1.26"}, Key: "ecdsa-p256", Runs: 1, Rows: rs, Aims: aims, Notes: []string{"a note"}}
	if err := Print(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Machine: 2 CPU", "10MB (10.0 MiB)", "1page (1000 B)", "1.20× floor", "25.00× kyso-cli", "(error 1)",
		"Errors:\n  1. 1page pdfsig: did not run", "not measured", "Notes:", "- a note"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("Print lacks %q:\n%s", s, out.String())
		}
	}
}

// TestCheck has pdfsig pass kyso's output and fail a tampered copy and the
// floor's, which is no signed PDF: a row that did less than sign fails.
func TestCheck(t *testing.T) {
	pdfsig := testenv.LookPath(t, "pdfsig", "apt-get install poppler-utils")
	tools := &Tools{}
	tools.lookPath()
	ctx := context.Background()
	dir := t.TempDir()
	p, err := NewPKI(ctx, filepath.Join(dir, "pki"), KeyP256)
	if err != nil {
		t.Fatal(err)
	}
	nss, err := p.NSS(tools)
	if err != nil {
		t.Fatal(err)
	}
	in, signed, floored := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "signed.pdf"), filepath.Join(dir, "floor.pdf")
	if _, err := WritePDF(in, Size{Name: "1page"}); err != nil {
		t.Fatal(err)
	}
	if err := signFile(ctx, in, signed, p); err != nil {
		t.Fatal(err)
	}
	said, err := check(ctx, pdfsig, nss, signed)
	if err != nil || !strings.Contains(said, "Signature is Valid") || !strings.Contains(said, "ETSI.CAdES.detached") || !strings.Contains(said, "Certificate is Trusted") {
		t.Fatalf("check(kyso's output) = %q, %v", said, err)
	}
	b, _ := os.ReadFile(signed)
	b[bytes.Index(b, []byte("(kyso bench:"))+1] = 'K' // in the original's /Info /Title
	tampered := filepath.Join(dir, "tampered.pdf")
	os.WriteFile(tampered, b, 0o600)
	if Floor(in, floored, p.Key) != nil {
		t.Fatal("floor failed")
	}
	for _, path := range []string{tampered, floored, in} {
		if said, err := check(ctx, pdfsig, nss, path); err == nil {
			t.Errorf("check(%s) passed: %q", filepath.Base(path), said)
		}
	}
	if _, err := check(ctx, "", nss, signed); err == nil || !strings.Contains(err.Error(), "pdfsig not found") {
		t.Errorf("check without pdfsig: %v", err)
	}
}

package pades

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/cms"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

func signBytes(t testing.TB, f *fixture, key string, in []byte, opts *SignOptions) []byte {
	t.Helper()
	k := f.keys[key]
	var out bytes.Buffer
	if err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, k.signer, k.cert, f.chain, skipCheck(opts)); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !bytes.HasPrefix(out.Bytes(), in) {
		t.Fatal("the original is not a prefix of the signed PDF")
	}
	return out.Bytes()
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pyhankoFields splits pyHanko's pretty-printed report per signature field.
func pyhankoFields(t *testing.T, out string) []string {
	t.Helper()
	parts := regexp.MustCompile(`(?m)^Field \d+: .*$`).Split(out, -1)
	if len(parts) < 2 {
		t.Fatalf("pyHanko reported no signature field:\n%s", out)
	}
	return parts[1:]
}

// assertPyhanko asserts that pyHanko judges every signature valid, intact
// and trusted against the test root, that only the last covers the whole
// file, and, for the fields listed in timestamped, that the signature
// time-stamp is valid.
func assertPyhanko(t *testing.T, f *fixture, path string, want int, timestamped ...int) {
	t.Helper()
	out := runPyhanko(t, f, path)
	fields := pyhankoFields(t, out)
	if len(fields) != want {
		t.Fatalf("pyHanko reported %d fields, want %d:\n%s", len(fields), want, out)
	}
	for i, s := range fields {
		for _, v := range []string{"The signer's certificate is trusted.", "The signature is cryptographically sound.", "The signature is judged VALID."} {
			if !strings.Contains(s, v) {
				t.Errorf("pyHanko field %d lacks %q:\n%s", i+1, v, s)
			}
		}
		covers := strings.Contains(s, "The signature covers the entire file.")
		if last := i == len(fields)-1; covers != last {
			t.Errorf("pyHanko field %d: covers the entire file = %v, want %v:\n%s", i+1, covers, last, s)
		}
	}
	for _, i := range timestamped {
		s := fields[i]
		if !strings.Contains(s, "Signature timestamp token: ") || !strings.Contains(s, "The timestamp token is cryptographically sound.") ||
			!strings.Contains(s, "The TSA certificate is trusted.") {
			t.Errorf("pyHanko field %d: no valid signature time-stamp:\n%s", i+1, s)
		}
	}
}

// checkAll runs every outside checker on a signed PDF with want signatures.
func checkAll(t *testing.T, f *fixture, signed []byte, want int, timestamped ...int) string {
	t.Helper()
	p := writeTemp(t, "signed.pdf", signed)
	assertPdfsig(t, f, p, want)
	assertQpdf(t, p)
	assertPdfcpu(t, p)
	assertPyhanko(t, f, p, want, timestamped...)
	return p
}

var ict = time.FixedZone("ICT", 7*3600)

func TestSignBB(t *testing.T) {
	f := getFixture(t)
	for _, in := range inputs() {
		for _, key := range []string{"p256", "rsa2048"} {
			t.Run(in.name+"/"+key, func(t *testing.T) {
				t.Parallel()
				orig := in.make(t)
				signed := signBytes(t, f, key, orig, &SignOptions{Options: Options{
					Reason: "Nộp hồ sơ trực tuyến", Location: "Hà Nội", ContactInfo: "duc@example.vn", Name: "NGUYỄN VĂN ĐỨC",
					SigningTime: time.Date(2026, 11, 23, 10, 15, 0, 0, ict),
				}})
				checkAll(t, f, signed, 1)
				checkDict(t, signed, "Signature1")
			})
		}
	}
}

// checkDict reads the signature back with pkg/pdf and checks the entries
// and the CMS.
func checkDict(t *testing.T, signed []byte, field string) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields {
		if fl.Name != field {
			continue
		}
		o, err := rd.Get(fl.Value)
		if err != nil {
			t.Fatal(err)
		}
		d := o.(*pdf.Dict)
		if m := string(d.Get("M").(pdf.String).Value); m != "D:20261123101500+07'00'" {
			t.Errorf("/M = %q", m)
		}
		want := append([]byte{0xfe, 0xff}, 0, 'H', 0, 0xe0, 0, ' ', 0, 'N', 0x1e, 0xd9, 0, 'i')
		if r := d.Get("Location").(pdf.String).Value; !bytes.Equal(r, want) {
			t.Errorf("/Location = % x, want % x", r, want)
		}
		c := d.Get("Contents").(pdf.String).Value
		sd, err := cms.Parse(trimDER(t, c))
		if err != nil {
			t.Fatalf("parsing /Contents: %v", err)
		}
		if !sd.SigningTime.IsZero() {
			t.Error("the CMS has a signing-time attribute; PAdES puts the time in /M")
		}
		return
	}
	t.Fatalf("no field %q in %v", field, fields)
}

func TestTwoSigners(t *testing.T) {
	f := getFixture(t)
	for _, in := range inputs() {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			one := signBytes(t, f, "p256", in.make(t), nil)
			two := signBytes(t, f, "rsa2048", one, &SignOptions{Options: Options{Reason: "Phê duyệt"}})
			checkAll(t, f, two, 2)
			checkDict2(t, two)
		})
	}
}

// checkDict2 checks the second signer got a field of its own.
func checkDict2(t *testing.T, signed []byte) {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, _ := rd.Fields()
	n := 0
	for _, fl := range fields {
		if fl.IsSignature() && fl.Value != nil {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d signed fields, want 2: %v", n, fields)
	}
}

func TestPKCS1v15(t *testing.T) {
	f := getFixture(t)
	signed := signBytes(t, f, "rsa2048", minimalPDF("1.7", 0), &SignOptions{SignatureAlgorithm: cms.RSAPKCS1v15})
	checkAll(t, f, signed, 1)
}

func TestSignBT(t *testing.T) {
	f := getFixture(t)
	for _, in := range inputs()[:4] {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			signed := signBytes(t, f, "p256", in.make(t), &SignOptions{Level: "B-T", TSA: TSAServer(f.tsa)})
			checkAll(t, f, signed, 1, 0)
			der := contentsOf(t, signed)
			sd, err := cms.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if len(sd.Timestamps) != 1 || !sd.Timestamps[0].Covers(sd.Signature) {
				t.Errorf("cms.Parse found %d time-stamps, not one over the signature", len(sd.Timestamps))
			}
		})
	}
	t.Run("no-tsa", func(t *testing.T) {
		in := minimalPDF("1.7", 0)
		k := f.keys["p256"]
		err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &bytes.Buffer{}, k.signer, k.cert, f.chain, &SignOptions{Options: Options{SkipSignerCheck: true}, Level: LevelBT})
		if err == nil || !strings.Contains(err.Error(), "needs a TSA") {
			t.Errorf("B-T without TSA: %v", err)
		}
	})
}

// contentsOf returns the CMS of the last signature: /Contents without its
// zero padding, cut to the DER length.
func contentsOf(t *testing.T, signed []byte) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	var der []byte
	for _, fl := range fields {
		if !fl.IsSignature() || fl.Value == nil {
			continue
		}
		o, err := rd.Get(fl.Value)
		if err != nil {
			t.Fatal(err)
		}
		der = trimDER(t, o.(*pdf.Dict).Get("Contents").(pdf.String).Value)
	}
	if der == nil {
		t.Fatal("no signature")
	}
	return der
}

func trimDER(t *testing.T, b []byte) []byte {
	t.Helper()
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(b, &rv); err != nil {
		t.Fatalf("/Contents: %v", err)
	}
	return rv.FullBytes
}

func TestTwoPhase(t *testing.T) {
	f := getFixture(t)
	k := f.keys["p256"]
	orig := formPDF()
	p, err := Prepare(bytes.NewReader(orig), int64(len(orig)), &Options{Reason: "Ký từ xa", Hash: crypto.SHA384, SkipSignerCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	state, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(state) > 200<<10 {
		t.Errorf("stored state is %d bytes", len(state))
	}

	// "Another process": only the state and the digest travel.
	var q Prepared
	if err := q.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	cp, err := cms.Prepare(&cms.SignerInfoRequest{Certificate: k.cert, Chain: f.chain, ContentDigest: q.Digest, Hash: q.Hash})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := k.signer.Sign(nil, cp.Digest, cp.SignerOpts())
	if err != nil {
		t.Fatal(err)
	}
	der, err := cp.Finish(sig)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Embed(bytes.NewReader(orig), &q, der, &out); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	checkAll(t, f, out.Bytes(), 1)

	t.Run("another-original", func(t *testing.T) {
		other := bytes.Clone(orig)
		other[len(other)/2] ^= 1
		var w bytes.Buffer
		if err := Embed(bytes.NewReader(other), &q, der, &w); !errors.Is(err, ErrMismatch) || w.Len() != 0 {
			t.Errorf("Embed with another original: %v, wrote %d bytes", err, w.Len())
		}
		longer := append(bytes.Clone(orig), '\n')
		if err := Embed(bytes.NewReader(longer), &q, der, &w); !errors.Is(err, ErrMismatch) {
			t.Errorf("Embed with a longer original: %v", err)
		}
	})
	t.Run("another-cms", func(t *testing.T) {
		d := bytes.Clone(q.Digest)
		d[0] ^= 1
		other, err := cms.Sign(context.Background(), &cms.SignerInfoRequest{Certificate: k.cert, ContentDigest: d, Hash: q.Hash}, k.signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := Embed(bytes.NewReader(orig), &q, other, &bytes.Buffer{}); !errors.Is(err, ErrMismatch) {
			t.Errorf("Embed with a CMS over another digest: %v", err)
		}
	})
	t.Run("too-big", func(t *testing.T) {
		big := make([]byte, q.ContentsSize()+1)
		err := Embed(bytes.NewReader(orig), &q, big, &bytes.Buffer{})
		want := "signature is " + itoa(len(big)) + " bytes, placeholder holds " + itoa(q.ContentsSize())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Embed with a too big CMS: %v, want %q", err, want)
		}
	})
	t.Run("tampered-state", func(t *testing.T) {
		for _, s := range []string{"", "{}", `{"v":2}`, strings.Replace(string(state), `"contents_start":`, `"contents_start":1`, 1)} {
			var r Prepared
			if err := r.UnmarshalBinary([]byte(s)); err == nil {
				t.Errorf("UnmarshalBinary(%.40q) accepted", s)
			}
		}
	})
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestHostile(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		is   error
	}{
		{"encrypted", encryptedPDF(), ErrEncrypted},
		{"garbage", bytes.Repeat([]byte("garbage "), 100), pdf.ErrMalformed},
		{"empty", nil, pdf.ErrMalformed},
		{"truncated", formPDF()[:300], nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Prepare(bytes.NewReader(c.in), int64(len(c.in)), nil)
			if err == nil || !strings.HasPrefix(err.Error(), "pades: ") || (c.is != nil && !errors.Is(err, c.is)) {
				t.Errorf("Prepare: %v, want an error wrapping %v", err, c.is)
			}
			t.Log(err)
		})
	}
}

// pyhankoSign signs in with pyHanko, software kyso did not write, in a new
// invisible field, at PAdES B-B.
func pyhankoSign(t *testing.T, f *fixture, in []byte, field string) []byte {
	t.Helper()
	src := writeTemp(t, "in.pdf", in)
	dst := src + ".signed.pdf"
	if r := testenv.RunPyHanko(t, "sign", "addsig", "--field", field, "--use-pades", "pemder",
		"--key", filepath.Join(f.dir, "foreign-key.pem"), "--cert", filepath.Join(f.dir, "foreign-cert.pem"),
		"--chain", filepath.Join(f.dir, "foreign-root.pem"), "--no-pass", src, dst); r.Err != nil {
		t.Fatalf("pyhanko sign addsig: %v\n%s\nlog: %s\nstderr: %s", r.Err, r.Report, r.Log, r.Stderr)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestThreeSignersOneForeign: pyHanko signs first, kyso second (filling
// the form's empty field), pyHanko third; every signature stays valid.
func TestThreeSignersOneForeign(t *testing.T) {
	f := getFixture(t)
	one := pyhankoSign(t, f, formPDF(), "PyHanko1")
	two := signBytes(t, f, "p256", one, nil)
	three := pyhankoSign(t, f, two, "PyHanko2")
	checkAll(t, f, three, 3)
	if got := strings.Join(signedFieldNames(t, three), ","); got != "Signature1,PyHanko1,PyHanko2" {
		t.Errorf("signed fields %q", got)
	}
}

// skipCheck opts out of the pre-signing check where a test is about
// something else (layout, CMS, appearance): a copy of opts with
// SkipSignerCheck set unless it configures a check.
func skipCheck(opts *SignOptions) *SignOptions {
	var o SignOptions
	if opts != nil {
		o = *opts
	}
	if o.Check == nil && o.Checked == nil {
		o.SkipSignerCheck = true
	}
	return &o
}

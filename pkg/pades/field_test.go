package pades

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
	"github.com/kyso-pki/kyso/pkg/pdf"
)

func signedFieldNames(t *testing.T, signed []byte) []string {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
	if err != nil {
		t.Fatal(err)
	}
	fields, err := rd.Fields()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fields {
		if f.IsSignature() && f.Value != nil {
			names = append(names, f.Name)
		}
	}
	return names
}

func TestFields(t *testing.T) {
	f := getFixture(t)
	t.Run("fills-empty-field", func(t *testing.T) {
		signed := signBytes(t, f, "p256", formPDF(), nil)
		if got := signedFieldNames(t, signed); len(got) != 1 || got[0] != "Signature1" {
			t.Errorf("signed fields %v, want [Signature1]", got)
		}
		// The existing field was filled, not a second one added.
		rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)), nil)
		if err != nil {
			t.Fatal(err)
		}
		fields, _ := rd.Fields()
		if len(fields) != 2 {
			t.Errorf("fields %v, want the original two", fields)
		}
		checkAll(t, f, signed, 1)
	})
	t.Run("next-free-and-named", func(t *testing.T) {
		one := signBytes(t, f, "p256", formPDF(), nil)
		two := signBytes(t, f, "p256b", one, &SignOptions{Options: Options{FieldName: "Phê duyệt"}})
		three := signBytes(t, f, "rsa2048", two, nil)
		got := strings.Join(signedFieldNames(t, three), ",")
		if got != "Signature1,Phê duyệt,Signature2" {
			t.Errorf("signed fields %q", got)
		}
		checkAll(t, f, three, 3)
	})
	t.Run("refusals", func(t *testing.T) {
		one := signBytes(t, f, "p256", formPDF(), nil)
		for _, c := range []struct {
			in   []byte
			opts Options
			want string
		}{
			{one, Options{FieldName: "Signature1"}, "already signed"},
			{formPDF(), Options{FieldName: "ten"}, "not a signature field"},
			{one, Options{Certify: 2}, "must be the first"},
			{formPDF(), Options{Certify: 4}, "certify level"},
			{formPDF(), Options{ContentsSize: 10}, "contents size"},
			{formPDF(), Options{FieldName: "a.b"}, "contains a period"},
		} {
			_, err := Prepare(bytes.NewReader(c.in), int64(len(c.in)), &c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Prepare(%+v): %v, want %q", c.opts, err, c.want)
			}
		}
	})
}

// TestCertify makes a DocMDP certification signature (ISO 32000-2
// §12.8.2.2) and checks pyHanko reads the permission level, that an
// approval signature may follow P=2 and that P=1 forbids one.
func TestCertify(t *testing.T) {
	f := getFixture(t)
	for _, c := range []struct {
		p    int
		want string
	}{{1, "NO_CHANGES"}, {2, "FILL_FORMS"}, {3, "ANNOTATE"}} {
		t.Run(string(rune('0'+c.p)), func(t *testing.T) {
			signed := signBytes(t, f, "p256", formPDF(), &SignOptions{Options: Options{Certify: c.p}})
			p := checkAll(t, f, signed, 1)
			// The CLI report does not print the DocMDP level; ask pyHanko's
			// reader through the Python next to the pyhanko script.
			out, errOut, err := testenv.Run(testenv.Command(t, testenv.PyHankoPython(t), "-c", `import sys
from pyhanko.pdf_utils.reader import PdfFileReader
s = PdfFileReader(open(sys.argv[1], "rb")).embedded_signatures[0]
print(s.sig_object_type, s.docmdp_level.name if s.docmdp_level else None)`, p))
			if err != nil || strings.TrimSpace(out) != "/Sig "+c.want {
				t.Errorf("pyHanko reads the DocMDP level as %q (%v), want %s\nstderr: %s", out, err, c.want, errOut)
			}
			_, err = Prepare(bytes.NewReader(signed), int64(len(signed)), nil)
			if c.p == 1 {
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("approval after P=1: %v, want ErrUnsupported", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			two := signBytes(t, f, "rsa2048", signed, nil)
			p2 := checkAll(t, f, two, 2)
			if out := runPyhanko(t, f, p2); !strings.Contains(out, "appear to be compatible with the current document modification policy") {
				t.Errorf("pyHanko: the approval signature breaks DocMDP P=%d:\n%s", c.p, out)
			}
		})
	}
}

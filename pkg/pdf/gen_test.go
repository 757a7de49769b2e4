package pdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// buildClassic lays out a PDF with a classic cross-reference table (ISO
// 32000-2 §7.5.4): objs[i] is the body of object i+1, the trailer gets
// /Size, /Root 1 0 R and extra.
func buildClassic(version string, objs []string, extra string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n", version)
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
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extra, xref)
	return b.Bytes()
}

// contentStream returns a stream object drawing text with /F1.
func contentStream(text string, compress bool) string {
	c := fmt.Sprintf("BT /F1 24 Tf 72 720 Td (%s) Tj ET", text)
	if !compress {
		return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(c), c)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(c))
	zw.Close()
	return fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes())
}

const testText = "Hello kyso"

// helvetica is a standard font dictionary with the /FirstChar, /LastChar
// and /Widths that strict validators want since PDF 1.5 (§9.6.2.1).
var helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" +
	strings.Repeat("556 ", 95) + "] /FontDescriptor %d 0 R >>"

// helveticaDescriptor is the font descriptor helvetica refers to.
const helveticaDescriptor = "<< /Type /FontDescriptor /FontName /Helvetica /Flags 32 /FontBBox [-166 -225 1000 931] /ItalicAngle 0 /Ascent 718 /Descent -207 /CapHeight 718 /StemV 88 >>"

// minimalPDF is a hand-written one-page PDF with text.
func minimalPDF(version string) []byte {
	return buildClassic(version, []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Rotate 90 >>",
		contentStream(testText, true),
		fmt.Sprintf(helvetica, 6),
		helveticaDescriptor,
	}, "/ID [<00112233445566778899AABBCCDDEEFF> <00112233445566778899AABBCCDDEEFF>] ")
}

// formPDF has an interactive form with an empty signature field and a
// filled text field whose widgets are kids of a "person" parent field.
func formPDF() []byte {
	return buildClassic("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R 7 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R 8 0 R] >>",
		contentStream(testText, false),
		fmt.Sprintf(helvetica, 9),
		"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /F 132 /P 3 0 R >>",
		"<< /T (person) /Kids [8 0 R] >>",
		"<< /FT /Tx /T <FEFF007400EA006E> /V (Nguyen) /Parent 7 0 R /Type /Annot /Subtype /Widget /Rect [72 600 300 620] /P 3 0 R /DA (/Helv 12 Tf 0 g) >>",
		helveticaDescriptor,
	}, "")
}

// producer is one way of making a test PDF.
type producer struct {
	name   string
	make   func(t testing.TB, dir string) []byte
	pages  int
	fields []string // fully qualified field names, in order
	stream bool     // newest cross-reference section is a stream
}

func producers() []producer {
	fixed := func(b []byte) func(testing.TB, string) []byte {
		return func(testing.TB, string) []byte { return b }
	}
	withQpdf := func(src func() []byte, args ...string) func(testing.TB, string) []byte {
		return func(t testing.TB, dir string) []byte { return runQpdf(t, dir, src(), args...) }
	}
	minimal := func() []byte { return minimalPDF("1.4") }
	return []producer{
		{name: "classic", make: fixed(minimalPDF("1.4")), pages: 1},
		{name: "pdf-2.0", make: fixed(minimalPDF("2.0")), pages: 1},
		{name: "form", make: fixed(formPDF()), pages: 1, fields: []string{"Signature1", "person.tên"}},
		{name: "qpdf-objstm", make: withQpdf(formPDF, "--object-streams=generate"), pages: 1, fields: []string{"Signature1", "person.tên"}, stream: true},
		{name: "qpdf-linearized", make: withQpdf(minimal, "--linearize"), pages: 1},
		{name: "qpdf-linearized-objstm", make: withQpdf(formPDF, "--linearize", "--object-streams=generate"), pages: 1, fields: []string{"Signature1", "person.tên"}, stream: true},
		{name: "qpdf-2.0-objstm", make: withQpdf(minimal, "--object-streams=generate", "--force-version=2.0"), pages: 1, stream: true},
		{name: "incremental", make: incrementalPDF, pages: 1, fields: []string{"Signature1", "person.tên"}},
		{name: "incremental-objstm", make: func(t testing.TB, dir string) []byte {
			return incrementalOf(t, runQpdf(t, dir, formPDF(), "--object-streams=generate"))
		}, pages: 1, fields: []string{"Signature1", "person.tên"}, stream: true},
	}
}

// incrementalPDF is formPDF with one hand-written incremental update that
// redefines the page to add /Rotate 0 and appends a new Info dictionary.
func incrementalPDF(t testing.TB, _ string) []byte {
	return incrementalOf(t, formPDF())
}

func incrementalOf(t testing.TB, base []byte) []byte {
	t.Helper()
	rd, err := Open(bytes.NewReader(base), int64(len(base)), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	w := NewIncrementalWriter(bytes.NewReader(base), int64(len(base)), rd)
	info := NewDict()
	info.Set("Producer", String{Value: []byte("kyso test (incremental)")})
	w.Add(info)
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return out.Bytes()
}

func runQpdf(t testing.TB, dir string, in []byte, args ...string) []byte {
	t.Helper()
	qpdf := testenv.LookPath(t, "qpdf", "apt-get install qpdf")
	src := filepath.Join(dir, "qpdf-in.pdf")
	dst := filepath.Join(dir, "qpdf-out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(qpdf, append(append([]string{"--deterministic-id"}, args...), src, dst)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qpdf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Package testpdf holds hand-built PDFs for tests and benchmarks, written
// byte by byte so tests do not depend on the code under test (pkg/pdf and
// what builds on it). It imports no kyso package.
package testpdf

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/kyso-pki/kyso/testvectors"
)

// trailerID is the fixed /ID both halves of which the trailer carries:
// documents are the same from run to run.
const trailerID = "<00112233445566778899AABBCCDDEEFF>"

// Objects lays out a PDF 1.7 with a classic cross-reference table (ISO
// 32000-2 §7.5.4): objs[i] is the body of object i+1, object 1 must be the
// catalog. The trailer has /Size, /Root 1 0 R and a fixed /ID.
func Objects(objs ...string) []byte {
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
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailerID, trailerID, xref)
	return b.Bytes()
}

// Stream is a stream object with data, uncompressed, so that tests can find
// the data in the file's bytes.
func Stream(data string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(data), data)
}

// Helvetica is a standard Type 1 font dictionary, enough for text in ASCII.
const Helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"

// Minimal is a one-page A4 PDF. If text is not empty the page shows it in
// Helvetica 18 pt near the top, in an uncompressed content stream; else the
// page has no content. Text must be printable ASCII: Minimal panics
// otherwise, as the font's encoding could not show it.
func Minimal(text string) []byte {
	if text == "" {
		return Objects(
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
		)
	}
	return Objects(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		Helvetica,
		Stream("BT /F1 18 Tf 72 720 Td "+literal(text)+" Tj ET"),
	)
}

// Form is a one-page A4 form, what a citizen's application looks like: a
// few lines of text ("DON DE NGHI CAP BAN SAO", "Ho va ten: Nguyen Van
// Duc") and an AcroForm with one filled text field, "ten" (value "Nguyen
// Van Duc"), whose widget is on the page. It has no signature field. It is
// testvectors' pdf/form.pdf, which other packages' tests and fuzzers read
// too.
func Form() []byte {
	return testvectors.Read(testvectors.Form)
}

// literal is text as a PDF literal string (§7.3.4.2), parentheses and
// backslashes escaped.
func literal(text string) string {
	for _, r := range text {
		if r < 0x20 || r > 0x7e {
			panic(fmt.Sprintf("testpdf: text %q has %q, not printable ASCII", text, r))
		}
	}
	return "(" + strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(text) + ")"
}

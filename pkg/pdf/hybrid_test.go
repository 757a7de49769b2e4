package pdf

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kyso-pki/kyso/internal/testenv"
)

// hybridReused is a hybrid-reference file (ISO 32000-2 §7.5.8.4): a
// classic table whose trailer's /XRefStm names a cross-reference stream
// holding object 4, compressed in object stream 5; then an update, again a
// table, whose trailer names the same stream, as writers that keep the
// previous trailer's entries do.
func hybridReused() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	obj := func(n int, body string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources 4 0 R /Contents 6 0 R >>")
	compressed := "<< /ProcSet [/PDF /Text] >>"
	header := "4 0 "
	obj(5, fmt.Sprintf("<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n%s%s\nendstream", len(header), len(header)+len(compressed), header, compressed))
	content := "BT /F1 12 Tf 72 720 Td (hybrid) Tj ET"
	obj(6, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	stm := b.Len()
	offs[7] = stm
	fmt.Fprintf(&b, "7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Index [4 1] /Length 7 >>\nstream\n\x02\x00\x00\x00\x05\x00\x00\nendstream\nendobj\n")
	table := func(nums ...int) int {
		at := b.Len()
		b.WriteString("xref\n0 1\n0000000000 65535 f\r\n")
		for _, n := range nums {
			fmt.Fprintf(&b, "%d 1\n%010d 00000 n\r\n", n, offs[n])
		}
		return at
	}
	x1 := table(1, 2, 3, 5, 6, 7)
	fmt.Fprintf(&b, "trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n", stm, x1)
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 4 0 R /Contents 6 0 R >>")
	x2 := table(3)
	fmt.Fprintf(&b, "trailer\n<< /Size 8 /Root 1 0 R /Prev %d /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n", x1, stm, x2)
	return b.Bytes()
}

// TestHybridReusedStream reads a hybrid-reference file whose update names
// the cross-reference stream of the revision before it, as qpdf does.
func TestHybridReusedStream(t *testing.T) {
	data := hybridReused()
	path := filepath.Join(t.TempDir(), "hybrid.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.CheckQpdf(t, path)
	rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	res, err := rd.Resolve(Ref{Num: 4})
	if err != nil {
		t.Fatalf("the compressed object: %v", err)
	}
	if d, ok := res.(*Dict); !ok || d.Get("ProcSet") == nil {
		t.Fatalf("object 4 is %v", res)
	}
	pages, err := rd.Pages()
	if err != nil || len(pages) != 1 {
		t.Fatalf("Pages: %v, %v", pages, err)
	}
	if w := pages[0].MediaBox; len(w) != 4 || w[2] != Int(595) {
		t.Errorf("page 1's /MediaBox is %v, the update's is [0 0 595 842]", w)
	}
}

package pdf

import (
	"bytes"
	"fmt"
	"testing"
)

// bigPDF makes a PDF of about size bytes: pages with 5 KB content
// streams, one xref table.
func bigPDF(size int) []byte {
	content := bytes.Repeat([]byte("BT /F1 12 Tf 72 720 Td (Hello kyso, a line of text) Tj ET\n"), 88)
	n := size / (len(content) + 200)
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", ""}
	kids := make([]byte, 0, n*10)
	for i := 0; i < n; i++ {
		page := len(objs) + 1
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /Contents %d 0 R >>", page+1),
			streamObj("", content))
		kids = fmt.Appendf(kids, "%d 0 R ", page)
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 612 792] >>", kids, n)
	return buildClassic("1.7", objs, "")
}

// BenchmarkOpenCatalog measures Open plus reading the catalog and the page
// tree of a 10 MB PDF; MB/s is over the whole file size.
func BenchmarkOpenCatalog(b *testing.B) {
	data := bigPDF(10 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := rd.Catalog(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenPages also walks every page of the 10 MB PDF.
func BenchmarkOpenPages(b *testing.B) {
	data := bigPDF(10 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			b.Fatal(err)
		}
		pages, err := rd.Pages()
		if err != nil || len(pages) < 1000 {
			b.Fatal(len(pages), err)
		}
	}
}

// BenchmarkIncrementalWrite measures one incremental update of the 10 MB
// PDF written to memory.
func BenchmarkIncrementalWrite(b *testing.B) {
	data := bigPDF(10 << 20)
	b.SetBytes(int64(len(data)))
	var out bytes.Buffer
	for b.Loop() {
		rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			b.Fatal(err)
		}
		w := NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
		w.Add(String{Value: make([]byte, 8192), Hex: true})
		out.Reset()
		if _, err := w.WriteTo(&out); err != nil {
			b.Fatal(err)
		}
	}
}

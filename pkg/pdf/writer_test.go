package pdf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriterCopiesStream redefines a file-backed content stream, whose raw
// bytes the writer copies from the original, and a new in-memory stream.
func TestWriterCopiesStream(t *testing.T) {
	data := minimalPDF("1.7")
	rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := rd.Pages()
	if err != nil {
		t.Fatal(err)
	}
	cref := pages[0].Dict.Get("Contents").(Ref)
	c, _ := rd.Resolve(cref)
	w := NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
	w.Update(cref, c)
	extra := w.Add(&Stream{Dict: NewDict(), Data: []byte("BT /F1 12 Tf 72 600 Td (Second stream) Tj ET")})
	page := pages[0].Dict.Clone()
	page.Set("Contents", Array{cref, extra})
	w.Update(pages[0].Ref, page)
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	checkOutside(t, path, 1, "Second stream")
	checkOutside(t, path, 1, testText)
}

func TestWriterErrors(t *testing.T) {
	data := minimalPDF("1.7")
	rd, err := Open(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
	w.Update(Ref{Num: 999}, Null{})
	if err := w.Build(); err == nil {
		t.Error("updating a missing object succeeded")
	}
	w = NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
	loop := Array{nil}
	loop[0] = loop
	w.Add(loop)
	if err := w.Build(); err == nil {
		t.Error("a cyclic array was written")
	}
	w = NewIncrementalWriter(bytes.NewReader(data), int64(len(data)), rd)
	m := Mark(String{Value: []byte("x")})
	w.Add(Array{m})
	if err := w.Patch(m, []byte("too long")); err == nil {
		t.Error("a patch of the wrong length succeeded")
	}
	if _, _, err := w.Span(Mark(Null{})); err == nil {
		t.Error("Span of an unwritten mark succeeded")
	}
	w.Add(Null{})
	if err := w.Build(); err == nil {
		t.Error("Add after Build was accepted")
	}
}

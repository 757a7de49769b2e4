package pdf

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Writer appends an incremental update (ISO 32000-2 §7.5.6) to an original
// file: the original bytes unchanged, then the new and redefined objects, a
// cross-reference section of the same kind as the original's newest (table
// or stream) chained to it by /Prev, and startxref/%%EOF.
//
// The update is laid out in memory by Build (WriteTo calls it if needed);
// the original is only streamed. After Build, Span tells where a *Marked
// object landed in the final file and Patch overwrites it in place with
// bytes of the same length. A PAdES signer marks the signature
// dictionary's /ByteRange array and /Contents hex string, builds, computes
// the byte range from the spans and Len, patches /ByteRange (padding with
// spaces), hashes everything but the /Contents span, and patches /Contents
// with the signature before writing.
type Writer struct {
	orig     io.ReaderAt
	origSize int64
	rd       *Reader

	next  int
	order []Ref
	objs  map[Ref]Object
	err   error

	built   bool
	lead    int // bytes before the first object (a newline if the original lacks one)
	section []byte
	offsets map[Ref]int64
	marks   map[*Marked]span
}

// NewIncrementalWriter returns a Writer that updates orig, of origSize
// bytes, which rd was opened on. New objects are numbered from rd's
// NumObjects (its /Size).
func NewIncrementalWriter(orig io.ReaderAt, origSize int64, rd *Reader) *Writer {
	return &Writer{orig: orig, origSize: origSize, rd: rd, next: rd.NumObjects(), objs: map[Ref]Object{}}
}

// Add adds obj as a new indirect object and returns its reference.
func (w *Writer) Add(obj Object) Ref {
	ref := Ref{Num: w.next}
	w.next++
	w.put(ref, obj)
	return ref
}

// Update redefines the existing object ref with obj in the new section.
// Objects returned by the Reader are shared with its cache: Clone a *Dict
// before changing it.
func (w *Writer) Update(ref Ref, obj Object) {
	if ref.Num <= 0 || ref.Num >= w.next {
		w.fail(fmt.Errorf("pdf: updating object %d: no such object", ref.Num))
		return
	}
	w.put(ref, obj)
}

func (w *Writer) put(ref Ref, obj Object) {
	if w.built {
		w.fail(errors.New("pdf: adding an object after Build"))
		return
	}
	if _, ok := w.objs[ref]; !ok {
		w.order = append(w.order, ref)
	}
	w.objs[ref] = obj
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// Build lays out the update section. It is called by WriteTo, Span, Patch
// and Len when needed; objects cannot be added after it.
func (w *Writer) Build() error {
	if w.err != nil || w.built {
		return w.err
	}
	w.built = true
	w.err = w.build()
	return w.err
}

func (w *Writer) build() error {
	var last [1]byte
	if _, err := w.orig.ReadAt(last[:], w.origSize-1); err != nil {
		return fmt.Errorf("pdf: reading the original's last byte: %w", err)
	}
	var b []byte
	if last[0] != '\n' && last[0] != '\r' {
		b = append(b, '\n')
	}
	w.lead = len(b)
	w.offsets = map[Ref]int64{}
	w.marks = map[*Marked]span{}
	for _, ref := range w.order {
		w.offsets[ref] = w.origSize + int64(len(b))
		b = strconv.AppendInt(b, int64(ref.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(ref.Gen), 10)
		b = append(b, " obj\n"...)
		e := encoder{buf: b, marks: w.marks, stream: w.rd.rawStream}
		if err := e.object(w.objs[ref], 0); err != nil {
			return fmt.Errorf("pdf: writing object %d: %w", ref.Num, err)
		}
		b = append(e.buf, "\nendobj\n"...)
	}
	tr := w.rd.Trailer()
	id := w.fileID(b)
	size := max(w.next, w.rd.NumObjects())
	xrefOff := w.origSize + int64(len(b))
	if w.rd.LastXrefIsStream() {
		xref := Ref{Num: w.next}
		size++
		w.offsets[xref] = xrefOff
		refs := append(slices.Clone(w.order), xref)
		d := NewDict()
		d.Set("Type", Name("XRef"))
		d.Set("Size", Int(size))
		ow := bytesFor(uint64(xrefOff))
		d.Set("W", Array{Int(1), Int(ow), Int(2)})
		index, rows := w.subsections(refs)
		d.Set("Index", index)
		d.Set("Prev", Int(w.rd.LastXref()))
		for _, k := range []Name{"Root", "Info"} {
			d.Set(k, tr.Get(k))
		}
		d.Set("ID", id)
		var data []byte
		for _, r := range rows {
			data = append(data, 1)
			off := uint64(w.offsets[r])
			for i := ow - 1; i >= 0; i-- {
				data = append(data, byte(off>>(8*i)))
			}
			data = append(data, byte(r.Gen>>8), byte(r.Gen))
		}
		b = strconv.AppendInt(b, int64(xref.Num), 10)
		b = append(b, " 0 obj\n"...)
		e := encoder{buf: b}
		if err := e.object(&Stream{Dict: d, Data: data}, 0); err != nil {
			return err
		}
		b = append(e.buf, "\nendobj\n"...)
	} else {
		b = append(b, "xref\n"...)
		_, rows := w.subsections(w.order)
		for i := 0; i < len(rows); {
			j := i + 1
			for j < len(rows) && rows[j].Num == rows[j-1].Num+1 {
				j++
			}
			b = fmt.Appendf(b, "%d %d\n", rows[i].Num, j-i)
			for _, r := range rows[i:j] {
				b = fmt.Appendf(b, "%010d %05d n\r\n", w.offsets[r], r.Gen)
			}
			i = j
		}
		d := NewDict()
		d.Set("Size", Int(size))
		d.Set("Prev", Int(w.rd.LastXref()))
		for _, k := range []Name{"Root", "Info"} {
			d.Set(k, tr.Get(k))
		}
		d.Set("ID", id)
		b = append(b, "trailer\n"...)
		var err error
		if b, err = AppendObject(b, d); err != nil {
			return err
		}
		b = append(b, '\n')
	}
	b = fmt.Appendf(b, "startxref\n%d\n%%%%EOF\n", xrefOff)
	w.section = b
	return nil
}

// subsections sorts refs by number and returns the /Index array of runs of
// consecutive numbers, with the refs in that order.
func (w *Writer) subsections(refs []Ref) (Array, []Ref) {
	rows := slices.Clone(refs)
	slices.SortFunc(rows, func(a, b Ref) int { return a.Num - b.Num })
	var index Array
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].Num == rows[j-1].Num+1 {
			j++
		}
		index = append(index, Int(rows[i].Num), Int(j-i))
		i = j
	}
	return index, rows
}

func bytesFor(v uint64) int {
	n := 1
	for v >= 1<<(8*n) && n < 8 {
		n++
	}
	return n
}

// fileID keeps the first element of the original's /ID and makes a new
// second one from it, the original size and the new objects (§14.4). A
// document without /ID gets two equal new elements.
func (w *Writer) fileID(objects []byte) Array {
	var first []byte
	if a, ok := w.rd.Trailer().Get("ID").(Array); ok && len(a) == 2 {
		if s, ok := a[0].(String); ok {
			first = s.Value
		}
	}
	h := sha256.New()
	h.Write(first)
	fmt.Fprintf(h, "|%d|", w.origSize)
	h.Write(objects)
	second := h.Sum(nil)[:16]
	if first == nil {
		first = second
	}
	return Array{String{Value: first, Hex: true}, String{Value: second, Hex: true}}
}

// Len returns the length of the whole output: original plus update.
func (w *Writer) Len() (int64, error) {
	if err := w.Build(); err != nil {
		return 0, err
	}
	return w.origSize + int64(len(w.section)), nil
}

// Offset returns the offset in the output of the "N G obj" line of an
// added or updated object.
func (w *Writer) Offset(ref Ref) (int64, error) {
	if err := w.Build(); err != nil {
		return 0, err
	}
	off, ok := w.offsets[ref]
	if !ok {
		return 0, fmt.Errorf("pdf: object %d is not in the update", ref.Num)
	}
	return off, nil
}

// Span returns the offset in the output and the length of the serialized
// bytes of m, which must be part of an added or updated object.
func (w *Writer) Span(m *Marked) (offset, length int64, err error) {
	if err := w.Build(); err != nil {
		return 0, 0, err
	}
	s, ok := w.marks[m]
	if !ok {
		return 0, 0, errors.New("pdf: the marked object is not in the update")
	}
	return w.origSize + int64(s.off), int64(s.n), nil
}

// Patch overwrites the serialized bytes of m with b, which must have the
// same length (§12.8.1: a signature's /ByteRange and /Contents are filled
// in this way after layout).
func (w *Writer) Patch(m *Marked, b []byte) error {
	if err := w.Build(); err != nil {
		return err
	}
	s, ok := w.marks[m]
	if !ok {
		return errors.New("pdf: the marked object is not in the update")
	}
	if len(b) != s.n {
		return fmt.Errorf("pdf: patching %d bytes with %d", s.n, len(b))
	}
	copy(w.section[s.off:], b)
	return nil
}

// Section returns the bytes appended after the original, as laid out by
// Build and changed by Patch. The slice must not be modified.
func (w *Writer) Section() ([]byte, error) {
	if err := w.Build(); err != nil {
		return nil, err
	}
	return w.section, nil
}

// WriteTo writes the original bytes, streamed unchanged, then the update.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if err := w.Build(); err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.NewSectionReader(w.orig, 0, w.origSize))
	if err != nil {
		return n, fmt.Errorf("pdf: copying the original: %w", err)
	}
	if n != w.origSize {
		return n, fmt.Errorf("pdf: copying the original: %d of %d bytes", n, w.origSize)
	}
	m, err := out.Write(w.section)
	n += int64(m)
	if err != nil {
		return n, fmt.Errorf("pdf: writing the update: %w", err)
	}
	return n, nil
}

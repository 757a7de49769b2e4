package pdf

import "sort"

// Objects returns the references of every object in use in the
// cross-reference, in increasing object number: what a validator compares
// between two revisions of a document (ISO 32000-2 §7.5.6).
func (rd *Reader) Objects() []Ref {
	refs := make([]Ref, 0, len(rd.xref))
	for n, e := range rd.xref {
		switch e.kind {
		case 1:
			refs = append(refs, Ref{Num: n, Gen: e.gen})
		case 2:
			refs = append(refs, Ref{Num: n})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Num < refs[j].Num })
	return refs
}

// ObjectSpan returns where the uncompressed indirect object ref lies in the
// file: from the first byte of "N G obj" to just after its "endobj"
// keyword (or after the object when the keyword is missing). ok is false
// for an object that is free or stored in an object stream, which has no
// span of its own. A validator uses it to check that a signature's
// /Contents, the gap of its /ByteRange, lies inside the signature
// dictionary (ISO 32000-2 §12.8.1).
func (rd *Reader) ObjectSpan(ref Ref) (start, end int64, ok bool, err error) {
	e, found := rd.xref[ref.Num]
	if !found || e.kind != 1 || e.gen != ref.Gen {
		return 0, 0, false, nil
	}
	l := rd.lexerAt(e.offset)
	_, obj, err := rd.parseIndirect(l, ref.Num)
	if err != nil {
		return 0, 0, false, withObject(err, ref.Num)
	}
	if st, isStream := obj.(*Stream); isStream {
		l.s.pos = st.Offset + st.Length
		save := l.s.pos
		if t, err := l.next(); err != nil || t.kind != tokKeyword || string(t.b) != "endstream" {
			l.s.pos = save
		}
	}
	save := l.s.pos
	if t, err := l.next(); err != nil || t.kind != tokKeyword || string(t.b) != "endobj" {
		l.s.pos = save
	}
	return e.offset, l.s.pos, true, nil
}

// Duplicates returns the object numbers that one cross-reference section
// lists more than once. The Reader keeps the first entry, as most readers
// do, but readers disagree, so a validator treats a duplicate added after
// a signature as a change to the document.
func (rd *Reader) Duplicates() []int {
	out := make([]int, 0, len(rd.dups))
	for n := range rd.dups {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// noteDup records that a section lists object n twice.
func (rd *Reader) noteDup(n int) {
	if rd.dups == nil {
		rd.dups = map[int]bool{}
	}
	rd.dups[n] = true
}

// Location is where the cross-reference says an object is stored.
type Location struct {
	// InStream is true for an object compressed in an object stream.
	InStream bool
	// Offset is the byte offset of "N G obj" for an uncompressed object.
	Offset int64
	// Gen is the generation of an uncompressed object.
	Gen int
	// Stream and Index say which object stream holds a compressed object,
	// and where in it.
	Stream, Index int
}

// Where returns the location of object number num, and false when the
// cross-reference has it free or does not list it. Two revisions of a
// document that give an object the same location share its bytes.
func (rd *Reader) Where(num int) (Location, bool) {
	e, ok := rd.xref[num]
	switch {
	case !ok || e.kind == 0:
		return Location{}, false
	case e.kind == 2:
		return Location{InStream: true, Stream: int(e.offset), Index: e.index}, true
	}
	return Location{Offset: e.offset, Gen: e.gen}, true
}

package pdf

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// xrefEntry is one cross-reference entry (§7.5.4, §7.5.8.3).
type xrefEntry struct {
	kind   uint8 // 0 free, 1 in use at offset, 2 compressed in an object stream
	gen    int   // kind 1: generation; kind 2: always 0
	offset int64 // kind 1: byte offset; kind 2: object stream number
	index  int   // kind 2: index in the object stream
}

// Reader reads a PDF document through an io.ReaderAt (ISO 32000-2 §7.5).
// Objects are parsed on demand and cached.
type Reader struct {
	ra   io.ReaderAt
	size int64
	lim  Limits
	work int64

	header     string // e.g. "1.7", from %PDF-1.7
	xref       map[int]xrefEntry
	trailer    *Dict
	startxref  int64 // offset of the newest cross-reference section
	lastStream bool  // the newest section is a cross-reference stream
	maxNum     int   // highest object number in the cross-reference

	cache     map[int]Object
	resolving map[int]bool
	dups      map[int]bool // numbers one section lists twice
	objStms   map[int]*objStm
	dec       *decryptor // set by OpenToRead for an encrypted document
}

type objStm struct {
	data  []byte
	first int
	nums  []int
	offs  []int
}

// Open reads the header, the cross-reference sections and the trailer of a
// PDF of the given size (§7.5.2–§7.5.8). It refuses an encrypted document
// with ErrEncrypted. opts may be nil for the default limits.
func Open(r io.ReaderAt, size int64, opts *Limits) (*Reader, error) {
	return open(r, size, opts, false)
}

func open(r io.ReaderAt, size int64, opts *Limits, decrypt bool) (*Reader, error) {
	rd := &Reader{
		ra:        r,
		size:      size,
		lim:       opts.withDefaults(),
		xref:      map[int]xrefEntry{},
		cache:     map[int]Object{},
		resolving: map[int]bool{},
		objStms:   map[int]*objStm{},
	}
	if size > rd.lim.MaxFileSize {
		return nil, limitErr("opening", -1, "file of %d bytes is larger than the limit of %d", size, rd.lim.MaxFileSize)
	}
	if size < 8 {
		return nil, malformed("opening", -1, "file of %d bytes is too short to be a PDF", size)
	}
	if err := rd.readHeader(); err != nil {
		return nil, err
	}
	if err := rd.readXrefChain(); err != nil {
		return nil, err
	}
	if rd.trailer.Get("Encrypt") != nil && !decrypt {
		return nil, encryptedErr("the trailer has an /Encrypt entry; remove the password protection before signing")
	}
	if rd.trailer.Get("Encrypt") != nil {
		if err := rd.setUpDecryption(); err != nil {
			return nil, err
		}
	}
	if _, ok := rd.trailer.Get("Root").(Ref); !ok {
		return nil, malformed("opening", -1, "the trailer has no /Root reference to the catalog")
	}
	return rd, nil
}

func (rd *Reader) lexerAt(off int64) *lexer {
	s := newScanner(rd.ra, rd.size)
	s.pos = off
	return &lexer{s: s, lim: &rd.lim, work: &rd.work}
}

// readHeader finds %PDF-x.y in the first KiB (§7.5.2; some files have junk
// before it).
func (rd *Reader) readHeader() error {
	n := min(rd.size, 1024)
	b := make([]byte, n)
	if _, err := rd.ra.ReadAt(b, 0); err != nil && int64(len(b)) != n {
		return &Error{Kind: ErrMalformed, Op: "reading header", Offset: 0, Err: err}
	}
	i := bytes.Index(b, []byte("%PDF-"))
	if i < 0 {
		return malformed("reading header", 0, "no %%PDF- header in the first 1024 bytes")
	}
	v := b[i+5:]
	j := 0
	for j < len(v) && j < 8 && (v[j] == '.' || (v[j] >= '0' && v[j] <= '9')) {
		j++
	}
	rd.header = string(v[:j])
	return nil
}

// findStartxref reads the offset after the last "startxref" in the final
// KiB of the file (§7.5.5).
func (rd *Reader) findStartxref() (int64, error) {
	n := min(rd.size, 2048)
	b := make([]byte, n)
	if _, err := rd.ra.ReadAt(b, rd.size-n); err != nil && int64(len(b)) != n {
		return 0, &Error{Kind: ErrMalformed, Op: "reading startxref", Offset: rd.size - n, Err: err}
	}
	i := bytes.LastIndex(b, []byte("startxref"))
	if i < 0 {
		return 0, malformed("reading startxref", -1, "no startxref in the last %d bytes", n)
	}
	l := rd.lexerAt(rd.size - n + int64(i) + 9)
	t, err := l.next()
	if err != nil || t.kind != tokInt {
		return 0, malformed("reading startxref", rd.size-n+int64(i), "startxref is not followed by an offset")
	}
	if t.i < 0 || t.i >= rd.size {
		return 0, malformed("reading startxref", rd.size-n+int64(i), "offset %d is outside the file", t.i)
	}
	return t.i, nil
}

// trailerKeysInherited are the trailer entries an older section supplies
// when a newer one lacks them.
var trailerKeysInherited = []Name{"Root", "Info", "ID", "Encrypt", "Size"}

// readXrefChain follows startxref and the /Prev chain, newest first. The
// first definition of an object number met wins, so incremental updates
// override what they redefine (§7.5.6).
func (rd *Reader) readXrefChain() error {
	off, err := rd.findStartxref()
	if err != nil {
		return err
	}
	rd.startxref = off
	seen := map[int64]bool{}
	stms := map[int64]map[int]xrefEntry{} // /XRefStm streams read, by offset
	for i := 0; ; i++ {
		if i >= rd.lim.MaxXrefSections {
			return limitErr("reading xref", off, "more than %d cross-reference sections", rd.lim.MaxXrefSections)
		}
		if seen[off] {
			return malformed("reading xref", off, "the /Prev chain loops")
		}
		seen[off] = true
		local := map[int]xrefEntry{}
		trailer, isStream, err := rd.readXrefSection(off, local)
		if err != nil {
			return err
		}
		if i == 0 {
			rd.lastStream = isStream
			rd.trailer = NewDict()
			for _, k := range trailer.Keys() {
				rd.trailer.Set(k, trailer.Get(k))
			}
		} else {
			for _, k := range trailerKeysInherited {
				if rd.trailer.Get(k) == nil && trailer.Get(k) != nil {
					rd.trailer.Set(k, trailer.Get(k))
				}
			}
		}
		// A hybrid file's table leaves compressed objects to the stream
		// named by /XRefStm, which ranks just after the table (§7.5.8.4).
		// Updates may name the same stream again (qpdf reads such files):
		// each stream is read once, its entries kept for the next.
		if xs, ok := trailer.Get("XRefStm").(Int); ok && !isStream {
			if xs < 0 || int64(xs) >= rd.size || int64(xs) == off {
				return malformed("reading xref", off, "bad /XRefStm offset %d", xs)
			}
			stmEntries, done := stms[int64(xs)]
			if !done {
				stmEntries = map[int]xrefEntry{}
				if _, _, err := rd.readXrefSection(int64(xs), stmEntries); err != nil {
					return err
				}
				stms[int64(xs)] = stmEntries
			}
			for n, e := range stmEntries {
				if old, ok := local[n]; !ok || old.kind == 0 {
					local[n] = e
				}
			}
		}
		for n, e := range local {
			if _, ok := rd.xref[n]; !ok {
				if len(rd.xref) >= rd.lim.MaxObjects {
					return limitErr("reading xref", off, "more than %d objects", rd.lim.MaxObjects)
				}
				rd.xref[n] = e
				rd.maxNum = max(rd.maxNum, n)
			}
		}
		prev, ok := trailer.Get("Prev").(Int)
		if !ok {
			break
		}
		if prev < 0 || int64(prev) >= rd.size {
			return malformed("reading xref", off, "/Prev offset %d is outside the file", prev)
		}
		off = int64(prev)
	}
	return nil
}

// readXrefSection reads the table or stream at off into entries (first
// definition kept) and returns its trailer dictionary.
func (rd *Reader) readXrefSection(off int64, entries map[int]xrefEntry) (*Dict, bool, error) {
	l := rd.lexerAt(off)
	t, err := l.next()
	if err != nil {
		return nil, false, err
	}
	if t.kind == tokKeyword && string(t.b) == "xref" {
		d, err := rd.readXrefTable(l, entries)
		return d, false, err
	}
	if t.kind != tokInt {
		return nil, false, malformed("reading xref", off, "neither a table nor a stream at the offset startxref or /Prev gives")
	}
	l.s.pos = off
	num, obj, err := rd.parseIndirect(l, -1)
	if err != nil {
		return nil, false, err
	}
	st, ok := obj.(*Stream)
	if !ok || st.Dict.Get("Type") != Name("XRef") {
		return nil, false, malformed("reading xref", off, "object %d is not a cross-reference stream", num)
	}
	if err := rd.readXrefStream(st, entries); err != nil {
		return nil, false, err
	}
	return st.Dict, true, nil
}

// readXrefTable reads subsections "start count" and their entries, then the
// trailer (§7.5.4, §7.5.5). Entries are read as tokens, tolerating
// producers that miscount the 20-byte lines.
func (rd *Reader) readXrefTable(l *lexer, entries map[int]xrefEntry) (*Dict, error) {
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind == tokKeyword && string(t.b) == "trailer" {
			obj, err := l.parseObject()
			if err != nil {
				return nil, err
			}
			d, ok := obj.(*Dict)
			if !ok {
				return nil, malformed("reading trailer", t.off, "trailer is not a dictionary")
			}
			return d, nil
		}
		c, err := l.next()
		if err != nil {
			return nil, err
		}
		if t.kind != tokInt || c.kind != tokInt || t.i < 0 || c.i < 0 {
			return nil, malformed("reading xref table", t.off, "bad subsection header")
		}
		if t.i+c.i > int64(rd.lim.MaxObjects) {
			return nil, limitErr("reading xref table", t.off, "subsection %d+%d exceeds %d objects", t.i, c.i, rd.lim.MaxObjects)
		}
		for k := int64(0); k < c.i; k++ {
			o, err1 := l.next()
			g, err2 := l.next()
			f, err3 := l.next()
			if err := firstErr(err1, err2, err3); err != nil {
				return nil, err
			}
			if o.kind != tokInt || g.kind != tokInt || f.kind != tokKeyword || (string(f.b) != "n" && string(f.b) != "f") {
				return nil, malformed("reading xref table", o.off, "bad entry")
			}
			n := int(t.i + k)
			if _, dup := entries[n]; dup {
				rd.noteDup(n)
				continue
			}
			e := xrefEntry{gen: int(g.i)}
			if string(f.b) == "n" {
				if o.i <= 0 || o.i >= rd.size {
					// Some producers write "0000000000 00000 n" for
					// unused numbers; treat as free.
					entries[n] = xrefEntry{}
					continue
				}
				e.kind, e.offset = 1, o.i
			}
			entries[n] = e
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// readXrefStream decodes a cross-reference stream: /W field widths, /Index
// subsections (default [0 Size]) (§7.5.8.2, §7.5.8.3).
func (rd *Reader) readXrefStream(st *Stream, entries map[int]xrefEntry) error {
	const op = "reading xref stream"
	wArr, ok := st.Dict.Get("W").(Array)
	if !ok || len(wArr) != 3 {
		return malformed(op, st.Offset, "/W is not an array of three integers")
	}
	var w [3]int
	for i, v := range wArr {
		n, ok := v.(Int)
		if !ok || n < 0 || n > 8 {
			return malformed(op, st.Offset, "/W entry %v is not an integer from 0 to 8", v)
		}
		w[i] = int(n)
	}
	rowLen := w[0] + w[1] + w[2]
	if rowLen == 0 {
		return malformed(op, st.Offset, "/W is all zeros")
	}
	size, ok := st.Dict.Get("Size").(Int)
	if !ok || size < 0 || size > Int(rd.lim.MaxObjects) {
		return malformed(op, st.Offset, "/Size is missing, negative or above %d", rd.lim.MaxObjects)
	}
	index := Array{Int(0), size}
	if ix, ok := st.Dict.Get("Index").(Array); ok {
		index = ix
	}
	if len(index)%2 != 0 {
		return malformed(op, st.Offset, "/Index has an odd number of entries")
	}
	data, err := rd.StreamData(st)
	if err != nil {
		return err
	}
	pos := 0
	for i := 0; i < len(index); i += 2 {
		start, ok1 := index[i].(Int)
		count, ok2 := index[i+1].(Int)
		if !ok1 || !ok2 || start < 0 || count < 0 || start+count > Int(rd.lim.MaxObjects) {
			return malformed(op, st.Offset, "bad /Index subsection %v %v", index[i], index[i+1])
		}
		for k := 0; k < int(count); k++ {
			if pos+rowLen > len(data) {
				return malformed(op, st.Offset, "data ends before /Index's %d entries", count)
			}
			row := data[pos : pos+rowLen]
			pos += rowLen
			f1 := uint64(1) // type defaults to 1 when /W[0] is 0
			if w[0] > 0 {
				f1 = be(row[:w[0]])
			}
			f2 := be(row[w[0] : w[0]+w[1]])
			f3 := be(row[w[0]+w[1]:])
			n := int(start) + k
			if _, dup := entries[n]; dup {
				rd.noteDup(n)
				continue
			}
			switch f1 {
			case 0:
				entries[n] = xrefEntry{}
			case 1:
				if f2 == 0 || f2 >= uint64(rd.size) {
					entries[n] = xrefEntry{}
					continue
				}
				entries[n] = xrefEntry{kind: 1, offset: int64(f2), gen: int(min(f3, 65535))}
			case 2:
				if f2 >= uint64(rd.lim.MaxObjects) || f3 >= uint64(rd.lim.MaxObjects) {
					return malformed(op, st.Offset, "compressed entry for object %d is out of range", n)
				}
				entries[n] = xrefEntry{kind: 2, offset: int64(f2), index: int(f3)}
			default:
				// Unknown types are to be ignored (§7.5.8.3): a null reference.
			}
		}
	}
	return nil
}

func be(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// parseIndirect parses "num gen obj ... endobj" at the lexer's position,
// with a stream if one follows (§7.3.10, §7.3.8). want is the expected
// object number, or -1.
func (rd *Reader) parseIndirect(l *lexer, want int) (int, Object, error) {
	const op = "parsing indirect object"
	start := l.s.pos
	t1, err1 := l.next()
	t2, err2 := l.next()
	t3, err3 := l.next()
	if err := firstErr(err1, err2, err3); err != nil {
		return 0, nil, err
	}
	if t1.kind != tokInt || t2.kind != tokInt || t3.kind != tokKeyword || string(t3.b) != "obj" {
		return 0, nil, malformed(op, start, "no \"N G obj\" header")
	}
	if want >= 0 && t1.i != int64(want) {
		return 0, nil, malformed(op, start, "found object %d where the cross-reference puts object %d", t1.i, want)
	}
	num := int(t1.i)
	obj, err := l.parseObject()
	if err != nil {
		return 0, nil, err
	}
	d, ok := obj.(*Dict)
	if !ok {
		return num, obj, nil
	}
	save := l.s.pos
	t, err := l.next()
	if err != nil || t.kind != tokKeyword || string(t.b) != "stream" {
		l.s.pos = save
		return num, obj, nil
	}
	// The keyword is followed by CRLF or LF (a lone CR is tolerated).
	p := l.s.pos
	if l.s.byteAt(p) == '\r' {
		p++
	}
	if l.s.byteAt(p) == '\n' {
		p++
	}
	st := &Stream{Dict: d, Offset: p}
	n, err := rd.streamLength(d, num)
	if err == nil && n >= 0 && rd.endstreamAt(p+n) {
		st.Length = n
		return num, st, nil
	}
	// /Length is wrong or unusable: find "endstream", within bounds.
	n, err = rd.findEndstream(p)
	if err != nil {
		return 0, nil, err
	}
	st.Length = n
	return num, st, nil
}

// streamLength reads /Length, resolving an indirect one; -1 when unusable.
func (rd *Reader) streamLength(d *Dict, self int) (int64, error) {
	v := d.Get("Length")
	if r, ok := v.(Ref); ok {
		if r.Num == self {
			return -1, nil
		}
		var err error
		if v, err = rd.Resolve(r); err != nil {
			return -1, err
		}
	}
	n, ok := v.(Int)
	if !ok || n < 0 {
		return -1, nil
	}
	if int64(n) > rd.lim.MaxStreamLen {
		return -1, limitErr("reading stream", -1, "/Length %d is above the limit of %d", n, rd.lim.MaxStreamLen)
	}
	return int64(n), nil
}

// endstreamAt reports whether "endstream" follows p after optional EOL.
func (rd *Reader) endstreamAt(p int64) bool {
	if p > rd.size {
		return false
	}
	b := make([]byte, 11)
	n, _ := rd.ra.ReadAt(b, p)
	b = b[:n]
	b = bytes.TrimLeft(b, "\r\n \t")
	return bytes.HasPrefix(b, []byte("endstream"))
}

// findEndstream scans for "endstream" from p, at most MaxStreamLen bytes,
// and returns the data length with the EOL before the keyword dropped.
func (rd *Reader) findEndstream(p int64) (int64, error) {
	const chunk = 64 << 10
	kw := []byte("endstream")
	buf := make([]byte, chunk+len(kw))
	for off := p; off < rd.size; off += chunk {
		if off-p > rd.lim.MaxStreamLen {
			return 0, limitErr("reading stream", p, "no endstream within %d bytes", rd.lim.MaxStreamLen)
		}
		if err := rd.chargeBytes(chunk); err != nil {
			return 0, err
		}
		n, _ := rd.ra.ReadAt(buf, off)
		if i := bytes.Index(buf[:n], kw); i >= 0 {
			end := off + int64(i)
			if end > p && rd.byteAt(end-1) == '\n' {
				end--
			}
			if end > p && rd.byteAt(end-1) == '\r' {
				end--
			}
			return end - p, nil
		}
		if n < len(buf) {
			break
		}
	}
	return 0, malformed("reading stream", p, "no endstream keyword")
}

func (rd *Reader) byteAt(p int64) int {
	var b [1]byte
	if n, _ := rd.ra.ReadAt(b[:], p); n != 1 {
		return -1
	}
	return int(b[0])
}

// chargeBytes counts n processed bytes against the work budget (one unit
// per KiB).
func (rd *Reader) chargeBytes(n int64) error {
	rd.work += n >> 10
	if rd.work > rd.lim.MaxWork {
		return limitErr("reading", -1, "work budget of %d exhausted", rd.lim.MaxWork)
	}
	return nil
}

// Resolve returns the object ref refers to; a reference to an undefined or
// free object, or one whose generation does not match, is Null (§7.3.10).
func (rd *Reader) Resolve(ref Ref) (Object, error) {
	e, ok := rd.xref[ref.Num]
	if !ok || e.kind == 0 || (e.kind == 1 && e.gen != ref.Gen) || (e.kind == 2 && ref.Gen != 0) {
		return Null{}, nil
	}
	if o, ok := rd.cache[ref.Num]; ok {
		return o, nil
	}
	if rd.resolving[ref.Num] {
		return nil, malformed("resolving", -1, "object %d refers to itself while being read", ref.Num)
	}
	if len(rd.resolving) >= rd.lim.MaxDepth {
		return nil, limitErr("resolving", -1, "more than %d nested indirect look-ups", rd.lim.MaxDepth)
	}
	rd.resolving[ref.Num] = true
	defer delete(rd.resolving, ref.Num)
	var obj Object
	var err error
	if e.kind == 1 {
		_, obj, err = rd.parseIndirect(rd.lexerAt(e.offset), ref.Num)
		if err == nil && rd.dec != nil {
			obj, err = rd.dec.object(rd, ref.Num, e.gen, obj)
		}
	} else {
		obj, err = rd.compressed(ref.Num, e)
	}
	if err != nil {
		return nil, withObject(err, ref.Num)
	}
	rd.cache[ref.Num] = obj
	return obj, nil
}

// withObject says which object was being read, once, in an *Error's Op.
func withObject(err error, num int) error {
	pe, ok := err.(*Error)
	if !ok {
		return fmt.Errorf("pdf: reading object %d: %w", num, err)
	}
	if rest, ok := strings.CutPrefix(pe.Op, "reading object "); ok && rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		return err
	}
	c := *pe
	c.Op = "reading object " + itoa(num)
	if pe.Op != "" {
		c.Op += ": " + pe.Op
	}
	return &c
}

// Get resolves obj if it is a reference, and returns it unchanged otherwise.
func (rd *Reader) Get(obj Object) (Object, error) {
	if r, ok := obj.(Ref); ok {
		return rd.Resolve(r)
	}
	return obj, nil
}

// compressed reads object num from its object stream (§7.5.7).
func (rd *Reader) compressed(num int, e xrefEntry) (Object, error) {
	const op = "reading object stream"
	stmNum := int(e.offset)
	os := rd.objStms[stmNum]
	if os == nil {
		se, ok := rd.xref[stmNum]
		if !ok || se.kind != 1 {
			return nil, malformed(op, -1, "object stream %d is not a plain object in the file", stmNum)
		}
		obj, err := rd.Resolve(Ref{Num: stmNum, Gen: se.gen})
		if err != nil {
			return nil, err
		}
		st, ok := obj.(*Stream)
		if !ok || st.Dict.Get("Type") != Name("ObjStm") {
			return nil, malformed(op, -1, "object %d is not an object stream", stmNum)
		}
		n, ok1 := st.Dict.Get("N").(Int)
		first, ok2 := st.Dict.Get("First").(Int)
		if !ok1 || !ok2 || n < 0 || first < 0 || n > Int(rd.lim.MaxObjects) {
			return nil, malformed(op, st.Offset, "object stream %d has a bad /N or /First", stmNum)
		}
		data, err := rd.StreamData(st)
		if err != nil {
			return nil, err
		}
		if int(first) > len(data) {
			return nil, malformed(op, st.Offset, "/First %d is beyond the %d decoded bytes", first, len(data))
		}
		os = &objStm{data: data, first: int(first)}
		l := &lexer{s: newScanner(bytes.NewReader(data[:first]), int64(first)), lim: &rd.lim, work: &rd.work}
		for i := 0; i < int(n); i++ {
			a, err1 := l.next()
			b, err2 := l.next()
			if err := firstErr(err1, err2); err != nil {
				return nil, err
			}
			if a.kind != tokInt || b.kind != tokInt || b.i < 0 || int(first)+int(b.i) > len(data) {
				return nil, malformed(op, st.Offset, "bad header pair %d of object stream %d", i, stmNum)
			}
			os.nums = append(os.nums, int(a.i))
			os.offs = append(os.offs, int(b.i))
		}
		if len(rd.objStms) >= 64 { // keep memory bounded: drop the cache
			clear(rd.objStms)
		}
		rd.objStms[stmNum] = os
	}
	idx := e.index
	if idx >= len(os.nums) || os.nums[idx] != num {
		// Trust the header over the index when they disagree.
		idx = -1
		for i, n := range os.nums {
			if n == num {
				idx = i
				break
			}
		}
		if idx < 0 {
			return nil, malformed(op, -1, "object %d is not in object stream %d", num, stmNum)
		}
	}
	start := os.first + os.offs[idx]
	l := &lexer{s: newScanner(bytes.NewReader(os.data), int64(len(os.data))), lim: &rd.lim, work: &rd.work}
	l.s.pos = int64(start)
	return l.parseObject()
}

// Trailer returns the trailer dictionary of the newest section, completed
// with /Root, /Info, /ID and /Size from older ones when it lacks them.
func (rd *Reader) Trailer() *Dict { return rd.trailer }

// Size returns the file size given to Open.
func (rd *Reader) Size() int64 { return rd.size }

// Version returns the version in the header, e.g. "1.7" or "2.0".
func (rd *Reader) Version() string { return rd.header }

// NumObjects returns one more than the highest object number in use: the
// larger of the trailer's /Size and what the cross-reference defines.
func (rd *Reader) NumObjects() int {
	n := rd.maxNum + 1
	if s, ok := rd.trailer.Get("Size").(Int); ok && int(s) > n && int(s) <= rd.lim.MaxObjects {
		n = int(s)
	}
	return n
}

// LastXref returns the offset of the newest cross-reference section (the
// value of the final startxref), which an incremental update gives as /Prev.
func (rd *Reader) LastXref() int64 { return rd.startxref }

// LastXrefIsStream reports whether the newest section is a cross-reference
// stream (§7.5.8) rather than a table (§7.5.4).
func (rd *Reader) LastXrefIsStream() bool { return rd.lastStream }

// rawStream reads the raw bytes of a file-backed stream.
func (rd *Reader) rawStream(st *Stream) ([]byte, error) {
	if st.Data != nil {
		return st.Data, nil
	}
	if st.Length > rd.lim.MaxStreamLen {
		return nil, limitErr("reading stream", st.Offset, "length %d is above the limit of %d", st.Length, rd.lim.MaxStreamLen)
	}
	if st.Offset < 0 || st.Offset+st.Length > rd.size {
		return nil, malformed("reading stream", st.Offset, "stream of %d bytes runs past the end of the file", st.Length)
	}
	if err := rd.chargeBytes(st.Length); err != nil {
		return nil, err
	}
	b := make([]byte, st.Length)
	if n, err := rd.ra.ReadAt(b, st.Offset); n != len(b) {
		return nil, &Error{Kind: ErrMalformed, Op: "reading stream", Offset: st.Offset, Err: err}
	}
	return b, nil
}

// RawStreamData returns a stream's bytes as stored, still encoded.
func (rd *Reader) RawStreamData(st *Stream) ([]byte, error) { return rd.rawStream(st) }

// itoa is strconv.Itoa, short.
func itoa(i int) string { return strconv.Itoa(i) }

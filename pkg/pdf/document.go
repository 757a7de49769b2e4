package pdf

import (
	"fmt"
	"strings"
)

// Catalog returns the document catalog, the dictionary the trailer's /Root
// refers to (§7.7.2), and its reference.
func (rd *Reader) Catalog() (*Dict, Ref, error) {
	ref, _ := rd.trailer.Get("Root").(Ref)
	obj, err := rd.Resolve(ref)
	if err != nil {
		return nil, ref, err
	}
	d, ok := obj.(*Dict)
	if !ok {
		return nil, ref, malformed("reading catalog", -1, "/Root %v is not a dictionary", ref)
	}
	return d, ref, nil
}

// Page is one leaf of the page tree, with the inheritable attributes
// resolved from its ancestors (§7.7.3.4).
type Page struct {
	Ref       Ref
	Dict      *Dict
	Resources Object // a *Dict or a Ref to one; nil if none is inherited
	MediaBox  Array  // nil if neither the page nor an ancestor has one
	CropBox   Array
	Rotate    int
}

// Pages walks the page tree from the catalog's /Pages, in document order,
// iteratively, with cycle detection and at most MaxObjects pages (§7.7.3).
func (rd *Reader) Pages() ([]Page, error) {
	const op = "reading page tree"
	cat, _, err := rd.Catalog()
	if err != nil {
		return nil, err
	}
	root, ok := cat.Get("Pages").(Ref)
	if !ok {
		return nil, malformed(op, -1, "the catalog has no /Pages reference")
	}
	type item struct {
		ref   Ref
		inh   Page // inherited attributes
		depth int
	}
	var pages []Page
	seen := map[Ref]bool{}
	stack := []item{{ref: root}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[it.ref] {
			return nil, malformed(op, -1, "page tree node %v appears twice (a cycle)", it.ref)
		}
		seen[it.ref] = true
		if len(seen) > rd.lim.MaxObjects {
			return nil, limitErr(op, -1, "more than %d page tree nodes", rd.lim.MaxObjects)
		}
		obj, err := rd.Resolve(it.ref)
		if err != nil {
			return nil, err
		}
		d, ok := obj.(*Dict)
		if !ok {
			return nil, malformed(op, -1, "page tree node %v is not a dictionary", it.ref)
		}
		inh := it.inh
		if v := d.Get("Resources"); v != nil {
			inh.Resources = v
		}
		if v, err := rd.Get(d.Get("MediaBox")); err == nil {
			if a, ok := v.(Array); ok {
				inh.MediaBox = a
			}
		}
		if v, err := rd.Get(d.Get("CropBox")); err == nil {
			if a, ok := v.(Array); ok {
				inh.CropBox = a
			}
		}
		if v, err := rd.Get(d.Get("Rotate")); err == nil {
			if r, ok := v.(Int); ok {
				inh.Rotate = int(((r % 360) + 360) % 360)
			}
		}
		kids, hasKids := d.Get("Kids").(Array)
		if t := d.Get("Type"); t == Name("Page") || (t != Name("Pages") && !hasKids) {
			inh.Ref, inh.Dict = it.ref, d
			pages = append(pages, inh)
			continue
		}
		if kv, ok := d.Get("Kids").(Ref); ok {
			o, err := rd.Resolve(kv)
			if err != nil {
				return nil, err
			}
			kids, _ = o.(Array)
		}
		if it.depth >= rd.lim.MaxDepth {
			return nil, limitErr(op, -1, "page tree deeper than %d", rd.lim.MaxDepth)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			k, ok := kids[i].(Ref)
			if !ok {
				return nil, malformed(op, -1, "a /Kids entry of %v is not a reference", it.ref)
			}
			stack = append(stack, item{ref: k, inh: inh, depth: it.depth + 1})
		}
	}
	return pages, nil
}

// Field is one terminal field of the interactive form (§12.7.4).
type Field struct {
	Ref  Ref
	Dict *Dict
	// Name is the fully qualified name: the partial names /T of the field
	// and its ancestors joined by '.' (§12.7.4.2).
	Name string
	// Type is the field type /FT, inherited: Btn, Tx, Ch or Sig.
	Type Name
	// Value is /V, inherited; nil when absent. For a signature field it is
	// a reference to the signature dictionary, nil when unsigned.
	Value Object
}

// IsSignature reports whether f is a signature field (/FT /Sig).
func (f Field) IsSignature() bool { return f.Type == "Sig" }

// AcroForm returns the catalog's interactive form dictionary (§12.7.3) and
// its reference (the zero Ref when it is direct), or nil when there is none.
func (rd *Reader) AcroForm() (*Dict, Ref, error) {
	cat, _, err := rd.Catalog()
	if err != nil {
		return nil, Ref{}, err
	}
	v := cat.Get("AcroForm")
	ref, _ := v.(Ref)
	obj, err := rd.Get(v)
	if err != nil {
		return nil, ref, err
	}
	d, _ := obj.(*Dict)
	return d, ref, nil
}

// Fields returns the terminal fields of the interactive form, walking
// /Fields and /Kids iteratively with cycle detection. A kid without /T is a
// widget annotation of its parent, not a field of its own.
func (rd *Reader) Fields() ([]Field, error) {
	const op = "reading form fields"
	form, _, err := rd.AcroForm()
	if err != nil || form == nil {
		return nil, err
	}
	fo, err := rd.Get(form.Get("Fields"))
	if err != nil {
		return nil, err
	}
	top, _ := fo.(Array)
	type item struct {
		ref   Ref
		name  string
		ft    Name
		v     Object
		depth int
	}
	var fields []Field
	seen := map[Ref]bool{}
	var stack []item
	for i := len(top) - 1; i >= 0; i-- {
		if r, ok := top[i].(Ref); ok {
			stack = append(stack, item{ref: r})
		}
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[it.ref] {
			continue // shared or cyclic: visit once
		}
		seen[it.ref] = true
		if len(seen) > rd.lim.MaxObjects {
			return nil, limitErr(op, -1, "more than %d fields", rd.lim.MaxObjects)
		}
		if it.depth > rd.lim.MaxDepth {
			return nil, limitErr(op, -1, "field tree deeper than %d", rd.lim.MaxDepth)
		}
		obj, err := rd.Resolve(it.ref)
		if err != nil {
			return nil, err
		}
		d, ok := obj.(*Dict)
		if !ok {
			continue
		}
		name := it.name
		if t, ok := d.Get("T").(String); ok {
			if name != "" {
				name += "."
			}
			name += textString(t.Value)
		}
		if ft, ok := d.Get("FT").(Name); ok {
			it.ft = ft
		}
		if v := d.Get("V"); v != nil {
			it.v = v
		}
		var kidFields []Ref
		kids, _ := d.Get("Kids").(Array)
		for _, k := range kids {
			kr, ok := k.(Ref)
			if !ok {
				continue
			}
			ko, err := rd.Resolve(kr)
			if err != nil {
				return nil, err
			}
			if kd, ok := ko.(*Dict); ok && kd.Get("T") != nil {
				kidFields = append(kidFields, kr)
			}
		}
		if len(kidFields) == 0 {
			fields = append(fields, Field{Ref: it.ref, Dict: d, Name: name, Type: it.ft, Value: it.v})
			continue
		}
		for i := len(kidFields) - 1; i >= 0; i-- {
			stack = append(stack, item{ref: kidFields[i], name: name, ft: it.ft, v: it.v, depth: it.depth + 1})
		}
	}
	return fields, nil
}

// textString decodes a text string (§7.9.2.2): UTF-16BE with a BOM, UTF-8
// with a BOM, or PDFDocEncoding, whose printable ASCII range is read as is
// and other bytes as Latin-1 (an approximation good enough for names).
func textString(b []byte) string {
	if len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff {
		var sb strings.Builder
		u := b[2:]
		for i := 0; i+1 < len(u); i += 2 {
			r := rune(u[i])<<8 | rune(u[i+1])
			if r >= 0xd800 && r < 0xdc00 && i+3 < len(u) {
				r2 := rune(u[i+2])<<8 | rune(u[i+3])
				if r2 >= 0xdc00 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
					i += 2
				}
			}
			sb.WriteRune(r)
		}
		return sb.String()
	}
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return string(b[3:])
	}
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// String returns a short description of the field, for logs and tests.
func (f Field) String() string { return fmt.Sprintf("%s (%s) %v", f.Name, f.Type, f.Ref) }

package pdf

import (
	"fmt"
	"math"
	"strconv"
)

// Object is a PDF object (ISO 32000-2 §7.3): one of Null, Bool, Int, Real,
// String, Name, Array, *Dict, Ref or *Stream, or a *Marked wrapping one of
// them for the Writer.
type Object interface {
	isObject()
}

// Null is the null object (§7.3.9).
type Null struct{}

// Bool is a boolean object (§7.3.2).
type Bool bool

// Int is an integer number (§7.3.3).
type Int int64

// Real is a real number (§7.3.3). It is written in fixed-point notation,
// never with an exponent.
type Real float64

// Name is a name object (§7.3.5), held decoded: #xx escapes are resolved
// when reading and applied again when writing.
type Name string

// String is a string object (§7.3.4): the decoded bytes, and whether it was
// (or is to be) written in hexadecimal form.
type String struct {
	Value []byte
	Hex   bool
}

// Array is an array object (§7.3.6).
type Array []Object

// Ref is an indirect reference "Num Gen R" (§7.3.10).
type Ref struct {
	Num int
	Gen int
}

// Stream is a stream object (§7.3.8). A stream read from a file records
// where its raw (still encoded) bytes lie; a stream made by a caller for the
// Writer carries its raw bytes in Data, already encoded as its /Filter says.
type Stream struct {
	Dict   *Dict
	Offset int64  // offset of the first raw byte in the file, if read
	Length int64  // number of raw bytes in the file, if read
	Data   []byte // raw bytes, for streams made in memory
}

func (Null) isObject()    {}
func (Bool) isObject()    {}
func (Int) isObject()     {}
func (Real) isObject()    {}
func (Name) isObject()    {}
func (String) isObject()  {}
func (Array) isObject()   {}
func (Ref) isObject()     {}
func (*Dict) isObject()   {}
func (*Stream) isObject() {}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Dict is a dictionary object (§7.3.7). It keeps its keys in the order they
// were read or set, so a rewritten dictionary reads like the original.
type Dict struct {
	keys []Name
	vals map[Name]Object
}

// NewDict returns an empty dictionary.
func NewDict() *Dict { return &Dict{vals: map[Name]Object{}} }

// Get returns the value of key, or nil when absent. A nil *Dict has no keys.
func (d *Dict) Get(key Name) Object {
	if d == nil {
		return nil
	}
	return d.vals[key]
}

// Set sets key to v, keeping key's place if it was already present.
// Setting a nil value deletes the key.
func (d *Dict) Set(key Name, v Object) {
	if v == nil {
		d.Delete(key)
		return
	}
	if d.vals == nil {
		d.vals = map[Name]Object{}
	}
	if _, ok := d.vals[key]; !ok {
		d.keys = append(d.keys, key)
	}
	d.vals[key] = v
}

// Delete removes key.
func (d *Dict) Delete(key Name) {
	if d == nil {
		return
	}
	if _, ok := d.vals[key]; !ok {
		return
	}
	delete(d.vals, key)
	for i, k := range d.keys {
		if k == key {
			d.keys = append(d.keys[:i:i], d.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in order. The slice must not be modified.
func (d *Dict) Keys() []Name {
	if d == nil {
		return nil
	}
	return d.keys
}

// Len returns the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Clone returns a shallow copy: the same values under a new, independent
// key list.
func (d *Dict) Clone() *Dict {
	n := &Dict{keys: make([]Name, len(d.Keys())), vals: make(map[Name]Object, d.Len())}
	copy(n.keys, d.Keys())
	for _, k := range d.Keys() {
		n.vals[k] = d.vals[k]
	}
	return n
}

// Marked wraps an object so the Writer reports where its serialized bytes
// land in the output (see Writer.Span). PAdES uses it for the /Contents
// placeholder and the /ByteRange array of a signature dictionary, which are
// patched in place once the file is laid out.
type Marked struct {
	Value Object
}

func (*Marked) isObject() {}

// Mark wraps obj for the Writer to report its position.
func Mark(obj Object) *Marked { return &Marked{Value: obj} }

// AppendObject appends the canonical serialization of obj to b: names
// escaped, strings literal (escaped) or hexadecimal as their Hex flag says,
// reals without exponent, dictionary keys in insertion order. A *Stream is
// written with its /Length set to its raw length; a stream read from a file
// (Data nil) cannot be serialized this way and yields an error, as does a
// *Marked, nesting deeper than 256 or an unknown type.
func AppendObject(b []byte, obj Object) ([]byte, error) {
	e := encoder{buf: b}
	if err := e.object(obj, 0); err != nil {
		return b, err
	}
	return e.buf, nil
}

// maxWriteDepth bounds nesting on output, so a caller's cyclic Array or
// Dict fails instead of overflowing the stack.
const maxWriteDepth = 256

// span is where a Marked object landed, relative to the encoder's buffer.
type span struct{ off, n int }

type encoder struct {
	buf   []byte
	marks map[*Marked]span // nil: Marked not allowed
	// stream copies the raw data of a file-backed stream; nil: refused.
	stream func(s *Stream) ([]byte, error)
}

func (e *encoder) object(obj Object, depth int) error {
	if depth > maxWriteDepth {
		return fmt.Errorf("pdf: writing object: nesting deeper than %d", maxWriteDepth)
	}
	switch o := obj.(type) {
	case nil, Null:
		e.buf = append(e.buf, "null"...)
	case Bool:
		e.buf = strconv.AppendBool(e.buf, bool(o))
	case Int:
		e.buf = strconv.AppendInt(e.buf, int64(o), 10)
	case Real:
		e.buf = appendReal(e.buf, float64(o))
	case Name:
		e.buf = appendName(e.buf, o)
	case String:
		if o.Hex {
			e.buf = appendHexString(e.buf, o.Value)
		} else {
			e.buf = appendLiteralString(e.buf, o.Value)
		}
	case Ref:
		e.buf = strconv.AppendInt(e.buf, int64(o.Num), 10)
		e.buf = append(e.buf, ' ')
		e.buf = strconv.AppendInt(e.buf, int64(o.Gen), 10)
		e.buf = append(e.buf, " R"...)
	case Array:
		e.buf = append(e.buf, '[')
		for i, v := range o {
			if i > 0 {
				e.buf = append(e.buf, ' ')
			}
			if err := e.object(v, depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ']')
	case *Dict:
		e.buf = append(e.buf, "<<"...)
		for i, k := range o.Keys() {
			if i > 0 {
				e.buf = append(e.buf, ' ')
			}
			e.buf = appendName(e.buf, k)
			e.buf = append(e.buf, ' ')
			if err := e.object(o.vals[k], depth+1); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, ">>"...)
	case *Stream:
		if depth != 0 {
			return fmt.Errorf("pdf: writing object: a stream must be an indirect object")
		}
		data := o.Data
		if data == nil && o.Length > 0 {
			if e.stream == nil {
				return fmt.Errorf("pdf: writing object: stream data is in the original file")
			}
			var err error
			if data, err = e.stream(o); err != nil {
				return err
			}
		}
		d := NewDict()
		if o.Dict != nil {
			d = o.Dict.Clone()
		}
		d.Set("Length", Int(len(data)))
		if err := e.object(d, depth+1); err != nil {
			return err
		}
		e.buf = append(e.buf, "\nstream\n"...)
		e.buf = append(e.buf, data...)
		e.buf = append(e.buf, "\nendstream"...)
	case *Marked:
		if e.marks == nil {
			return fmt.Errorf("pdf: writing object: a marked object can only be written by a Writer")
		}
		if _, dup := e.marks[o]; dup {
			return fmt.Errorf("pdf: writing object: a marked object is used twice")
		}
		start := len(e.buf)
		if err := e.object(o.Value, depth); err != nil {
			return err
		}
		e.marks[o] = span{start, len(e.buf) - start}
	default:
		return fmt.Errorf("pdf: writing object: unknown type %T", obj)
	}
	return nil
}

// appendReal writes f in fixed-point notation (§7.3.3 has no exponent
// form). NaN and infinities, which PDF cannot express, become 0.
func appendReal(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if s == "-0" {
		s = "0"
	}
	b = append(b, s...)
	// Make the value read back as a real, not an integer.
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return b
		}
	}
	return append(b, ".0"...)
}

func isWhite(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c byte) bool { return !isWhite(c) && !isDelim(c) }

const hexDigits = "0123456789ABCDEF"

// appendName writes a name with #xx escapes for every byte outside the
// printable regular characters, and for '#' itself (§7.3.5).
func appendName(b []byte, n Name) []byte {
	b = append(b, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c > 0x7e || c == '#' || isDelim(c) {
			b = append(b, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendHexString(b []byte, v []byte) []byte {
	b = append(b, '<')
	for _, c := range v {
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '>')
}

// appendLiteralString writes a literal string, escaping the parentheses, the
// backslash and every byte a careless reader could alter (end-of-line
// characters are normalised by readers, §7.3.4.2).
func appendLiteralString(b []byte, v []byte) []byte {
	b = append(b, '(')
	for _, c := range v {
		switch c {
		case '(', ')', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			if c < 0x20 || c == 0x7f {
				b = append(b, '\\', '0'+c>>6, '0'+(c>>3)&7, '0'+c&7)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, ')')
}

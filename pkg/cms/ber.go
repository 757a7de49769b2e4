package cms

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits of the BER converter. NSS (poppler's pdfsig, Firefox), OpenSSL's
// streaming mode and many other signers write the outer layers of a CMS
// with indefinite lengths and the content in constructed OCTET STRINGs
// (X.690 section 8): legal BER, which RFC 5652 allows everywhere but in the
// signed attributes. kyso converts such an encoding to DER once, here,
// and parses only DER.
const (
	// maxBERDepth bounds nesting; a CMS with its time-stamp tokens and
	// certificates nests about 20 deep.
	maxBERDepth = 48
	// maxBERElements bounds the elements converted.
	maxBERElements = 1 << 18
)

// errBER is why an encoding is neither DER nor readable BER.
var errBER = errors.New("not BER")

// DER returns the encoding at the start of b as DER, and checks that only
// zero bytes follow it, as a PDF's /Contents pads its signature (ISO
// 32000-1 section 12.8.1). A DER encoding is returned as it is (a sub-slice
// of b); a BER one — indefinite lengths, constructed strings, long-form
// lengths that could be shorter — is converted: lengths made definite and
// minimal, string segments joined. Elements already in DER keep their
// bytes, so signed attributes written in DER, as RFC 5652 section 5.3
// requires, are hashed as their signer encoded them (what pyHanko hashes;
// EU DSS, through Bouncy Castle, re-encodes them as DER, which for those
// is the same bytes). The order of SET OF elements is kept. The work is
// bounded by MaxSize, maxBERDepth and maxBERElements.
func DER(b []byte) ([]byte, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxSize)
	}
	c := berConverter{budget: maxBERElements}
	n, isDER, err := c.scan(b, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(bytes.TrimRight(b[n:], "\x00")) != 0 {
		return nil, fmt.Errorf("%w: data after the ContentInfo", ErrMalformed)
	}
	if isDER {
		return b[:n], nil
	}
	c.budget = maxBERElements
	out, _, err := c.convert(make([]byte, 0, n), b, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return out, nil
}

type berConverter struct{ budget int }

// berHeader is one element's identifier and length octets.
type berHeader struct {
	tag         []byte // identifier octets as written
	constructed bool
	universal   int // the universal tag number, -1 for other classes
	length      int // -1 when indefinite
	size        int // bytes of identifier and length octets
	minimal     bool
}

func (c *berConverter) header(in []byte, depth int) (berHeader, error) {
	var h berHeader
	if depth > maxBERDepth {
		return h, fmt.Errorf("%w: nested more than %d deep", errBER, maxBERDepth)
	}
	if c.budget--; c.budget < 0 {
		return h, fmt.Errorf("%w: more than %d elements", errBER, maxBERElements)
	}
	if len(in) < 2 {
		return h, fmt.Errorf("%w: truncated", errBER)
	}
	i := 1
	h.constructed = in[0]&0x20 != 0
	h.universal = -1
	if in[0]&0x1f == 0x1f {
		for ; ; i++ {
			if i >= len(in) || i > 4 {
				return h, fmt.Errorf("%w: tag number", errBER)
			}
			if in[i]&0x80 == 0 {
				i++
				break
			}
		}
	} else if in[0]&0xc0 == 0 {
		h.universal = int(in[0] & 0x1f)
	}
	h.tag = in[:i]
	if in[0] == 0 {
		return h, fmt.Errorf("%w: end-of-contents octets out of place", errBER)
	}
	if i >= len(in) {
		return h, fmt.Errorf("%w: truncated", errBER)
	}
	l := in[i]
	i++
	h.minimal = true
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return h, fmt.Errorf("%w: indefinite length of a primitive element", errBER)
		}
		h.length, h.minimal = -1, false
	default:
		n := int(l & 0x7f)
		if n > 4 || i+n > len(in) {
			return h, fmt.Errorf("%w: length", errBER)
		}
		for _, d := range in[i : i+n] {
			h.length = h.length<<8 | int(d)
		}
		i += n
		h.minimal = h.length >= 0x80 && in[i-n] != 0
	}
	h.size = i
	if h.length > len(in)-i {
		return h, fmt.Errorf("%w: length beyond the input", errBER)
	}
	return h, nil
}

// isString reports whether a universal tag is a string type, whose
// constructed BER form DER writes primitive (X.690 section 10.2).
func isString(universal int) bool {
	switch universal {
	case 4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30:
		return true
	}
	return false
}

// scan reads one element at in's start and reports its size and whether
// it is DER already (as far as lengths and string forms go).
func (c *berConverter) scan(in []byte, depth int) (int, bool, error) {
	h, err := c.header(in, depth)
	if err != nil {
		return 0, false, err
	}
	if !h.constructed {
		return h.size + h.length, h.minimal, nil
	}
	if h.universal == 3 {
		return 0, false, fmt.Errorf("%w: constructed BIT STRING", errBER)
	}
	isDER := h.minimal && !isString(h.universal)
	n, err := each(in, h, func(el []byte) (int, error) {
		k, ok, err := c.scan(el, depth+1)
		isDER = isDER && ok
		return k, err
	})
	return n, isDER && h.length >= 0, err
}

// each calls fn at each element of a constructed element's contents,
// which start at in[h.size:], and returns the size of the whole element.
func each(in []byte, h berHeader, fn func(el []byte) (int, error)) (int, error) {
	body := in[h.size:]
	if h.length >= 0 {
		body = body[:h.length]
	}
	off := 0
	for {
		if h.length >= 0 && off == len(body) {
			return h.size + off, nil
		}
		if h.length < 0 && len(body)-off >= 2 && body[off] == 0 && body[off+1] == 0 {
			return h.size + off + 2, nil
		}
		if off == len(body) {
			return 0, fmt.Errorf("%w: no end-of-contents octets", errBER)
		}
		n, err := fn(body[off:])
		if err != nil {
			return 0, err
		}
		off += n
	}
}

// convert appends the DER of the element at in's start to out and returns
// how many bytes of in it read.
func (c *berConverter) convert(out, in []byte, depth int) ([]byte, int, error) {
	h, err := c.header(in, depth)
	if err != nil {
		return nil, 0, err
	}
	if !h.constructed {
		out = appendHeader(out, h.tag, h.length)
		return append(out, in[h.size:h.size+h.length]...), h.size + h.length, nil
	}
	start := len(out)
	tag := h.tag
	var n int
	if isString(h.universal) {
		tag = []byte{h.tag[0] &^ 0x20}
		n, err = each(in, h, func(el []byte) (int, error) {
			var k int
			out, k, err = c.segments(out, el, h.universal, depth+1)
			return k, err
		})
	} else {
		n, err = each(in, h, func(el []byte) (int, error) {
			var k int
			out, k, err = c.convert(out, el, depth+1)
			return k, err
		})
	}
	if err != nil {
		return nil, 0, err
	}
	hdr := appendHeader(nil, tag, len(out)-start)
	out = append(out, hdr...)
	copy(out[start+len(hdr):], out[start:len(out)-len(hdr)])
	copy(out[start:], hdr)
	return out, n, nil
}

// segments appends the contents of one segment of a constructed string of
// the given universal type, itself primitive or constructed.
func (c *berConverter) segments(out, in []byte, universal, depth int) ([]byte, int, error) {
	h, err := c.header(in, depth)
	if err != nil {
		return nil, 0, err
	}
	if h.universal != universal {
		return nil, 0, fmt.Errorf("%w: a segment of a constructed string has another type", errBER)
	}
	if !h.constructed {
		return append(out, in[h.size:h.size+h.length]...), h.size + h.length, nil
	}
	n, err := each(in, h, func(el []byte) (int, error) {
		var k int
		out, k, err = c.segments(out, el, universal, depth+1)
		return k, err
	})
	return out, n, err
}

// appendHeader appends identifier octets and a minimal definite length.
func appendHeader(out, tag []byte, n int) []byte {
	out = append(out, tag...)
	switch {
	case n < 0x80:
		return append(out, byte(n))
	case n < 1<<8:
		return append(out, 0x81, byte(n))
	case n < 1<<16:
		return append(out, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		return append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

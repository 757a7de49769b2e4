package pdf

import (
	"bytes"
	"errors"
	"io"
	"strconv"
)

// scanner reads bytes of an io.ReaderAt through a small window, so parsing
// never needs the whole file in memory.
type scanner struct {
	ra     io.ReaderAt
	size   int64
	pos    int64
	buf    []byte
	bufOff int64
	err    error // first non-EOF read error
}

const windowSize = 16 << 10

func newScanner(ra io.ReaderAt, size int64) *scanner {
	return &scanner{ra: ra, size: size, buf: make([]byte, 0, windowSize)}
}

// byteAt returns the byte at p, or -1 outside the file.
func (s *scanner) byteAt(p int64) int {
	if p < 0 || p >= s.size {
		return -1
	}
	if p >= s.bufOff && p < s.bufOff+int64(len(s.buf)) {
		return int(s.buf[p-s.bufOff])
	}
	n := int64(cap(s.buf))
	if p+n > s.size {
		n = s.size - p
	}
	s.buf = s.buf[:n]
	m, err := s.ra.ReadAt(s.buf, p)
	s.buf = s.buf[:m]
	s.bufOff = p
	if m == 0 {
		if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
			s.err = err
		}
		return -1
	}
	return int(s.buf[0])
}

func (s *scanner) peek() int { return s.byteAt(s.pos) }

func (s *scanner) next() int {
	c := s.byteAt(s.pos)
	if c >= 0 {
		s.pos++
	}
	return c
}

// readAt copies n bytes at off.
func (s *scanner) readAt(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > s.size {
		return nil, io.ErrUnexpectedEOF
	}
	b := make([]byte, n)
	if _, err := s.ra.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && off+n == s.size) {
		return nil, err
	}
	return b, nil
}

// skipSpace skips white space and comments (§7.2.3, §7.2.4).
func (s *scanner) skipSpace() {
	for {
		c := s.peek()
		switch {
		case c < 0:
			return
		case isWhite(byte(c)):
			s.pos++
		case c == '%':
			for c >= 0 && c != '\n' && c != '\r' {
				s.pos++
				c = s.peek()
			}
		default:
			return
		}
	}
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokInt
	tokReal
	tokName
	tokString
	tokKeyword
	tokArrayOpen
	tokArrayClose
	tokDictOpen
	tokDictClose
)

type token struct {
	kind tokKind
	off  int64
	i    int64
	f    float64
	b    []byte // name, string or keyword bytes
	hex  bool
}

// lexer turns bytes into tokens (§7.2, §7.3) and counts work.
type lexer struct {
	s   *scanner
	lim *Limits
	// work is shared by all lexers of one Reader.
	work *int64
}

func (l *lexer) errAt(off int64, format string, args ...any) error {
	return malformed("parsing object", off, format, args...)
}

func (l *lexer) charge(n int64) error {
	*l.work += n
	if *l.work > l.lim.MaxWork {
		return limitErr("parsing", l.s.pos, "work budget of %d exhausted", l.lim.MaxWork)
	}
	return nil
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	if err := l.charge(1); err != nil {
		return token{}, err
	}
	s := l.s
	s.skipSpace()
	t := token{off: s.pos}
	c := s.next()
	switch {
	case c < 0:
		if s.err != nil {
			return t, &Error{Kind: ErrMalformed, Op: "reading", Offset: s.pos, Err: s.err}
		}
		t.kind = tokEOF
		return t, nil
	case c == '[':
		t.kind = tokArrayOpen
	case c == ']':
		t.kind = tokArrayClose
	case c == '<':
		if s.peek() == '<' {
			s.pos++
			t.kind = tokDictOpen
			return t, nil
		}
		return l.hexString(t)
	case c == '>':
		if s.peek() == '>' {
			s.pos++
			t.kind = tokDictClose
			return t, nil
		}
		return t, l.errAt(t.off, "unexpected '>'")
	case c == '(':
		return l.literalString(t)
	case c == '/':
		return l.name(t)
	case c == ')' || c == '{' || c == '}':
		return t, l.errAt(t.off, "unexpected %q", rune(c))
	default:
		s.pos--
		return l.word(t)
	}
	return t, nil
}

// word reads a number or a keyword: a run of regular characters.
func (l *lexer) word(t token) (token, error) {
	s := l.s
	start := s.pos
	var b []byte
	for {
		c := s.peek()
		if c < 0 || !isRegular(byte(c)) {
			break
		}
		if len(b) >= 256 {
			return t, l.errAt(start, "token longer than 256 bytes")
		}
		b = append(b, byte(c))
		s.pos++
	}
	if len(b) == 0 {
		return t, l.errAt(start, "unexpected byte %#x", s.peek())
	}
	c := b[0]
	if c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9') {
		if n, ok := parseNumber(b); ok {
			if n.real {
				t.kind, t.f = tokReal, n.f
			} else {
				t.kind, t.i = tokInt, n.i
			}
			return t, nil
		}
		if c != '.' {
			return t, l.errAt(start, "bad number %q", b)
		}
	}
	t.kind, t.b = tokKeyword, b
	return t, nil
}

type number struct {
	real bool
	i    int64
	f    float64
}

// parseNumber parses an integer or a real (§7.3.3): an optional sign,
// digits, at most one period, no exponent. Integers too large for int64
// become reals. Doubled signs ("--1"), which some producers write, are read
// as one sign.
func parseNumber(b []byte) (number, bool) {
	neg := false
	for len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = neg != (b[0] == '-')
		b = b[1:]
	}
	if len(b) == 0 {
		return number{}, false
	}
	dot := -1
	for i, c := range b {
		if c == '.' {
			if dot >= 0 {
				return number{}, false
			}
			dot = i
		} else if c < '0' || c > '9' {
			return number{}, false
		}
	}
	if dot < 0 {
		if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			if neg {
				i = -i
			}
			return number{i: i}, true
		}
	}
	if len(b) == 1 && dot == 0 {
		return number{}, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return number{}, false
	}
	if neg {
		f = -f
	}
	return number{real: true, f: f}, true
}

func unhex(c int) int {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return -1
}

// name reads a name after its '/', resolving #xx escapes (§7.3.5).
func (l *lexer) name(t token) (token, error) {
	s := l.s
	var b []byte
	for {
		c := s.peek()
		if c < 0 || !isRegular(byte(c)) {
			break
		}
		s.pos++
		if c == '#' {
			h, lo := unhex(s.byteAt(s.pos)), unhex(s.byteAt(s.pos+1))
			if h >= 0 && lo >= 0 {
				c = h<<4 | lo
				s.pos += 2
			}
		}
		if len(b) >= 65535 {
			return t, limitErr("parsing name", t.off, "name longer than 65535 bytes")
		}
		b = append(b, byte(c))
	}
	t.kind, t.b = tokName, b
	return t, nil
}

// hexString reads a hexadecimal string after its '<' (§7.3.4.3).
func (l *lexer) hexString(t token) (token, error) {
	s := l.s
	var b []byte
	hi := -1
	for {
		c := s.next()
		switch {
		case c < 0:
			return t, l.errAt(t.off, "unterminated hexadecimal string")
		case c == '>':
			if hi >= 0 {
				b = append(b, byte(hi<<4))
			}
			t.kind, t.b, t.hex = tokString, b, true
			return t, nil
		case isWhite(byte(c)):
			continue
		}
		v := unhex(c)
		if v < 0 {
			return t, l.errAt(s.pos-1, "bad byte %#x in hexadecimal string", c)
		}
		if hi < 0 {
			hi = v
			continue
		}
		if len(b) >= l.lim.MaxStringLen {
			return t, limitErr("parsing string", t.off, "string longer than %d bytes", l.lim.MaxStringLen)
		}
		b = append(b, byte(hi<<4|v))
		hi = -1
	}
}

// literalString reads a literal string after its '(' (§7.3.4.2): balanced
// parentheses, backslash escapes, end-of-line normalised to LF.
func (l *lexer) literalString(t token) (token, error) {
	s := l.s
	var b []byte
	depth := 1
	for {
		if len(b) >= l.lim.MaxStringLen {
			return t, limitErr("parsing string", t.off, "string longer than %d bytes", l.lim.MaxStringLen)
		}
		c := s.next()
		switch c {
		case -1:
			return t, l.errAt(t.off, "unterminated literal string")
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				t.kind, t.b = tokString, b
				return t, nil
			}
		case '\r':
			if s.peek() == '\n' {
				s.pos++
			}
			c = '\n'
		case '\\':
			e := s.next()
			switch e {
			case -1:
				return t, l.errAt(t.off, "unterminated literal string")
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if s.peek() == '\n' {
					s.pos++
				}
				continue
			case '\n':
				continue
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for k := 0; k < 2; k++ {
						d := s.peek()
						if d < '0' || d > '7' {
							break
						}
						v = v<<3 | (d - '0')
						s.pos++
					}
					c = v & 0xff
				} else {
					c = e // \( \) \\ and unknown escapes: the character itself
				}
			}
		}
		b = append(b, byte(c))
	}
}

// frame is one open array or dictionary in the iterative parser.
type frame struct {
	dict   *Dict
	arr    Array
	key    Name
	hasKey bool
	off    int64
}

// parseObject parses one direct object at the lexer's position. It is
// iterative, with an explicit stack bounded by MaxDepth, so no input can
// exhaust the goroutine stack. Streams are not handled here: the caller
// sees a *Dict and looks for the "stream" keyword.
func (l *lexer) parseObject() (Object, error) {
	var stack []frame
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		var v Object
		switch t.kind {
		case tokEOF:
			return nil, l.errAt(t.off, "unexpected end of data")
		case tokArrayOpen, tokDictOpen:
			if len(stack) >= l.lim.MaxDepth {
				return nil, limitErr("parsing object", t.off, "nesting deeper than %d", l.lim.MaxDepth)
			}
			f := frame{off: t.off}
			if t.kind == tokDictOpen {
				f.dict = NewDict()
			} else {
				f.arr = Array{}
			}
			stack = append(stack, f)
			continue
		case tokArrayClose:
			if len(stack) == 0 || stack[len(stack)-1].dict != nil {
				return nil, l.errAt(t.off, "unexpected ']'")
			}
			v = stack[len(stack)-1].arr
			stack = stack[:len(stack)-1]
		case tokDictClose:
			if len(stack) == 0 || stack[len(stack)-1].dict == nil {
				return nil, l.errAt(t.off, "unexpected '>>'")
			}
			// A key without a value is ignored (lenient, as most readers).
			v = stack[len(stack)-1].dict
			stack = stack[:len(stack)-1]
		case tokInt:
			v = Int(t.i)
			if t.i >= 0 && t.i <= 1<<31 {
				if r, ok := l.tryRef(int(t.i)); ok {
					v = r
				}
			}
		case tokReal:
			v = Real(t.f)
		case tokName:
			v = Name(t.b)
		case tokString:
			v = String{Value: t.b, Hex: t.hex}
		case tokKeyword:
			switch string(t.b) {
			case "true":
				v = Bool(true)
			case "false":
				v = Bool(false)
			case "null":
				v = Null{}
			default:
				return nil, l.errAt(t.off, "unexpected keyword %q", t.b)
			}
		}
		if len(stack) == 0 {
			return v, nil
		}
		top := &stack[len(stack)-1]
		if top.dict == nil {
			if len(top.arr) >= l.lim.MaxStringLen {
				return nil, limitErr("parsing array", top.off, "more than %d elements", l.lim.MaxStringLen)
			}
			top.arr = append(top.arr, v)
			continue
		}
		if !top.hasKey {
			k, ok := v.(Name)
			if !ok {
				return nil, l.errAt(t.off, "dictionary key is not a name")
			}
			top.key, top.hasKey = k, true
			continue
		}
		if top.dict.Len() >= l.lim.MaxStringLen {
			return nil, limitErr("parsing dictionary", top.off, "more than %d entries", l.lim.MaxStringLen)
		}
		if _, isNull := v.(Null); !isNull { // a null value means absent (§7.3.7)
			top.dict.Set(top.key, v)
		}
		top.hasKey = false
	}
}

// tryRef looks ahead for "Gen R" after an integer, restoring the position
// if they are not there.
func (l *lexer) tryRef(num int) (Ref, bool) {
	save := l.s.pos
	t1, err := l.next()
	if err == nil && t1.kind == tokInt && t1.i >= 0 && t1.i <= 65535 {
		t2, err := l.next()
		if err == nil && t2.kind == tokKeyword && bytes.Equal(t2.b, []byte("R")) {
			return Ref{Num: num, Gen: int(t1.i)}, true
		}
	}
	l.s.pos = save
	return Ref{}, false
}

// ParseObject parses one direct object from b (no indirect object header,
// no stream), with the given limits (nil means defaults). It is the entry
// point fuzzed for the object syntax of §7.3.
func ParseObject(b []byte, lim *Limits) (Object, error) {
	ll := lim.withDefaults()
	var work int64
	l := &lexer{s: newScanner(bytes.NewReader(b), int64(len(b))), lim: &ll, work: &work}
	return l.parseObject()
}

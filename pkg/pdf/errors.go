package pdf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns for bad input is an
// *Error whose Unwrap yields one of these, so callers test with errors.Is.
var (
	// ErrMalformed reports input that does not follow ISO 32000-2 closely
	// enough to be read.
	ErrMalformed = errors.New("pdf: malformed document")
	// ErrLimit reports input that exceeds one of the configured Limits.
	ErrLimit = errors.New("pdf: limit exceeded")
	// ErrEncrypted reports a document with an /Encrypt entry in its
	// trailer (ISO 32000-2 §7.6); kyso does not sign encrypted documents.
	ErrEncrypted = errors.New("pdf: document is encrypted")
	// ErrUnsupported reports a valid feature this package does not
	// implement, such as a stream filter other than the ones StreamData
	// decodes.
	ErrUnsupported = errors.New("pdf: unsupported feature")
)

// Error describes why a document could not be read: what was being done,
// at which byte offset (-1 when unknown), and which kind of failure it was.
type Error struct {
	Kind   error  // ErrMalformed, ErrLimit, ErrEncrypted or ErrUnsupported
	Op     string // what was being done, e.g. "reading xref table"
	Offset int64  // byte offset in the file, or -1
	Msg    string // detail
	Err    error  // underlying cause, if any (I/O, zlib)
}

func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Op != "" {
		s += ": " + e.Op
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at offset %d)", e.Offset)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the kind and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func malformed(op string, off int64, format string, args ...any) *Error {
	return &Error{Kind: ErrMalformed, Op: op, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func limitErr(op string, off int64, format string, args ...any) *Error {
	return &Error{Kind: ErrLimit, Op: op, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

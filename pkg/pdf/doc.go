// Package pdf is kyso's own PDF layer: a hardened, bounded reader for the
// parts of a PDF that signing needs (the cross-reference structure, the
// document catalog, the page tree and the interactive form) and an
// incremental writer that appends an update section without touching the
// original bytes (ISO 32000-2:2020 §7.5.6).
//
// The reader never loads the whole file to parse it: it reads windows of an
// io.ReaderAt on demand. Every input is bounded by Limits — file size,
// nesting depth, object count, string, stream and decoded sizes, the length
// of the cross-reference chain and a total work budget — and parsing is
// iterative, so hostile input ends in an *Error (wrapping ErrLimit,
// ErrMalformed, ErrEncrypted or ErrUnsupported), never in a panic or a
// stack overflow.
//
// A Reader is not safe for concurrent use; open one per goroutine.
package pdf

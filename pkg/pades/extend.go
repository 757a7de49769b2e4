package pades

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// ExtendOptions are LTVOptions plus what a document time-stamp needs.
type ExtendOptions struct {
	LTVOptions
	// TSA time-stamps the document for LevelBLTA. Required for it.
	TSA TimestampFunc
	// Timestamp says how to lay out the document time-stamp: FieldName,
	// ContentsSize, Hash (see AddDocumentTimestamp). Nil Limits means
	// LTVOptions.Limits.
	Timestamp Options
}

// Extend raises the signatures of the PDF of size bytes in r to level and
// writes the result to w, every step an incremental update that leaves
// the earlier signatures valid:
//
//   - LevelBLT (ETSI EN 319 142-1 clause 6.5): AddLTV, for every signature
//     and document time-stamp.
//   - LevelBLTA (clause 6.6): AddLTV, then a document time-stamp from
//     opts.TSA over the whole file (AddDocumentTimestamp), then AddLTV
//     again for the time-stamp's own chain — as pyHanko does — so that it
//     too can be validated from the document alone. Extending a B-LTA
//     document again adds fresh validation data and a new document
//     time-stamp over the old ones (clause 5.5: the archive time-stamp
//     chain).
//
// Every CAdES signature must already be B-T (have a signature time-stamp,
// clause 6.4): revocation data proves little about a signature whose time
// nothing vouches for. Such a document is refused with ErrUnsupported.
// The intermediate versions stay in memory as update sections only; the
// original is streamed from r.
func Extend(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, level Level, opts *ExtendOptions) error {
	if level != LevelBLT && level != LevelBLTA {
		return fmt.Errorf("pades: level %q is not B-LT or B-LTA: %w", level, ErrUnsupported)
	}
	if opts == nil {
		return errors.New("pades: Extend needs ExtendOptions")
	}
	if level == LevelBLTA && opts.TSA == nil {
		return errors.New("pades: level B-LTA needs a TSA")
	}
	l, err := newLTV(&opts.LTVOptions)
	if err != nil {
		return err
	}
	doc := &appended{r: r, size: size}
	if err := l.extend(ctx, doc, level, opts, true); err != nil {
		return err
	}
	return writeWith(w, r, size, doc.tail)
}

// extend appends to doc's tail the updates that raise it to level: the
// validation data, and for LevelBLTA the document time-stamp from
// opts.TSA and the validation data of its own chain (see Extend). With
// allBT, every CAdES signature must be B-T already (Extend raises them
// all); Sign, which adds validation data to its own new B-T signature,
// passes false: another signer's earlier B-B signature (NSS writes them)
// is not refused, and its validation data is added too.
func (l *ltv) extend(ctx context.Context, doc *appended, level Level, opts *ExtendOptions, allBT bool) error {
	if allBT {
		if err := l.checkBT(doc, doc.len()); err != nil {
			return err
		}
	}
	s, err := l.section(ctx, doc, doc.len())
	if err != nil {
		return err
	}
	doc.tail = append(doc.tail, s...)
	if level != LevelBLTA {
		return nil
	}
	to := opts.Timestamp
	if to.Limits == nil {
		to.Limits = opts.Limits
	}
	if s, err = docTimestampSection(ctx, doc, doc.len(), opts.TSA, &to); err != nil {
		return err
	}
	doc.tail = append(doc.tail, s...)
	if s, err = l.section(ctx, doc, doc.len()); err != nil {
		return fmt.Errorf("%w (after the document time-stamp)", err)
	}
	doc.tail = append(doc.tail, s...)
	return nil
}

// checkBT refuses a document with a CAdES signature without a signature
// time-stamp.
func (l *ltv) checkBT(r io.ReaderAt, size int64) error {
	rd, err := pdf.Open(r, size, l.o.Limits)
	if err != nil {
		if errors.Is(err, pdf.ErrEncrypted) {
			return fmt.Errorf("pades: cannot extend an encrypted PDF: %w", err)
		}
		return fmt.Errorf("pades: reading the PDF: %w", err)
	}
	sigs, err := l.signatures(rd)
	if err != nil {
		return err
	}
	for _, s := range sigs {
		if !s.docTS && !s.timestamped {
			return fmt.Errorf("pades: the signature in field %q has no signature time-stamp; B-LT and B-LTA build on B-T (ETSI EN 319 142-1 clause 6.4): %w", s.field, ErrUnsupported)
		}
	}
	return nil
}

// appended reads as the size bytes of r followed by tail: a document with
// the updates made so far, without copying it.
type appended struct {
	r    io.ReaderAt
	size int64
	tail []byte
}

func (a *appended) len() int64 { return a.size + int64(len(a.tail)) }

func (a *appended) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("pades: negative offset")
	}
	n := 0
	if off < a.size {
		m := int(min(int64(len(p)), a.size-off))
		k, err := a.r.ReadAt(p[:m], off)
		n = k
		if k < m {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	if n == len(p) {
		return n, nil
	}
	t := off + int64(n) - a.size
	if t >= int64(len(a.tail)) {
		return n, io.EOF
	}
	n += copy(p[n:], a.tail[t:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

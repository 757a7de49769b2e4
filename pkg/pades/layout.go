package pades

import (
	"crypto"
	"fmt"
	"hash"
	"io"

	"github.com/kyso-pki/kyso/pkg/pdf"
)

// placeholders are the /Contents and /ByteRange of a signature dictionary
// before layOut: a hex string of n zero bytes, and an array whose numbers
// are wide enough for any byte range layOut writes over it.
func placeholders(n int) (contents, byteRange *pdf.Marked) {
	contents = pdf.Mark(pdf.String{Value: make([]byte, n), Hex: true})
	byteRange = pdf.Mark(pdf.Array{pdf.Int(0), pdf.Int(9999999999), pdf.Int(9999999999), pdf.Int(9999999999)})
	return contents, byteRange
}

// layOut finishes an update of the size-byte original whose signature
// dictionary — a signature's or a document time-stamp's — holds the marked
// contents and byteRange placeholders: it computes and writes /ByteRange,
// the whole file but the /Contents hex string, brackets included (ISO
// 32000-2 §12.8.1), and returns the update section laid out, with no
// Digest yet.
func layOut(size int64, w *pdf.Writer, contents, byteRange *pdf.Marked, h crypto.Hash) (*Prepared, error) {
	cOff, cLen, err := w.Span(contents)
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	total, err := w.Len()
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	br := [4]int64{0, cOff, cOff + cLen, total - cOff - cLen}
	_, brLen, err := w.Span(byteRange)
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	brText := fmt.Appendf(nil, "[%d %d %d %d]", br[0], br[1], br[2], br[3])
	if int64(len(brText)) > brLen {
		return nil, fmt.Errorf("pades: byte range %s does not fit its placeholder", brText)
	}
	for int64(len(brText)) < brLen {
		brText = append(brText, ' ')
	}
	if err := w.Patch(byteRange, brText); err != nil {
		return nil, fmt.Errorf("pades: writing /ByteRange: %w", err)
	}
	section, err := w.Section()
	if err != nil {
		return nil, fmt.Errorf("pades: laying out the update: %w", err)
	}
	if len(section) > maxSection {
		return nil, fmt.Errorf("pades: the update section is %d bytes, more than %d", len(section), maxSection)
	}
	return &Prepared{
		Hash:        h,
		ByteRange:   br,
		OriginalLen: size,
		section:     section,
		cStart:      int(cOff - size),
		cEnd:        int(cOff + cLen - size),
	}, nil
}

// hashOriginal streams the p.OriginalLen bytes of r through p's hash, and
// through every w, once, and sets p's digests.
func (p *Prepared) hashOriginal(r io.ReaderAt, ws ...io.Writer) error {
	h := p.Hash.New()
	if err := copyOriginal(r, p.OriginalLen, copyBuffer(p.OriginalLen), append([]io.Writer{h}, ws...)...); err != nil {
		return err
	}
	p.digest(h)
	return nil
}

// digest sets p's digests from h, which has hashed the original: Sum does
// not change the state, so the hash of the original alone, which
// identifies it in Embed, is had for free.
func (p *Prepared) digest(h hash.Hash) {
	p.origDigest = h.Sum(nil)
	h.Write(p.section[:p.cStart])
	h.Write(p.section[p.cEnd:])
	p.Digest = h.Sum(nil)
}

// copyBuffer is the buffer to stream an original of size bytes with: 1 MiB,
// or the whole of a smaller file.
func copyBuffer(size int64) []byte { return make([]byte, min(max(size, 1), 1<<20)) }

// copyOriginal reads the size bytes of r through buf, writing each block to
// every w, and checks that r has exactly size bytes. It reads with ReadAt
// itself rather than io.CopyBuffer, which would hand an *os.File writer
// the reader and copy through its own 32 KiB buffer.
func copyOriginal(r io.ReaderAt, size int64, buf []byte, ws ...io.Writer) error {
	for off := int64(0); off < size; {
		n := int(min(int64(len(buf)), size-off))
		m, err := r.ReadAt(buf[:n], off)
		if m < n {
			if err == nil || err == io.EOF {
				return fmt.Errorf("pades: the original has %d bytes, not %d: %w", off+int64(m), size, ErrMismatch)
			}
			return fmt.Errorf("pades: reading the original: %w", err)
		}
		for _, w := range ws {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("pades: writing the original: %w", err)
			}
		}
		off += int64(n)
	}
	if m, _ := r.ReadAt(buf[:1], size); m != 0 {
		return fmt.Errorf("pades: the original is longer than %d bytes: %w", size, ErrMismatch)
	}
	return nil
}

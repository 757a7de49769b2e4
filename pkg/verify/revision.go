package verify

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// maxRevisions bounds the revisions revisionEnds reports.
const maxRevisions = 4096

// revision is where one revision of a file ends: mark just after its
// "%%EOF" marker, end after the end-of-line that follows it.
type revision struct{ mark, end int64 }

// revisionEnds returns where each revision of the file ends, in increasing
// order: just after an "%%EOF" marker and the end-of-line that follows it
// (ISO 32000-2 §7.5.5, §7.5.6). The marker that closes a linearized file's
// first-page section ("startxref 0") does not end a revision (Annex F).
func revisionEnds(r io.ReaderAt, size int64) ([]revision, error) {
	const chunk = 1 << 20
	marker := []byte("%%EOF")
	var ends []revision
	buf := make([]byte, chunk+len(marker))
	for off := int64(0); off < size; off += chunk {
		n := min(int64(len(buf)), size-off)
		b := buf[:n]
		if _, err := r.ReadAt(b, off); err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading revisions: %w", err)
		}
		for i := 0; ; {
			j := bytes.Index(b[i:], marker)
			if j < 0 {
				break
			}
			p := off + int64(i+j)
			i += j + 1
			if p-off >= chunk {
				break // the next chunk finds it
			}
			if zero, err := startxrefZero(r, p); err != nil {
				return nil, err
			} else if zero {
				continue
			}
			mark := p + int64(len(marker))
			ends = append(ends, revision{mark, mark + eolLen(r, mark, size)})
			if len(ends) > maxRevisions {
				return nil, fmt.Errorf("more than %d revisions", maxRevisions)
			}
		}
	}
	if len(ends) == 0 || ends[len(ends)-1].end < size {
		// Junk after the last marker, or no marker: the file as a whole
		// is the last revision a reader sees.
		ends = append(ends, revision{size, size})
	}
	return ends, nil
}

// eolLen is the length of the end-of-line at off: CR LF, LF or CR.
func eolLen(r io.ReaderAt, off, size int64) int64 {
	b := make([]byte, 2)
	n, _ := r.ReadAt(b[:min(2, size-off)], off)
	switch {
	case n >= 2 && b[0] == '\r' && b[1] == '\n':
		return 2
	case n >= 1 && (b[0] == '\n' || b[0] == '\r'):
		return 1
	}
	return 0
}

// startxrefZero reports whether the "startxref" just before the marker at p
// gives offset 0, as a linearized file's first-page trailer does.
func startxrefZero(r io.ReaderAt, p int64) (bool, error) {
	from := max(0, p-64)
	b := make([]byte, p-from)
	if _, err := r.ReadAt(b, from); err != nil && err != io.EOF {
		return false, fmt.Errorf("reading revisions: %w", err)
	}
	i := bytes.LastIndex(b, []byte("startxref"))
	if i < 0 {
		return false, nil
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b[i+len("startxref"):])), 10, 64)
	return err == nil && v == 0, nil
}

// revisionOf returns the index of the revision that ends at end, allowing
// the signed range to stop before the end-of-line after "%%EOF", and -1
// when no revision ends there.
func revisionOf(ends []revision, end int64) int {
	for i, e := range ends {
		if end >= e.mark && end <= e.end {
			return i
		}
	}
	return -1
}

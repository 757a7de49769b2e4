package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// readAll opens data and reads everything a signer would: the catalog, the
// pages, the fields and every page's content streams. It returns the first
// error.
func readAll(data []byte, lim *Limits) error {
	rd, err := Open(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return err
	}
	if _, _, err := rd.Catalog(); err != nil {
		return err
	}
	pages, err := rd.Pages()
	if err != nil {
		return err
	}
	for _, p := range pages {
		c, err := rd.Get(p.Dict.Get("Contents"))
		if err != nil {
			return err
		}
		if st, ok := c.(*Stream); ok {
			if _, err := rd.StreamData(st); err != nil {
				return err
			}
		}
	}
	_, err = rd.Fields()
	return err
}

// withDeadline runs f and fails the test if it takes longer than d or
// panics.
func withDeadline(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	type result struct {
		err error
		p   any
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- result{p: p}
			}
		}()
		ch <- result{err: f()}
	}()
	select {
	case r := <-ch:
		if r.p != nil {
			t.Fatalf("panic: %v", r.p)
		}
		return r.err
	case <-time.After(d):
		t.Fatalf("took longer than %v", d)
		return nil
	}
}

func deflate(b []byte) []byte {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

// streamObj is a stream object with raw data and extra dictionary entries.
func streamObj(extra string, data []byte) string {
	return fmt.Sprintf("<< /Length %d %s>>\nstream\n%s\nendstream", len(data), extra, data)
}

func TestHostile(t *testing.T) {
	zeros := deflate(make([]byte, 80<<20))
	tests := []struct {
		name string
		data []byte
		kind error // nil: any *Error
	}{
		{"deep nesting in the catalog", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages " + strings.Repeat("[", 1_000_000) + " >>",
		}, ""), ErrLimit},
		{"deep dictionaries", buildClassic("1.7", []string{
			strings.Repeat("<< /A ", 100_000),
		}, ""), ErrLimit},
		{"prev loop", prevLoop(), ErrMalformed},
		{"object stream containing itself", selfObjStm(), ErrMalformed},
		{"huge length", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"<< /Length 99999999999999 >>\nstream\nBT ET\nendstream",
		}, ""), nil},
		{"flate bomb", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			streamObj("/Filter /FlateDecode ", zeros),
		}, ""), ErrLimit},
		{"stacked flate bomb", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			streamObj("/Filter [/FlateDecode /FlateDecode] ", deflate(deflate(make([]byte, 40<<20)))),
		}, ""), ErrLimit},
		{"page tree cycle", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
		}, ""), ErrMalformed},
		{"length refers to itself", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"<< /Length 4 0 R >>\nstream\nBT ET\nendstream",
		}, ""), nil},
		{"no endstream", buildClassic("1.7", []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"<< /Length 4 0 R >>\nstream\nBT ET",
		}, ""), ErrMalformed},
		{"encrypted", buildClassic("1.7", []string{"<< /Type /Catalog >>", "<< >>"}, "/Encrypt 2 0 R "), ErrEncrypted},
		{"no startxref", []byte("%PDF-1.7\n1 0 obj\n<< >>\nendobj\n"), ErrMalformed},
		{"startxref past the end", []byte("%PDF-1.7\nstartxref\n99999\n%%EOF\n"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"garbage", garbage(1 << 16), ErrMalformed},
		{"huge xref subsection", []byte("%PDF-1.7\nxref\n0 999999999\ntrailer\n<< >>\nstartxref\n9\n%%EOF\n"), ErrLimit},
		{"xref stream with huge Size", xrefStreamPDF("/Size 999999999 /W [1 2 1]", nil), ErrMalformed},
		{"xref stream with wide W", xrefStreamPDF("/Size 1 /W [1 200 1]", nil), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := withDeadline(t, 10*time.Second, func() error { return readAll(tc.data, nil) })
			if tc.kind == nil {
				if err != nil {
					var pe *Error
					if !errors.As(err, &pe) {
						t.Errorf("error %v is not a *pdf.Error", err)
					}
				}
			} else {
				if !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("error %v is not a *pdf.Error", err)
				}
				if !strings.HasPrefix(err.Error(), "pdf: ") {
					t.Errorf("error %q lacks the pdf: prefix", err)
				}
			}
			t.Logf("%v in %v", err, time.Since(start))
		})
	}
}

func garbage(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestDeepParseObject(t *testing.T) {
	for _, in := range []string{strings.Repeat("[", 1_000_000), strings.Repeat("<</A ", 1_000_000)} {
		err := withDeadline(t, 5*time.Second, func() error {
			_, err := ParseObject([]byte(in), nil)
			return err
		})
		if !errors.Is(err, ErrLimit) {
			t.Errorf("err = %v, want ErrLimit", err)
		}
	}
}

// prevLoop is a file whose newest section's /Prev points at itself.
func prevLoop() []byte {
	b := minimalPDF("1.7")
	i := bytes.LastIndex(b, []byte("startxref\n"))
	var off int
	fmt.Sscanf(string(b[i+10:]), "%d", &off)
	b = bytes.Replace(b, []byte("trailer\n<<"), []byte(fmt.Sprintf("trailer\n<< /Prev %d", off)), 1)
	return b
}

// xrefStreamPDF is a file whose only section is a cross-reference stream
// with the given dictionary entries and data.
func xrefStreamPDF(entries string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	off := b.Len()
	fmt.Fprintf(&b, "1 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n",
		streamObj("/Type /XRef /Root 2 0 R "+entries+" ", data), off)
	return b.Bytes()
}

// selfObjStm is a file whose catalog is compressed in object stream 2,
// which the cross-reference stream also says is compressed in itself.
func selfObjStm() []byte {
	// entries: 0 free; 1 = xref stream (type 1 at its offset); 2 in objstm 2; 3 in objstm 2
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	xo := b.Len()
	rows := []byte{0, 0, 0, 0, 1, 0, byte(xo), 0, 2, 0, 2, 0, 2, 0, 2, 1}
	fmt.Fprintf(&b, "1 0 obj\n%s\nendobj\nstartxref\n%d\n%%%%EOF\n",
		streamObj("/Type /XRef /Root 3 0 R /Size 4 /W [1 2 1] ", rows), xo)
	return b.Bytes()
}

func TestTruncated(t *testing.T) {
	for _, p := range producers()[:3] {
		data := p.make(t, t.TempDir())
		err := withDeadline(t, 20*time.Second, func() error {
			for n := 0; n < len(data); n += 7 {
				err := readAll(data[:n], nil)
				if err == nil && n < len(data)-30 {
					return fmt.Errorf("%s truncated to %d of %d bytes read without error", p.name, n, len(data))
				}
				var pe *Error
				if err != nil && !errors.As(err, &pe) {
					return fmt.Errorf("%s truncated to %d: error %v is not a *pdf.Error", p.name, n, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

func TestLimitsDocumented(t *testing.T) {
	l := (*Limits)(nil).withDefaults()
	if l.MaxFileSize != DefaultMaxFileSize || l.MaxDepth != DefaultMaxDepth || l.MaxWork != DefaultMaxWork {
		t.Errorf("defaults not applied: %+v", l)
	}
	data := minimalPDF("1.7")
	if _, err := Open(bytes.NewReader(data), int64(len(data)), &Limits{MaxFileSize: 100}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxFileSize: err = %v", err)
	}
	if err := readAll(data, &Limits{MaxWork: 20}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxWork: err = %v", err)
	}
}

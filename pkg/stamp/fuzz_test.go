package stamp

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
	"testing"
)

// FuzzForm draws stamps from arbitrary text, box sizes and QR text: Form
// either fails with a "stamp: " error having added nothing, or adds a
// form whose content shows only glyphs the ToUnicode map knows. Run it
// with -fuzztime, e.g. go test ./pkg/stamp -run '^$' -fuzz FuzzForm
// -fuzztime 60s.
func FuzzForm(f *testing.F) {
	f.Add("Ký bởi: NGUYỄN VĂN ĐỨC\nNgày ký: 10:15:00 23/11/2026 (GMT+7)", 260.0, 80.0, "https://kyso.example.vn/v", 0)
	f.Add("a", 10.0, 10.0, "", 90)
	f.Add(strings.Repeat("Lý do: Tôi đồng ý với nội dung văn bản ", 5), 120.0, 300.0, "", 270)
	f.Add("\x00\t\r\n", 1e9, -1.0, "http://", 45)
	f.Fuzz(func(t *testing.T, text string, w, h float64, qr string, rotate int) {
		m := &memPDF{}
		a := &Appearance{Lines: strings.Split(text, "\n"), QRURL: qr}
		ref, err := a.Form(m, w, h, rotate)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "stamp: ") {
				t.Errorf("error without prefix: %v", err)
			}
			if len(m.objs) != 0 {
				t.Errorf("a failed Form added %d objects", len(m.objs))
			}
			return
		}
		if ref.Num != len(m.objs) {
			t.Errorf("Form returned %v, the last of %d objects is the form", ref, len(m.objs))
		}
		st := streamAt(t, m, ref.Num-1)
		zr, err := zlib.NewReader(bytes.NewReader(st.Data))
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(zr)
		if err != nil || !bytes.HasPrefix(content, []byte("q\n")) || !bytes.HasSuffix(content, []byte("ET\nQ\n")) {
			t.Errorf("content stream %q (%v)", content, err)
		}
	})
}

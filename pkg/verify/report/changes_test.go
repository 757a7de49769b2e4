package report_test

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

// modified signs onePage and changes it after signing, in one incremental
// update, in ways no signature allows: the page content rewritten, the
// catalog given a new entry, a page added, a square annotation put on the
// signed page.
func modified(t *testing.T, f *fixture) []byte {
	t.Helper()
	doc := f.sign(t, onePage(), "citizen", pades.LevelBB, "Đồng ý")
	rd, err := pdf.Open(bytes.NewReader(doc), int64(len(doc)), nil)
	if err != nil {
		t.Fatal(err)
	}
	dict := func(num int) *pdf.Dict {
		o, err := rd.Resolve(pdf.Ref{Num: num})
		if err != nil {
			t.Fatal(err)
		}
		return o.(*pdf.Dict).Clone()
	}
	w := pdf.NewIncrementalWriter(bytes.NewReader(doc), int64(len(doc)), rd)
	w.Update(pdf.Ref{Num: 4}, &pdf.Stream{Dict: pdf.NewDict(), Data: []byte("BT /F1 24 Tf 72 720 Td (Chuyen 1 ty dong) Tj ET")})
	cat, catRef, err := rd.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.Clone()
	cat.Set("Lang", pdf.String{Value: []byte("en")})
	w.Update(catRef, cat)
	page := pdf.NewDict()
	page.Set("Type", pdf.Name("Page"))
	page.Set("Parent", pdf.Ref{Num: 2})
	page.Set("MediaBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
	pages := dict(2)
	pages.Set("Kids", pdf.Array{pdf.Ref{Num: 3}, w.Add(page)})
	pages.Set("Count", pdf.Int(2))
	w.Update(pdf.Ref{Num: 2}, pages)
	annot := pdf.NewDict()
	annot.Set("Type", pdf.Name("Annot"))
	annot.Set("Subtype", pdf.Name("Square"))
	annot.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(595), pdf.Int(842)})
	signed := dict(3)
	signed.Set("Annots", pdf.Array{w.Add(annot)})
	w.Update(pdf.Ref{Num: 3}, signed)
	if err := w.Build(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := w.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// english are words of the English change details that Vietnamese never
// uses.
var english = regexp.MustCompile(`\b(was|were|changed|added|deleted|object|page|pages|annotation|the|which|forbids)\b`)

// TestChangesInVietnamese: the Vietnamese report of a document modified
// after signing says each change in Vietnamese (it said "object 2 (a
// stream, such as page content) was changed"), naming the page, the
// object and the DocMDP permission; the English report keeps verify's
// text; and "Lý do ký" (the signer's reason) and the failure's label
// differ.
func TestChangesInVietnamese(t *testing.T) {
	f := getFixture(t)
	doc := modified(t, f)
	rep, err := verify.Verify(context.Background(), bytes.NewReader(doc), int64(len(doc)),
		&verify.Options{Roots: f.roots, Now: func() time.Time { return checkedAt }})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Signatures[0]
	if s.Indication != verify.TotalFailed || s.SubIndication != verify.SigConstraintsFailure {
		t.Fatalf("%s %s: %q", s.Indication, s.SubIndication, s.Reasons)
	}
	var kinds []string
	for _, c := range s.ChangeDetails {
		kinds = append(kinds, c.Params["what"])
	}
	for _, k := range []string{"object_stream", "key", "object_dict_typed", "annot_added", "page_count"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no %s change among %q", k, s.Changes)
		}
	}
	vi := report.Build(rep, "doc.pdf", &report.Options{Lang: report.Vietnamese}).Signatures[0]
	en := report.Build(rep, "doc.pdf", &report.Options{Lang: report.English}).Signatures[0]
	if len(vi.Changes) != len(s.Changes) || !slices.Equal(en.Changes, s.Changes) {
		t.Fatalf("%d Vietnamese changes, English %q, verify %q", len(vi.Changes), en.Changes, s.Changes)
	}
	for i, c := range vi.Changes {
		t.Logf("%s\n\t→ %s", s.Changes[i], c)
		if w := english.FindString(c); w != "" || strings.Contains(c, "tiếng Anh") {
			t.Errorf("change %d is not in Vietnamese (%q): %s", i, w, c)
		}
	}
	joined := strings.Join(vi.Changes, "\n")
	for _, w := range []string{"trang 1", "Đối tượng 4 (một luồng, chẳng hạn nội dung trang)", "mục /Lang", "DocMDP P=2", "có 1 trang khi ký, nay có 2 trang"} {
		if !strings.Contains(joined, w) {
			t.Errorf("the Vietnamese changes do not say %q:\n%s", w, joined)
		}
	}
	var html bytes.Buffer
	if err := report.Write(&html, rep, "doc.pdf", report.HTML, &report.Options{Lang: report.Vietnamese}); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Changes {
		if strings.Contains(html.String(), c) {
			t.Errorf("the Vietnamese HTML report says %q", c)
		}
	}
	if !strings.Contains(html.String(), "Nguyên nhân") || strings.Contains(html.String(), "Lý do:") {
		t.Error("the failure's label is not “Nguyên nhân”, or “Lý do:” is still shown")
	}
}

package pades

import (
	"github.com/kyso-pki/kyso/pkg/pdf"
)

// annots returns a copy of the page's /Annots, direct or indirect.
func annots(rd *pdf.Reader, page pdf.Page) (pdf.Array, error) {
	switch a := page.Dict.Get("Annots").(type) {
	case pdf.Ref:
		return getArray(rd, a)
	case pdf.Array:
		return append(pdf.Array{}, a...), nil
	}
	return pdf.Array{}, nil
}

func hasAnnot(rd *pdf.Reader, page pdf.Page, ref pdf.Ref) (bool, error) {
	arr, err := annots(rd, page)
	if err != nil {
		return false, err
	}
	for _, a := range arr {
		if a == ref {
			return true, nil
		}
	}
	return false, nil
}

// setAnnots writes the page's /Annots: the indirect array redefined in
// place, or the page with a new direct array.
func setAnnots(w *pdf.Writer, page pdf.Page, arr pdf.Array) {
	if ar, ok := page.Dict.Get("Annots").(pdf.Ref); ok {
		w.Update(ar, arr)
		return
	}
	pd := page.Dict.Clone()
	pd.Set("Annots", arr)
	w.Update(page.Ref, pd)
}

// addAnnot appends ref to the page's /Annots.
func addAnnot(rd *pdf.Reader, w *pdf.Writer, page pdf.Page, ref pdf.Ref) error {
	arr, err := annots(rd, page)
	if err != nil {
		return err
	}
	setAnnots(w, page, append(arr, ref))
	return nil
}

// removeAnnot removes ref from the page's /Annots.
func removeAnnot(rd *pdf.Reader, w *pdf.Writer, page pdf.Page, ref pdf.Ref) error {
	arr, err := annots(rd, page)
	if err != nil {
		return err
	}
	out := pdf.Array{}
	for _, a := range arr {
		if a != ref {
			out = append(out, a)
		}
	}
	setAnnots(w, page, out)
	return nil
}

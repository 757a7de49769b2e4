package pades

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/stamp"
)

// addField puts the signature dictionary into the document: in an
// existing empty signature field, or in a new one (ISO 32000-2
// §12.7.5.5) — invisible on the first page, or visible where o.Visible
// says — updating the AcroForm, the catalog and the pages as needed. For a certification signature it adds the DocMDP
// reference (§12.8.2.2) and the catalog's /Perms (§12.8.4).
func addField(rd *pdf.Reader, w *pdf.Writer, sig *pdf.Dict, o *Options) error {
	cat, catRef, err := rd.Catalog()
	if err != nil {
		return fmt.Errorf("pades: reading the catalog: %w", err)
	}
	fields, err := rd.Fields()
	if err != nil {
		return fmt.Errorf("pades: reading the form fields: %w", err)
	}
	// A document time-stamp is no change for DocMDP P=1 (ISO 32000-2
	// §12.8.2.2.2: P=1 allows no change but the DSS and document
	// time-stamps that keep the signature valid).
	if sig.Get("Type") != pdf.Name("DocTimeStamp") {
		if err := checkPerms(rd, cat); err != nil {
			return err
		}
	}
	byName := map[string]pdf.Field{}
	signed := 0
	for _, f := range fields {
		byName[f.Name] = f
		if f.IsSignature() && f.Value != nil {
			signed++
		}
	}
	if o.Certify != 0 {
		if signed > 0 {
			return fmt.Errorf("pades: a certification signature must be the first, and the document has %d: %w", signed, ErrUnsupported)
		}
		sig.Set("Reference", docMDPReference(o.Certify))
	}

	name := o.FieldName
	if name == "" {
		for i := 1; ; i++ {
			name = "Signature" + strconv.Itoa(i)
			f, ok := byName[name]
			if !ok || (f.IsSignature() && f.Value == nil) {
				break
			}
		}
	}
	sigRef := w.Add(sig)

	newCat := cat.Clone()
	catChanged := false
	if o.Certify != 0 {
		newCat.Set("Perms", docMDPPerms(rd, cat, sigRef))
		catChanged = true
	}

	formObj := cat.Get("AcroForm")
	formRef, formIndirect := formObj.(pdf.Ref)
	form, _, err := rd.AcroForm()
	if err != nil {
		return fmt.Errorf("pades: reading the AcroForm: %w", err)
	}
	if form == nil {
		form = pdf.NewDict()
		form.Set("Fields", pdf.Array{})
		formIndirect = false
	} else {
		form = form.Clone()
	}
	form.Set("SigFlags", pdf.Int(3))

	if f, ok := byName[name]; ok {
		if !f.IsSignature() {
			return fmt.Errorf("pades: field %q is a %s field, not a signature field", name, f.Type)
		}
		if f.Value != nil {
			return fmt.Errorf("pades: field %q is already signed", name)
		}
		fd := f.Dict.Clone()
		fd.Set("V", sigRef)
		if o.Visible != nil {
			if err := showExisting(rd, w, f, fd, o); err != nil {
				return err
			}
		}
		w.Update(f.Ref, fd)
	} else {
		if strings.Contains(name, ".") {
			return fmt.Errorf("pades: new field name %q contains a period, which separates partial names (ISO 32000-2 §12.7.4.2)", name)
		}
		pages, err := rd.Pages()
		if err != nil {
			return fmt.Errorf("pades: reading the pages: %w", err)
		}
		if len(pages) == 0 {
			return errors.New("pades: the document has no pages")
		}
		field := pdf.NewDict()
		field.Set("FT", pdf.Name("Sig"))
		field.Set("T", textString(name))
		field.Set("V", sigRef)
		field.Set("Type", pdf.Name("Annot"))
		field.Set("Subtype", pdf.Name("Widget"))
		var page pdf.Page
		if o.Visible == nil {
			page = pages[0]
			field.Set("Rect", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
			field.Set("F", pdf.Int(132)) // Print | Locked (§12.5.3)
			field.Set("P", page.Ref)
			// A document time-stamp's zero-size widget has no appearance
			// (§12.5.5 exempts zero-size annotations): with one, pyHanko
			// takes the B-LTA update for form filling, which DocMDP P=1
			// forbids.
			if sig.Get("Type") != pdf.Name("DocTimeStamp") {
				ap := &pdf.Stream{Dict: pdf.NewDict(), Data: []byte{}}
				ap.Dict.Set("Type", pdf.Name("XObject"))
				ap.Dict.Set("Subtype", pdf.Name("Form"))
				ap.Dict.Set("BBox", pdf.Array{pdf.Int(0), pdf.Int(0), pdf.Int(0), pdf.Int(0)})
				apd := pdf.NewDict()
				apd.Set("N", w.Add(ap))
				field.Set("AP", apd)
			}
		} else {
			n := o.Visible.Page
			if n == 0 {
				n = 1
			}
			if page, err = pageAt(pages, n); err != nil {
				return err
			}
			if err := showWidget(rd, w, field, page, n, nil, o); err != nil {
				return err
			}
		}
		fieldRef := w.Add(field)

		// Append to /Fields, which may be an indirect array.
		if fr, ok := form.Get("Fields").(pdf.Ref); ok {
			arr, err := getArray(rd, fr)
			if err != nil {
				return err
			}
			w.Update(fr, append(arr, fieldRef))
		} else {
			arr, _ := form.Get("Fields").(pdf.Array)
			form.Set("Fields", append(append(pdf.Array{}, arr...), fieldRef))
		}
		if err := addAnnot(rd, w, page, fieldRef); err != nil {
			return err
		}
	}

	if formIndirect {
		w.Update(formRef, form)
	} else {
		newCat.Set("AcroForm", w.Add(form))
		catChanged = true
	}
	if catChanged {
		w.Update(catRef, newCat)
	}
	return nil
}

// getArray resolves ref to an array and returns a copy of it.
func getArray(rd *pdf.Reader, ref pdf.Ref) (pdf.Array, error) {
	obj, err := rd.Resolve(ref)
	if err != nil {
		return nil, fmt.Errorf("pades: reading %v: %w", ref, err)
	}
	arr, ok := obj.(pdf.Array)
	if !ok {
		if _, null := obj.(pdf.Null); null || obj == nil {
			return pdf.Array{}, nil
		}
		return nil, fmt.Errorf("pades: %v should be an array: %w", ref, pdf.ErrMalformed)
	}
	return append(pdf.Array{}, arr...), nil
}

// showExisting makes the empty signature field f, whose dictionary fd is
// being rewritten, visible: its widget — the field itself, or its first
// widget kid — gets the stamp, on Visible.Page or the page it is on, at
// Visible.Rect or its own /Rect.
func showExisting(rd *pdf.Reader, w *pdf.Writer, f pdf.Field, fd *pdf.Dict, o *Options) error {
	widgetRef, widget := f.Ref, fd
	if fd.Get("Subtype") != pdf.Name("Widget") {
		kids, _ := fd.Get("Kids").(pdf.Array)
		for _, k := range kids {
			kr, ok := k.(pdf.Ref)
			if !ok {
				continue
			}
			ko, err := rd.Resolve(kr)
			if err != nil {
				return fmt.Errorf("pades: reading the widget of field %q: %w", f.Name, err)
			}
			if kd, ok := ko.(*pdf.Dict); ok && kd.Get("T") == nil {
				widgetRef, widget = kr, kd.Clone()
				break
			}
		}
		if widgetRef == f.Ref {
			// No widget: the field becomes its own (§12.5.6.19).
			fd.Set("Type", pdf.Name("Annot"))
			fd.Set("Subtype", pdf.Name("Widget"))
		}
	}
	pages, err := rd.Pages()
	if err != nil {
		return fmt.Errorf("pades: reading the pages: %w", err)
	}
	// The page the widget is on: the one whose /Annots lists it, trying
	// its /P first.
	cur := -1
	if p, ok := widget.Get("P").(pdf.Ref); ok {
		for i, pg := range pages {
			if pg.Ref == p {
				if has, err := hasAnnot(rd, pg, widgetRef); err != nil {
					return err
				} else if has {
					cur = i
				}
				break
			}
		}
	}
	for i := 0; cur < 0 && i < len(pages); i++ {
		if has, err := hasAnnot(rd, pages[i], widgetRef); err != nil {
			return err
		} else if has {
			cur = i
		}
	}
	n := o.Visible.Page
	if n == 0 {
		n = 1
		if cur >= 0 {
			n = cur + 1
		}
	}
	page, err := pageAt(pages, n)
	if err != nil {
		return err
	}
	var own []float64
	if r, err := rd.Rect(widget.Get("Rect")); err == nil && r[2] > r[0] && r[3] > r[1] {
		own = r[:]
	}
	if err := showWidget(rd, w, widget, page, n, own, o); err != nil {
		return err
	}
	if cur != n-1 {
		if cur >= 0 {
			if err := removeAnnot(rd, w, pages[cur], widgetRef); err != nil {
				return err
			}
		}
		if err := addAnnot(rd, w, page, widgetRef); err != nil {
			return err
		}
	}
	if widgetRef != f.Ref {
		w.Update(widgetRef, widget)
	}
	return nil
}

// showWidget sets a widget's /Rect, /F, /P and /AP for the stamp on page
// (number n): at Visible.Rect, else at own (llx, lly, urx, ury) when not
// nil, else at the default place.
func showWidget(rd *pdf.Reader, w *pdf.Writer, widget *pdf.Dict, page pdf.Page, n int, own []float64, o *Options) error {
	v := o.Visible
	box, err := rd.PageBox(page)
	if err != nil {
		return err
	}
	var r [4]float64 // llx, lly, urx, ury
	switch {
	case v.Rect != [4]float64{}:
		for _, x := range v.Rect {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return visibleErr("rectangle %v is not made of numbers", v.Rect)
			}
		}
		if v.Rect[2] <= 0 || v.Rect[3] <= 0 {
			return visibleErr("rectangle %s has no area: width and height must be positive", fmtRect(v.Rect))
		}
		r = [4]float64{v.Rect[0], v.Rect[1], v.Rect[0] + v.Rect[2], v.Rect[1] + v.Rect[3]}
	case own != nil:
		r = [4]float64(own)
	default:
		r = defaultRect(box, page.Rotate)
	}
	const eps = 1e-6
	if r[0] < box[0]-eps || r[1] < box[1]-eps || r[2] > box[2]+eps || r[3] > box[3]+eps {
		return visibleErr("rectangle %s (x, y, width, height) is not within page %d, whose visible area is %s",
			fmtRect([4]float64{r[0], r[1], r[2] - r[0], r[3] - r[1]}), n, fmtRect([4]float64{box[0], box[1], box[2] - box[0], box[3] - box[1]}))
	}
	lines := v.Lines
	if len(lines) == 0 {
		signer := v.Signer
		if signer == "" {
			signer = o.Name
		}
		if strings.TrimSpace(signer) == "" {
			return visibleErr("no name for the stamp: set Visible.Signer, Options.Name or Visible.Lines")
		}
		lines = stamp.DefaultLines(signer, o.SigningTime, v.TimeZone, o.Reason, o.Location)
	}
	a := &stamp.Appearance{Lines: lines, Image: v.Image, QRURL: v.QRURL}
	form, err := a.Form(w, r[2]-r[0], r[3]-r[1], page.Rotate)
	if err != nil {
		return &VisibleError{Err: err}
	}
	apd := pdf.NewDict()
	apd.Set("N", form)
	widget.Set("Rect", pdf.Array{pdf.Real(r[0]), pdf.Real(r[1]), pdf.Real(r[2]), pdf.Real(r[3])})
	widget.Set("F", pdf.Int(4)) // Print (§12.5.3)
	widget.Set("P", page.Ref)
	widget.Set("AP", apd)
	return nil
}

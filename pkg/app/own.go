package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Signing one's own document ("Ký tài liệu của tôi"): the owner uploads a
// PDF (ownUpload); it becomes a transaction of the built-in app client
// (signing.Service.SubmitOwn) with the stamp at the bottom right of the
// last page; the request page draws its pages and takes a tap (app.js) or,
// without script, a corner of a page (placeStamp), which makes a new
// transaction with the stamp there and withdraws the one before, so the
// place is part of what the owner approves; the approval is the request
// page's, signing.Service.Approve; the signed PDF is downloaded here
// (ownDownload). DESIGN.md, "The citizen's app".

// Defaults of Options.MaxOwnPDF and MaxOwnPages.
const (
	DefaultMaxOwnPDF   = 10 << 20
	DefaultMaxOwnPages = 100
)

// ownName is the name an uploaded file is shown and kept by: its base
// name, at most signing.MaxDocID bytes of text shown as it is, else a
// plain name.
func ownName(file string) string {
	n := strings.TrimSpace(path.Base(strings.ReplaceAll(file, `\`, "/")))
	for len(n) > signing.MaxDocID {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	if n == "" || n == "." || n == "/" || !utf8.ValidString(n) || display.Text("name", n) != nil {
		return "tai-lieu.pdf"
	}
	return n
}

// ownPage shows the upload form.
func (h *Handler) ownPage(w http.ResponseWriter, r *http.Request) {
	h.show(w, r, http.StatusOK, "own", "ownTitle", h.ownLimits(), "", false)
}

// ownLimitsView tells the upload form's limits.
type ownLimitsView struct{ MaxMB, MaxPages int }

func (h *Handler) ownLimits() *ownLimitsView {
	return &ownLimitsView{MaxMB: h.o.MaxOwnPDF >> 20, MaxPages: h.o.MaxOwnPages}
}

// ownUpload takes an uploaded PDF — multipart, the CSRF field first, then
// the file, read as it streams and never more than MaxOwnPDF — checks it
// is a PDF kyso can read of at most MaxOwnPages pages, and submits it
// with the stamp at the bottom right of its last page.
func (h *Handler) ownUpload(w http.ResponseWriter, r *http.Request) {
	r, part := h.upload(w, r, true, int64(h.o.MaxOwnPDF))
	if part == nil {
		return
	}
	s := sessionOf(r)
	doc, err := io.ReadAll(io.LimitReader(part, int64(h.o.MaxOwnPDF)+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(doc) > h.o.MaxOwnPDF:
		h.ownRefuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(messages[lang(w, r)]["ownTooLarge"], h.o.MaxOwnPDF>>20))
		return
	case err != nil:
		return // the client went away
	}
	views, err := pages(doc)
	switch {
	case err != nil:
		h.ownRefuse(w, r, http.StatusBadRequest, messages[lang(w, r)]["ownNotPDF"])
		return
	case len(views) > h.o.MaxOwnPages:
		h.ownRefuse(w, r, http.StatusBadRequest, fmt.Sprintf(messages[lang(w, r)]["ownTooManyPages"], len(views), h.o.MaxOwnPages))
		return
	}
	last := views[len(views)-1]
	rect, _ := last.StampAt(last.CornerPoint(false, false))
	x, err := h.svc.SubmitOwn(r.Context(), &signing.OwnRequest{OwnerID: s.ownerID, Name: ownName(part.FileName()), PDF: doc,
		Description: messages[lang(w, r)]["ownTitle"],
		Stamp:       &signing.Stamp{Page: len(views), Rect: rect}})
	if err != nil {
		if k, _ := kindOf(err); k == signing.KindInvalid {
			h.ownRefuse(w, r, http.StatusBadRequest, messages[lang(w, r)]["ownNotPDF"])
			return
		}
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/app/requests/%s?doc=0&page=%d", x.ID, len(views)), http.StatusSeeOther)
}

// ownRefuse shows the upload form again with why the file was refused.
func (h *Handler) ownRefuse(w http.ResponseWriter, r *http.Request, status int, why string) {
	h.show(w, r, status, "own", "ownTitle", h.ownLimits(), why, true)
}

// pages reads a PDF's pages as a viewer shows them; no page is an error.
func pages(doc []byte) ([]pades.PageView, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(doc, "\x00\t\n\f\r "), []byte("%PDF-")) {
		return nil, errors.New("app: not a PDF")
	}
	v, err := pades.PageViews(doc, nil)
	if err == nil && len(v) == 0 {
		err = errors.New("app: a PDF without pages")
	}
	return v, err
}

// stampView is the placing of an own document's stamp on the request
// page: where it is now, and for the page shown the stamp's size and, if
// it is on that page, its box (fractions of the page's image).
type stampView struct {
	Page       int
	W, H       string
	Box        string
	Corners    []cornerOption
	OnThisPage bool
}

// cornerOption is one choice of the corner select (the form without
// script).
type cornerOption struct {
	Value, Label string
	Selected     bool
}

var corners = []struct {
	key       string
	top, left bool
}{{"br", false, false}, {"bl", false, true}, {"tr", true, false}, {"tl", true, true}}

// stampOf makes the request page's stampView for an own document shown
// at page (0: no page drawn).
func stampOf(t map[string]string, x *signing.Transaction, page int) *stampView {
	d := x.Documents[0]
	views, err := pages(d.PDF)
	if err != nil || d.Stamp == nil || d.Stamp.Page < 1 || d.Stamp.Page > len(views) {
		return nil
	}
	v := &stampView{Page: d.Stamp.Page}
	for p := range views {
		for _, c := range corners {
			v.Corners = append(v.Corners, cornerOption{Value: fmt.Sprintf("%d:%s", p+1, c.key),
				Label: fmt.Sprintf(t["cornerOf"], p+1, t["corner_"+c.key]), Selected: p+1 == page && c.key == "br"})
		}
	}
	if page < 1 || page > len(views) {
		return v
	}
	pv := views[page-1]
	sw, sh := pv.StampSize()
	pw, ph := pv.Size()
	v.W, v.H = frac(sw/pw), frac(sh/ph)
	if d.Stamp.Page == page {
		r := d.Stamp.Rect
		fx, fy, _, _ := pv.Shown([4]float64{r[0], r[1], r[0] + r[2], r[1] + r[3]})
		v.Box, v.OnThisPage = frac(fx)+" "+frac(fy), true
	}
	return v
}

func frac(f float64) string { return strconv.FormatFloat(f, 'f', 6, 64) }

// placeStamp moves an own document's stamp: to the point tapped on a
// page's image (page, x and y, fractions of the image from its top left
// corner), else to the corner chosen ("page:br"). The transaction is
// withdrawn (rejected), the document submitted again with the stamp
// there, and the browser sent to the new one: a transaction's stamp
// never changes under an approval.
func (h *Handler) placeStamp(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	x, err := h.svc.OwnerTransaction(r.Context(), s.ownerID, r.PathValue("id"))
	if err == nil && x.ClientID != signing.AppClientID {
		err = &signing.Error{Kind: signing.KindNotFound, Description: "not an own document"}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := x.Documents[0]
	views, err := pages(d.PDF)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := r.PostForm
	var page int
	var fx, fy float64
	if f.Get("x") != "" || f.Get("y") != "" {
		page = atoi(f.Get("page"), 0)
		var ex, ey error
		fx, ex = strconv.ParseFloat(f.Get("x"), 64)
		fy, ey = strconv.ParseFloat(f.Get("y"), 64)
		if ex != nil || ey != nil || math.IsNaN(fx) || math.IsNaN(fy) || fx < 0 || fx > 1 || fy < 0 || fy > 1 {
			h.problem(w, r, http.StatusBadRequest, "stampOutside")
			return
		}
	} else {
		p, c, _ := strings.Cut(f.Get("corner"), ":")
		page = atoi(p, 0)
		found := false
		for _, k := range corners {
			if k.key == c && page >= 1 && page <= len(views) {
				fx, fy = views[page-1].CornerPoint(k.top, k.left)
				found = true
			}
		}
		if !found && page >= 1 && page <= len(views) {
			h.problem(w, r, http.StatusBadRequest, "stampOutside")
			return
		}
	}
	if page < 1 || page > len(views) {
		h.problem(w, r, http.StatusBadRequest, "stampNoPage")
		return
	}
	rect, err := views[page-1].StampAt(fx, fy)
	if err != nil {
		h.problem(w, r, http.StatusBadRequest, "stampOutside")
		return
	}
	// Withdrawn first: of two moves at once, one wins the
	// compare-and-set and only it submits; the other is told the request
	// is no longer pending.
	if err := h.svc.Reject(r.Context(), s.ownerID, x.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	y, err := h.svc.SubmitOwn(r.Context(), &signing.OwnRequest{OwnerID: s.ownerID, Name: d.DocID, PDF: d.PDF, Description: x.Description, Stamp: &signing.Stamp{Page: page, Rect: rect}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/app/requests/%s?doc=0&page=%d", y.ID, page), http.StatusSeeOther)
}

// ownDownload sends an own document's signed PDF, to its owner only, as
// an attachment never kept by a cache.
func (h *Handler) ownDownload(w http.ResponseWriter, r *http.Request) {
	x, err := h.svc.OwnDocument(r.Context(), sessionOf(r).ownerID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(x.Signatures) != 1 || len(x.Signatures[0].SignedPDF) == 0 {
		h.problem(w, r, http.StatusConflict, "notSignedYet")
		return
	}
	name := strings.TrimSuffix(x.Documents[0].DocID, ".pdf")
	name = strings.TrimSuffix(name, ".PDF") + "-da-ky.pdf"
	hd := w.Header()
	hd.Set("Content-Type", "application/pdf")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	hd.Set("Cache-Control", "no-store")
	w.Write(x.Signatures[0].SignedPDF)
}

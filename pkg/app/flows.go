package app

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/render"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

// pageWidth is the width, in pixels, of a document page's image: sharp on
// a phone's screen at 2× and on a desktop's column.
const pageWidth = 900

// loginPage shows the login form; a live session goes to its requests.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if s := h.current(w, r); s != nil {
		http.Redirect(w, r, or(next, "/app/"), http.StatusSeeOther)
		return
	}
	h.show(w, r, http.StatusOK, "login", "loginTitle", &loginView{Next: next, Passkey: h.loginPasskeyOptions(w, r)}, "", false)
}

// loginView is the login page's data: Next, where to go after (only the
// consent page: safeNext); Passkey, the options of the passkey login
// (empty: none offered).
type loginView struct{ Next, Passkey string }

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// login checks national ID, PIN and one-time code with the owners' API's
// check (signing.Service.OwnerLogin: the same attempt counter and lock)
// and starts a session. The session is always new: a cookie the browser
// had before is replaced, never promoted (no fixation), and so is its
// CSRF cookie.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	id := strings.TrimSpace(r.PostForm.Get("cccd"))
	pin, otp := r.PostForm.Get("pin"), r.PostForm.Get("otp")
	if id == "" || len(id) > 64 || pin == "" || len(pin) > 64 || otp == "" || len(otp) > 16 || display.Text("cccd", id) != nil {
		h.show(w, r, http.StatusBadRequest, "login", "loginTitle", &loginView{Next: next}, "needAll", true)
		return
	}
	if !strings.Contains(id, ":") {
		id = "CCCD:" + id
	}
	if !h.o.Limits.CheckClient(w, r, "login:"+id) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	tok, _, err := h.svc.OwnerLogin(r.Context(), id, pin, otp)
	if err != nil {
		if k, _ := kindOf(err); k == signing.KindDenied {
			h.show(w, r, http.StatusForbidden, "login", "loginTitle", &loginView{Next: next}, "wrongFactors", true)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.o.Limits.ChargeClient("login:" + id)
	h.startSession(w, r, tok, next)
}

// startSession starts a session on the owner's new token and sends the
// browser to next (or the requests).
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, tok, next string) {
	now := h.o.Now()
	setCookie(w, SessionCookie, h.keys.sealSession(&session{token: tok, begun: now, usedAt: now}), 0)
	setCookie(w, CSRFCookie, randomValue(), 0)
	http.Redirect(w, r, or(next, "/app/"), http.StatusSeeOther)
}

// logout revokes the session's token, on every replica at once.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if err := h.svc.RevokeToken(r.Context(), s.token, &signing.Principal{Kind: "owner", ID: s.ownerID}); err != nil {
		h.fail(w, r, err)
		return
	}
	setCookie(w, SessionCookie, "", -1)
	setCookie(w, CSRFCookie, "", -1)
	http.Redirect(w, r, "/app/login", http.StatusSeeOther)
}

// summary is a pending request in the list.
type summary struct {
	ID, Portal, Description, Created, Expires string
	Documents                                 int
}

// requests lists the owner's pending requests, newest first.
func (h *Handler) requests(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.OwnerTransactions(r.Context(), sessionOf(r).ownerID, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := portalNames{h: h, ctx: r.Context()}
	var out []summary
	for _, t := range list {
		out = append(out, summary{ID: t.ID, Portal: names.of(t.ClientID), Description: shown(t.Description),
			Created: when(t.CreatedAt), Expires: when(t.ExpiresAt), Documents: len(t.Documents)})
	}
	h.show(w, r, http.StatusOK, "requests", "requestsTitle", &requestsView{Requests: out, Banners: h.banners(w, r)}, "", false)
}

// requestsView is the requests page's data: the pending requests, and
// the notices of certificates to renew (renew.go).
type requestsView struct {
	Requests []summary
	Banners  []bannerView
}

// portalNames looks up portals' registered names, once each.
type portalNames struct {
	h     *Handler
	ctx   context.Context
	names map[string]string
}

func (p *portalNames) of(clientID string) string {
	if clientID == "" {
		return "—"
	}
	if p.names == nil {
		p.names = map[string]string{}
	}
	if n, ok := p.names[clientID]; ok {
		return n
	}
	n := clientID
	if c, err := p.h.svc.Client(p.ctx, clientID); err == nil {
		n = c.Name
	}
	p.names[clientID] = shown(n)
	return p.names[clientID]
}

// docView is one document of a request as the page shows it.
type docView struct {
	Index                  int
	Name, Fingerprint, Alg string
	HasPDF                 bool
	Link                   string
}

// requestView is the request page's data.
type requestView struct {
	ID, Portal, Description, Created, Expires string
	Documents                                 []docView
	// Doc is the document being looked at; Page of Pages its page, Image
	// the page's image, Prev and Next the neighbouring pages' links.
	Doc               *docView
	Page, Pages       int
	Image, Prev, Next string
	// Unseen: the page could not be drawn (the message says why).
	Unseen string
	// Passkey are the options of the passkey approval, bound to this
	// request (empty: the owner has no passkey).
	Passkey string
	// Stamp, for an own document, is where its stamp goes and how to
	// move it.
	Stamp *stampView
}

// request shows one request: who asks, why, each document with its hash,
// and a PDF's pages one at a time (?doc=&page=).
func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	t, err := h.svc.OwnerTransaction(r.Context(), s.ownerID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := portalNames{h: h, ctx: r.Context()}
	v := &requestView{ID: t.ID, Portal: names.of(t.ClientID), Description: shown(t.Description), Created: when(t.CreatedAt), Expires: when(t.ExpiresAt)}
	base := "/app/requests/" + t.ID
	for i, d := range t.Documents {
		v.Documents = append(v.Documents, docView{Index: i, Name: shown(d.DocID), Fingerprint: fingerprint(d.Hash), Alg: t.HashAlgorithm.String(),
			HasPDF: len(d.PDF) > 0, Link: fmt.Sprintf("%s?doc=%d&page=1", base, i)})
	}
	q := r.URL.Query()
	di := atoi(q.Get("doc"), -1)
	if di < 0 {
		for i, d := range v.Documents {
			if d.HasPDF {
				di = i
				break
			}
		}
	}
	if di >= 0 && di < len(v.Documents) && v.Documents[di].HasPDF {
		v.Doc = &v.Documents[di]
		doc := t.Documents[di].PDF
		// The first page after start may wait for PDFium's compilation
		// (seconds; Start begins it): the server's timeouts bound it.
		ctx := r.Context()
		if reason := heldBytes(t, di); reason != "" {
			v.Unseen = reason
		} else if rd, err := h.render.get(ctx); err != nil {
			h.log.ErrorContext(ctx, "app: the PDF renderer", "err", err)
			v.Unseen = "renderFailed"
		} else if n, err := rd.PageCount(ctx, doc); err != nil {
			v.Unseen = "renderFailed"
		} else {
			v.Pages = n
			v.Page = min(max(atoi(q.Get("page"), 1), 1), n)
			v.Image = fmt.Sprintf("%s/docs/%d/pages/%d", base, di, v.Page)
			if v.Page > 1 {
				v.Prev = fmt.Sprintf("%s?doc=%d&page=%d", base, di, v.Page-1)
			}
			if v.Page < n {
				v.Next = fmt.Sprintf("%s?doc=%d&page=%d", base, di, v.Page+1)
			}
		}
		if v.Unseen != "" {
			v.Unseen = messages[lang(w, r)][v.Unseen]
		}
	}
	v.Passkey = h.passkeyOptions(r, func() ([]byte, error) { return h.svc.TransactionPasskeyOptions(r.Context(), s.ownerID, t.ID) })
	if t.ClientID == signing.AppClientID {
		v.Stamp = stampOf(messages[lang(w, r)], t, v.Page)
	}
	h.show(w, r, http.StatusOK, "request", "requestTitle", v, "", false)
}

// heldBytes checks that document di's bytes are the ones whose digest
// the approval covers: a SHA-256 transaction (what Submit computes for
// a PDF) and that digest. It returns a message key when not.
func heldBytes(t *signing.Transaction, di int) string {
	d := t.Documents[di]
	sum := sha256.Sum256(d.PDF)
	if t.HashAlgorithm != crypto.SHA256 || subtle.ConstantTimeCompare(sum[:], d.Hash) != 1 {
		return "notTheBytes"
	}
	return ""
}

// pageImage draws a page of a request's PDF as PNG, from the bytes whose
// digest the approval covers. Never cached (no-store): a document is the
// owner's.
func (h *Handler) pageImage(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	t, err := h.svc.OwnerTransaction(r.Context(), s.ownerID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	di, pg := atoi(r.PathValue("doc"), -1), atoi(r.PathValue("page"), -1)
	if di < 0 || di >= len(t.Documents) || len(t.Documents[di].PDF) == 0 || pg < 1 {
		h.problem(w, r, http.StatusNotFound, "notFound")
		return
	}
	if heldBytes(t, di) != "" {
		h.problem(w, r, http.StatusConflict, "notTheBytes")
		return
	}
	rd, err := h.render.get(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	png, err := rd.Page(r.Context(), t.Documents[di].PDF, pg, pageWidth)
	switch {
	case errors.Is(err, render.ErrNoPage):
		h.problem(w, r, http.StatusNotFound, "notFound")
		return
	case err != nil:
		h.log.WarnContext(r.Context(), "app: drawing a page", "transaction", t.ID, "err", err)
		h.problem(w, r, http.StatusUnprocessableEntity, "renderFailed")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

// doneView is the page after a decision: Receipt, after an approval, is
// its consent receipt's ID; Download, the signed PDF of an own document.
type doneView struct{ What, Back, Receipt, Download string }

// approve signs the request's documents once the owner's factors check
// out — PIN and code, or a passkey's answer to this request's challenge
// (signing.Service.ApproveWith: the one signing path, the same attempt
// counter and lock as the login). Another owner's request is not found.
func (h *Handler) approve(w http.ResponseWriter, r *http.Request) {
	s, f, ok := h.ownerFactors(w, r)
	if !ok {
		return
	}
	// The request page showed the pages of every PDF kyso holds for it:
	// the receipt says so, with the device this request came from.
	x, err := h.svc.ApproveWith(httpedge.ApprovalContext(r, true), s.ownerID, r.PathValue("id"), f)
	if err != nil {
		h.failFactors(w, r, f, err)
		return
	}
	v := &doneView{What: "signed", Receipt: x.ReceiptID}
	if x.ClientID == signing.AppClientID {
		v.What, v.Download = "ownSigned", "/app/own/"+x.ID+"/signed.pdf"
	}
	h.show(w, r, http.StatusOK, "done", "signedTitle", v, "", false)
}

// receipt downloads one of the owner's consent receipts
// (signing.Service.OwnerReceipt); another owner's is not found.
func (h *Handler) receipt(w http.ResponseWriter, r *http.Request) {
	f, err := h.svc.OwnerReceipt(r.Context(), sessionOf(r).ownerID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteReceipt(w, f)
}

// reject refuses the request; no factor is needed to say no.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Reject(r.Context(), sessionOf(r).ownerID, r.PathValue("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, "done", "rejectedTitle", &doneView{What: "rejected"}, "", false)
}

// useView is one row of the history.
type useView struct {
	EventID                                        int64
	Time, Portal, Document, Fingerprint, Alg, Cred string
	// Receipt is the ID of the consent receipt of the approval that
	// allowed the signature; empty when there is none.
	Receipt string
}

// credView is one of the owner's credentials with its certificate's state.
type credView struct {
	ID, Serial, Status string
	Usable             bool
}

type historyView struct {
	Credentials []credView
	Uses        []useView
}

// history lists every signature the owner's keys made, from the audit
// log, each with the button that suspends the certificate.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	uses, err := h.svc.KeyHistory(r.Context(), s.ownerID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	creds, err := h.svc.OwnerCredentials(r.Context(), s.ownerID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	t := messages[lang(w, r)]
	v := &historyView{}
	for _, c := range creds {
		cv := credView{ID: c.ID, Serial: display.FormatSerial(c.CertSerial)}
		st := signing.CertStatus("unknown")
		if cert, _, err := h.svc.Certificate(r.Context(), c); err == nil {
			if st, err = h.svc.CertificateStatus(r.Context(), c, cert, time.Time{}); err != nil {
				h.fail(w, r, err)
				return
			}
		}
		cv.Usable = st == signing.CertValid && c.Status == "active"
		cv.Status = t["cert_"+string(st)]
		if cv.Status == "" {
			cv.Status = string(st)
		}
		v.Credentials = append(v.Credentials, cv)
	}
	names := portalNames{h: h, ctx: r.Context()}
	for _, u := range uses {
		doc := shown(u.DocID)
		if doc == "" {
			doc = t["noDocName"]
		}
		v.Uses = append(v.Uses, useView{EventID: u.EventID, Time: when(u.Time), Portal: names.of(u.ClientID), Document: doc,
			Fingerprint: fingerprint(u.Digest), Alg: u.HashAlgorithm, Cred: u.CredentialID, Receipt: u.ReceiptID})
	}
	h.show(w, r, http.StatusOK, "history", "historyTitle", v, "", false)
}

// disown is "Tôi không thực hiện giao dịch này": the certificate of the
// credential that made the signature is suspended at once
// (signing.Service.SuspendOwn).
func (h *Handler) disown(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	event := int64(atoi(r.PostForm.Get("event"), 0))
	if err := h.svc.SuspendOwn(r.Context(), s.ownerID, r.PostForm.Get("credential"), event); err != nil {
		h.fail(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, "done", "suspendedTitle", &doneView{What: "suspended"}, "", false)
}

// checkPage shows the form to check a signed PDF; anyone may use it.
func (h *Handler) checkPage(w http.ResponseWriter, r *http.Request) {
	if s := h.current(w, r); s != nil { // a logged-in owner keeps their menu
		r = withSession(r, s)
	}
	h.show(w, r, http.StatusOK, "check", "checkTitle", nil, "", false)
}

// maxCSRFField bounds the CSRF field of the upload form.
const maxCSRFField = 256

// upload begins an upload form's POST: from the app's own origin, within
// the source's rate, multipart with the CSRF field first (checked against
// the browser and the session, if any; needSession requires one), then
// the file, returned unread, the whole body bounded by max and a form's
// worth. The request returned carries the session. A nil part means it
// has answered.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, needSession bool, max int64) (*http.Request, *multipart.Part) {
	if !sameOrigin(r) {
		h.problem(w, r, http.StatusForbidden, "csrf")
		return r, nil
	}
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return r, nil
	}
	s := h.current(w, r)
	if s != nil {
		r = withSession(r, s)
	} else if needSession {
		h.problem(w, r, http.StatusUnauthorized, "loggedOut")
		return r, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, max+MaxForm)
	mr, err := r.MultipartReader()
	if err != nil {
		h.problem(w, r, http.StatusBadRequest, "badForm")
		return r, nil
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "csrf" {
		h.problem(w, r, http.StatusForbidden, "csrf")
		return r, nil
	}
	tok, _ := io.ReadAll(io.LimitReader(part, maxCSRFField))
	r.PostForm = map[string][]string{"csrf": {string(tok)}}
	if !h.csrfOK(r, s) {
		h.problem(w, r, http.StatusForbidden, "csrf")
		return r, nil
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != "file" {
		h.problem(w, r, http.StatusBadRequest, "badForm")
		return r, nil
	}
	return r, part
}

// check validates an uploaded PDF with the /verify/v1 engine and its
// bounds (Checker), and shows the Vietnamese (or English) report. The form
// is multipart: the CSRF field first, then the file, read as it streams
// and never more than the engine's limit.
func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	r, part := h.upload(w, r, false, h.o.Checker.MaxBody())
	if part == nil {
		return
	}
	l := lang(w, r)
	rep, err := h.o.Checker.Check(r, part)
	if err != nil {
		var explained interface {
			HTTPStatus() int
			Text(report.Lang) string
		}
		if errors.As(err, &explained) {
			h.show(w, r, explained.HTTPStatus(), "check", "checkTitle", nil, explained.Text(report.Lang(l)), true)
		}
		return // else the client went away
	}
	doc := report.Build(rep, part.FileName(), &report.Options{Lang: report.Lang(l)})
	h.show(w, r, http.StatusOK, "report", "reportTitle", doc, "", false)
}

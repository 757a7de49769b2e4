// Package verifyapi serves kysod's validation API: POST /verify/v1 with a
// signed PDF as the body (application/pdf) answers its validation report
// (pkg/verify, presented by pkg/verify/report) as JSON, or as an HTML page
// when the client accepts text/html, in Vietnamese unless ?lang=en.
//
// The route is public — anyone who receives a signed PDF may check it, as
// Circular 15/2025/TT-BKHCN Article 6 intends — so it is bounded instead:
// the body's size, the time one validation may take, and how many run at
// once. Revocation data is fetched only through the client Options gives
// (kysod: its own PKI, in process), never from the URLs of an uploaded
// certificate, so the route cannot be made to reach other hosts.
package verifyapi

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/pdf"
	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/verify"
	"github.com/kyso-pki/kyso/pkg/verify/report"
)

// Path is where the handler is mounted.
const Path = "/verify/v1"

// Defaults of Options' bounds.
const (
	DefaultMaxBody       = 32 << 20
	DefaultTimeout       = 30 * time.Second
	DefaultMaxConcurrent = 4
)

// Roots returns the trust anchors of one validation. It is called for each
// request, so that a trust store changed while the daemon runs is seen.
type Roots func(ctx context.Context) (*x509.CertPool, error)

// Options configure the handler.
type Options struct {
	// Roots gives the trust anchors; required. kysod gives its own root
	// CA; a trust store (`kyso trust`) plugs in here.
	Roots Roots
	// Fetcher fetches revocation data the document does not carry. Nil
	// means offline. WARNING: a Fetcher whose client reaches the network
	// lets anyone who posts a PDF make the server request the URLs in its
	// certificates; give one restricted to known hosts.
	Fetcher *revocation.Fetcher
	// MaxBody bounds the PDF, in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Timeout bounds one validation; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrent bounds the validations running at once; more get 503.
	// Zero means DefaultMaxConcurrent.
	MaxConcurrent int
	// Now is the validation clock; nil means time.Now.
	Now func() time.Time
	// Logger receives internal errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves POST /verify/v1.
type Handler struct {
	o   Options
	sem chan struct{}
	log *slog.Logger
}

// NewHandler returns the validation API.
func NewHandler(opts *Options) (*Handler, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Roots == nil {
		return nil, errors.New("verifyapi: Options.Roots is required")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	h := &Handler{o: o, sem: make(chan struct{}, o.MaxConcurrent), log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Error is the body of every error response, as in the other kyso APIs:
// error, error_description and the request ID to quote.
type Error = httpedge.ErrorBody

// errorText is an error's description in each language.
type errorText struct{ vi, en string }

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, lang report.Lang, status int, code string, t errorText) {
	d := t.vi
	if lang == report.English {
		d = t.en
	}
	httpedge.WriteJSON(w, status, Error{Error: code, Description: d, RequestID: httpedge.RequestID(r)})
}

// ServeHTTP validates the PDF in the request body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = httpedge.Begin(w, r)
	lang := report.Vietnamese
	if r.URL.Path != Path {
		h.fail(w, r, lang, http.StatusNotFound, "not_found", errorText{"không có đường dẫn " + r.URL.Path, "no such path: " + r.URL.Path})
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, lang, http.StatusMethodNotAllowed, "invalid_request",
			errorText{"chỉ chấp nhận phương thức POST, không chấp nhận " + r.Method, r.Method + " is not allowed here; use POST"})
		return
	}
	q := r.URL.Query()
	if l := q.Get("lang"); len(q["lang"]) > 1 || (l == "" && q.Has("lang")) {
		h.fail(w, r, lang, http.StatusBadRequest, "invalid_request", errorText{"tham số lang phải là vi hoặc en, một lần", "lang must be given once, as vi or en"})
		return
	} else if l != "" {
		if l != "vi" && l != "en" {
			h.fail(w, r, lang, http.StatusBadRequest, "invalid_request", errorText{"tham số lang phải là vi hoặc en, không phải " + strconv.Quote(l), "lang must be vi or en, not " + strconv.Quote(l)})
			return
		}
		lang = report.Lang(l)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/pdf" {
		h.fail(w, r, lang, http.StatusUnsupportedMediaType, "invalid_request",
			errorText{"nội dung yêu cầu phải là tệp PDF (Content-Type: application/pdf)", "the request body must be a PDF (Content-Type: application/pdf)"})
		return
	}
	rep, err := h.Check(r, r.Body)
	if err != nil {
		var ce *CheckError
		if errors.As(err, &ce) {
			h.failWith(w, r, lang, ce)
		}
		return // else the client went away
	}
	var out bytes.Buffer
	format, ctype := report.JSON, "application/json"
	if wantsHTML(r.Header.Get("Accept")) {
		format, ctype = report.HTML, "text/html; charset=utf-8"
	}
	if err := report.Write(&out, rep, "", format, &report.Options{Lang: lang}); err != nil {
		h.log.Error("verify API: writing the report", "request_id", httpedge.RequestID(r), "err", err)
		h.fail(w, r, lang, http.StatusInternalServerError, "server_error", errorText{"lỗi máy chủ khi lập báo cáo", "the server failed while writing the report"})
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Language", string(lang))
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(out.Bytes())
}

// CheckError is why Check gave no report: an HTTP status, a wire code and
// a description in each language, for any page or API that shows it.
type CheckError struct {
	// Status is the HTTP status that fits; Code the wire code
	// ("invalid_request", "temporarily_unavailable", "server_error").
	Status int
	Code   string
	// RetryAfter, when set, is when to try again.
	RetryAfter time.Duration
	text       errorText
}

// Error is the English description.
func (e *CheckError) Error() string { return e.text.en }

// Text is the description in lang.
func (e *CheckError) Text(lang report.Lang) string {
	if lang == report.English {
		return e.text.en
	}
	return e.text.vi
}

// HTTPStatus is e.Status.
func (e *CheckError) HTTPStatus() int { return e.Status }

func checkError(status int, code, vi, en string) *CheckError {
	return &CheckError{Status: status, Code: code, text: errorText{vi, en}}
}

func tooLarge(max int64) *CheckError {
	return checkError(http.StatusRequestEntityTooLarge, "invalid_request",
		"tệp PDF lớn hơn giới hạn "+strconv.FormatInt(max, 10)+" byte", "the PDF is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes")
}

func (h *Handler) failWith(w http.ResponseWriter, r *http.Request, lang report.Lang, e *CheckError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	h.fail(w, r, lang, e.Status, e.Code, e.text)
}

// MaxBody is the largest PDF Check takes, in bytes (Options.MaxBody): a
// page that uploads one reads at most this much.
func (h *Handler) MaxBody() int64 { return h.o.MaxBody }

// Check validates the signed PDF read from pdfBody with the API's engine
// and bounds: at most Options.MaxConcurrent at once (more are refused at
// once, busy, before their PDF is read), at most Options.MaxBody bytes,
// each within Options.Timeout, against the trust anchors of the moment.
// r is the request it answers: its context, and its request ID for the
// log. A refusal is a *CheckError; a request whose client went away gives
// its context's error.
func (h *Handler) Check(r *http.Request, pdfBody io.Reader) (*verify.Report, error) {
	select {
	case h.sem <- struct{}{}:
		defer func() { <-h.sem }()
	default:
		e := checkError(http.StatusServiceUnavailable, "temporarily_unavailable",
			"máy chủ đang kiểm tra nhiều tài liệu khác; hãy thử lại sau ít giây", "the server is validating other documents; try again in a few seconds")
		e.RetryAfter = 5 * time.Second
		return nil, e
	}
	body, err := io.ReadAll(io.LimitReader(pdfBody, h.o.MaxBody+1))
	switch {
	case int64(len(body)) > h.o.MaxBody:
		return nil, tooLarge(h.o.MaxBody)
	case err != nil:
		return nil, checkError(http.StatusBadRequest, "invalid_request", "không đọc được nội dung yêu cầu", "the request body could not be read")
	case len(body) == 0:
		return nil, checkError(http.StatusBadRequest, "invalid_request", "nội dung yêu cầu trống: hãy gửi tệp PDF đã ký", "the request body is empty: send the signed PDF")
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	roots, err := h.o.Roots(ctx)
	if err != nil {
		h.log.Error("verify API: trust anchors", "request_id", httpedge.RequestID(r), "err", err)
		return nil, checkError(http.StatusInternalServerError, "server_error", "không đọc được danh sách chứng thư gốc tin cậy", "the trust anchors could not be read")
	}
	rep, err := verify.Verify(ctx, bytes.NewReader(body), int64(len(body)), &verify.Options{Roots: roots, Fetcher: h.o.Fetcher, Now: h.o.Now})
	switch {
	case err == nil:
		return rep, nil
	case errors.Is(err, verify.ErrNoSignatures):
		return nil, checkError(http.StatusBadRequest, "invalid_request", "tệp PDF không có chữ ký số nào", "the PDF has no signatures")
	case errors.Is(err, context.DeadlineExceeded):
		return nil, checkError(http.StatusServiceUnavailable, "temporarily_unavailable",
			"việc kiểm tra vượt quá thời gian cho phép ("+h.o.Timeout.String()+")", "the validation took longer than the limit of "+h.o.Timeout.String())
	case errors.Is(err, context.Canceled):
		return nil, err
	case errors.Is(err, pdf.ErrMalformed) || errors.Is(err, pdf.ErrLimit) || errors.Is(err, pdf.ErrUnsupported) || errors.Is(err, pdf.ErrEncrypted) || strings.HasPrefix(err.Error(), "verify: "):
		return nil, checkError(http.StatusBadRequest, "invalid_request", "không đọc được tệp PDF: "+err.Error(), "the PDF cannot be read: "+err.Error())
	default:
		h.log.Error("verify API", "request_id", httpedge.RequestID(r), "err", err)
		return nil, checkError(http.StatusInternalServerError, "server_error", "lỗi máy chủ khi kiểm tra", "the server failed while validating")
	}
}

// wantsHTML reports whether the Accept header prefers text/html to JSON:
// it names text/html (with a non-zero q) and not application/json with a
// higher one.
func wantsHTML(accept string) bool {
	html, js := -1.0, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		switch mt {
		case "text/html":
			html = max(html, q)
		case "application/json":
			js = max(js, q)
		}
	}
	return html > 0 && html > js
}

package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/staff"
)

// The household-visit page (issue 18): a field staff member signs in on
// their phone with the credentials of the officer's client bound to them
// (kyso client create --officer --staff ID), enrols a citizen at their
// home through the officers' API (Options.Admin: the very handler, with
// its checks of the staff registry — revoked, expired, another ward —
// and its audit), and shows the citizen a QR code of the single-use
// claim link, which the citizen scans with their own phone to take their
// second factor there (register.go's claim page). The staff member never
// sees the citizen's TOTP secret. The sign-in is a sealed cookie of its
// own holding the client's token; only a client bound to a staff member
// may sign in.

// FieldPath is the household-visit page.
const FieldPath = "/app/field"

// FieldCookie holds a field staff member's sealed sign-in.
const FieldCookie = "__Host-kyso-field"

func (h *Handler) fieldRoutes() {
	if h.o.Admin == nil {
		return
	}
	h.mux.HandleFunc("GET "+FieldPath, h.fieldPage)
	h.mux.HandleFunc("POST "+FieldPath+"/login", h.post(false, h.fieldLogin))
	h.mux.HandleFunc("POST "+FieldPath+"/enrol", h.post(false, h.fieldEnrol))
	h.mux.HandleFunc("POST "+FieldPath+"/logout", h.post(false, h.fieldLogout))
}

// fieldView is the page's data: the sign-in form, the enrolment form, or
// an enrolment made with its claim link's QR code.
type fieldView struct {
	SignedIn bool
	details
	EvidenceKinds []string
	// The evidence as sent back with an error.
	EvidenceKind, EvidenceRef string
	// Done: the enrolment made and its claim link, as a QR code and a
	// link.
	Done       bool
	Credential string
	QRSize     int
	QRPath     string
}

// fieldSession returns the field staff member's token when the request
// carries a live sign-in: the cookie opens, within the timeouts, and its
// token is still an officer's client's.
func (h *Handler) fieldSession(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(FieldCookie)
	if err != nil {
		return ""
	}
	s := h.keys.openSession(c.Value)
	now := h.o.Now()
	if s == nil || now.Sub(s.usedAt) > h.o.IdleTimeout || now.Sub(s.begun) > h.o.SessionLifetime {
		setCookie(w, FieldCookie, "", -1)
		return ""
	}
	p, err := h.svc.Authenticate(r.Context(), s.token, nil)
	if err != nil || p.Kind != "client" || p.Scope != signing.ScopeEnrol {
		setCookie(w, FieldCookie, "", -1)
		return ""
	}
	s.usedAt = now
	setCookie(w, FieldCookie, h.keys.sealSession(s), 0)
	return s.token
}

func (h *Handler) fieldPage(w http.ResponseWriter, r *http.Request) {
	v := &fieldView{SignedIn: h.fieldSession(w, r) != "", details: details{Provinces: ca.Provinces}, EvidenceKinds: evidenceKinds}
	h.show(w, r, http.StatusOK, "field", "fieldTitle", v, "", false)
}

// fieldLogin signs a field staff member in with their client's ID and
// secret: only a client bound to a staff member, passing the source
// limit first.
func (h *Handler) fieldLogin(w http.ResponseWriter, r *http.Request) {
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	id, secret := strings.TrimSpace(r.PostForm.Get("client_id")), r.PostForm.Get("client_secret")
	refuse := func() { h.show(w, r, http.StatusForbidden, "field", "fieldTitle", &fieldView{}, "fieldRefused", true) }
	if id == "" || len(id) > 128 || secret == "" || len(secret) > 256 {
		refuse()
		return
	}
	c, err := h.svc.Client(r.Context(), id)
	if err != nil || c.StaffID == "" {
		refuse()
		return
	}
	// A staff member the registry no longer authorises signs in no more
	// (the officers' API refuses each of their requests too).
	if h.o.Staff != nil {
		if st, err := h.o.Staff.Authorised(r.Context(), c.StaffID, ""); err != nil || st != staff.Valid {
			refuse()
			return
		}
	}
	tok, _, err := h.svc.ClientToken(r.Context(), id, secret, signing.ScopeEnrol)
	if err != nil {
		refuse()
		return
	}
	now := h.o.Now()
	setCookie(w, FieldCookie, h.keys.sealSession(&session{token: tok, begun: now, usedAt: now}), 0)
	setCookie(w, CSRFCookie, randomValue(), 0)
	http.Redirect(w, r, FieldPath, http.StatusSeeOther)
}

func (h *Handler) fieldLogout(w http.ResponseWriter, r *http.Request) {
	if tok := h.fieldSession(w, r); tok != "" {
		if p, err := h.svc.Authenticate(r.Context(), tok, nil); err == nil {
			if err := h.svc.RevokeToken(r.Context(), tok, p); err != nil {
				h.log.Error("app: revoking a field sign-in", "request_id", httpedge.RequestID(r), "err", err)
			}
		}
	}
	setCookie(w, FieldCookie, "", -1)
	http.Redirect(w, r, FieldPath, http.StatusSeeOther)
}

// fieldEnrol enrols the citizen through the officers' API with the field
// staff member's token (POST /admin/v1/enrolments, channel household,
// consent now) and shows the claim link's QR code.
func (h *Handler) fieldEnrol(w http.ResponseWriter, r *http.Request) {
	tok := h.fieldSession(w, r)
	if tok == "" {
		h.problem(w, r, http.StatusUnauthorized, "loggedOut")
		return
	}
	f := r.PostForm
	v := &fieldView{SignedIn: true, details: readDetails(f, false), EvidenceKinds: evidenceKinds, EvidenceKind: f.Get("evidence_kind"),
		EvidenceRef: f.Get("evidence_ref")}
	again := func(status int, message, detail string) {
		v.Detail = detail
		h.show(w, r, status, "field", "fieldTitle", v, message, true)
	}
	if m := formRefusal(f, "fieldNoConsent"); m != "" {
		again(http.StatusBadRequest, m, "")
		return
	}
	body, _ := json.Marshal(map[string]any{"cccd": v.CCCD, "name": v.Name, "province": v.Province, "ward": v.Ward, "phone": v.Phone,
		"pin": f.Get("pin"), "channel": "household", "evidence_kind": v.EvidenceKind, "evidence_ref": v.EvidenceRef,
		"consent_at": h.o.Now().UTC().Format(time.RFC3339)})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/admin/v1/enrolments", bytes.NewReader(body))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = r.RemoteAddr
	rec := &recorder{header: http.Header{}}
	h.o.Admin.ServeHTTP(rec, req)
	var out struct {
		CredentialID string `json:"credential_id"`
		ClaimURL     string `json:"claim_url"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.body.Bytes(), &out); err != nil {
		h.fail(w, r, fmt.Errorf("app: the officers' API answered %d: %w", rec.code, err))
		return
	}
	if rec.code != http.StatusCreated || out.ClaimURL == "" {
		status := rec.code
		if status < 400 {
			status = http.StatusForbidden // an enrolment without a claim link: not a field staff member's client
		}
		again(status, "fieldRefusedEnrol", shown(out.Description))
		return
	}
	q := &claimView{}
	if err := q.qr(out.ClaimURL); err != nil {
		h.fail(w, r, err)
		return
	}
	done := &fieldView{SignedIn: true, Done: true, Credential: out.CredentialID, QRSize: q.QRSize, QRPath: q.QRPath}
	h.show(w, r, http.StatusCreated, "field", "fieldTitle", done, "", false)
}

// evidenceKinds are the identity checks a field staff member may name.
var evidenceKinds = []string{signing.EvidenceCCCDChip, signing.EvidenceVNeID, signing.EvidenceCCCDCard}

// recorder is the answer of the officers' API, called in process.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(b) > 64<<10 {
		return 0, fmt.Errorf("app: the officers' API answered more than 64 KiB")
	}
	return r.body.Write(b)
}

// fieldMessages are the household-visit page's words (merged into
// messages).
var fieldMessages = map[string]map[string]string{
	"vi": {
		"fieldTitle":            "Đăng ký tại nhà",
		"fieldIntro":            "Dành cho cán bộ thu thập tại hộ gia đình. Đăng nhập bằng mã ứng dụng được cấp cho bạn.",
		"fieldClientID":         "Mã ứng dụng (client_id)",
		"fieldClientSecret":     "Mật khẩu ứng dụng (client_secret)",
		"fieldLogin":            "Đăng nhập",
		"fieldLogout":           "Đăng xuất",
		"fieldRefused":          "Không đăng nhập được: mã ứng dụng hoặc mật khẩu không đúng, hoặc ứng dụng này không gắn với cán bộ nào.",
		"fieldEnrolIntro":       "Kiểm tra căn cước của người dân (đọc chip bằng NFC nếu được), nhập thông tin, để người dân tự nhập mã PIN, và hỏi sự đồng ý của họ.",
		"fieldEvidence":         "Cách kiểm tra danh tính",
		"fieldEvidenceRef":      "Số tham chiếu (không chụp ảnh giấy tờ)",
		"evidence_cccd-chip":    "Chip căn cước (NFC)",
		"evidence_vneid-level2": "Định danh điện tử mức 2 (VNeID)",
		"evidence_cccd-card":    "Thẻ căn cước (kiểm tra bằng mắt)",
		"fieldPINHelp":          "Người dân tự nhập mã PIN; cán bộ không nhìn, không ghi lại.",
		"fieldConsent":          "Người dân đã đọc và đồng ý để nhà cung cấp xử lý thông tin cá nhân trên đây để cấp và quản lý chữ ký số của họ.",
		"fieldNoConsent":        "Cần sự đồng ý của người dân.",
		"fieldEnrol":            "Cấp chữ ký số",
		"fieldRefusedEnrol":     "Không cấp được chữ ký số:",
		"fieldDone":             "Đã cấp chữ ký số. Người dân quét mã QR này bằng điện thoại của chính họ để nhận mã xác thực (chỉ dùng được một lần).",
		"fieldQRLabel":          "Mã QR để người dân nhận mã xác thực",
		"fieldNext":             "Đăng ký người tiếp theo",
	},
	"en": {
		"fieldTitle":            "Household visit",
		"fieldIntro":            "For field staff enrolling citizens at home. Sign in with the application credentials issued to you.",
		"fieldClientID":         "Application ID (client_id)",
		"fieldClientSecret":     "Application secret (client_secret)",
		"fieldLogin":            "Sign in",
		"fieldLogout":           "Sign out",
		"fieldRefused":          "Cannot sign in: the application ID or secret is wrong, or this application is not bound to a staff member.",
		"fieldEnrolIntro":       "Check the citizen's identity card (read its chip by NFC when you can), enter the details, let the citizen type their own PIN, and ask for their consent.",
		"fieldEvidence":         "How the identity was checked",
		"fieldEvidenceRef":      "Reference (never a photo of the document)",
		"evidence_cccd-chip":    "Identity card chip (NFC)",
		"evidence_vneid-level2": "Level-2 electronic identity (VNeID)",
		"evidence_cccd-card":    "Identity card (checked by eye)",
		"fieldPINHelp":          "The citizen types the PIN; the officer does not look or note it.",
		"fieldConsent":          "The citizen has read and agrees that the provider processes the personal data above to issue and manage their digital signature.",
		"fieldNoConsent":        "The citizen's consent is needed.",
		"fieldEnrol":            "Issue the signature",
		"fieldRefusedEnrol":     "The signature was not issued:",
		"fieldDone":             "The signature is issued. The citizen scans this QR code with their own phone to take their authenticator code (it works once).",
		"fieldQRLabel":          "QR code for the citizen to take their authenticator code",
		"fieldNext":             "Enrol the next citizen",
	},
}

func init() { mergeMessages(fieldMessages) }

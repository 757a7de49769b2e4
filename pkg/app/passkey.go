package app

import (
	"errors"
	"net/http"
	"strings"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// Passkeys in the app (DESIGN.md, "The citizen's app"): the owner adds
// one on the passkeys page after the PIN and a fresh code (a step-up,
// signing.Service.BeginPasskeyRegistration), logs in with it (a
// discoverable credential: no national ID to type), and approves a
// request or an oauth2code consent with it, where the PIN and code form
// stays beside it. Every challenge is the service's, bound to what the
// page approves and spent once. The browser's part is in static/app.js:
// a form marked data-passkey carries the options (data-options), and the
// script fills its credential field with the authenticator's answer and
// posts it; without the script the form stays hidden and PIN and code
// work as before.

// passkeyRoutes adds the passkey pages to the app's mux.
func (h *Handler) passkeyRoutes() {
	h.mux.HandleFunc("POST /app/login/passkey", h.post(false, h.passkeyLogin))
	h.mux.HandleFunc("GET /app/passkeys", h.authed(h.passkeysPage))
	h.mux.HandleFunc("POST /app/passkeys/begin", h.post(true, h.passkeyBegin))
	h.mux.HandleFunc("POST /app/passkeys/finish", h.post(true, h.passkeyFinish))
	h.mux.HandleFunc("POST /app/passkeys/remove", h.post(true, h.passkeyRemove))
}

// passkeyField is the form field that carries the authenticator's answer.
const passkeyField = "credential"

// loginPasskeyOptions are the options of the login page's passkey form, or
// "" when passkeys are off or the source asks too often (each one is a
// row in the database until it expires).
func (h *Handler) loginPasskeyOptions(w http.ResponseWriter, r *http.Request) string {
	if !h.svc.PasskeysOn() || !h.o.Limits.AllowSource(w, r) {
		return ""
	}
	opts, err := h.svc.LoginPasskeyOptions(r.Context())
	if err != nil {
		h.log.Error("app: passkey login options", "err", err)
		return ""
	}
	return string(opts)
}

// passkeyLogin starts a session from a passkey's answer to the login
// page's challenge (signing.Service.PasskeyLogin: an attempt at the
// owner's factors like any login).
func (h *Handler) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	tok, _, err := h.svc.PasskeyLogin(r.Context(), []byte(r.PostForm.Get(passkeyField)))
	if err != nil {
		if k, _ := kindOf(err); k == signing.KindDenied || k == signing.KindInvalid {
			h.show(w, r, http.StatusForbidden, "login", "loginTitle", &loginView{Next: next, Passkey: h.loginPasskeyOptions(w, r)},
				passkeyMessage(err), true)
			return
		}
		h.fail(w, r, err)
		return
	}
	h.startSession(w, r, tok, next)
}

// passkeyMessage is the message key of a refused passkey.
func passkeyMessage(err error) string {
	if errors.Is(err, signing.ErrNoUserVerification) {
		return "passkeyNoUV"
	}
	return "passkeyRefused"
}

// factors reads the owner's factors from an approval's form: a passkey's
// answer, or PIN and code. ok false means a problem page was shown.
func (h *Handler) factors(w http.ResponseWriter, r *http.Request) (*signing.Factors, bool) {
	if cred := r.PostForm.Get(passkeyField); cred != "" {
		return &signing.Factors{Passkey: []byte(cred)}, true
	}
	pin, otp := r.PostForm.Get("pin"), r.PostForm.Get("otp")
	if pin == "" || len(pin) > 64 || otp == "" || len(otp) > 16 {
		h.problem(w, r, http.StatusBadRequest, "needFactors")
		return nil, false
	}
	return signing.PINAndCode(pin, otp), true
}

// failFactors shows a refused approval: a passkey's refusal says what
// happened to the passkey; the rest as fail.
func (h *Handler) failFactors(w http.ResponseWriter, r *http.Request, f *signing.Factors, err error) {
	if k, _ := kindOf(err); len(f.Passkey) > 0 && k == signing.KindDenied {
		h.problem(w, r, http.StatusForbidden, passkeyMessage(err))
		return
	}
	h.fail(w, r, err)
}

// passkeyOptions are the options of a request or consent page's passkey
// form, or "" when the owner has no passkey (or passkeys are off).
func (h *Handler) passkeyOptions(r *http.Request, make func() ([]byte, error)) string {
	if !h.svc.PasskeysOn() {
		return ""
	}
	opts, err := make()
	if err != nil {
		if k, _ := kindOf(err); k != signing.KindNotFound {
			h.log.Error("app: passkey options", "request_id", httpedge.RequestID(r), "err", err)
		}
		return ""
	}
	return string(opts)
}

// passkeysView is the passkeys page's data.
type passkeysView struct {
	On   bool
	Keys []passkeyView
}

type passkeyView struct {
	ID, Name, Created, LastUsed string
	Synced                      bool
}

// passkeysPage lists the owner's passkeys, each with a button that
// removes it, and the form that adds one (PIN and code first).
func (h *Handler) passkeysPage(w http.ResponseWriter, r *http.Request) {
	h.showPasskeys(w, r, http.StatusOK, "", false)
}

func (h *Handler) showPasskeys(w http.ResponseWriter, r *http.Request, status int, message string, alert bool) {
	keys, err := h.svc.Passkeys(r.Context(), sessionOf(r).ownerID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := &passkeysView{On: h.svc.PasskeysOn()}
	t := messages[lang(w, r)]
	for _, k := range keys {
		pv := passkeyView{ID: k.ID, Name: shown(k.Name), Created: when(k.CreatedAt), LastUsed: t["never"], Synced: k.Synced}
		if !k.LastUsedAt.IsZero() {
			pv.LastUsed = when(k.LastUsedAt)
		}
		v.Keys = append(v.Keys, pv)
	}
	h.show(w, r, status, "passkeys", "passkeysTitle", v, message, alert)
}

// passkeyCreateView is the page between the step-up and the
// authenticator: the creation options and the passkey's name.
type passkeyCreateView struct{ Options, Name string }

// passkeyBegin checks the PIN and a fresh code (the step-up: one attempt
// at the factors) and shows the page that asks the authenticator for a
// new passkey.
func (h *Handler) passkeyBegin(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) || !h.o.Limits.AllowClient(w, r, "owner:"+s.ownerID) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	pin, otp := r.PostForm.Get("pin"), r.PostForm.Get("otp")
	if name == "" || len(name) > 4*signing.MaxPasskeyName || pin == "" || len(pin) > 64 || otp == "" || len(otp) > 16 {
		h.showPasskeys(w, r, http.StatusBadRequest, "needAll", true)
		return
	}
	opts, err := h.svc.BeginPasskeyRegistration(r.Context(), s.ownerID, signing.PINAndCode(pin, otp))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, "passkey-create", "passkeyCreateTitle", &passkeyCreateView{Options: string(opts), Name: name}, "", false)
}

// passkeyFinish records the authenticator's new passkey.
func (h *Handler) passkeyFinish(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	if _, err := h.svc.FinishPasskeyRegistration(r.Context(), s.ownerID, r.PostForm.Get("name"), []byte(r.PostForm.Get(passkeyField))); err != nil {
		switch k, _ := kindOf(err); k {
		case signing.KindDenied:
			h.showPasskeys(w, r, http.StatusForbidden, passkeyMessage(err), true)
		case signing.KindInvalid, signing.KindConflict:
			h.showPasskeys(w, r, http.StatusBadRequest, "passkeyRefused", true)
		default:
			h.fail(w, r, err)
		}
		return
	}
	h.showPasskeys(w, r, http.StatusOK, "passkeyAdded", false)
}

// passkeyRemove removes one of the owner's passkeys.
func (h *Handler) passkeyRemove(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.RemovePasskey(r.Context(), sessionOf(r).ownerID, r.PostForm.Get("id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.showPasskeys(w, r, http.StatusOK, "passkeyRemoved", false)
}

// passkeyMessages are the passkey pages' words (merged into messages).
var passkeyMessages = map[string]map[string]string{
	"vi": {
		"navPasskeys":        "Khóa truy cập",
		"passkeysTitle":      "Khóa truy cập (passkey)",
		"passkeysIntro":      "Khóa truy cập (passkey) trên điện thoại hoặc máy tính của bạn thay cho mã PIN và mã xác thực: thiết bị hỏi vân tay, khuôn mặt hoặc mã mở khóa của bạn rồi mới ký. Mã PIN và mã xác thực vẫn dùng được.",
		"passkeysOff":        "Dịch vụ này chưa bật khóa truy cập.",
		"passkeysNone":       "Bạn chưa có khóa truy cập nào.",
		"passkeyName":        "Tên khóa (để bạn nhận ra)",
		"passkeyCreated":     "Tạo lúc",
		"passkeyLastUsed":    "Dùng lần cuối",
		"passkeySynced":      "Đồng bộ sang các thiết bị khác của bạn",
		"never":              "Chưa dùng",
		"passkeyRemove":      "Xóa khóa này",
		"passkeyAddTitle":    "Thêm khóa truy cập",
		"passkeyAddIntro":    "Để thêm một khóa, hãy nhập mã PIN và mã xác thực mới.",
		"passkeyAddButton":   "Tiếp tục",
		"passkeyCreateTitle": "Tạo khóa truy cập",
		"passkeyCreateIntro": "Bấm nút dưới đây; thiết bị sẽ hỏi vân tay, khuôn mặt hoặc mã mở khóa của bạn.",
		"passkeyCreate":      "Tạo khóa truy cập",
		"passkeyNoScript":    "Trình duyệt này không chạy được khóa truy cập (cần JavaScript và WebAuthn). Hãy dùng mã PIN và mã xác thực.",
		"passkeyLogin":       "Đăng nhập bằng khóa truy cập (passkey)",
		"passkeyApprove":     "Duyệt bằng khóa truy cập (passkey)",
		"passkeyOr":          "Hoặc nhập mã PIN và mã xác thực:",
		"passkeyFailed":      "Thiết bị không đưa ra khóa truy cập. Hãy thử lại hoặc dùng mã PIN và mã xác thực.",
		"passkeyRefused":     "Khóa truy cập không được chấp nhận (không đúng, đã dùng, hoặc cho một yêu cầu khác). Hãy thử lại hoặc dùng mã PIN và mã xác thực.",
		"passkeyNoUV":        "Thiết bị không xác minh bạn (vân tay, khuôn mặt hoặc mã mở khóa), nên khóa truy cập không thay được hai yếu tố. Hãy dùng mã PIN và mã xác thực.",
		"passkeyAdded":       "Đã thêm khóa truy cập.",
		"passkeyRemoved":     "Đã xóa khóa truy cập.",
	},
	"en": {
		"navPasskeys":        "Passkeys",
		"passkeysTitle":      "Passkeys",
		"passkeysIntro":      "A passkey on your phone or computer stands in for the PIN and one-time code: the device asks for your fingerprint, face or screen lock before it signs. The PIN and code still work.",
		"passkeysOff":        "This service has not turned passkeys on.",
		"passkeysNone":       "You have no passkey yet.",
		"passkeyName":        "Name of the passkey (for you to recognise it)",
		"passkeyCreated":     "Created",
		"passkeyLastUsed":    "Last used",
		"passkeySynced":      "Synced to your other devices",
		"never":              "Never",
		"passkeyRemove":      "Remove this passkey",
		"passkeyAddTitle":    "Add a passkey",
		"passkeyAddIntro":    "To add a passkey, enter your PIN and a new one-time code.",
		"passkeyAddButton":   "Continue",
		"passkeyCreateTitle": "Create a passkey",
		"passkeyCreateIntro": "Press the button below; your device will ask for your fingerprint, face or screen lock.",
		"passkeyCreate":      "Create the passkey",
		"passkeyNoScript":    "This browser cannot use passkeys (it needs JavaScript and WebAuthn). Use your PIN and one-time code.",
		"passkeyLogin":       "Log in with a passkey",
		"passkeyApprove":     "Approve with a passkey",
		"passkeyOr":          "Or enter your PIN and one-time code:",
		"passkeyFailed":      "The device gave no passkey. Try again, or use your PIN and one-time code.",
		"passkeyRefused":     "The passkey was not accepted (wrong, used already, or made for another request). Try again, or use your PIN and one-time code.",
		"passkeyNoUV":        "The device did not verify you (fingerprint, face or screen lock), so the passkey cannot stand in for both factors. Use your PIN and one-time code.",
		"passkeyAdded":       "The passkey was added.",
		"passkeyRemoved":     "The passkey was removed.",
	},
}

func init() { mergeMessages(passkeyMessages) }

// mergeMessages adds a page's words to messages, by language.
func mergeMessages(more map[string]map[string]string) {
	for l, m := range more {
		for k, v := range m {
			messages[l][k] = v
		}
	}
}

// ownerFactors begins a POST approving with the owner's factors: within
// the source's and the owner's rates, PIN and code or a passkey read from
// the form. It answers itself when it returns false.
func (h *Handler) ownerFactors(w http.ResponseWriter, r *http.Request) (*who, *signing.Factors, bool) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) || !h.o.Limits.AllowClient(w, r, "owner:"+s.ownerID) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return s, nil, false
	}
	f, ok := h.factors(w, r)
	return s, f, ok
}

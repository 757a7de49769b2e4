package app

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"rsc.io/qr"

	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
)

// Online self-registration (issue 18; signing register.go): a citizen
// with no signature yet registers at /app/register (linked from the login
// page) — CCCD, name, province, ward, phone or email, a PIN, and consent
// — and is shown a reference and a claim secret, once. An officer
// verifies their identity and approves (the key and certificate are made
// then) or refuses. At /app/register/claim the citizen sees where their
// request stands and, once approved, takes their authenticator's secret
// (a QR code, an otpauth link and the secret in letters), once, on their
// own phone. Both POSTs pass a per-source limit of their own
// (Options.RegisterLimit), before any work.

// DefaultRegisterRate is Options.RegisterLimit's rate when it is nil:
// per source address, for registrations and claims each.
var DefaultRegisterRate = httpedge.Rate{PerSecond: 30.0 / 3600, Burst: 10}

func (h *Handler) registerRoutes() {
	h.mux.HandleFunc("GET /app/register", h.registerPage)
	h.mux.HandleFunc("POST /app/register", h.post(false, h.register))
	h.mux.HandleFunc("GET /app/register/claim", h.claimPage)
	h.mux.HandleFunc("POST /app/register/claim", h.post(false, h.claim))
}

// registerView is the registration form's data: the provinces, and what
// was entered (but the PIN) when the form comes back with an error.
type registerView struct {
	details
	Email                                    string
	ID, Secret, Expires, ClaimURL, ShownName string
	Registered                               bool
}

// details are the citizen's details a form sends back with an error
// (never the PIN), and the provinces to choose from: the registration's
// and the household visit's forms (templates/details.html). Own: the
// citizen fills it in on their own device (autofill welcome).
type details struct {
	Provinces                         []string
	Own                               bool
	CCCD, Name, Province, Ward, Phone string
	// Detail is why the service refused the form, in its words.
	Detail string
}

// readDetails reads the citizen's details from the form f.
func readDetails(f url.Values, own bool) details {
	return details{Provinces: ca.Provinces, Own: own, CCCD: f.Get("cccd"), Name: f.Get("name"), Province: f.Get("province"),
		Ward: f.Get("ward"), Phone: f.Get("phone")}
}

// formRefusal is the message key of a form without the citizen's consent
// (noConsent) or with two different PINs; empty when neither.
func formRefusal(f url.Values, noConsent string) string {
	switch {
	case f.Get("consent") != "1":
		return noConsent
	case f.Get("pin") != f.Get("pin2"):
		return "registerPINMismatch"
	}
	return ""
}

func (h *Handler) registerPage(w http.ResponseWriter, r *http.Request) {
	h.show(w, r, http.StatusOK, "register", "registerTitle", &registerView{details: details{Provinces: ca.Provinces, Own: true}}, "", false)
}

// allowRegister takes a token of the per-source registration limit for
// what (register, claim), or answers 429.
func (h *Handler) allowRegister(w http.ResponseWriter, r *http.Request, what string) bool {
	if ok, wait := h.o.RegisterLimit.Allow(what + ":" + httpedge.Source(r)); !ok {
		httpedge.RetryAfter(w, wait)
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return false
	}
	return true
}

// register records the registration (signing.Service.Register) with the
// consent text shown in the page's language, and shows the reference and
// the claim secret once.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	if !h.allowRegister(w, r, "register") {
		return
	}
	f := r.PostForm
	v := &registerView{details: readDetails(f, true), Email: f.Get("email")}
	again := func(status int, message, detail string) {
		v.Detail = detail
		h.show(w, r, status, "register", "registerTitle", v, message, true)
	}
	if m := formRefusal(f, "registerNoConsent"); m != "" {
		again(http.StatusBadRequest, m, "")
		return
	}
	t := messages[lang(w, r)]
	reg, err := h.svc.Register(r.Context(), &signing.RegisterRequest{CCCD: v.CCCD, Name: v.Name, Province: v.Province, Ward: v.Ward,
		Phone: v.Phone, Email: v.Email, PIN: f.Get("pin"), Consent: t["registerConsentText"], Actor: "app:" + httpedge.Source(r)})
	if err != nil {
		switch k, e := kindOf(err); k {
		case signing.KindInvalid:
			again(http.StatusBadRequest, "registerInvalid", shown(e.Description))
		case signing.KindConflict:
			again(http.StatusConflict, "registerWaiting", "")
		default:
			h.fail(w, r, err)
		}
		return
	}
	done := &registerView{Registered: true, ID: reg.ID, Secret: groups(reg.ClaimSecret), Expires: when(reg.ExpiresAt),
		ClaimURL: "/app/register/claim?" + url.Values{"ref": {reg.ID}}.Encode(), ShownName: shown(v.Name)}
	h.show(w, r, http.StatusCreated, "registered", "registeredTitle", done, "", false)
}

// groups writes a secret in groups of four letters, to copy by hand.
func groups(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return strings.ToUpper(b.String())
}

// claimView is the claim page's data: the form, where the registration
// stands, or the second factor once.
type claimView struct {
	Ref    string
	Status string
	// Reason is the officer's reason for a refusal, made fit to show.
	Reason  string
	Expires string
	// The authenticator's secret, shown once: a QR code (the path of
	// its dark modules in an inline SVG: no image request, no data URL),
	// an otpauth link for the phone's own authenticator app, and the
	// secret in letters.
	QRSize  int
	QRPath  string
	Link    template.URL
	Secret  string
	Account string
}

func (h *Handler) claimPage(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if len(ref) > 64 {
		ref = ""
	}
	h.show(w, r, http.StatusOK, "claim", "claimTitle", &claimView{Ref: ref}, "", false)
}

// claim shows where the registration stands to the holder of its
// reference and claim secret (a wrong one is not found, the same answer
// for either), and once approved hands over the second factor
// (signing.Service.ClaimRegistration: once).
func (h *Handler) claim(w http.ResponseWriter, r *http.Request) {
	if !h.allowRegister(w, r, "claim") {
		return
	}
	ref, secret := strings.TrimSpace(r.PostForm.Get("ref")), r.PostForm.Get("secret")
	if ref == "" || len(ref) > 64 || secret == "" || len(secret) > 128 {
		h.show(w, r, http.StatusBadRequest, "claim", "claimTitle", &claimView{}, "needAll", true)
		return
	}
	reg, err := h.svc.RegistrationStatus(r.Context(), ref, secret)
	if k, _ := kindOf(err); k == signing.KindNotFound {
		h.show(w, r, http.StatusNotFound, "claim", "claimTitle", &claimView{Ref: ref}, "claimUnknown", true)
		return
	}
	if h.deadLink(w, r, ref, err) {
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := &claimView{Ref: reg.ID, Status: reg.Status, Reason: shown(reg.Reason), Expires: when(reg.ExpiresAt)}
	if reg.Status != store.RegistrationApproved {
		h.show(w, r, http.StatusOK, "claim", "claimTitle", v, "", false)
		return
	}
	c, err := h.svc.ClaimRegistration(r.Context(), ref, secret, "app:"+httpedge.Source(r))
	if h.deadLink(w, r, ref, err) {
		return
	}
	if err != nil {
		if k, _ := kindOf(err); k == signing.KindConflict {
			v.Status = store.RegistrationClaimed
			h.show(w, r, http.StatusConflict, "claim", "claimTitle", v, "", false)
			return
		}
		h.fail(w, r, err)
		return
	}
	if err := v.factor(c.TOTPURI); err != nil {
		h.fail(w, r, err)
		return
	}
	v.Status, v.Account = "factor", strings.TrimPrefix(c.NationalID, "CCCD:")
	h.show(w, r, http.StatusOK, "claim", "claimTitle", v, "", false)
}

// deadLink answers a claim link that no longer claims — replaced by an
// officer's reissue, or expired — with a page saying so and what to do
// (410), and reports whether it did.
func (h *Handler) deadLink(w http.ResponseWriter, r *http.Request, ref string, err error) bool {
	status := ""
	switch {
	case errors.Is(err, signing.ErrClaimReplaced):
		status = "replaced"
	case errors.Is(err, signing.ErrClaimExpired):
		status = "linkexpired"
	default:
		return false
	}
	h.show(w, r, http.StatusGone, "claim", "claimTitle", &claimView{Ref: ref, Status: status}, "", false)
	return true
}

// factor fills in the second factor's forms from its otpauth URI.
func (v *claimView) factor(uri string) error {
	if err := v.qr(uri); err != nil {
		return err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	v.Link, v.Secret = template.URL(uri), groups(u.Query().Get("secret"))
	return nil
}

// qr sets QRSize and QRPath to text's QR code drawn as one SVG path (its
// dark modules, within a quiet zone of four).
func (v *claimView) qr(text string) error {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return fmt.Errorf("app: a QR code: %w", err)
	}
	const quiet = 4
	var path strings.Builder
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	v.QRSize, v.QRPath = code.Size+2*quiet, path.String()
	return nil
}

// registerLimiter is Options.RegisterLimit, or one at DefaultRegisterRate.
func registerLimiter(o *Options) *httpedge.Limiter {
	if o.RegisterLimit != nil {
		return o.RegisterLimit
	}
	return httpedge.NewLimiter(DefaultRegisterRate, &httpedge.LimiterOptions{Now: o.Now})
}

// registerMessages are the registration pages' words (merged into
// messages).
var registerMessages = map[string]map[string]string{
	"vi": {
		"loginNoSignature":       "Chưa có chữ ký số?",
		"registerLink":           "Đăng ký trực tuyến",
		"claimLink":              "Xem kết quả đăng ký, nhận mã xác thực",
		"registerTitle":          "Đăng ký chữ ký số trực tuyến",
		"registerIntro":          "Nhập thông tin của bạn như trên căn cước công dân. Cán bộ của nhà cung cấp sẽ xác minh danh tính của bạn (tại điểm đăng ký hoặc qua cuộc gọi video) trước khi cấp chữ ký số. Chỉ sau khi được duyệt, khóa và chứng thư số của bạn mới được tạo.",
		"registerName":           "Họ và tên",
		"registerProvince":       "Tỉnh, thành phố",
		"registerProvinceChoose": "Chọn tỉnh, thành phố",
		"registerWard":           "Phường, xã (không bắt buộc)",
		"registerPhone":          "Số điện thoại",
		"registerEmail":          "Thư điện tử",
		"registerContact":        "Nhập số điện thoại hoặc thư điện tử (ít nhất một) để cán bộ liên hệ với bạn.",
		"registerPIN":            "Chọn mã PIN (6 đến 12 chữ số)",
		"registerPIN2":           "Nhập lại mã PIN",
		"registerPINHelp":        "Không dùng ngày sinh, dãy số liền nhau hay các số trong căn cước của bạn. Không ai, kể cả cán bộ, được hỏi mã PIN của bạn.",
		"registerConsentText":    "Tôi đồng ý để nhà cung cấp dịch vụ chữ ký số xử lý thông tin cá nhân trên đây để xác minh danh tính, cấp và quản lý chữ ký số của tôi theo quy định về bảo vệ dữ liệu cá nhân. Tôi cam kết thông tin đã khai là đúng.",
		"registerButton":         "Gửi đăng ký",
		"registerNoConsent":      "Bạn cần đồng ý với điều khoản để gửi đăng ký.",
		"registerPINMismatch":    "Hai lần nhập mã PIN không khớp nhau.",
		"registerInvalid":        "Thông tin chưa hợp lệ. Hãy kiểm tra lại:",
		"registerWaiting":        "Đã có một đăng ký của số căn cước này đang chờ duyệt. Hãy dùng mã tra cứu đã nhận để xem kết quả.",
		"registeredTitle":        "Đã gửi đăng ký",
		"registeredIntro":        "Đăng ký của %s đã được ghi nhận và đang chờ cán bộ xác minh danh tính. Cán bộ sẽ liên hệ với bạn.",
		"registeredKeep":         "Hãy lưu lại hai mã dưới đây. Mã bí mật chỉ hiển thị một lần này; không ai, kể cả cán bộ, được hỏi mã này. Bạn cần cả hai mã để xem kết quả và nhận mã xác thực trên điện thoại của mình.",
		"registeredRef":          "Mã tra cứu",
		"registeredSecret":       "Mã bí mật",
		"registeredExpires":      "Đăng ký chờ duyệt đến",
		"registeredNext":         "Xem kết quả đăng ký",
		"claimTitle":             "Kết quả đăng ký",
		"claimIntro":             "Nhập mã tra cứu và mã bí mật bạn nhận được khi đăng ký.",
		"claimRef":               "Mã tra cứu",
		"claimSecret":            "Mã bí mật",
		"claimButton":            "Xem kết quả",
		"claimUnknown":           "Mã tra cứu hoặc mã bí mật không đúng.",
		"claim_pending":          "Đăng ký của bạn đang chờ cán bộ xác minh danh tính (hạn đến %s).",
		"claim_approving":        "Cán bộ đang duyệt đăng ký của bạn. Hãy thử lại sau ít phút.",
		"claim_refused":          "Đăng ký của bạn không được duyệt. Lý do:",
		"claim_expired":          "Đăng ký của bạn đã hết hạn mà chưa được duyệt. Bạn có thể đăng ký lại.",
		"claim_claimed":          "Mã xác thực của đăng ký này đã được nhận. Nếu không phải bạn nhận, hãy báo ngay cho nhà cung cấp.",
		"claim_replaced":         "Đường dẫn (mã bí mật) này đã được thay bằng một đường dẫn mới và không còn dùng được. Hãy dùng đường dẫn mới nhất cán bộ gửi cho bạn. Nếu bạn không yêu cầu cấp lại, hãy báo ngay cho nhà cung cấp.",
		"claim_linkexpired":      "Đường dẫn (mã bí mật) này đã hết hạn. Chữ ký số của bạn vẫn được giữ: hãy liên hệ cán bộ hoặc nhà cung cấp, mang theo căn cước công dân, để được cấp lại đường dẫn mới.",
		"claimFactorTitle":       "Chữ ký số của bạn đã được cấp",
		"claimFactorIntro":       "Thêm mã xác thực vào ứng dụng xác thực (như Google Authenticator, Microsoft Authenticator) trên điện thoại của bạn. Mã này chỉ hiển thị một lần.",
		"claimFactorLink":        "Mở trong ứng dụng xác thực trên điện thoại này",
		"claimFactorQR":          "Hoặc quét mã QR này bằng ứng dụng xác thực:",
		"claimFactorQRLabel":     "Mã QR của mã xác thực",
		"claimFactorSecret":      "Hoặc nhập khóa này vào ứng dụng:",
		"claimFactorAccount":     "Tài khoản",
		"claimFactorNext":        "Sau đó đăng nhập bằng số căn cước, mã PIN bạn đã chọn và mã xác thực. Bạn có thể thêm khóa truy cập (passkey) trong mục “Khóa truy cập”.",
		"claimFactorLogin":       "Đăng nhập",
	},
	"en": {
		"loginNoSignature":       "No digital signature yet?",
		"registerLink":           "Register online",
		"claimLink":              "See your registration, get your authenticator code",
		"registerTitle":          "Register for a digital signature online",
		"registerIntro":          "Enter your details as on your citizen identity card. An officer of the provider verifies your identity (at a registration desk or by video call) before your signature is issued. Your key and certificate are made only once you are approved.",
		"registerName":           "Full name",
		"registerProvince":       "Province or city",
		"registerProvinceChoose": "Choose the province or city",
		"registerWard":           "Ward or commune (optional)",
		"registerPhone":          "Phone number",
		"registerEmail":          "Email",
		"registerContact":        "Enter a phone number or an email address (at least one) for the officer to reach you.",
		"registerPIN":            "Choose a PIN (6 to 12 digits)",
		"registerPIN2":           "Enter the PIN again",
		"registerPINHelp":        "Do not use your birth date, a run of digits or digits of your identity card. Nobody, officers included, may ask for your PIN.",
		"registerConsentText":    "I agree that the digital signature provider processes the personal data above to verify my identity and to issue and manage my digital signature, as the personal data protection rules require. I declare the details above are true.",
		"registerButton":         "Send the registration",
		"registerNoConsent":      "You need to agree to the terms to register.",
		"registerPINMismatch":    "The two PINs differ.",
		"registerInvalid":        "Some details are not valid. Please check:",
		"registerWaiting":        "A registration of this identity card number is already waiting for approval. Use the reference you were given to see where it stands.",
		"registeredTitle":        "Registration sent",
		"registeredIntro":        "The registration of %s is recorded and waits for an officer to verify your identity. The officer will contact you.",
		"registeredKeep":         "Keep the two codes below. The secret is shown only this once; nobody, officers included, may ask for it. You need both to see the outcome and to get your authenticator code on your own phone.",
		"registeredRef":          "Reference",
		"registeredSecret":       "Secret",
		"registeredExpires":      "The registration waits until",
		"registeredNext":         "See your registration",
		"claimTitle":             "Your registration",
		"claimIntro":             "Enter the reference and the secret you were given when you registered.",
		"claimRef":               "Reference",
		"claimSecret":            "Secret",
		"claimButton":            "See the outcome",
		"claimUnknown":           "The reference or the secret is wrong.",
		"claim_pending":          "Your registration waits for an officer to verify your identity (until %s).",
		"claim_approving":        "An officer is approving your registration. Please try again in a few minutes.",
		"claim_refused":          "Your registration was not approved. The reason:",
		"claim_expired":          "Your registration expired before it was approved. You may register again.",
		"claim_claimed":          "The authenticator code of this registration was taken already. If it was not you, tell the provider at once.",
		"claim_replaced":         "This link (secret) was replaced by a new one and no longer works. Use the newest link the officer gave you. If you did not ask for a new one, tell the provider at once.",
		"claim_linkexpired":      "This link (secret) has expired. Your signature is kept: contact an officer or the provider, with your identity card, to have a new link issued.",
		"claimFactorTitle":       "Your digital signature is issued",
		"claimFactorIntro":       "Add the code to an authenticator app (such as Google Authenticator or Microsoft Authenticator) on your phone. It is shown only once.",
		"claimFactorLink":        "Open in the authenticator app on this phone",
		"claimFactorQR":          "Or scan this QR code with the authenticator app:",
		"claimFactorQRLabel":     "QR code of the authenticator code",
		"claimFactorSecret":      "Or type this key into the app:",
		"claimFactorAccount":     "Account",
		"claimFactorNext":        "Then log in with your identity card number, the PIN you chose and the code. You may add a passkey under “Passkeys”.",
		"claimFactorLogin":       "Log in",
	},
}

func init() { mergeMessages(registerMessages) }

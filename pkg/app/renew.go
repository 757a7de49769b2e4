package app

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// The renewal page ("Gia hạn", issue 18): the owner's certificates with
// their end, who asked for a renewal, whether it is free, and for each
// one that can be renewed a form approving it with PIN and code or a
// passkey (signing.Service.Renew: the same attempt counter and lock as
// every approval). The requests page shows a banner from 30 days before
// a certificate's end, and when an operator asked.

func (h *Handler) renewRoutes() {
	h.mux.HandleFunc("GET /app/renew", h.authed(h.renewPage))
	h.mux.HandleFunc("POST /app/renew/{credential}", h.post(true, h.renew))
}

// renewView is one credential on the renewal page.
type renewView struct {
	ID, Serial, NotAfter string
	DaysLeft             int
	Status               string
	Requested            string
	Renewable, Metered   bool
	// Link opens the page with this credential's form; the form is shown
	// for one credential at a time (Selected).
	Link     string
	Selected bool
}

// renewPageView is the renewal page's data: the credentials, and the
// form for the one selected (?credential=, else the first renewable).
type renewPageView struct {
	List    []renewView
	Form    *renewView
	Passkey string
	// RevokeOld is what the form does with the old certificate
	// (?revoke_old=1: revoke it; else it expires). The choice is the
	// page's, not a box in the form, because a passkey's answer is bound
	// to it (signing.Service.RenewalPasskeyOptions) before the owner
	// answers; Toggle opens the page with the other choice.
	RevokeOld bool
	Toggle    string
}

// bannerView is the requests page's notice of a certificate to renew.
type bannerView struct {
	Text string
}

// renewStates are the owner's credentials as the renewal page shows them.
func (h *Handler) renewStates(r *http.Request) (*renewPageView, error) {
	s := sessionOf(r)
	states, err := h.svc.RenewalStates(r.Context(), s.ownerID)
	if err != nil {
		return nil, err
	}
	want := r.URL.Query().Get("credential")
	pv := &renewPageView{List: make([]renewView, 0, len(states))}
	for _, st := range states {
		v := renewView{ID: st.CredentialID, Serial: st.Serial, NotAfter: when(st.NotAfter), DaysLeft: st.DaysLeft, Status: st.Status,
			Requested: shown(st.Requested), Renewable: st.Renewable, Metered: st.Metered,
			Link: "/app/renew?" + url.Values{"credential": {st.CredentialID}}.Encode()}
		pv.List = append(pv.List, v)
	}
	for i := range pv.List {
		if v := &pv.List[i]; v.Renewable && pv.Form == nil && (want == "" || want == v.ID) {
			v.Selected, pv.Form = true, v
		}
	}
	if pv.Form != nil {
		id := pv.Form.ID
		pv.RevokeOld = r.URL.Query().Get("revoke_old") == "1"
		toggle := url.Values{"credential": {id}}
		if !pv.RevokeOld {
			toggle.Set("revoke_old", "1")
		}
		pv.Toggle = "/app/renew?" + toggle.Encode()
		pv.Passkey = h.passkeyOptions(r, func() ([]byte, error) { return h.svc.RenewalPasskeyOptions(r.Context(), s.ownerID, id, pv.RevokeOld) })
	}
	return pv, nil
}

// banners are the notices the requests page shows: a certificate ending
// within 30 days, or one an operator asked to renew.
func (h *Handler) banners(w http.ResponseWriter, r *http.Request) []bannerView {
	states, err := h.svc.RenewalStates(r.Context(), sessionOf(r).ownerID)
	if err != nil {
		h.log.Error("app: renewal states", "request_id", httpedge.RequestID(r), "err", err)
		return nil
	}
	t := messages[lang(w, r)]
	var out []bannerView
	for _, st := range states {
		switch {
		case st.Requested != "" && st.Renewable:
			out = append(out, bannerView{Text: fmt.Sprintf(t["renewBannerAsked"], st.Serial, when(st.NotAfter))})
		case st.Expiring():
			out = append(out, bannerView{Text: fmt.Sprintf(t["renewBannerSoon"], st.Serial, st.DaysLeft, when(st.NotAfter))})
		}
	}
	return out
}

func (h *Handler) renewPage(w http.ResponseWriter, r *http.Request) {
	list, err := h.renewStates(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.show(w, r, http.StatusOK, "renew", "renewTitle", list, "", false)
}

// renew renews the credential once the owner's factors check out;
// another owner's credential is not found, and one that cannot be
// renewed (revoked, suspended, expired, renewed already) says so.
func (h *Handler) renew(w http.ResponseWriter, r *http.Request) {
	s, f, ok := h.ownerFactors(w, r)
	if !ok {
		return
	}
	_, err := h.svc.Renew(httpedge.ApprovalContext(r, false), &signing.RenewRequest{OwnerID: s.ownerID,
		CredentialID: r.PathValue("credential"), Factors: f, RevokeOld: r.PostForm.Get("revoke_old") == "1"})
	if k, _ := kindOf(err); k == signing.KindConflict {
		h.problem(w, r, http.StatusConflict, "renewRefused")
		return
	}
	if err != nil {
		h.failFactors(w, r, f, err)
		return
	}
	h.show(w, r, http.StatusOK, "done", "renewDoneTitle", &doneView{What: "renewed"}, "", false)
}

// renewMessages are the renewal page's words (merged into messages).
var renewMessages = map[string]map[string]string{
	"vi": {
		"navRenew":         "Gia hạn",
		"renewTitle":       "Gia hạn chứng thư số",
		"renewIntro":       "Chứng thư số của bạn có thời hạn. Gia hạn trước khi hết hạn: một khóa mới được tạo trong thiết bị bảo mật của nhà cung cấp và một chứng thư mới được cấp cho cùng chữ ký số. Các tài liệu bạn đã ký vẫn có giá trị.",
		"renewNone":        "Bạn không có chứng thư số nào đang hoạt động.",
		"renewSerial":      "Số hiệu chứng thư",
		"renewNotAfter":    "Hết hạn",
		"renewDaysLeft":    "Còn lại (ngày)",
		"renewStatus":      "Trạng thái",
		"renewAskedBy":     "Nhà cung cấp đề nghị gia hạn",
		"renewCost":        "Phí gia hạn",
		"renewFree":        "Miễn phí",
		"renewMetered":     "Có tính phí theo bảng giá của nhà cung cấp",
		"status_good":      "Đang hoạt động",
		"status_hold":      "Đang tạm dừng",
		"status_revoked":   "Đã thu hồi",
		"status_expired":   "Đã hết hạn",
		"renewWillKeep":    "Chứng thư cũ giữ nguyên đến khi tự hết hạn.",
		"renewWillRevoke":  "Chứng thư cũ sẽ bị thu hồi ngay khi gia hạn xong.",
		"renewRevokeOld":   "Thu hồi chứng thư cũ ngay",
		"renewKeepOld":     "Để chứng thư cũ tự hết hạn",
		"renewApprove":     "Duyệt gia hạn",
		"renewButton":      "Gia hạn",
		"renewPasskey":     "Gia hạn bằng khóa truy cập (passkey)",
		"renewCannot":      "Chứng thư này không gia hạn được. Nếu đã hết hạn hoặc bị thu hồi, hãy đăng ký lại tại điểm đăng ký.",
		"renewBannerSoon":  "Chứng thư số %s của bạn còn %d ngày nữa là hết hạn (%s). Hãy gia hạn.",
		"renewBannerAsked": "Nhà cung cấp đề nghị bạn gia hạn chứng thư số %s (hết hạn %s).",
		"renewRefused":     "Không gia hạn được: chứng thư đã bị thu hồi, đang tạm dừng, đã hết hạn, hoặc đang được gia hạn. Nếu chứng thư đã hết hạn hoặc bị thu hồi, hãy đăng ký lại tại điểm đăng ký.",
		"renewDoneTitle":   "Đã gia hạn",
		"renewed":          "Chứng thư số của bạn đã được gia hạn. Từ nay các chữ ký dùng chứng thư mới; các tài liệu đã ký trước vẫn có giá trị.",
	},
	"en": {
		"navRenew":         "Renew",
		"renewTitle":       "Renew your certificate",
		"renewIntro":       "Your certificate has an end date. Renew it before then: a new key is made in the provider's secure device and a new certificate is issued for the same signature. The documents you signed stay valid.",
		"renewNone":        "You have no active certificate.",
		"renewSerial":      "Certificate serial",
		"renewNotAfter":    "Expires",
		"renewDaysLeft":    "Days left",
		"renewStatus":      "Status",
		"renewAskedBy":     "The provider asks you to renew",
		"renewCost":        "Renewal fee",
		"renewFree":        "Free",
		"renewMetered":     "Charged at the provider's rates",
		"status_good":      "Active",
		"status_hold":      "Suspended",
		"status_revoked":   "Revoked",
		"status_expired":   "Expired",
		"renewWillKeep":    "The old certificate stays until it expires.",
		"renewWillRevoke":  "The old certificate will be revoked as soon as it is renewed.",
		"renewRevokeOld":   "Revoke the old certificate now",
		"renewKeepOld":     "Let the old certificate expire",
		"renewApprove":     "Approve the renewal",
		"renewButton":      "Renew",
		"renewPasskey":     "Renew with a passkey",
		"renewCannot":      "This certificate cannot be renewed. If it has expired or was revoked, enrol again at a registration desk.",
		"renewBannerSoon":  "Your certificate %s expires in %d days (%s). Please renew it.",
		"renewBannerAsked": "Your provider asks you to renew certificate %s (expires %s).",
		"renewRefused":     "The certificate cannot be renewed: it is revoked, suspended, expired, or being renewed. If it has expired or was revoked, enrol again at a registration desk.",
		"renewDoneTitle":   "Renewed",
		"renewed":          "Your certificate is renewed. From now on your signatures use the new certificate; the documents you signed before stay valid.",
	},
}

func init() { mergeMessages(renewMessages) }

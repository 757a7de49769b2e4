package owner

import (
	"net/http"
	"strings"

	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// LoginRequest is login's body.
type LoginRequest struct {
	// NationalID is "CCCD:…" or the 12 digits of a CCCD.
	NationalID string `json:"national_id"`
	PIN        string `json:"pin"`
	OTP        string `json:"otp"`
}

// LoginResponse carries the owner's access token.
type LoginResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresIn   int    `json:"expires_in"` // seconds
}

// login checks national ID, PIN and one-time code (signing.Service.
// OwnerLogin: wrong factors count towards the lockout) and hands out an
// owner token.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if !h.decode(w, r, &req, false) {
		return
	}
	id := strings.TrimSpace(req.NationalID)
	if id == "" || len(id) > 64 || req.PIN == "" || len(req.PIN) > 64 || req.OTP == "" || len(req.OTP) > 16 {
		h.bad(w, r, "national_id, pin and otp are required")
		return
	}
	if err := display.Text("national_id", id); err != nil {
		h.bad(w, r, err.Error())
		return
	}
	if !strings.Contains(id, ":") {
		id = "CCCD:" + id
	}
	if !h.limits.CheckClient(w, r, "login:"+id) {
		h.edge.TooMany(w, r)
		return
	}
	tok, life, err := h.svc.OwnerLogin(r.Context(), id, req.PIN, req.OTP)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.limits.ChargeClient("login:" + id)
	httpedge.WriteJSON(w, http.StatusOK, LoginResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(life.Seconds())})
}

// logout revokes the token it is called with.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	tok, _ := httpedge.Bearer(r) // authed has checked it
	if err := h.svc.RevokeToken(r.Context(), tok, &signing.Principal{Kind: "owner", ID: ownerID(r)}); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

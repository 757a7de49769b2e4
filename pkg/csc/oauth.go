package csc

import (
	"errors"
	"net/http"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// oauthAuthorize is oauth2/authorize (CSC API v2 section 8.3.2, authMode
// oauth2code): every parameter is checked against the records before the
// browser goes anywhere (signing.CheckOAuthRequest); then the browser
// goes to the owner's consent page with the same query. A request that
// fails is answered here, as a plain page: never by a redirect, for a
// redirect URI that failed its check is not to be followed (RFC 6749
// section 4.1.2.1), and one that passed is not needed to say what a
// relying party got wrong.
func (h *Handler) oauthAuthorize(w http.ResponseWriter, r *http.Request) {
	req, err := signing.ParseOAuthQuery(r.URL.Query())
	if err == nil {
		_, err = h.svc.CheckOAuthRequest(r.Context(), req)
	}
	if err != nil {
		k, desc := signing.Public(err)
		status := Errors[k].Status
		if k == signing.KindInternal {
			h.log.Error("csc: oauth2/authorize", "request_id", httpedge.RequestID(r), "err", err)
		}
		// Plain text, not sniffed, not framed: what the relying party
		// wrote shows as text and does nothing.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		w.Write([]byte("kyso: this signing request cannot be shown (Không thể hiển thị yêu cầu ký này): " + desc + "\n"))
		return
	}
	http.Redirect(w, r, h.opts.ConsentURL+"?"+r.URL.RawQuery, http.StatusSeeOther)
}

// exchangeCode is oauth2/token with grant_type authorization_code (RFC
// 6749 section 4.1.3, PKCE: RFC 7636 section 4.5). Every refusal of the
// code itself is one answer, invalid_grant.
func (h *Handler) exchangeCode(w http.ResponseWriter, r *http.Request, id, secret string) {
	if id != "" && !h.opts.Limits.CheckClient(w, r, "client:"+id) {
		h.edge.TooMany(w, r)
		return
	}
	g, err := h.svc.ExchangeCode(r.Context(), &signing.CodeExchange{ClientID: id, ClientSecret: secret, ClientCert: httpedge.ClientCertificate(r),
		Code: r.PostFormValue("code"), CodeVerifier: r.PostFormValue("code_verifier"), RedirectURI: r.PostFormValue("redirect_uri")})
	if errors.Is(err, signing.ErrInvalidGrant) {
		h.edge.Error(w, r, http.StatusBadRequest, "invalid_grant", signing.ErrInvalidGrant.Description)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Limits.ChargeClient("client:" + id)
	var cnf *Confirmation
	if g.CertThumbprint != "" {
		cnf = &Confirmation{X5tS256: g.CertThumbprint}
	}
	httpedge.WriteJSON(w, http.StatusOK, TokenResponse{AccessToken: g.AccessToken, TokenType: "Bearer", ExpiresIn: int(g.Lifetime.Seconds()),
		Scope: g.Scope, CredentialID: g.CredentialID, Cnf: cnf})
}

// oauth2code reports whether credentials/info should say authMode
// oauth2code to the client asking: kysod offers oauth2code and the client
// registered a redirect URI, so it can use it. Every credential takes
// both explicit authorisation and oauth2code; the mode named is the one
// this client is set up for.
func (h *Handler) oauth2code(r *http.Request) bool {
	if h.opts.ConsentURL == "" {
		return false
	}
	c, err := h.svc.Client(r.Context(), principal(r).ID)
	return err == nil && len(c.RedirectURIs) > 0
}

// sadOf is the activation data of a signing request: the SAD it carries,
// or, with none, the bearer token when it was obtained by oauth2code with
// scope credential (that token is the SAD: CSC API v2 section 8.3.3).
func sadOf(r *http.Request, sad string) string {
	if sad == "" && principal(r).Scope == signing.ScopeCredential {
		sad, _ = httpedge.Bearer(r)
	}
	return sad
}

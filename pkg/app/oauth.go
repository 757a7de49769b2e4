package app

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"
)

// ConsentPath is the consent page of CSC oauth2code: csc's
// oauth2/authorize sends the owner's browser here with the relying
// party's request as the query, which this page checks again
// (signing.CheckOAuthRequest) before showing it.
const ConsentPath = "/app/oauth2/consent"

// consentView is the consent page's data.
type consentView struct {
	// Query is the request, posted back as it came.
	Query                            string
	Portal, Description, Scope, Back string
	Credential, Alg                  string
	Hashes                           []string
	NumSignatures                    int
	ServiceScope                     bool
	// Passkey are the options of the passkey approval, bound to this
	// request (empty: the owner has no passkey).
	Passkey string
}

// oauthRequest reads and checks the request in q; ok false means a
// problem page was shown.
func (h *Handler) oauthRequest(w http.ResponseWriter, r *http.Request, q url.Values) (*signing.Consent, bool) {
	req, err := signing.ParseOAuthQuery(q)
	var c *signing.Consent
	if err == nil {
		c, err = h.svc.CheckOAuthRequest(r.Context(), req)
	}
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	if s := sessionOf(r); s != nil && c.Credential != nil && c.Credential.OwnerID != s.ownerID {
		// Another person's credential: as if there were none.
		h.problem(w, r, http.StatusNotFound, "notFound")
		return nil, false
	}
	return c, true
}

// consentPage shows what a relying party asks through oauth2code: the
// portal's registered name, the description as text, each hash's
// fingerprint, how many signatures, and where the browser goes back. An
// owner without a session logs in first and comes back here.
func (h *Handler) consentPage(w http.ResponseWriter, r *http.Request) {
	s := h.current(w, r)
	if s == nil {
		http.Redirect(w, r, "/app/login?"+url.Values{"next": {ConsentPath + "?" + r.URL.RawQuery}}.Encode(), http.StatusSeeOther)
		return
	}
	r = withSession(r, s)
	c, ok := h.oauthRequest(w, r, r.URL.Query())
	if !ok {
		return
	}
	req := c.Request
	v := &consentView{Query: r.URL.RawQuery, Portal: shown(c.Client.Name), Scope: req.Scope, Back: origin(req.RedirectURI),
		ServiceScope: req.Scope == signing.ScopeService}
	if c.Credential != nil {
		v.Description, v.Credential, v.Alg, v.NumSignatures = shown(req.Description), c.Credential.ID, req.HashAlgorithm.String(), req.NumSignatures
		for _, d := range req.Hashes {
			v.Hashes = append(v.Hashes, fingerprint(d))
		}
	}
	v.Passkey = h.passkeyOptions(r, func() ([]byte, error) { return h.svc.OAuthPasskeyOptions(r.Context(), s.ownerID, req) })
	// The decision's answer sends the browser to the relying party: the
	// page's forms may go there (a browser checks form-action on the
	// redirect too), and nowhere else.
	if v.Back != "" {
		w.Header().Set("Content-Security-Policy", strings.Replace(CSP, "form-action 'self'", "form-action 'self' "+v.Back, 1))
	}
	h.show(w, r, http.StatusOK, "consent", "consentTitle", v, "", false)
}

// consent takes the owner's decision on an oauth2code request: approve
// with PIN and code or a passkey (signing.Service.ApproveOAuthWith: the one factor check,
// its attempt counter and lock) or reject; then the browser goes back to
// the registered redirect URI with the code and the state as they came,
// or error=access_denied.
func (h *Handler) consent(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if !h.o.Limits.AllowSource(w, r) || !h.o.Limits.AllowClient(w, r, "owner:"+s.ownerID) {
		h.problem(w, r, http.StatusTooManyRequests, "busy")
		return
	}
	q, err := url.ParseQuery(r.PostForm.Get("q"))
	if err != nil {
		h.problem(w, r, http.StatusBadRequest, "badForm")
		return
	}
	c, ok := h.oauthRequest(w, r, q)
	if !ok {
		return
	}
	req := c.Request
	back := url.Values{}
	switch r.PostForm.Get("decision") {
	case "approve":
		f, ok := h.factors(w, r)
		if !ok {
			return
		}
		code, err := h.svc.ApproveOAuthWith(httpedge.ApprovalContext(r, false), s.ownerID, req, f)
		if err != nil {
			h.failFactors(w, r, f, err)
			return
		}
		back.Set("code", code)
	case "reject":
		if err := h.svc.RejectOAuth(r.Context(), s.ownerID, req); err != nil {
			h.fail(w, r, err)
			return
		}
		back.Set("error", "access_denied")
	default:
		h.problem(w, r, http.StatusBadRequest, "badForm")
		return
	}
	if req.State != "" {
		back.Set("state", req.State)
	}
	sep := "?"
	if strings.Contains(req.RedirectURI, "?") {
		sep = "&"
	}
	http.Redirect(w, r, req.RedirectURI+sep+back.Encode(), http.StatusSeeOther)
}

// origin is the scheme, host and port of a URL, as a CSP source; empty
// when the host has a character a source may not (the redirect URI was
// checked at registration, signing.CheckRedirectURI: this is the page's
// own guard), and then the form may post only here.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.Trim(strings.ToLower(u.Host), "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// safeNext is where a login may send the browser afterwards: only back
// to the consent page, on this origin.
func safeNext(next string) string {
	if strings.HasPrefix(next, ConsentPath+"?") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return ""
}

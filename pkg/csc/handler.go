package csc

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/display"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/pades"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/tsa"
)

// MaxBody bounds a request body: a thousand base64 SHA-512 hashes and
// their envelope fit well within it. MaxDocBody bounds signDoc's, which
// carries whole PDFs.
const (
	MaxBody    = 1 << 20
	MaxDocBody = 96 << 20
)

// Options configure the handler.
type Options struct {
	// Name, Region and Lang are what info says of the service; empty
	// means "kyso", "VN" and "vi".
	Name, Region, Lang string
	// TSA answers signatures/timestamp; nil leaves the method out.
	TSA *tsa.Server
	// Logger receives internal errors (never secrets); nil discards them.
	Logger *slog.Logger
	// Limits are the rate limits of oauth2/token, auth/login and
	// credentials/authorize: per source address before any work, per
	// client once it is known (a claimed client_id is only checked, and
	// charged when its secret proves it). nil means none.
	Limits *httpedge.Limits
	// ConsentURL is the path of the owner's consent page (pkg/app's
	// ConsentPath in kysod) that oauth2/authorize sends the browser to,
	// with the request's query; empty leaves oauth2code out (no
	// oauth2/authorize, not in info).
	ConsentURL string
	// OAuth2URL is the base URI info advertises as the oauth2 server
	// (CSC API v2 section 11.1), e.g. "https://kyso.example/csc/v2";
	// empty means the scheme and host info was asked at.
	OAuth2URL string
}

// Handler serves the CSC API v2 under /csc/v2/ (PROTOCOLS.md). Every method
// but info and the token endpoints needs a bearer token from oauth2/token
// or auth/login.
type Handler struct {
	svc  *signing.Service
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	edge *httpedge.Dialect
}

// Errors is the CSC dialect's table from error kind to HTTP status and
// error code (CSC API v2 section 10.1; RFC 6749 section 5.2 for
// invalid_client, RFC 6750 section 3.1 for invalid_token). CSC answers an
// unknown credential, a transaction or SAD in the wrong state and an
// expired SAD as invalid_request (400), as its method tables do.
var Errors = map[signing.Kind]httpedge.Wire{
	signing.KindInternal:      {Status: http.StatusInternalServerError, Code: "server_error"},
	signing.KindInvalid:       {Status: http.StatusBadRequest, Code: "invalid_request"},
	signing.KindNotFound:      {Status: http.StatusBadRequest, Code: "invalid_request"},
	signing.KindConflict:      {Status: http.StatusBadRequest, Code: "invalid_request"},
	signing.KindExpired:       {Status: http.StatusBadRequest, Code: "invalid_request"},
	signing.KindDenied:        {Status: http.StatusForbidden, Code: "access_denied"},
	signing.KindLocked:        {Status: http.StatusTooManyRequests, Code: "account_locked"},
	signing.KindClientInvalid: {Status: http.StatusUnauthorized, Code: "invalid_client"},
	signing.KindTokenInvalid:  {Status: http.StatusUnauthorized, Code: "invalid_token"},
	signing.KindBusy:          {Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable"},
	signing.KindRateLimited:   {Status: http.StatusTooManyRequests, Code: "too_many_requests"},
}

func errorBody(p *httpedge.Problem) any {
	return Error{Error: p.Code, Description: p.Description, RequestID: p.RequestID}
}

// NewHandler returns the CSC handler over svc.
func NewHandler(svc *signing.Service, opts *Options) *Handler {
	h := &Handler{svc: svc, mux: http.NewServeMux()}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Name == "" {
		h.opts.Name = "kyso"
	}
	if h.opts.Region == "" {
		h.opts.Region = "VN"
	}
	if h.opts.Lang == "" {
		h.opts.Lang = "vi"
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.edge = &httpedge.Dialect{Name: "csc", Table: Errors, Body: errorBody, Log: h.log}
	h.mux.HandleFunc("GET /csc/v2/info", h.info)
	h.mux.HandleFunc("POST /csc/v2/info", h.info)
	h.mux.HandleFunc("POST /csc/v2/oauth2/token", h.limited(h.token))
	if h.opts.ConsentURL != "" {
		h.mux.HandleFunc("GET /csc/v2/oauth2/authorize", h.limited(h.oauthAuthorize))
	}
	h.mux.HandleFunc("POST /csc/v2/auth/login", h.limited(h.login))
	h.mux.HandleFunc("POST /csc/v2/auth/revoke", h.authed(h.revoke))
	h.mux.HandleFunc("POST /csc/v2/oauth2/revoke", h.authed(h.revoke))
	h.mux.HandleFunc("POST /csc/v2/credentials/list", h.authed(h.credList))
	h.mux.HandleFunc("POST /csc/v2/credentials/info", h.authed(h.credInfo))
	h.mux.HandleFunc("POST /csc/v2/credentials/authorize", h.limited(h.authed(h.authorize)))
	h.mux.HandleFunc("POST /csc/v2/signatures/signHash", h.authed(h.signHash))
	h.mux.HandleFunc("POST /csc/v2/signatures/signDoc", h.authed(h.signDoc))
	if h.opts.TSA != nil {
		h.mux.HandleFunc("POST /csc/v2/signatures/timestamp", h.authed(h.timestamp))
	}
	h.mux.HandleFunc("/csc/v2/", func(w http.ResponseWriter, r *http.Request) {
		if allow := httpedge.Allowed(h.mux, r, "/csc/v2/"); allow != "" {
			w.Header().Set("Allow", allow)
			h.edge.Error(w, r, http.StatusMethodNotAllowed, "invalid_request", r.Method+" is not allowed here; use "+allow)
			return
		}
		h.edge.Error(w, r, http.StatusNotFound, "invalid_request", "no such method: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	httpedge.Serve(h.mux, w, httpedge.Begin(w, r))
}

// fail renders err in CSC form (Errors); a server error's detail goes to
// the log only, under the request ID.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.edge.Fail(w, r, err)
}

// bad answers 400 invalid_request with desc.
func (h *Handler) bad(w http.ResponseWriter, r *http.Request, desc string) {
	h.edge.Refuse(w, r, signing.KindInvalid, desc)
}

// decode reads a JSON body of at most MaxBody bytes into v.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return h.decodeMax(w, r, v, MaxBody)
}

// decodeMax reads a JSON object of at most max bytes into v.
func (h *Handler) decodeMax(w http.ResponseWriter, r *http.Request, v any, max int64) bool {
	return h.edge.Decode(w, r, v, httpedge.BodyOptions{Max: max})
}

// limited applies the per-source limit before anything else.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.opts.Limits.AllowSource(w, r) {
			h.edge.TooMany(w, r)
			return
		}
		next(w, r)
	}
}

type principalKey struct{}

// authed requires a client's bearer token.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := httpedge.Bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kyso"`) // no error code: RFC 6750 section 3.1
			h.edge.Refuse(w, r, signing.KindTokenInvalid, "a Bearer access token is required")
			return
		}
		p, err := h.svc.Authenticate(r.Context(), tok, httpedge.ClientCertificate(r))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p.Kind != "client" || p.Scope == signing.ScopeEnrol {
			h.edge.Refuse(w, r, signing.KindDenied, "this method is for relying parties")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

func principal(r *http.Request) *signing.Principal {
	p, _ := r.Context().Value(principalKey{}).(*signing.Principal)
	return p
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request) {
	methods := []string{"auth/login", "auth/revoke", "oauth2/token", "oauth2/revoke", "credentials/list", "credentials/info", "credentials/authorize", "signatures/signHash", "signatures/signDoc"}
	if h.opts.TSA != nil {
		methods = append(methods, "signatures/timestamp")
	}
	authTypes := []string{"basic", "oauth2client"}
	oauth2 := h.opts.OAuth2URL
	if h.opts.ConsentURL != "" {
		methods = append(methods, "oauth2/authorize")
		authTypes = append(authTypes, "oauth2code")
		if oauth2 == "" { // required with oauth2code (section 11.1): where this answer came from
			scheme := "https"
			if r.TLS == nil {
				scheme = "http"
			}
			oauth2 = scheme + "://" + r.Host + "/csc/v2"
		}
	}
	httpedge.WriteJSON(w, http.StatusOK, InfoResponse{
		Specs: "2.0.0.2", Name: h.opts.Name, Logo: "", Region: h.opts.Region, Lang: h.opts.Lang,
		Description: "kyso remote signing: keys in an HSM, approval by the owner with PIN and one-time code",
		AuthType:    authTypes,
		OAuth2:      oauth2,
		Methods:     methods,
		SignAlgorithms: &Algos{Algos: dotted(algid.RSASSAPSS, algid.RSAEncryption, algid.SHA256WithRSA,
			algid.SHA384WithRSA, algid.SHA512WithRSA, algid.ECDSAWithSHA256, algid.ECDSAWithSHA384, algid.ECDSAWithSHA512)},
	})
}

// clientCredentials reads client_id and client_secret from HTTP Basic or
// the form (RFC 6749 section 2.3.1).
func clientCredentials(r *http.Request) (string, string) {
	if id, secret, ok := r.BasicAuth(); ok {
		return id, secret
	}
	return r.PostFormValue("client_id"), r.PostFormValue("client_secret")
}

// token is oauth2/token with grant_type client_credentials.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.bad(w, r, "the body must be a form (application/x-www-form-urlencoded)")
		return
	}
	id, secret := clientCredentials(r)
	if gt := r.PostFormValue("grant_type"); gt == "authorization_code" && h.opts.ConsentURL != "" {
		h.exchangeCode(w, r, id, secret)
		return
	} else if gt != "client_credentials" {
		h.edge.Error(w, r, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials", gt))
		return
	}
	if id != "" && !h.opts.Limits.CheckClient(w, r, "client:"+id) {
		h.edge.TooMany(w, r)
		return
	}
	var tok string
	var life time.Duration
	var err error
	var cnf *Confirmation
	if cert := httpedge.ClientCertificate(r); secret == "" && cert != nil {
		// Mutual TLS (RFC 8705): the certificate bound to the client, and
		// the token bound to the certificate.
		tok, life, err = h.svc.ClientTokenByCert(r.Context(), cert, id, r.PostFormValue("scope"))
		cnf = &Confirmation{X5tS256: signing.CertThumbprint(cert)}
	} else {
		tok, life, err = h.svc.ClientToken(r.Context(), id, secret, r.PostFormValue("scope"))
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if id != "" {
		h.opts.Limits.ChargeClient("client:" + id)
	}
	httpedge.WriteJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(life.Seconds()), Cnf: cnf})
}

// login is auth/login: HTTP Basic with the client's credentials.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="kyso"`)
		w.Header().Set("WWW-Authenticate", `Basic realm="kyso"`) // RFC 6749 section 5.2
		h.edge.Refuse(w, r, signing.KindClientInvalid, "HTTP Basic authentication with the client ID and secret is required")
		return
	}
	if !h.opts.Limits.CheckClient(w, r, "client:"+id) {
		h.edge.TooMany(w, r)
		return
	}
	tok, life, err := h.svc.ClientToken(r.Context(), id, secret, signing.ScopeService)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Limits.ChargeClient("client:" + id)
	httpedge.WriteJSON(w, http.StatusOK, TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(life.Seconds())})
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	var req RevokeRequest
	if r.ContentLength != 0 && !h.decode(w, r, &req) {
		return
	}
	tok := strings.TrimSpace(req.Token)
	if tok == "" {
		tok, _ = httpedge.Bearer(r) // authed has checked it
	}
	if err := h.svc.RevokeToken(r.Context(), tok, principal(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// credList is credentials/list (CSC API v2 section 11.4); ListRequest
// says what an absent userID lists.
func (h *Handler) credList(w http.ResponseWriter, r *http.Request) {
	var req ListRequest
	if !h.decode(w, r, &req) {
		return
	}
	resp := ListResponse{CredentialIDs: []string{}}
	var creds []*store.Credential
	var err error
	owner := ""
	if p := principal(r); p != nil {
		owner = p.OwnerID
	}
	switch {
	case owner != "" && req.UserID != "":
		// CSC API v2 section 11.4: userID is left out when the
		// authorization is user-specific.
		h.fail(w, r, &signing.Error{Kind: signing.KindInvalid, Description: "userID must be left out: the access token acts for one user (oauth2code, scope service)"})
		return
	case owner != "":
		creds, err = h.svc.OwnerCredentials(r.Context(), owner)
	case req.UserID == "":
		httpedge.WriteJSON(w, http.StatusOK, resp)
		return
	default:
		creds, err = h.svc.Credentials(r.Context(), req.UserID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for i, c := range creds {
		if req.MaxResults > 0 && i >= req.MaxResults {
			break
		}
		resp.CredentialIDs = append(resp.CredentialIDs, c.ID)
		if req.CredInfo {
			info, err := h.describe(r, c, string(req.Certificates), req.CertInfo, req.AuthInfo)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			info.CredentialID = c.ID
			resp.CredentialInfos = append(resp.CredentialInfos, info)
		}
	}
	httpedge.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) credInfo(w http.ResponseWriter, r *http.Request) {
	var req InfoCredRequest
	if !h.decode(w, r, &req) {
		return
	}
	c, err := h.svc.Credential(r.Context(), req.CredentialID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	info, err := h.describe(r, c, string(req.Certificates), req.CertInfo, req.AuthInfo)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, info)
}

// describe builds credentials/info's answer.
func (h *Handler) describe(r *http.Request, c *store.Credential, certs string, certInfo, _ bool) (*InfoCredResp, error) {
	ctx := r.Context()
	cert, chain, err := h.svc.Certificate(ctx, c)
	if err != nil {
		return nil, err
	}
	algo, bits, curve := keyInfo(cert)
	cs, err := h.svc.CertificateStatus(ctx, c, cert, time.Time{})
	if err != nil {
		return nil, err
	}
	// CSC API v2 section 11.5: the key is "disabled" when it cannot be
	// used for signing, as when the certificate is expired or revoked;
	// cert.status is valid, expired, revoked or suspended, and is left
	// out for a certificate not yet valid, which CSC has no word for.
	status := "enabled"
	if c.Status != "active" || cs != signing.CertValid {
		status = "disabled"
	}
	certStatus := string(cs)
	if cs == signing.CertNotYetValid {
		certStatus = ""
	}
	info := &InfoCredResp{
		Description: "Chữ ký số của " + cert.Subject.CommonName,
		Key:         KeyInfo{Status: status, Algo: algo, Len: bits, Curve: curve},
		Cert:        CertInfo{Status: certStatus},
		Auth: &Auth{Mode: "explicit", Expression: "PIN AND OTP", Objects: []AuthObject{
			{Type: "Password", ID: "PIN", Format: "N", Label: "PIN", Description: "Mã PIN chữ ký số"},
			{Type: "Password", ID: "OTP", Format: "N", Generator: "totp", Label: "OTP", Description: "Mã OTP từ ứng dụng xác thực"},
		}},
		SCAL: "2", Multisign: signing.MaxHashes, Lang: h.opts.Lang,
	}
	if h.oauth2code(r) {
		info.Auth = &Auth{Mode: "oauth2code"}
	}
	switch certs {
	case "", "single":
		info.Cert.Certificates = []string{base64.StdEncoding.EncodeToString(cert.Raw)}
	case "chain":
		for _, x := range append([]*x509.Certificate{cert}, chain...) {
			info.Cert.Certificates = append(info.Cert.Certificates, base64.StdEncoding.EncodeToString(x.Raw))
		}
	case "none":
	default:
		return nil, &signing.Error{Kind: signing.KindInvalid, Description: `certificates must be "none", "single" or "chain"`}
	}
	if certInfo {
		info.Cert.IssuerDN = display.IssuerDN(cert)
		info.Cert.SubjectDN = display.SubjectDN(cert)
		info.Cert.SerialNumber = display.FormatSerialInt(cert.SerialNumber)
		info.Cert.ValidFrom = cert.NotBefore.UTC().Format("20060102150405Z")
		info.Cert.ValidTo = cert.NotAfter.UTC().Format("20060102150405Z")
	}
	return info, nil
}

// hashes decodes base64 hashes and their algorithm OID.
func hashes(list []string, oid string) ([][]byte, crypto.Hash, error) {
	bad := func(format string, args ...any) error {
		return &signing.Error{Kind: signing.KindInvalid, Description: fmt.Sprintf(format, args...)}
	}
	if oid == "" {
		oid = algid.SHA256.String()
	}
	h := algid.Hash(algid.Dotted(oid))
	if !algid.SHA2(h) {
		return nil, 0, bad("hashAlgorithmOID %q is not SHA-256, SHA-384 or SHA-512", oid)
	}
	if len(list) > signing.MaxHashes {
		return nil, 0, bad("at most %d hashes", signing.MaxHashes)
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
				return nil, 0, bad("hash %d is not base64", i+1)
			}
		}
		out[i] = b
	}
	return out, h, nil
}

func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	if !h.opts.Limits.AllowClient(w, r, "client:"+principal(r).ID) {
		h.edge.TooMany(w, r)
		return
	}
	var req AuthorizeRequest
	if !h.decode(w, r, &req) {
		return
	}
	if len(req.Hashes) == 0 {
		req.Hashes = req.Hash
	}
	// description is text for the owner (section 11.6: at most 500
	// characters); kyso shows none today, and accepts none that would
	// look other than what it holds should it show it.
	if err := display.Text("description", req.Description); err != nil || utf8.RuneCountInString(req.Description) > signing.MaxDescription {
		if err == nil {
			err = fmt.Errorf("description: at most %d characters", signing.MaxDescription)
		}
		h.bad(w, r, err.Error())
		return
	}
	hs, alg, err := hashes(req.Hashes, req.HashAlgorithmOID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	pin, otp := req.PIN, req.OTP
	for _, a := range req.AuthData {
		switch a.ID {
		case "PIN":
			pin = a.Value
		case "OTP":
			otp = a.Value
		}
	}
	if pin == "" || otp == "" {
		h.bad(w, r, `authData must carry "PIN" and "OTP"`)
		return
	}
	sad, life, err := h.svc.Authorize(r.Context(), &signing.AuthorizeRequest{ClientID: principal(r).ID, CredentialID: req.CredentialID, NumSignatures: req.NumSignatures,
		Hashes: hs, HashAlgorithm: alg, PIN: pin, OTP: otp, Actor: "client:" + principal(r).ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, AuthorizeResponse{SAD: sad, ExpiresIn: life})
}

func (h *Handler) signHash(w http.ResponseWriter, r *http.Request) {
	var req SignHashRequest
	if !h.decode(w, r, &req) {
		return
	}
	if len(req.Hashes) == 0 {
		req.Hashes = req.Hash
	}
	if req.HashAlgorithmOID == "" {
		req.HashAlgorithmOID = req.HashAlgo
	}
	if req.OperationMode != "" && req.OperationMode != "S" {
		h.bad(w, r, `only operationMode "S" (synchronous) is supported`)
		return
	}
	hs, alg, err := hashes(req.Hashes, req.HashAlgorithmOID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if req.SignAlgo == algid.RSASSAPSS.String() && req.SignAlgoParams != "" {
		if err := checkPSSParams(req.SignAlgoParams, alg); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	sigs, err := h.svc.SignHash(r.Context(), &signing.SignHashRequest{ClientID: principal(r).ID, CredentialID: req.CredentialID, SAD: sadOf(r, req.SAD), Hashes: hs,
		HashAlgorithm: alg, SignAlgo: req.SignAlgo, Actor: "client:" + principal(r).ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := SignHashResponse{Signatures: make([]string, len(sigs))}
	for i, s := range sigs {
		resp.Signatures[i] = base64.StdEncoding.EncodeToString(s)
	}
	httpedge.WriteJSON(w, http.StatusOK, resp)
}

func (h *Handler) timestamp(w http.ResponseWriter, r *http.Request) {
	var req TimestampRequest
	if !h.decode(w, r, &req) {
		return
	}
	hs, alg, err := hashes([]string{req.Hash}, req.HashAlgorithmOID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(hs[0]) != alg.Size() {
		h.bad(w, r, fmt.Sprintf("the hash has %d bytes; %v needs %d", len(hs[0]), alg, alg.Size()))
		return
	}
	q := &tsa.Query{HashAlgorithm: alg, HashedMessage: hs[0], CertReq: true}
	resp, err := h.opts.TSA.Timestamp(r.Context(), q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if resp.Token == nil {
		h.bad(w, r, fmt.Sprintf("the time-stamp was refused (%v)", resp.Status))
		return
	}
	httpedge.WriteJSON(w, http.StatusOK, TimestampResponse{Timestamp: base64.StdEncoding.EncodeToString(resp.Token)})
}

// levels maps CSC conformance levels to PAdES baseline levels; none
// named is the service's default (B-LT in kysod).
var levels = map[string]pades.Level{
	"": "", "AdES-B-B": pades.LevelBB, "AdES-B-T": pades.LevelBT, "AdES-B-LT": pades.LevelBLT, "AdES-B-LTA": pades.LevelBLTA,
	"Ades-B-B": pades.LevelBB, "Ades-B-T": pades.LevelBT, "Ades-B-LT": pades.LevelBLT, "Ades-B-LTA": pades.LevelBLTA,
}

// signDoc signs whole PDFs as PAdES. All documents of one request share
// one level and envelope property.
func (h *Handler) signDoc(w http.ResponseWriter, r *http.Request) {
	var req SignDocRequest
	if !h.decodeMax(w, r, &req, MaxDocBody) {
		return
	}
	if len(req.Documents) == 0 {
		h.bad(w, r, "documents is required (documentDigests are not supported: use signHash)")
		return
	}
	first := req.Documents[0]
	level, ok := levels[first.ConformanceLevel]
	if !ok {
		h.bad(w, r, fmt.Sprintf("conformance_level %q is not AdES-B-B, AdES-B-T, AdES-B-LT or AdES-B-LTA", first.ConformanceLevel))
		return
	}
	certify := 0
	switch first.SignedEnvelopeProperty {
	case "", "Approval":
	case "Certification":
		certify = 2
	default:
		h.bad(w, r, fmt.Sprintf("signed_envelope_property %q is not Approval or Certification", first.SignedEnvelopeProperty))
		return
	}
	docs := make([][]byte, len(req.Documents))
	for i, d := range req.Documents {
		if d.SignatureFormat != "P" {
			h.bad(w, r, fmt.Sprintf(`document %d: signature_format %q: only "P" (PAdES) is supported`, i+1, d.SignatureFormat))
			return
		}
		if d.ConformanceLevel != first.ConformanceLevel || d.SignedEnvelopeProperty != first.SignedEnvelopeProperty {
			h.bad(w, r, "all documents of one request need the same conformance_level and signed_envelope_property")
			return
		}
		b, err := base64.StdEncoding.DecodeString(d.Document)
		if err != nil {
			h.bad(w, r, fmt.Sprintf("document %d is not base64", i+1))
			return
		}
		docs[i] = b
	}
	signed, err := h.svc.SignDocuments(r.Context(), &signing.SignDocumentsRequest{ClientID: principal(r).ID, CredentialID: req.CredentialID, SAD: sadOf(r, req.SAD),
		Documents: docs, Level: level, Certify: certify, Actor: "client:" + principal(r).ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	resp := SignDocResponse{DocumentWithSignature: make([]string, len(signed))}
	for i, b := range signed {
		resp.DocumentWithSignature[i] = base64.StdEncoding.EncodeToString(b)
	}
	httpedge.WriteJSON(w, http.StatusOK, resp)
}

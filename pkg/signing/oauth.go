package signing

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kyso-pki/kyso/pkg/store"
)

// CSC oauth2code (CSC API v2 section 8.3.2; RFC 6749 section 4.1 with
// PKCE, RFC 7636): a relying party sends the owner's browser to the
// service's own consent page; the owner approves there with their factors
// and the browser returns to the relying party's registered redirect URI
// with a code; the relying party exchanges the code, once, for a token.
// With scope "credential" that token is also the activation data (SAD)
// for exactly the approved hashes on the approved credential; with scope
// "service" it is a service token. Every credential supports both
// explicit authorisation (credentials/authorize) and oauth2code: a
// credential is "configured for" oauth2code when its owner can reach the
// consent page, which every enrolled owner can.

// CodeLifetime is how long an authorisation code lasts: long enough for
// the browser's redirect and the relying party's exchange, short enough
// that a code leaked from a log is of no use (RFC 6749 section 4.1.2 asks
// at most 10 minutes).
const CodeLifetime = 60 * time.Second

// MaxState bounds the state a relying party sends through the browser.
const MaxState = 500

// OAuthRequest is an oauth2/authorize request, as the consent page and
// the approval see it.
type OAuthRequest struct {
	ClientID    string
	RedirectURI string
	// State is the relying party's, returned untouched.
	State string
	// CodeChallenge is the PKCE S256 challenge: base64url, unpadded, of
	// the SHA-256 of the verifier.
	CodeChallenge string
	// Scope is ScopeService or ScopeCredential; the rest is for the
	// latter only.
	Scope         string
	CredentialID  string
	NumSignatures int
	Hashes        [][]byte
	HashAlgorithm crypto.Hash
	Description   string
}

// ParseOAuthQuery reads an oauth2/authorize request from its query
// parameters (CSC API v2 section 8.3.2): response_type=code, client_id,
// redirect_uri, state, code_challenge, code_challenge_method=S256 (PKCE is
// required), scope, and for scope "credential": credentialID,
// numSignatures, hashes (comma-separated base64 or base64url),
// hashAlgorithmOID (default SHA-256) and description. It checks the form
// of each; CheckOAuthRequest checks them against the records.
func ParseOAuthQuery(q url.Values) (*OAuthRequest, error) {
	bad := func(format string, args ...any) (*OAuthRequest, error) {
		return nil, fail(KindInvalid, format, args...)
	}
	for k, v := range q {
		if len(v) > 1 {
			return bad("%s is given more than once", k) // RFC 6749 section 3.1
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		return bad("response_type must be code")
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return bad("PKCE is required: code_challenge_method must be S256")
	}
	req := &OAuthRequest{ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), State: q.Get("state"),
		CodeChallenge: q.Get("code_challenge"), Scope: q.Get("scope"), CredentialID: q.Get("credentialID"),
		Description: q.Get("description")}
	if b, err := base64.RawURLEncoding.DecodeString(req.CodeChallenge); err != nil || len(b) != sha256.Size {
		return bad("code_challenge must be the base64url SHA-256 of the verifier (S256)")
	}
	if len(req.State) > MaxState || !utf8.ValidString(req.State) {
		return bad("state: at most %d bytes of UTF-8", MaxState)
	}
	switch req.Scope {
	case ScopeService:
		if req.CredentialID != "" || q.Get("hashes") != "" || q.Get("numSignatures") != "" {
			return bad("scope service takes no credentialID, hashes or numSignatures")
		}
	case ScopeCredential:
		n, err := strconv.Atoi(q.Get("numSignatures"))
		if err != nil {
			return bad("numSignatures is required with scope credential")
		}
		req.NumSignatures = n
		oid := q.Get("hashAlgorithmOID")
		if oid == "" {
			oid = hashOID(crypto.SHA256)
		}
		h, ok := hashByOID(oid)
		if !ok {
			return bad("hashAlgorithmOID %q is not SHA-256, SHA-384 or SHA-512", oid)
		}
		req.HashAlgorithm = h
		if list := q.Get("hashes"); list != "" {
			for i, s := range strings.Split(list, ",") {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
						return bad("hash %d is not base64", i+1)
					}
				}
				req.Hashes = append(req.Hashes, b)
				if len(req.Hashes) > MaxHashes {
					return bad("at most %d hashes", MaxHashes)
				}
			}
		}
	default:
		return bad("scope must be service or credential")
	}
	return req, nil
}

// Consent is what the consent page shows of a checked request.
type Consent struct {
	Request *OAuthRequest
	// Client is the relying party that asks; its Name is what the owner
	// reads.
	Client *store.Client
	// Credential is the credential asked for (scope credential); nil for
	// scope service.
	Credential *store.Credential
}

// CheckOAuthRequest checks an oauth2/authorize request against the
// records before anything is shown or any browser sent anywhere: the
// client is a relying party, enabled; the redirect URI is one it
// registered, compared exactly (RFC 6749 section 3.1.2.3: a redirect URI
// it did not register is never followed, so no error is ever redirected
// to it); with scope credential, the credential is active and the hashes
// are what an explicit authorisation would take (Authorize). The
// description must be text that shows as what it is.
func (s *Service) CheckOAuthRequest(ctx context.Context, req *OAuthRequest) (*Consent, error) {
	if !validID(req.ClientID) {
		return nil, fail(KindInvalid, "unknown client_id")
	}
	c, err := s.st.GetClient(ctx, req.ClientID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (c.Disabled || c.Role == store.RoleOfficer) {
		return nil, fail(KindInvalid, "unknown client_id")
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.RedirectURIs, req.RedirectURI) {
		return nil, fail(KindInvalid, "redirect_uri is not one this client registered")
	}
	out := &Consent{Request: req, Client: c}
	if req.Scope != ScopeCredential {
		return out, nil
	}
	if err := shown("description", req.Description); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(req.Description) > MaxDescription {
		return nil, fail(KindInvalid, "description: at most %d characters", MaxDescription)
	}
	if len(req.Hashes) == 0 {
		return nil, fail(KindInvalid, "hashes are required: kyso authorises at SCAL2 only")
	}
	if req.NumSignatures != len(req.Hashes) {
		return nil, fail(KindInvalid, "numSignatures is %d but %d hashes were given", req.NumSignatures, len(req.Hashes))
	}
	for i, d := range req.Hashes {
		if len(d) != req.HashAlgorithm.Size() {
			return nil, fail(KindInvalid, "hash %d has %d bytes; %v needs %d", i+1, len(d), req.HashAlgorithm, req.HashAlgorithm.Size())
		}
	}
	if !validID(req.CredentialID) {
		return nil, fail(KindInvalid, "unknown credentialID")
	}
	cred, err := s.st.GetCredential(ctx, req.CredentialID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindInvalid, "unknown credentialID")
	}
	if err != nil {
		return nil, err
	}
	if cred.Status != "active" {
		return nil, fail(KindInvalid, "credential %s is %s", cred.ID, cred.Status)
	}
	out.Credential = cred
	return out, nil
}

// codeRequest is what an authorisation code holds (store.AuthCode's
// Request).
type codeRequest struct {
	Scope         string   `json:"scope"`
	OwnerID       string   `json:"owner"`
	RedirectURI   string   `json:"redirect_uri"`
	CodeChallenge string   `json:"code_challenge"`
	CredentialID  string   `json:"credential,omitempty"`
	HashAlgorithm string   `json:"hash_algorithm,omitempty"`
	Hashes        [][]byte `json:"hashes,omitempty"`
}

// ApproveOAuth is the owner's consent: it checks the request again, that
// the credential is the owner's, the owner's PIN and one-time code (one
// attempt, twoFactors, as every approval), and — for scope credential —
// that the certificate may sign now; then it records an authorisation
// code for the client, bound to the redirect URI and the PKCE challenge,
// lasting CodeLifetime, and returns it. The audit event oauth2.consent
// records the decision.
func (s *Service) ApproveOAuth(ctx context.Context, ownerID string, req *OAuthRequest, pin, otp string) (string, error) {
	c, err := s.CheckOAuthRequest(ctx, req)
	if err != nil {
		return "", err
	}
	if c.Credential != nil && c.Credential.OwnerID != ownerID {
		return "", fail(KindNotFound, "no such credential of yours")
	}
	owner, err := s.st.GetOwner(ctx, ownerID)
	if err != nil {
		return "", err
	}
	actor := "owner:" + ownerID
	if err := s.twoFactors(ctx, owner, pin, otp); err != nil {
		return "", err
	}
	cr := codeRequest{Scope: req.Scope, OwnerID: ownerID, RedirectURI: req.RedirectURI, CodeChallenge: req.CodeChallenge}
	if c.Credential != nil {
		if _, _, _, err := s.checkSigner(ctx, c.Credential, actor, ""); err != nil {
			return "", err
		}
		cr.CredentialID, cr.HashAlgorithm, cr.Hashes = c.Credential.ID, hashOID(req.HashAlgorithm), req.Hashes
	}
	body, err := json.Marshal(&cr)
	if err != nil {
		return "", err
	}
	code, err := randomToken(s.cfg.Rand)
	if err != nil {
		return "", err
	}
	now := s.now()
	h := sha256.Sum256([]byte(code))
	if err := s.st.PutAuthCode(ctx, &store.AuthCode{Hash: h[:], ClientID: c.Client.ID, Request: body,
		ExpiresAt: now.Add(CodeLifetime), CreatedAt: now}); err != nil {
		return "", err
	}
	if err := s.audit(ctx, actor, "oauth2.consent", c.Client.ID, "ok", map[string]any{
		"scope": req.Scope, "credential": cr.CredentialID, "hashes": len(cr.Hashes),
	}); err != nil {
		return "", err
	}
	return code, nil
}

// RejectOAuth records that the owner refused the request (the audit
// event oauth2.reject); the relying party is told access_denied.
func (s *Service) RejectOAuth(ctx context.Context, ownerID string, req *OAuthRequest) error {
	c, err := s.CheckOAuthRequest(ctx, req)
	if err != nil {
		return err
	}
	return s.audit(ctx, "owner:"+ownerID, "oauth2.reject", c.Client.ID, "ok", map[string]any{"scope": req.Scope})
}

// CodeExchange is an oauth2/token request with grant_type
// authorization_code (RFC 6749 section 4.1.3, RFC 7636 section 4.5).
type CodeExchange struct {
	ClientID, ClientSecret string
	// ClientCert is the DER TLS client certificate the connection
	// presented, if any: with no ClientSecret the client authenticates
	// by it (RFC 8705 section 2), and the tokens the code gives are
	// bound to it (section 3).
	ClientCert         []byte
	Code, CodeVerifier string
	RedirectURI        string
}

// CodeGrant is what an exchanged code gives.
type CodeGrant struct {
	// AccessToken is a bearer token for the client; with scope
	// credential it is also the SAD for the approved hashes (signHash
	// takes it as either).
	AccessToken string
	Scope       string
	// CredentialID is the approved credential (scope credential).
	CredentialID string
	Lifetime     time.Duration
	// CertThumbprint, for a client that authenticated by its TLS
	// certificate, is the binding of the token (RFC 8705 cnf x5t#S256).
	CertThumbprint string
}

// ErrInvalidGrant is the kind of answer to a code that is unknown, used,
// expired, another client's, or whose redirect URI or PKCE verifier does
// not match (RFC 6749 section 5.2, invalid_grant): one answer for all.
var ErrInvalidGrant = &Error{Kind: KindInvalid, Description: "the authorization code is unknown, used, expired or not bound to this client, redirect_uri and code_verifier"}

// ExchangeCode authenticates the client and exchanges an authorisation
// code, once: the code is taken from the database before anything else
// is compared, so a code presented twice — or first by the wrong client,
// redirect URI or verifier — is gone (RFC 6749 section 4.1.2: a code is
// used at most once). With scope credential it records activation data
// for the approved hashes, handed to this client, and a token for the
// client with scope credential, both under the one value it returns.
func (s *Service) ExchangeCode(ctx context.Context, x *CodeExchange) (*CodeGrant, error) {
	var client *store.Client
	var certSum []byte
	var err error
	if x.ClientSecret == "" && x.ClientCert != nil {
		client, certSum, err = s.clientByCert(ctx, x.ClientCert, x.ClientID)
	} else {
		client, err = s.CheckClient(ctx, x.ClientID, x.ClientSecret)
	}
	if err != nil {
		return nil, err
	}
	thumb := ""
	if certSum != nil {
		thumb = CertThumbprint(x.ClientCert)
	}
	refuse := func(reason string) (*CodeGrant, error) {
		_ = s.audit(ctx, "client:"+client.ID, "oauth2.code", client.ID, "error", map[string]any{"reason": reason})
		return nil, ErrInvalidGrant
	}
	if x.Code == "" || len(x.Code) > 256 {
		return refuse("malformed code")
	}
	h := sha256.Sum256([]byte(x.Code))
	ac, err := s.st.TakeAuthCode(ctx, h[:], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return refuse("unknown, used or expired code")
	}
	if err != nil {
		return nil, err
	}
	var cr codeRequest
	if err := json.Unmarshal(ac.Request, &cr); err != nil {
		return nil, fmt.Errorf("signing: reading authorisation code: %w", err)
	}
	if ac.ClientID != client.ID {
		return refuse("the code is another client's")
	}
	if x.RedirectURI != cr.RedirectURI {
		return refuse("redirect_uri differs from the authorisation request's")
	}
	if !pkceMatches(x.CodeVerifier, cr.CodeChallenge) {
		return refuse("code_verifier does not match the code_challenge")
	}
	if cr.Scope == ScopeService {
		// The token acts for the owner who consented: credentials/list
		// without userID lists theirs.
		tok, life, err := s.issueToken(ctx, &store.Token{Kind: "client", Subject: client.ID, Scope: ScopeService, OwnerID: cr.OwnerID,
			CertSHA256: certSum})
		if err != nil {
			return nil, err
		}
		_ = s.audit(ctx, "client:"+client.ID, "oauth2.code", client.ID, "ok", map[string]any{"owner": cr.OwnerID, "scope": cr.Scope})
		return &CodeGrant{AccessToken: tok, Scope: ScopeService, Lifetime: life, CertThumbprint: thumb}, nil
	}
	cred, err := s.st.GetCredential(ctx, cr.CredentialID)
	if err != nil {
		return nil, err
	}
	alg, ok := hashByOID(cr.HashAlgorithm)
	if !ok {
		return nil, fmt.Errorf("signing: authorisation code with hash algorithm %q", cr.HashAlgorithm)
	}
	sad, id, err := s.newActivation(ctx, client.ID, cred.ID, "", alg, cr.Hashes)
	if err != nil {
		return nil, err
	}
	if err := s.st.PutToken(ctx, &store.Token{Hash: sadHash(sad), Kind: "client", Subject: client.ID, Scope: ScopeCredential,
		ExpiresAt: s.now().Add(s.cfg.SADLifetime), CertSHA256: certSum}); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, "client:"+client.ID, "credential.authorize", cred.ID, "ok", map[string]any{
		"owner": cr.OwnerID, "client": client.ID, "activation": id, "hashes": len(cr.Hashes), "via": "oauth2code",
	}); err != nil {
		return nil, err
	}
	return &CodeGrant{AccessToken: sad, Scope: ScopeCredential, CredentialID: cred.ID, Lifetime: s.cfg.SADLifetime, CertThumbprint: thumb}, nil
}

// pkceMatches checks a PKCE verifier (43 to 128 unreserved characters)
// against an S256 challenge (RFC 7636 section 4.6).
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for _, c := range verifier {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// CheckRedirectURI says whether a relying party may register raw as a
// redirect URI: an absolute https URL without a fragment, or http to
// localhost or 127.0.0.1 for development (RFC 8252 section 7.3).
func CheckRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !u.IsAbs() {
		return fail(KindInvalid, "redirect URI %q is not an absolute URL", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fail(KindInvalid, "redirect URI %q has a fragment (RFC 6749 section 3.1.2)", raw)
	}
	if u.User != nil {
		return fail(KindInvalid, "redirect URI %q has user information", raw)
	}
	if strings.Trim(strings.ToLower(u.Host), "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" {
		return fail(KindInvalid, "redirect URI %q: a host name has only letters, digits, dots and hyphens", raw)
	}
	host := u.Hostname()
	if u.Scheme != "https" && (u.Scheme != "http" || (host != "localhost" && host != "127.0.0.1")) {
		return fail(KindInvalid, "redirect URI %q must be https (http only to localhost or 127.0.0.1)", raw)
	}
	if len(raw) > 2048 || strings.ContainsAny(raw, "\r\n") {
		return fail(KindInvalid, "redirect URI %q is too long or has a line break", raw)
	}
	return nil
}

// WithRedirectURIs registers where the client's oauth2code requests may
// send the owner's browser back (CheckRedirectURI says which URIs
// CreateClient accepts).
func WithRedirectURIs(uris ...string) ClientOption {
	return func(c *store.Client) { c.RedirectURIs = append(c.RedirectURIs, uris...) }
}

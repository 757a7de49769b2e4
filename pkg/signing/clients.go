package signing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/pkg/store"
)

// ClientCredentials are a relying party's OAuth2 client credentials
// (RFC 6749 section 2.3.1), and the key its webhook receiver checks the
// X-Kyso-Signature HMAC with. Both secrets are shown once.
type ClientCredentials struct {
	ID, Secret string
	WebhookKey []byte
}

// ClientOption sets up a relying party further.
type ClientOption func(*store.Client)

// AsOfficer makes the client a registration officer's system: its tokens
// have scope ScopeEnrol, for the admin API, and nothing else.
func AsOfficer() ClientOption {
	return func(c *store.Client) { c.Role = store.RoleOfficer }
}

// AsStaffOfficer makes the client an officer's system bound to staff
// member staffID (a field staff member's phone): its enrolments are that
// staff member's, channel household, each checked against the staff
// registry (pkg/admin).
func AsStaffOfficer(staffID string) ClientOption {
	return func(c *store.Client) { c.Role, c.StaffID = store.RoleOfficer, staffID }
}

// WithCertificate lets the client authenticate with this TLS client
// certificate (DER) instead of its secret: mutual TLS (RFC 8705), bound
// by the certificate's SHA-256.
func WithCertificate(der []byte) ClientOption {
	return func(c *store.Client) {
		sum := sha256.Sum256(der)
		c.CertSHA256 = sum[:]
	}
}

// InCategory sets the client's category: store.CategoryPublicService (an
// e-government portal: free in the citizen's free period) or
// store.CategoryCommercial, the default (metered): free signing is asked
// for, not fallen into.
func InCategory(category string) ClientOption {
	return func(c *store.Client) { c.Category = category }
}

// CheckCategory returns an invalid_request error unless category is a
// client category (empty: the default, commercial).
func CheckCategory(category string) error {
	switch category {
	case "", store.CategoryPublicService, store.CategoryCommercial:
		return nil
	}
	return fail(KindInvalid, "the client category %q is not %s or %s", category, store.CategoryPublicService, store.CategoryCommercial)
}

// CreateClient registers a relying party. webhookURL, when set, must be
// https (or http to a loopback address, for development).
func (s *Service) CreateClient(ctx context.Context, name, webhookURL, actor string, opts ...ClientOption) (*ClientCredentials, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, fail(KindInvalid, "a client needs a name of at most 200 bytes")
	}
	if err := shown("client name", name); err != nil { // owners see it beside each request
		return nil, err
	}
	if webhookURL != "" {
		if err := checkWebhookURL(webhookURL); err != nil {
			return nil, err
		}
	}
	id, err := randomID(s.cfg.Rand, 10)
	if err != nil {
		return nil, err
	}
	secret, err := randomToken(s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	hash := s.clientSecretHash(id, secret)
	whKey := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, whKey); err != nil {
		return nil, err
	}
	sealed, err := s.sealer.seal(whKey, "webhook:"+id, s.cfg.Rand)
	if err != nil {
		return nil, err
	}
	c := &store.Client{ID: id, Name: name, SecretHash: hash, WebhookURL: webhookURL, WebhookSecret: sealed, CreatedAt: s.now()}
	for _, o := range opts {
		o(c)
	}
	for _, u := range c.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return nil, err
		}
	}
	if err := CheckCategory(c.Category); err != nil {
		return nil, err
	}
	if c.Category == "" {
		c.Category = store.CategoryCommercial
	}
	if err := s.st.PutClient(ctx, c); err != nil {
		return nil, fmt.Errorf("signing: recording the client: %w", err)
	}
	if err := s.audit(ctx, actor, "client.create", id, "ok", map[string]any{"name": name, "webhook": webhookURL != "", "mtls": c.CertSHA256 != nil, "redirect_uris": len(c.RedirectURIs), "category": c.Category}); err != nil {
		return nil, err
	}
	return &ClientCredentials{ID: id, Secret: secret, WebhookKey: whKey}, nil
}

// SetClientCategory moves a portal to category (public-service or
// commercial): the signatures counted from now on are free or metered by
// it, those counted before keep theirs. Moving a portal to the category
// it has changes nothing and is no error. Audited as client.category,
// with the category before and after.
func (s *Service) SetClientCategory(ctx context.Context, id, category, actor string) error {
	if err := CheckCategory(category); err != nil {
		return err
	}
	if category == "" {
		return fail(KindInvalid, "a category is public-service or commercial")
	}
	if !validID(id) {
		return fail(KindNotFound, "no such client")
	}
	c, err := s.st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(KindNotFound, "no such client %s", id)
	}
	if err != nil {
		return err
	}
	if c.Role == store.RoleOfficer {
		return fail(KindInvalid, "client %s is a registration officer's system: it signs nothing to count", id)
	}
	err = s.st.SetClientCategory(ctx, id, category)
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signing: setting the category of client %s: %w", id, err)
	}
	return s.audit(ctx, actor, "client.category", id, "ok", map[string]any{"from": c.Category, "to": category})
}

func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fail(KindInvalid, "the webhook URL is not an absolute URL")
	}
	host := u.Hostname()
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	if u.Scheme != "https" && (u.Scheme != "http" || !loopback) {
		return fail(KindInvalid, "the webhook URL must be https (http only to a loopback address)")
	}
	return nil
}

// WebhookKey returns the client's webhook HMAC key.
func (s *Service) WebhookKey(c *store.Client) ([]byte, error) {
	return s.sealer.open(c.WebhookSecret, "webhook:"+c.ID)
}

// Token scopes: service and credential (CSC API v2 section 8.3.2) for
// relying parties, enrol for registration officers.
const (
	ScopeService    = "service"
	ScopeCredential = "credential"
	ScopeEnrol      = "enrol"
)

// scopeFor checks the scope a client asks for against its role: officers
// enrol, relying parties sign.
func scopeFor(c *store.Client, scope string) (string, error) {
	officer := c.Role == store.RoleOfficer
	switch {
	case scope == "" && officer:
		return ScopeEnrol, nil
	case scope == "":
		return ScopeService, nil
	case scope == ScopeEnrol && officer, (scope == ScopeService || scope == ScopeCredential) && !officer:
		return scope, nil
	}
	return "", fail(KindInvalid, "scope %q is not one this client may have", scope)
}

// CheckClient checks a relying party's credentials (client_id and
// client_secret, or SmartCA's sp_id and sp_password) and returns it. Wrong
// credentials, unknown and disabled clients get the same answer, after the
// same work: an HMAC-SHA-256 of the secret, microseconds (cost.go). A
// client whose secret is still stored as argon2id (made before kyso
// checked secrets by HMAC) is checked with argon2id behind the gate once,
// and on success its stored form becomes the HMAC one.
func (s *Service) CheckClient(ctx context.Context, clientID, secret string) (*store.Client, error) {
	denied := fail(KindClientInvalid, "unknown client or wrong secret")
	if !validID(clientID) || len(secret) > 256 {
		return nil, denied
	}
	c, err := s.st.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		s.macMatches(clientID, "", secret)
		return nil, denied
	}
	if err != nil {
		return nil, err
	}
	ok := s.macMatches(c.ID, c.SecretHash, secret)
	if !ok && strings.HasPrefix(c.SecretHash, "$argon2id$") {
		if ok, err = s.checkPassword(ctx, c.SecretHash, secret); err != nil {
			return nil, err
		}
		if ok {
			s.rehashClientSecret(ctx, c, secret)
		}
	}
	if c.Disabled || !ok {
		return nil, denied
	}
	return c, nil
}

// rehashClientSecret replaces the argon2id form of c's secret by the HMAC
// form, unless another replica changed it meanwhile. The secret was right:
// a failure here is logged and the next use tries again.
func (s *Service) rehashClientSecret(ctx context.Context, c *store.Client, secret string) {
	err := s.st.SetClientSecretHash(ctx, c.ID, c.SecretHash, s.clientSecretHash(c.ID, secret))
	switch {
	case errors.Is(err, store.ErrConflict):
		return
	case err != nil:
		s.log.WarnContext(ctx, "signing: storing the HMAC form of a client secret", "client", c.ID, "error", err)
		return
	}
	if err := s.audit(ctx, "kyso", "client.secret.rehash", c.ID, "ok", map[string]any{"from": "argon2id", "to": "hmac-sha256"}); err != nil {
		s.log.WarnContext(ctx, "signing: auditing a client secret rehash", "client", c.ID, "error", err)
	}
}

// decoyHash is checked for unknown owners, so they take about as long as
// known ones (the real parameters are not secret).
var decoyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

// ClientToken checks a relying party's credentials and returns a bearer
// access token for scope, and its lifetime.
func (s *Service) ClientToken(ctx context.Context, clientID, secret, scope string) (string, time.Duration, error) {
	c, err := s.CheckClient(ctx, clientID, secret)
	if err != nil {
		return "", 0, err
	}
	if scope, err = scopeFor(c, scope); err != nil {
		return "", 0, err
	}
	return s.issueToken(ctx, &store.Token{Kind: "client", Subject: c.ID, Scope: scope})
}

// ClientTokenByCert authenticates a relying party by the TLS client
// certificate it presented (RFC 8705 section 2: the certificate bound to
// it at registration, by SHA-256) and returns an access token for scope,
// bound to that certificate (RFC 8705 section 3): Authenticate refuses it
// on a connection that does not present the same certificate, so a
// stolen token is of no use without the client's private key. When
// clientID is given it must name that client. CertThumbprint is the
// binding as the token's cnf claim would carry it.
func (s *Service) ClientTokenByCert(ctx context.Context, certDER []byte, clientID, scope string) (string, time.Duration, error) {
	c, sum, err := s.clientByCert(ctx, certDER, clientID)
	if err != nil {
		return "", 0, err
	}
	if scope, err = scopeFor(c, scope); err != nil {
		return "", 0, err
	}
	return s.issueToken(ctx, &store.Token{Kind: "client", Subject: c.ID, Scope: scope, CertSHA256: sum})
}

// clientByCert is the enabled client bound to the TLS client certificate
// certDER (RFC 8705 section 2), which clientID, when given, must name,
// with the certificate's SHA-256.
func (s *Service) clientByCert(ctx context.Context, certDER []byte, clientID string) (*store.Client, []byte, error) {
	denied := fail(KindClientInvalid, "the TLS client certificate is not bound to a client")
	sum := sha256.Sum256(certDER)
	c, err := s.st.GetClientByCert(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, denied
	}
	if err != nil {
		return nil, nil, err
	}
	if c.Disabled || (clientID != "" && clientID != c.ID) {
		return nil, nil, denied
	}
	return c, sum[:], nil
}

// CertThumbprint is the confirmation of a token bound to the TLS client
// certificate der: the base64url SHA-256 of the DER, without padding, as
// the cnf member "x5t#S256" carries it (RFC 8705 section 3.1).
func CertThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// issueToken records a new access token, t with its hash and expiry
// filled in: t's CertSHA256, when set, binds it to a TLS client
// certificate, its OwnerID to an owner it acts for.
func (s *Service) issueToken(ctx context.Context, t *store.Token) (string, time.Duration, error) {
	tok, err := randomToken(s.cfg.Rand)
	if err != nil {
		return "", 0, err
	}
	h := sha256.Sum256([]byte(tok))
	t.Hash, t.ExpiresAt = h[:], s.now().Add(s.cfg.TokenLifetime)
	if err := s.st.PutToken(ctx, t); err != nil {
		return "", 0, err
	}
	return tok, s.cfg.TokenLifetime, nil
}

// Principal is who an access token speaks for.
type Principal struct {
	// Kind is "client" or "owner"; ID the client's or owner's ID.
	Kind, ID, Scope string
	// OwnerID is the owner a client's token acts for (an owner's CSC
	// oauth2code consent with scope service); empty for other tokens.
	OwnerID string
}

// Authenticate returns who an access token speaks for. tlsCert is the DER
// TLS client certificate the request's connection presented (nil: none):
// a token bound to a certificate (ClientTokenByCert) is refused unless it
// is that one, as RFC 8705 section 3 asks (invalid_token), and the misuse
// is audited.
func (s *Service) Authenticate(ctx context.Context, token string, tlsCert []byte) (*Principal, error) {
	if token == "" || len(token) > 256 {
		return nil, fail(KindTokenInvalid, "missing or malformed access token")
	}
	h := sha256.Sum256([]byte(token))
	t, err := s.st.GetToken(ctx, h[:], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail(KindTokenInvalid, "the access token is unknown, revoked or expired")
	}
	if err != nil {
		return nil, err
	}
	if t.CertSHA256 != nil {
		presented := sha256.Sum256(tlsCert)
		if tlsCert == nil || subtle.ConstantTimeCompare(presented[:], t.CertSHA256) != 1 {
			_ = s.audit(ctx, t.Kind+":"+t.Subject, "token.refuse", t.Subject, "error", map[string]any{
				"reason": "the token is bound to a TLS client certificate the connection did not present", "certificate": tlsCert != nil,
			})
			return nil, fail(KindTokenInvalid, "the access token is bound to a TLS client certificate (RFC 8705) that this connection did not present")
		}
	}
	return &Principal{Kind: t.Kind, ID: t.Subject, Scope: t.Scope, OwnerID: t.OwnerID}, nil
}

// RevokeToken revokes an access token (CSC auth/revoke, oauth2/revoke;
// RFC 7009) for by, who must be the one it was issued to (RFC 7009
// section 2.1): another's token is refused (access_denied) and stays
// valid. An unknown, expired or already revoked token is no error
// (section 2.2). Both outcomes are audited (token.revoke).
func (s *Service) RevokeToken(ctx context.Context, token string, by *Principal) error {
	if by == nil {
		return errors.New("signing: revoking a token: who asks is required")
	}
	h := sha256.Sum256([]byte(token))
	t, err := s.st.GetToken(ctx, h[:], s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	actor := by.Kind + ":" + by.ID
	if t.Kind != by.Kind || t.Subject != by.ID {
		_ = s.audit(ctx, actor, "token.revoke", t.Kind+":"+t.Subject, "error", map[string]any{"reason": "the token was issued to another " + t.Kind})
		return fail(KindDenied, "the token was not issued to this %s (RFC 7009 section 2.1)", by.Kind)
	}
	if err := s.st.DeleteToken(ctx, h[:]); err != nil {
		return err
	}
	return s.audit(ctx, actor, "token.revoke", actor, "ok", nil)
}

// OwnerLogin checks an owner's national ID, PIN and one-time code and
// returns an access token for the owner's own pages and API (listing
// transactions; approving still takes both factors again). Each login is
// an attempt at the factors, counted like any other (checkFactors).
func (s *Service) OwnerLogin(ctx context.Context, nationalID, pin, otp string) (string, time.Duration, error) {
	denied := fail(KindDenied, "wrong national ID, PIN or one-time code")
	if !validID(nationalID) {
		if _, err := s.checkPassword(ctx, decoyHash, pin); err != nil {
			return "", 0, err
		}
		return "", 0, denied
	}
	o, err := s.st.GetOwnerByNationalID(ctx, nationalID)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.loginMiss(ctx, nationalID, pin); err != nil && !errors.Is(err, &Error{Kind: KindDenied}) {
			return "", 0, err // locked, as a known owner would be
		}
		return "", 0, denied
	}
	if err != nil {
		return "", 0, err
	}
	// The same answer for wrong factors as for an unknown ID, so the
	// login cannot tell who is enrolled (a lock still shows).
	if _, err := s.checkFactors(ctx, o, PINAndCode(pin, otp), nil); err != nil {
		if errors.Is(err, &Error{Kind: KindDenied}) {
			return "", 0, denied
		}
		return "", 0, err
	}
	return s.issueToken(ctx, &store.Token{Kind: "owner", Subject: o.ID, Scope: "owner"})
}

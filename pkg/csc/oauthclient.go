package csc

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/kyso-pki/kyso/pkg/algid"
)

// OAuthRequest is what a relying party asks the owner for through
// oauth2code (CSC API v2 section 8.3.2): AuthorizeURL writes it.
type OAuthRequest struct {
	RedirectURI, State string
	// Challenge is the PKCE S256 challenge (NewPKCE).
	Challenge string
	// CredentialID set asks for scope credential: a SAD for Hashes
	// (algorithm Hash, SHA-256 when zero), with Description shown to the
	// owner. Empty asks for scope service.
	CredentialID string
	Hashes       [][]byte
	Hash         crypto.Hash
	Description  string
}

// NewPKCE returns a fresh PKCE verifier and its S256 challenge (RFC 7636
// section 4.1 and 4.2).
func NewPKCE() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizeURL is where the relying party sends the owner's browser:
// oauth2/authorize with the request in the query.
func (c *Client) AuthorizeURL(r *OAuthRequest) string {
	q := url.Values{"response_type": {"code"}, "client_id": {c.ClientID}, "redirect_uri": {r.RedirectURI},
		"code_challenge": {r.Challenge}, "code_challenge_method": {"S256"}}
	if r.State != "" {
		q.Set("state", r.State)
	}
	if r.CredentialID == "" {
		q.Set("scope", "service")
	} else {
		h := r.Hash
		if h == 0 {
			h = crypto.SHA256
		}
		enc := make([]string, len(r.Hashes))
		for i, d := range r.Hashes {
			enc[i] = base64.RawURLEncoding.EncodeToString(d)
		}
		q.Set("scope", "credential")
		q.Set("credentialID", r.CredentialID)
		q.Set("numSignatures", strconv.Itoa(len(r.Hashes)))
		q.Set("hashes", strings.Join(enc, ","))
		q.Set("hashAlgorithmOID", algid.HashOID(h).String())
		if r.Description != "" {
			q.Set("description", r.Description)
		}
	}
	return c.url("oauth2/authorize") + "?" + q.Encode()
}

// ExchangeCode trades the code the browser brought back for a token
// (grant_type authorization_code, with the PKCE verifier and the same
// redirect URI). With scope credential the token is the SAD.
func (c *Client) ExchangeCode(ctx context.Context, code, verifier, redirectURI string) (*TokenResponse, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("oauth2/token"), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	var tr TokenResponse
	if err := c.do(req, &tr); err != nil {
		return nil, err
	}
	return &tr, nil
}

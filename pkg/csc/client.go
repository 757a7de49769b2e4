package csc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/httpedge"
	"github.com/kyso-pki/kyso/pkg/signing"

	"github.com/kyso-pki/kyso/internal/tlsmin"
)

// maxResponse bounds a response body the client reads.
const maxResponse = 8 << 20

// Client calls a CSC API v2 service as a relying party, with OAuth2 client
// credentials. It fetches and renews its access token itself. It is safe
// for concurrent use.
type Client struct {
	// BaseURL is the service's base, e.g. https://kyso.example:8443/csc/v2.
	BaseURL string
	// ClientID and ClientSecret are the relying party's credentials.
	ClientID, ClientSecret string
	// Scope is the scope of the access tokens Token asks for: empty means
	// signing.ScopeService, what a relying party signs with; a
	// registration officer's client asks for signing.ScopeEnrol, the
	// token of the officers' API (/admin/v1).
	Scope string
	// HTTPClient sends the requests; nil means one with a 30-second
	// timeout that refuses TLS below 1.2 (Circular 15/2025 Annex I).
	// WARNING: http.DefaultClient has no timeout.
	HTTPClient *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

// APIError is an error response from the service.
type APIError struct {
	Status int
	Body   Error
	// RetryAfter is the answer's Retry-After in seconds (RFC 9110 section
	// 10.2.3), zero when it had none: on a 429 or a 503, how long to wait
	// before asking again.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("csc: %d %s: %s", e.Status, e.Body.Error, e.Body.Description)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return tlsmin.Client(30 * time.Second)
}

func (c *Client) url(method string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + "/" + method
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("csc: %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("csc: %s: %w", req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		eb, retry := httpedge.ReadError(resp.Header, body)
		return &APIError{Status: resp.StatusCode, Body: Error(eb), RetryAfter: retry}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = body
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("csc: %s: malformed response: %w", req.URL.Path, err)
	}
	return nil
}

// Token returns a valid access token, asking oauth2/token for a new one
// when the last is about to expire.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.expires) > 30*time.Second {
		return c.token, nil
	}
	scope := c.Scope
	if scope == "" {
		scope = signing.ScopeService
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("oauth2/token"), strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ClientID, c.ClientSecret)
	var tr TokenResponse
	if err := c.do(req, &tr); err != nil {
		return "", err
	}
	c.token, c.expires = tr.AccessToken, time.Now().Add(time.Duration(tr.ExpiresIn)*time.Second)
	return c.token, nil
}

// Call posts in as JSON to method with the access token and decodes the
// answer into out.
func (c *Client) Call(ctx context.Context, method string, in, out any) error {
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(method), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	return c.do(req, out)
}

// Receipt downloads the consent receipt of an owner's oauth2code consent
// (kyso's addition: GET receipts/{id}, the ID from the code exchange's
// TokenResponse.ReceiptID) with the client's token: a DER CMS SignedData
// carrying the receipt's JSON, which `openssl cms -verify` checks.
func (c *Client) Receipt(ctx context.Context, id string) ([]byte, error) {
	tok, err := c.Token(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("receipts/"+url.PathEscape(id)), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	var der []byte
	return der, c.do(req, &der)
}

// CredentialInfo returns credentials/info with the certificate chain and
// its details.
func (c *Client) CredentialInfo(ctx context.Context, credentialID string) (*InfoCredResp, error) {
	var out InfoCredResp
	err := c.Call(ctx, "credentials/info", &InfoCredRequest{CredentialID: credentialID, Certificates: "chain", CertInfo: true, AuthInfo: true}, &out)
	return &out, err
}

// Authorize asks for a SAD over hashes with the owner's PIN and one-time
// code (credentials/authorize, explicit mode).
func (c *Client) Authorize(ctx context.Context, credentialID string, hashes [][]byte, h crypto.Hash, pin, otp string) (string, error) {
	req := &AuthorizeRequest{CredentialID: credentialID, NumSignatures: len(hashes), HashAlgorithmOID: algid.HashOID(h).String(),
		AuthData: []AuthData{{ID: "PIN", Value: pin}, {ID: "OTP", Value: otp}}}
	for _, d := range hashes {
		req.Hashes = append(req.Hashes, base64.StdEncoding.EncodeToString(d))
	}
	var out AuthorizeResponse
	if err := c.Call(ctx, "credentials/authorize", req, &out); err != nil {
		return "", err
	}
	return out.SAD, nil
}

// SignHash signs hashes with a SAD (signatures/signHash).
func (c *Client) SignHash(ctx context.Context, credentialID, sad string, hashes [][]byte, h crypto.Hash, signAlgo string) ([][]byte, error) {
	req := &SignHashRequest{CredentialID: credentialID, SAD: sad, HashAlgorithmOID: algid.HashOID(h).String(), SignAlgo: signAlgo, OperationMode: "S"}
	for _, d := range hashes {
		req.Hashes = append(req.Hashes, base64.StdEncoding.EncodeToString(d))
	}
	var out SignHashResponse
	if err := c.Call(ctx, "signatures/signHash", req, &out); err != nil {
		return nil, err
	}
	if len(out.Signatures) != len(hashes) {
		return nil, fmt.Errorf("csc: %d signatures for %d hashes", len(out.Signatures), len(hashes))
	}
	sigs := make([][]byte, len(out.Signatures))
	for i, s := range out.Signatures {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("csc: signature %d is not base64", i+1)
		}
		sigs[i] = b
	}
	return sigs, nil
}

// Factors supplies the owner's PIN and a fresh one-time code when a
// signature is about to be authorised.
type Factors func(ctx context.Context) (pin, otp string, err error)

// Signer is a crypto.Signer whose key stays in the remote service: each
// Sign authorises the one digest with the owner's factors and signs it
// (hash-only, so the document never leaves the caller).
type Signer struct {
	Client       *Client
	CredentialID string
	// Certificate and Chain are the credential's, from NewSigner.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	Factors     Factors
	// Context bounds the remote calls Sign makes; nil means Background.
	Context context.Context
}

// NewSigner reads the credential's certificate chain and returns a Signer.
func NewSigner(ctx context.Context, c *Client, credentialID string, factors Factors) (*Signer, error) {
	info, err := c.CredentialInfo(ctx, credentialID)
	if err != nil {
		return nil, err
	}
	if len(info.Cert.Certificates) == 0 {
		return nil, errors.New("csc: the credential has no certificate")
	}
	s := &Signer{Client: c, CredentialID: credentialID, Factors: factors, Context: ctx}
	for i, b := range info.Cert.Certificates {
		der, err := base64.StdEncoding.DecodeString(b)
		if err != nil {
			return nil, fmt.Errorf("csc: certificate %d is not base64", i+1)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("csc: certificate %d: %w", i+1, err)
		}
		if i == 0 {
			s.Certificate = cert
		} else {
			s.Chain = append(s.Chain, cert)
		}
	}
	return s, nil
}

// Public returns the credential's public key.
func (s *Signer) Public() crypto.PublicKey { return s.Certificate.PublicKey }

// Sign signs digest remotely: RSASSA-PSS when opts is *rsa.PSSOptions,
// PKCS#1 v1.5 for other RSA options, ECDSA for EC keys.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx := s.Context
	if ctx == nil {
		ctx = context.Background()
	}
	h := opts.HashFunc()
	var algo string
	switch s.Certificate.PublicKey.(type) {
	case *rsa.PublicKey:
		algo = algid.RSAEncryption.String()
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != h.Size() {
				return nil, fmt.Errorf("csc: the service signs RSA-PSS with a salt as long as the hash, not %d", pss.SaltLength)
			}
			algo = algid.RSASSAPSS.String()
		}
	case *ecdsa.PublicKey:
		algo = signing.DefaultSignAlgo(s.Certificate.PublicKey, h)
	default:
		return nil, fmt.Errorf("csc: unsupported key type %T", s.Certificate.PublicKey)
	}
	pin, otp, err := s.Factors(ctx)
	if err != nil {
		return nil, err
	}
	sad, err := s.Client.Authorize(ctx, s.CredentialID, [][]byte{digest}, h, pin, otp)
	if err != nil {
		return nil, err
	}
	sigs, err := s.Client.SignHash(ctx, s.CredentialID, sad, [][]byte{digest}, h, algo)
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

var _ crypto.Signer = (*Signer)(nil)

// SignDoc signs whole PDFs as PAdES at level ("AdES-B-B" … "AdES-B-LTA")
// with a SAD authorised for their SHA-256 digests (signatures/signDoc).
func (c *Client) SignDoc(ctx context.Context, credentialID, sad string, docs [][]byte, level string) ([][]byte, error) {
	req := &SignDocRequest{CredentialID: credentialID, SAD: sad}
	for _, d := range docs {
		req.Documents = append(req.Documents, DocToSign{Document: base64.StdEncoding.EncodeToString(d), SignatureFormat: "P", ConformanceLevel: level})
	}
	var out SignDocResponse
	if err := c.Call(ctx, "signatures/signDoc", req, &out); err != nil {
		return nil, err
	}
	if len(out.DocumentWithSignature) != len(docs) {
		return nil, fmt.Errorf("csc: %d signed documents for %d", len(out.DocumentWithSignature), len(docs))
	}
	signed := make([][]byte, len(docs))
	for i, s := range out.DocumentWithSignature {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("csc: signed document %d is not base64", i+1)
		}
		signed[i] = b
	}
	return signed, nil
}

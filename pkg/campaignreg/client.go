package campaignreg

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/kyso-pki/kyso/hsm"
)

// SigningKeyLabel is the key store label of a provider's registry signing
// key (ECDSA P-256), made on first use; TLSKeyLabel its TLS client key's.
const (
	SigningKeyLabel = "campaign-registry-sign-1"
	TLSKeyLabel     = "campaign-registry-tls-1"
)

// OpenKeys returns the provider's registry keys, making them in ks on
// first use as the audit key is made: the signing key of request bodies
// and the TLS client key.
func OpenKeys(ctx context.Context, ks hsm.KeyStore) (sign, tlsKey crypto.Signer, err error) {
	if sign, err = hsm.OpenOrCreate(ctx, ks, SigningKeyLabel, hsm.ECDSAP256); err != nil {
		return nil, nil, fmt.Errorf("campaignreg: the registry signing key: %w", err)
	}
	if tlsKey, err = hsm.OpenOrCreate(ctx, ks, TLSKeyLabel, hsm.ECDSAP256); err != nil {
		return nil, nil, fmt.Errorf("campaignreg: the registry TLS key: %w", err)
	}
	return sign, tlsKey, nil
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the registry's base ("https://registry.example.vn"); the
	// operations are under URL + Path. https only.
	URL string
	// Provider is this provider as the registry's configuration names it.
	Provider Provider
	// TLS holds the TLS client certificate the registry pins and the
	// roots its server certificate chains to. Required.
	TLS *tls.Config
	// Signer is the registry signing key (ECDSA P-256). Required.
	Signer crypto.Signer
	// Timeout bounds one call; zero means 10 seconds.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Client is the Registry of a shared registry over HTTPS.
type Client struct {
	cfg    ClientConfig
	base   string
	http   *http.Client
	signer jose.Signer
}

// NewClient returns a client of the registry cfg names.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.Provider.Check(); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("campaignreg: the registry URL %q is not an https:// URL", cfg.URL)
	}
	if cfg.TLS == nil || cfg.Signer == nil {
		return nil, errors.New("campaignreg: a client needs its TLS configuration and signing key")
	}
	if pub, ok := cfg.Signer.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("campaignreg: the registry signing key is a %T, not ECDSA P-256", cfg.Signer.Public())
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(cfg.Signer)},
		(&jose.SignerOptions{}).WithType(JWSType).WithHeader("kid", cfg.Provider.ID))
	if err != nil {
		return nil, fmt.Errorf("campaignreg: the request signer: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	t := cfg.TLS.Clone()
	if t.MinVersion < tls.VersionTLS12 {
		t.MinVersion = tls.VersionTLS12
	}
	return &Client{cfg: cfg, base: strings.TrimSuffix(cfg.URL, "/") + Path, signer: signer,
		http: &http.Client{Timeout: cfg.Timeout, Transport: &http.Transport{TLSClientConfig: t, ForceAttemptHTTP2: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// sign returns the compact JWS of a request: what the client posts, and
// what tests replay.
func (c *Client) sign(op string, p *payload) (string, error) {
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	p.Op, p.Provider, p.IssuedAt, p.Nonce = op, c.cfg.Provider.ID, c.cfg.Now().Unix(), base64.RawURLEncoding.EncodeToString(nonce)
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	jws, err := c.signer.Sign(b)
	if err != nil {
		return "", fmt.Errorf("campaignreg: signing the request: %w", err)
	}
	return jws.CompactSerialize()
}

// post sends a signed body to op and reads the answer.
func (c *Client) post(ctx context.Context, op, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+op, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/jose")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("campaignreg: the registry: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, nil, fmt.Errorf("campaignreg: reading the registry's answer: %w", err)
	}
	if len(b) > MaxAnswer {
		return nil, nil, fmt.Errorf("campaignreg: the registry's answer is larger than %d bytes", MaxAnswer)
	}
	return resp, b, nil
}

// call signs p for op, posts it and decodes the answer into an error or a.
func (c *Client) call(ctx context.Context, op string, p *payload) (*answer, error) {
	body, err := c.sign(op, p)
	if err != nil {
		return nil, err
	}
	resp, b, err := c.post(ctx, op, body)
	if err != nil {
		return nil, err
	}
	var a answer
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&a); err != nil {
		return nil, fmt.Errorf("campaignreg: the registry answered %s without JSON", resp.Status)
	}
	msg := safeName(a.Message)
	switch {
	case resp.StatusCode == http.StatusOK:
		return &a, nil
	case a.Error == "held" && a.Holding != nil:
		a.Holding.ProviderName = safeName(a.Holding.ProviderName)
		a.Holding.ProviderID = safeName(a.Holding.ProviderID)
		return nil, &HeldError{Holding: a.Holding}
	case a.Error == "not_held":
		return nil, ErrNotHeld
	case a.Error == "invalid":
		return nil, fmt.Errorf("%w: the registry: %s", ErrInvalid, msg)
	case a.Error == "conflict":
		return nil, fmt.Errorf("%w: the registry: %s", ErrConflict, msg)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || a.Error == "replay":
		return nil, fmt.Errorf("%w: the registry: %s (%s)", ErrDenied, msg, safeName(a.Error))
	}
	return nil, fmt.Errorf("campaignreg: the registry answered %s: %s", resp.Status, msg)
}

func (c *Client) holding(a *answer, err error) (*Holding, error) {
	if err != nil {
		return nil, err
	}
	if a.Holding == nil {
		return nil, errors.New("campaignreg: the registry answered without the holding")
	}
	a.Holding.ProviderName = safeName(a.Holding.ProviderName)
	return a.Holding, nil
}

// Lookup implements Registry.
func (c *Client) Lookup(ctx context.Context, nationalID string) (*Holding, error) {
	return c.holding(c.call(ctx, OpLookup, &payload{NationalID: nationalID}))
}

// Register implements Registry.
func (c *Client) Register(ctx context.Context, nationalID, serial string) (*Holding, error) {
	return c.holding(c.call(ctx, OpRegister, &payload{NationalID: nationalID, Serial: serial}))
}

// Switch implements Registry.
func (c *Client) Switch(ctx context.Context, nationalID string, consent *Consent) (*Holding, error) {
	return c.holding(c.call(ctx, OpSwitch, &payload{NationalID: nationalID, Consent: consent}))
}

// Release implements Registry.
func (c *Client) Release(ctx context.Context, nationalID, reason string) error {
	_, err := c.call(ctx, OpRelease, &payload{NationalID: nationalID, Reason: reason})
	return err
}

// Released implements Registry.
func (c *Client) Released(ctx context.Context) ([]*Holding, error) {
	a, err := c.call(ctx, OpReleased, &payload{})
	if err != nil {
		return nil, err
	}
	return a.Released, nil
}

// Ack implements Registry.
func (c *Client) Ack(ctx context.Context, ids []int64) error {
	_, err := c.call(ctx, OpAck, &payload{IDs: ids})
	return err
}

// Provider implements Registry.
func (c *Client) Provider() Provider { return c.cfg.Provider }

// ClientCertificate makes the TLS client certificate of key: self-signed,
// the provider's ID as its common name, for a year from now. The
// registry pins its key (Member.TLSKeySHA256), not the certificate, so a
// new one each start is the same identity.
func ClientCertificate(key crypto.Signer, providerID string, now time.Time) (tls.Certificate, error) {
	return selfSigned(key, providerID, now)
}

func selfSigned(key crypto.Signer, cn string, now time.Time) (tls.Certificate, error) {
	serial := make([]byte, 16)
	if _, err := rand.Read(serial); err != nil {
		return tls.Certificate{}, err
	}
	serial[0] &= 0x7f
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"kyso campaign registry client"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("campaignreg: the TLS client certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

package owner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kyso-pki/kyso/internal/tlsmin"
	"github.com/kyso-pki/kyso/pkg/httpedge"
)

// maxResponse bounds a response body the client reads.
const maxResponse = 4 << 20

// Client calls the owner API as the owner's app does: Login with national
// ID, PIN and one-time code, then Transactions, Approve or Reject, then
// Logout. Its bodies are the handler's own types. It is not safe for
// concurrent use while Login or Logout runs.
type Client struct {
	// BaseURL is the API's base, e.g. https://kyso.example:8443/owner/v1.
	BaseURL string
	// HTTPClient sends the requests; nil means one with a 30-second
	// timeout that refuses TLS below 1.2 (Circular 15/2025 Annex I).
	// WARNING: http.DefaultClient has no timeout.
	HTTPClient *http.Client
	// Token is the owner's access token: Login sets it, Logout clears it.
	Token string
}

// APIError is an error response from the owner API.
type APIError struct {
	Status int
	// Body is the answer's {error, error_description}; a body of another
	// form is Error "http_error" with the body as Description
	// (httpedge.ReadError).
	Body Error
	// RetryAfter is the answer's Retry-After (RFC 9110 section 10.2.3),
	// zero when it had none: on a locked owner's 429, when the lock ends.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	return fmt.Sprintf("owner: %d %s: %s", e.Status, e.Body.Error, e.Body.Description)
}

// Login checks the owner's factors and keeps the access token in c.Token.
func (c *Client) Login(ctx context.Context, req *LoginRequest) (*LoginResponse, error) {
	var out LoginResponse
	if err := c.call(ctx, http.MethodPost, "/login", req, &out); err != nil {
		return nil, err
	}
	c.Token = out.AccessToken
	return &out, nil
}

// Logout revokes c.Token and clears it.
func (c *Client) Logout(ctx context.Context) error {
	err := c.call(ctx, http.MethodPost, "/logout", nil, nil)
	c.Token = ""
	return err
}

// Transactions lists the owner's pending transactions, newest first.
func (c *Client) Transactions(ctx context.Context) (*TransactionList, error) {
	var out TransactionList
	if err := c.call(ctx, http.MethodGet, "/transactions", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Approve signs transaction id's documents with the factors in req.
func (c *Client) Approve(ctx context.Context, id string, req *ApproveRequest) (*Decision, error) {
	var out Decision
	if err := c.call(ctx, http.MethodPost, "/transactions/"+url.PathEscape(id)+"/approve", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reject refuses transaction id.
func (c *Client) Reject(ctx context.Context, id string) (*Decision, error) {
	var out Decision
	if err := c.call(ctx, http.MethodPost, "/transactions/"+url.PathEscape(id)+"/reject", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Receipt downloads one of the owner's consent receipts (GET
// receipts/{id}): the DER CMS SignedData carrying its JSON
// (signing.Receipt), which `openssl cms -verify` checks.
func (c *Client) Receipt(ctx context.Context, id string) ([]byte, error) {
	var der []byte
	if err := c.call(ctx, http.MethodGet, "/receipts/"+url.PathEscape(id), nil, &der); err != nil {
		return nil, err
	}
	return der, nil
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return tlsmin.Client(30 * time.Second)
}

// call sends in, when not nil, as JSON and decodes a 2xx answer's body
// into out, when not nil.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("owner: %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("owner: %s: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("owner: %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("owner: %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		eb, retry := httpedge.ReadError(resp.Header, b)
		return &APIError{Status: resp.StatusCode, Body: eb, RetryAfter: retry}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("owner: %s: malformed response: %w", path, err)
	}
	return nil
}

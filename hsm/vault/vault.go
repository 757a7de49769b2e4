// Package vault is the hsm.KeyStore over the Transit secrets engine of
// HashiCorp Vault or OpenBao. Keys are generated inside Vault, marked not
// exportable, and used through Transit's sign endpoint; kyso holds only
// public keys and a token.
//
// A store is named by a URI in hsm's attribute syntax:
//
//	vault:mount=transit;name=ca-root?address=https://vault:8200&token-source=env:VAULT_TOKEN&ca-file=/etc/kyso/vault-ca.pem
//
// Path attributes:
//
//	mount            Transit's mount path; default "transit".
//	name             a key name; optional, Open does not need it.
//
// Query attributes:
//
//	address          Vault's base URL; default $VAULT_ADDR, else an error.
//	token-source     where the token is read, as hsm.ReadSecret takes it:
//	                 env:NAME or file:PATH; default env:VAULT_TOKEN.
//	ca-file          PEM file of the CA certificates that issued Vault's TLS
//	                 certificate; default the system roots.
//	tls-server-name  the name Vault's certificate must have, when it is not
//	                 the host in address.
//	namespace        the Vault Enterprise / OpenBao namespace; default none
//	                 (VAULT_NAMESPACE and VAULT_TOKEN are ignored: the URI
//	                 says everything but the address).
//
// A token written in the URI itself ("token=") is refused: URIs end up in
// configuration files, command lines and logs.
//
// Transit cannot prove which key made a signature, and a key deleted and
// re-created under the same name is another key with the same name and
// version. So every signature is verified locally against the public key the
// Signer was made for before it is returned.
package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/kyso-pki/kyso/hsm"
)

// Timeouts. Every request is also bounded by its context.
const (
	// requestTimeout bounds one Vault API call, retries included.
	requestTimeout = 30 * time.Second
	// openTimeout bounds the reachability check in Open.
	openTimeout = 10 * time.Second
	// dialTimeout bounds a TCP connect, so a dead address fails fast.
	dialTimeout = 5 * time.Second
)

// Options are Open's dependencies. The zero value (or nil) is usable.
type Options struct {
	// Logger receives key lifecycle events (open, create, delete) at Info
	// and skipped keys at Debug. Tokens are never logged. Nil discards.
	Logger *slog.Logger
	// HTTPClient is used for every request to Vault. Nil means a client
	// made for this store: a 5s dial timeout, a 30s request timeout, TLS 1.2
	// or later, and up to 64 idle connections kept to Vault so that many
	// goroutines signing at once reuse them. A given client is copied, not
	// changed; with ca-file or tls-server-name its Transport must be an
	// *http.Transport, which is cloned.
	HTTPClient *http.Client
}

// Store is an hsm.KeyStore over one Transit mount. It is safe for use by
// many goroutines at once.
type Store struct {
	client  *api.Client
	mount   string
	addr    string
	base    *hsm.URI // the store's URI without a key name; holds no secret
	log     *slog.Logger
	owned   *http.Transport // the transport Open made, closed by Close
	closed  atomic.Bool
	creates sync.Mutex // serialises CreateKey's check-then-create
}

var (
	_ hsm.KeyStore   = (*Store)(nil)
	_ hsm.KeyDeleter = (*Store)(nil)
)

// pathAttrs and queryAttrs are the attributes a vault: URI may have. Others
// are refused, so that a misspelt "ca_file" does not silently mean "trust the
// system roots".
var (
	pathAttrs  = map[string]bool{"mount": true, "name": true}
	queryAttrs = map[string]bool{"address": true, "token-source": true, "ca-file": true, "tls-server-name": true, "namespace": true}
)

// Open connects to the Transit mount u names and checks that Vault answers
// and accepts the token (auth/token/lookup-self, which Vault's default
// policy allows). An unreachable Vault gives an error wrapping
// hsm.ErrUnavailable, a refused token one wrapping hsm.ErrAuthentication.
func Open(ctx context.Context, u *hsm.URI, opts *Options) (*Store, error) {
	if u == nil {
		return nil, errors.New("vault: nil URI")
	}
	if u.Scheme != "vault" {
		return nil, fmt.Errorf("vault: URI scheme is %q, want \"vault\"", u.Scheme)
	}
	if opts == nil {
		opts = &Options{}
	}
	if _, ok := u.Query["token"]; ok {
		return nil, errors.New("vault: a token in the URI is not accepted; name where it is kept with token-source=env:NAME or token-source=file:PATH")
	}
	if err := checkAttrs(u); err != nil {
		return nil, err
	}

	mount := strings.Trim(u.Path["mount"], "/")
	if _, given := u.Path["mount"]; !given {
		mount = "transit"
	}
	if err := checkMount(mount); err != nil {
		return nil, err
	}
	if name, ok := u.Path["name"]; ok {
		if err := hsm.CheckLabel(name); err != nil {
			return nil, fmt.Errorf("vault: key name in URI: %w", err)
		}
	}

	addr := u.Query["address"]
	if addr == "" {
		addr = os.Getenv(api.EnvVaultAddress)
	}
	if addr == "" {
		return nil, errors.New("vault: no Vault address: give address= in the URI or set VAULT_ADDR")
	}
	pu, err := url.Parse(addr)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return nil, fmt.Errorf("vault: address %q is not an http:// or https:// URL", addr)
	}
	addr = strings.TrimSuffix(addr, "/")

	tokenSource := u.Query["token-source"]
	if tokenSource == "" {
		tokenSource = "env:" + api.EnvVaultToken
	}
	token, err := hsm.ReadSecret(tokenSource)
	if err != nil {
		return nil, fmt.Errorf("vault: reading the token: %w: %w", hsm.ErrAuthentication, err)
	}

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc, owned, err := httpClient(opts.HTTPClient, u.Query["ca-file"], u.Query["tls-server-name"])
	if err != nil {
		return nil, err
	}
	if pu.Scheme == "http" && !isLoopback(pu.Hostname()) {
		log.Warn("vault: talking to Vault over plain HTTP: the token and every digest cross the network unencrypted", "address", addr)
	}

	client, err := api.NewClient(&api.Config{
		Address:      addr,
		HttpClient:   hc,
		Timeout:      requestTimeout,
		MaxRetries:   2,
		MinRetryWait: 100 * time.Millisecond,
		MaxRetryWait: 500 * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("vault: making the API client for %s: %w", addr, err)
	}
	// NewClient takes VAULT_TOKEN and VAULT_NAMESPACE from the environment;
	// the URI decides both instead.
	client.SetToken(string(token))
	client.ClearNamespace()
	if ns := u.Query["namespace"]; ns != "" {
		client.SetNamespace(ns)
	}

	base := &hsm.URI{Scheme: "vault", Path: map[string]string{"mount": mount}, Query: map[string]string{"address": addr, "token-source": tokenSource}}
	for _, k := range []string{"ca-file", "tls-server-name", "namespace"} {
		if v := u.Query[k]; v != "" {
			base.Query[k] = v
		}
	}
	s := &Store{client: client, mount: mount, addr: addr, base: base, log: log, owned: owned}

	cctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if _, err := client.Auth().Token().LookupSelfWithContext(cctx); err != nil {
		s.Close()
		return nil, s.wrap("", err)
	}
	log.Info("vault: opened Transit key store", "address", addr, "mount", mount, "namespace", u.Query["namespace"])
	return s, nil
}

// Close closes idle connections Open made. Signers from the store stop
// working; the keys stay in Vault.
func (s *Store) Close() error {
	s.closed.Store(true)
	if s.owned != nil {
		s.owned.CloseIdleConnections()
	}
	return nil
}

// keyURI returns the store's URI with the key name label, for KeyInfo. It
// names the token source, never the token.
func (s *Store) keyURI(label string) string {
	return s.base.WithKey("name", label).String()
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return fmt.Errorf("vault: %w: the store is closed", hsm.ErrUnavailable)
	}
	return nil
}

func checkAttrs(u *hsm.URI) error {
	for k := range u.Path {
		if !pathAttrs[k] {
			return fmt.Errorf("vault: unknown URI path attribute %q (want mount, name)", k)
		}
	}
	for k := range u.Query {
		if !queryAttrs[k] {
			return fmt.Errorf("vault: unknown URI query attribute %q (want address, token-source, ca-file, tls-server-name, namespace)", k)
		}
	}
	return nil
}

// checkMount accepts mount paths made of letters, digits, '.', '_', '-' and
// inner '/'.
func checkMount(m string) error {
	if m == "" {
		return errors.New("vault: mount is empty")
	}
	for _, seg := range strings.Split(m, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("vault: mount %q has an empty, '.' or '..' segment", m)
		}
		for _, r := range seg {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
			if !ok {
				return fmt.Errorf("vault: mount %q has %q: only letters, digits, '.', '_', '-' and '/' are allowed", m, r)
			}
		}
	}
	return nil
}

// httpClient returns the client to talk to Vault with, and the transport if
// it made one.
func httpClient(given *http.Client, caFile, serverName string) (*http.Client, *http.Transport, error) {
	var tlsConf *tls.Config
	if caFile != "" || serverName != "" {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, nil, fmt.Errorf("vault: reading ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("vault: ca-file %s holds no PEM certificate", caFile)
			}
			tlsConf.RootCAs = pool
		}
	}
	noRedirect := func(*http.Request, []*http.Request) error {
		// The API client follows Vault's standby redirects itself, refusing
		// a downgrade from https to http.
		return http.ErrUseLastResponse
	}
	if given != nil {
		c := *given
		if c.CheckRedirect == nil {
			c.CheckRedirect = noRedirect
		}
		if tlsConf != nil {
			tr, ok := c.Transport.(*http.Transport)
			if !ok {
				if c.Transport != nil {
					return nil, nil, fmt.Errorf("vault: ca-file and tls-server-name need an *http.Transport, Options.HTTPClient has %T", c.Transport)
				}
				tr = http.DefaultTransport.(*http.Transport)
			}
			tr = tr.Clone()
			tr.TLSClientConfig = tlsConf
			c.Transport = tr
		}
		return &c, nil, nil
	}
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          128,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
	}
	return &http.Client{Transport: tr, Timeout: requestTimeout, CheckRedirect: noRedirect}, tr, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wrap turns an error from the API client into one of kyso's: "vault: " op
// ": " detail, wrapping hsm.ErrUnavailable when Vault cannot be reached or is
// sealed, hsm.ErrAuthentication when the token is refused, and
// hsm.ErrKeyNotFound when Vault says the key is not there. Vault's messages
// never hold the token; the API client's URL errors do not either (the token
// travels in a header).
func (s *Store) wrap(op string, err error) error {
	prefix := "vault: "
	if op != "" {
		prefix += op + ": "
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := vaultMessage(re)
		switch {
		case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%s%w: %s (HTTP %d)", prefix, hsm.ErrAuthentication, msg, re.StatusCode)
		case re.StatusCode == http.StatusNotFound || notFound(msg):
			return fmt.Errorf("%s%w: %s (HTTP %d)", prefix, hsm.ErrKeyNotFound, msg, re.StatusCode)
		case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 502:
			return fmt.Errorf("%s%w: %s at %s (HTTP %d)", prefix, hsm.ErrUnavailable, msg, s.addr, re.StatusCode)
		}
		return fmt.Errorf("%s%s (HTTP %d)", prefix, msg, re.StatusCode)
	}
	var ue *url.Error
	var ne net.Error
	if errors.Is(err, context.Canceled) || !(errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("%s%w", prefix, err)
	}
	return fmt.Errorf("%s%w", prefix, &unreachableError{addr: s.addr, err: err})
}

// unreachableError says Vault could not be reached: the connection, the TLS
// handshake or the deadline failed.
type unreachableError struct {
	addr string
	err  error
}

func (e *unreachableError) Error() string {
	inner := e.err
	var ue *url.Error
	if errors.As(inner, &ue) {
		inner = ue.Err // drop "Get URL": the address is said once
	}
	msg := "cannot reach " + e.addr + ": " + inner.Error()
	var unknownCA x509.UnknownAuthorityError
	var cve *tls.CertificateVerificationError
	if errors.As(e.err, &unknownCA) || errors.As(e.err, &cve) {
		msg += " (give the CA that issued Vault's certificate with ca-file=)"
	}
	return msg
}

func (e *unreachableError) Unwrap() []error { return []error{hsm.ErrUnavailable, e.err} }

// vaultMessage is Vault's error text on one line.
func vaultMessage(re *api.ResponseError) string {
	if len(re.Errors) == 0 {
		return http.StatusText(re.StatusCode)
	}
	msgs := make([]string, 0, len(re.Errors))
	for _, m := range re.Errors {
		// Vault wraps go-multierror text: "1 error occurred:\n\t* msg\n\n".
		m = strings.TrimSpace(m)
		if i := strings.Index(m, "* "); strings.HasSuffix(m[:max(i, 0)], "occurred:\n\t") && i >= 0 {
			m = m[i+2:]
		}
		msgs = append(msgs, strings.Join(strings.Fields(m), " "))
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}

func notFound(msg string) bool {
	return strings.Contains(msg, "not found") || strings.Contains(msg, "could not be found")
}

package cscbench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kyso-pki/kyso/pkg/revocation"
	"github.com/kyso-pki/kyso/pkg/server"
	"github.com/kyso-pki/kyso/pkg/signercheck"

	"github.com/kyso-pki/kyso/hsm"
	"github.com/kyso-pki/kyso/pkg/algid"
	"github.com/kyso-pki/kyso/pkg/ca"
	"github.com/kyso-pki/kyso/pkg/csc"
	"github.com/kyso-pki/kyso/pkg/signing"
	"github.com/kyso-pki/kyso/pkg/store"
	"github.com/kyso-pki/kyso/pkg/store/sqlite"
	"github.com/kyso-pki/kyso/pkg/store/storeopen"
)

// Options configure Open.
type Options struct {
	// Keys is where the CA's keys and the credentials' keys are made: for
	// a like-for-like comparison, the PKCS#11 token the bare loop signs
	// on. Required; Open does not close it.
	Keys hsm.KeyStore
	// Dir holds the SQLite database. Required; the caller removes it.
	Dir string
	// DSN, when set, is the database instead of SQLite in Dir: a
	// storeopen DSN (postgres://…). WARNING: it must be an empty,
	// throwaway database; Open creates kyso's tables and a CA in it and
	// leaves them behind.
	DSN string
	// Algorithms are the credentials' key algorithms; empty means ECDSA
	// P-256 (what kyso enrols by default).
	Algorithms []hsm.Algorithm
	// Clients is the most clients a row will run at once; zero means 1.
	// Each has its replica and, per algorithm, two owners (see Env).
	Clients int
}

// Env is a signing service on SQLite (or Options.DSN's database) and the
// given key store, with a CA whose keys are in that key store, served over
// HTTPS with the CSC API v2, one relying party, and for each client and
// algorithm two enrolled owners: one whose PIN hash uses cheap argon2id
// parameters, so that thousands of SADs can be made ahead (signhash rows),
// and one with kysod's default parameters (roundtrip rows).
//
// Open also makes, for the bare loop, a key of each algorithm resident on
// the key store (label "bench-ALG"): on PKCS#11 a credential's key is a
// wrapped key kept in the database and unwrapped inside the token for
// each use, so it has no label a bare loop could sign with.
type Env struct {
	st       store.Store
	keys     hsm.KeyStore
	replicas []*replica
	srv      *httptest.Server
	rp       *signing.ClientCredentials
	owners   map[hsm.Algorithm][]*owners
	algs     []hsm.Algorithm
	floor    *floorHandler
}

// masterKeyMaker is a key store that wraps keys under a master key it
// makes (hsm/pkcs11).
type masterKeyMaker interface {
	CreateMasterKey(ctx context.Context, label string) error
}

// owners are one client's owners for one algorithm.
type owners struct {
	bulk, rt *signing.Enrolment
}

// benchPIN is every owner's PIN.
const benchPIN = "246810"

// cheapPassword are the argon2id parameters of the owners whose SADs are
// made ahead: the PIN check is not what those rows measure.
var cheapPassword = signing.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}

// tokenLifetime outlasts any run: a replica's clock moves 30 seconds per
// authorisation, far faster than the wall clock.
const tokenLifetime = 10 * 365 * 24 * time.Hour

// replica is one signing.Service, with a clock of its own.
type replica struct {
	svc *signing.Service
	h   *csc.Handler
	// now is what the service's clock says, in Unix nanoseconds.
	now atomic.Int64
	// totp is the latest time the replica's clock was moved to for an
	// authorisation; the next one goes 30 seconds beyond it, to a TOTP
	// step no owner of this replica has used. Only the client of this
	// replica touches it.
	totp int64
}

func (r *replica) clock() time.Time { return time.Unix(0, r.now.Load()) }

// step moves the clock to a fresh TOTP step and returns it.
func (r *replica) step() time.Time {
	r.totp += int64(30 * time.Second)
	r.now.Store(r.totp)
	return time.Unix(0, r.totp)
}

// Open makes the environment: the database in o.Dir, the CA hierarchy
// (keys in o.Keys), the replicas, the HTTPS server and the owners. It takes
// a few seconds per owner on a SoftHSM token (key generation, issuance).
func Open(ctx context.Context, o *Options) (_ *Env, err error) {
	if o == nil || o.Keys == nil || o.Dir == "" {
		return nil, errors.New("cscbench: a key store and a directory are required")
	}
	clients := max(o.Clients, 1)
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []hsm.Algorithm{hsm.ECDSAP256}
	}
	var st store.Store
	if o.DSN != "" {
		st, err = storeopen.Open(ctx, o.DSN)
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(o.Dir, "kyso.db"), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	e := &Env{st: st, keys: o.Keys, owners: map[hsm.Algorithm][]*owners{}, algs: algs}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	a, err := ca.New(st, o.Keys, &ca.Options{Actor: "kyso-bench"})
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	if _, err := a.Init(ctx, &ca.InitRequest{Name: "Kyso Bench"}); err != nil {
		return nil, fmt.Errorf("cscbench: creating the CA hierarchy: %w", err)
	}
	// The pre-signing check as kysod makes it: the provider's root as
	// trust anchor, OCSP and CRLs from the PKI served in-process.
	pki, err := server.NewPKI(ctx, a, st, nil)
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	if err := pki.Tick(ctx); err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	local, err := pki.LocalClient(ca.DefaultBaseURL)
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	caChain, err := a.Chain(ctx)
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caChain[len(caChain)-1])
	// The replicas' clocks run ahead for TOTP (see replica); the check
	// keeps the wall clock, as OCSP answers do.
	check := &signercheck.Config{Roots: roots, Revocation: &revocation.Fetcher{Client: local}, Now: time.Now}
	if mk, ok := o.Keys.(masterKeyMaker); ok {
		if err := mk.CreateMasterKey(ctx, ""); err != nil && !errors.Is(err, hsm.ErrKeyExists) {
			return nil, fmt.Errorf("cscbench: creating the master wrapping key: %w", err)
		}
	}
	for _, alg := range algs {
		if _, err := o.Keys.CreateKey(ctx, &hsm.CreateKeyRequest{Label: bareLabel(alg), Algorithm: alg}); err != nil {
			return nil, fmt.Errorf("cscbench: creating the bare loop's key: %w", err)
		}
	}
	secrets := make([]byte, 32)
	rand.Read(secrets)
	start := time.Now().UnixNano()
	mux := http.NewServeMux()
	e.floor = &floorHandler{st: st, keys: o.Keys, signers: map[string]crypto.Signer{}}
	mux.Handle("POST /floor", e.floor)
	for i := range clients {
		r := &replica{totp: start}
		r.now.Store(start)
		// Every setting but the clock and the token lifetime is
		// kysod's default (datadir.Opened.SigningWith).
		if r.svc, err = signing.New(st, o.Keys, a, signing.Config{SecretsKey: secrets, Now: r.clock, TokenLifetime: tokenLifetime, SignerCheck: check}); err != nil {
			return nil, fmt.Errorf("cscbench: %w", err)
		}
		r.h = csc.NewHandler(r.svc, nil)
		prefix := fmt.Sprintf("/r%d", i)
		mux.Handle(prefix+"/", http.StripPrefix(prefix, r.h))
		e.replicas = append(e.replicas, r)
	}
	// The owners of the signhash rows are enrolled through a service
	// with cheap password parameters; the PHC string records them, so
	// the replicas check those PINs cheaply too.
	cheap, err := signing.New(st, o.Keys, a, signing.Config{SecretsKey: secrets, Password: cheapPassword, TokenLifetime: tokenLifetime, SkipSignerCheck: true})
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	n := 0
	enrol := func(svc *signing.Service, alg hsm.Algorithm) (*signing.Enrolment, error) {
		n++
		en, err := svc.Enrol(ctx, &signing.EnrolRequest{CCCD: fmt.Sprintf("001%09d", n), Name: "Nguyễn Văn Bench", Province: "Hà Nội",
			PIN: benchPIN, Algorithm: alg, Actor: "kyso-bench"})
		if err != nil {
			return nil, fmt.Errorf("cscbench: enrolling an owner with a %s key: %w", alg, err)
		}
		return en, nil
	}
	for _, alg := range algs {
		for i := range clients {
			ow := &owners{}
			if ow.bulk, err = enrol(cheap, alg); err != nil {
				return nil, err
			}
			if ow.rt, err = enrol(e.replicas[i].svc, alg); err != nil {
				return nil, err
			}
			e.owners[alg] = append(e.owners[alg], ow)
		}
	}
	if e.rp, err = e.replicas[0].svc.CreateClient(ctx, "Cổng bench", "", "kyso-bench"); err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	// Like kysod: HTTP/1.1 or 2 over TLS 1.2+, the same timeouts. The
	// clients speak HTTP/1.1 with keep-alive, as most relying parties do.
	e.srv = httptest.NewUnstartedServer(mux)
	e.srv.Config.ReadHeaderTimeout = 10 * time.Second
	e.srv.Config.ReadTimeout = 30 * time.Second
	e.srv.Config.WriteTimeout = 60 * time.Second
	e.srv.Config.IdleTimeout = 120 * time.Second
	e.srv.Config.MaxHeaderBytes = 64 << 10
	e.srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	e.srv.StartTLS()
	return e, nil
}

// Close stops the server and closes the database.
func (e *Env) Close() error {
	if e.srv != nil {
		e.srv.Close()
	}
	return e.st.Close()
}

// Algorithms are the algorithms the environment has owners for.
func (e *Env) Algorithms() []hsm.Algorithm { return e.algs }

// Clients is the most clients a row may run.
func (e *Env) Clients() int { return len(e.replicas) }

// BareLabel is the label of the key of alg resident on the key store,
// for the bare loop.
func (e *Env) BareLabel(alg hsm.Algorithm) string { return bareLabel(alg) }

func bareLabel(alg hsm.Algorithm) string { return "bench-" + string(alg) }

// CredentialKey opens the key of the first client's signhash credential of
// alg as the service opens it for a signHash request: through
// hsm.WrappedKeyStore.WrappedSigner for a wrapped key (on PKCS#11: each
// Sign unwraps the key into a session object, signs, destroys it and
// verifies the signature), by label otherwise.
func (e *Env) CredentialKey(ctx context.Context, alg hsm.Algorithm) (crypto.Signer, error) {
	ow := e.owners[alg]
	if len(ow) == 0 {
		return nil, fmt.Errorf("cscbench: no owner with a %s key", alg)
	}
	cred, err := e.st.GetCredential(ctx, ow[0].bulk.CredentialID)
	if err != nil {
		return nil, fmt.Errorf("cscbench: %w", err)
	}
	if len(cred.WrappedKey) > 0 {
		wks, ok := e.keys.(hsm.WrappedKeyStore)
		if !ok {
			return nil, errors.New("cscbench: the credential's key is wrapped, but the key store does not unwrap keys")
		}
		return wks.WrappedSigner(ctx, &hsm.WrappedSignerRequest{Blob: cred.WrappedKey})
	}
	return e.keys.Signer(ctx, &hsm.SignerRequest{Label: cred.KeyURI})
}

// Client is one relying party's connection to the service: an HTTPS
// client with keep-alive and an access token of its own, served by the
// replica of its index. A Client is for one goroutine.
type Client struct {
	e    *Env
	r    *replica
	ow   map[hsm.Algorithm]*owners
	http *http.Client
	csc  *csc.Client
}

// NewClient returns client i (0 ≤ i < Clients) with a fresh connection,
// and fetches its access token.
func (e *Env) NewClient(ctx context.Context, i int) (*Client, error) {
	if i < 0 || i >= len(e.replicas) {
		return nil, fmt.Errorf("cscbench: client %d of %d", i, len(e.replicas))
	}
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	c := &Client{e: e, r: e.replicas[i], ow: map[hsm.Algorithm]*owners{}, http: &http.Client{Transport: tr, Timeout: time.Minute}}
	for alg, ow := range e.owners {
		c.ow[alg] = ow[i]
	}
	c.csc = &csc.Client{BaseURL: fmt.Sprintf("%s/r%d/csc/v2", e.srv.URL, i), ClientID: e.rp.ID, ClientSecret: e.rp.Secret, HTTPClient: c.http}
	if _, err := c.csc.Token(ctx); err != nil {
		return nil, fmt.Errorf("cscbench: client %d: access token: %w", i, err)
	}
	return c, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// Activation is a SAD made ahead, and what it was authorised for.
type Activation struct {
	Algorithm    hsm.Algorithm
	CredentialID string
	SAD          string
	Hashes       [][]byte
}

// Prepare makes n SADs for requests of hashes random SHA-256 digests with
// the client's signhash credential of alg, through signing.Service.Authorize
// (PIN and a fresh TOTP code each, as credentials/authorize does, without
// HTTP), handed to the client's relying party, which alone may spend
// them. The SADs are usable until the client's next Prepare: the
// replica's clock stays at the first one's time, well within their
// five-minute life.
func (c *Client) Prepare(ctx context.Context, alg hsm.Algorithm, hashes, n int) ([]*Activation, error) {
	ow := c.ow[alg]
	if ow == nil {
		return nil, fmt.Errorf("cscbench: no owner with a %s key", alg)
	}
	out := make([]*Activation, n)
	var first time.Time
	for i := range out {
		a := &Activation{Algorithm: alg, CredentialID: ow.bulk.CredentialID, Hashes: randomDigests(hashes)}
		now := c.r.step()
		if i == 0 {
			first = now
		}
		otp, err := signing.TOTPCode(ow.bulk.TOTPURI, now)
		if err != nil {
			return nil, err
		}
		a.SAD, _, err = c.r.svc.Authorize(ctx, &signing.AuthorizeRequest{ClientID: c.csc.ClientID, CredentialID: a.CredentialID, NumSignatures: hashes,
			Hashes: a.Hashes, HashAlgorithm: crypto.SHA256, PIN: benchPIN, OTP: otp, Actor: "kyso-bench"})
		if err != nil {
			return nil, fmt.Errorf("cscbench: authorising SAD %d: %w", i+1, err)
		}
		out[i] = a
	}
	if n > 0 {
		c.r.now.Store(first.UnixNano())
	}
	return out, nil
}

// SignHash spends a over HTTPS (signatures/signHash) and returns the
// signatures.
func (c *Client) SignHash(ctx context.Context, a *Activation) ([][]byte, error) {
	return c.csc.SignHash(ctx, a.CredentialID, a.SAD, a.Hashes, crypto.SHA256, signAlgo(a.Algorithm))
}

// RoundTrip signs hashes random digests with the client's roundtrip
// credential of alg as a relying party does: credentials/authorize with
// the PIN and a fresh code, then signatures/signHash, both over HTTPS. It
// returns the digests and the signatures.
func (c *Client) RoundTrip(ctx context.Context, alg hsm.Algorithm, hashes int) ([][]byte, [][]byte, error) {
	ow := c.ow[alg]
	if ow == nil {
		return nil, nil, fmt.Errorf("cscbench: no owner with a %s key", alg)
	}
	digests := randomDigests(hashes)
	otp, err := signing.TOTPCode(ow.rt.TOTPURI, c.r.step())
	if err != nil {
		return nil, nil, err
	}
	sad, err := c.csc.Authorize(ctx, ow.rt.CredentialID, digests, crypto.SHA256, benchPIN, otp)
	if err != nil {
		return nil, nil, err
	}
	sigs, err := c.csc.SignHash(ctx, ow.rt.CredentialID, sad, digests, crypto.SHA256, signAlgo(alg))
	return digests, sigs, err
}

// Check verifies signatures over digests with the public key of the
// client's credentials of alg (both have keys of one algorithm, but not
// the same key: which is tried is told by roundtrip).
func (c *Client) Check(alg hsm.Algorithm, roundtrip bool, digests, sigs [][]byte) error {
	ow := c.ow[alg]
	if ow == nil {
		return fmt.Errorf("cscbench: no owner with a %s key", alg)
	}
	en := ow.bulk
	if roundtrip {
		en = ow.rt
	}
	if len(sigs) != len(digests) {
		return fmt.Errorf("cscbench: %d signatures for %d hashes", len(sigs), len(digests))
	}
	for i := range digests {
		if err := verify(en.Certificate.PublicKey, digests[i], sigs[i]); err != nil {
			return fmt.Errorf("cscbench: signature %d of %d: %w", i+1, len(sigs), err)
		}
	}
	return nil
}

// signAlgo is the CSC signature algorithm the rows ask for: PKCS#1 v1.5
// for RSA, the mechanism the bare loop uses (CKM_RSA_PKCS), so both sign
// alike; ECDSA for EC keys.
func signAlgo(alg hsm.Algorithm) string {
	if alg.IsRSA() {
		return algid.SHA256WithRSA.String()
	}
	return algid.ECDSAWithSHA256.String()
}

func verify(pub crypto.PublicKey, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig)
	}
	return fmt.Errorf("unsupported public key %T", pub)
}

// randomDigests returns n random 32-byte digests: SCAL2 binds a SAD to its
// hashes, so no two requests sign the same ones.
func randomDigests(n int) [][]byte {
	buf := make([]byte, 32*n)
	rand.Read(buf)
	out := make([][]byte, n)
	for i := range out {
		out[i] = buf[32*i : 32*(i+1)]
	}
	return out
}
